"""KioskState: everything the kiosk shows, as one plain object that announces its changes.

No Kivy here: widgets subscribe, copy values out and call the methods below; touch commands
arrive through handle_gestures(). The safety rules of the display (orkiosk.app.model.plans):
a plan version never goes backwards; a plan for another patient or case waits for an explicit
confirmation; a refused plan, or one whose prepare() fails, leaves the current one on screen.
Every event (orkiosk.app.model.events) is emitted once per real change, after the operation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np

from orkiosk.app.model import events as ev
from orkiosk.app.model.changes import ChangeTracker
from orkiosk.app.model.follow import HIGHLIGHT_DIM, describe, resolve_structure, resolve_view
from orkiosk.app.model.plans import Offer, judge
from orkiosk.app.model.values import (
    CUT_PLANES,
    DEFAULT_VIEW,
    MODES,
    OPACITY_STEPS,
    TRAJECTORY_CUTS,
    ActiveView,
    Cut,
    Pick,
    TrajectoryView,
)
from orkiosk.app.model.viewing import (
    CAMERA_GESTURES,
    apply_gesture,
    camera_for_view,
    probe_trajectory,
    same_camera,
    screen_mm_to_world_mm,
)
from orkiosk.plan.bounds import plan_bounds
from orkiosk.plan.diff import PlanDiff
from orkiosk.plan.metrics import TrajectoryMetrics, all_trajectory_metrics
from orkiosk.plan.model import Plan
from orkiosk.plan.package import Package
from orkiosk.render.camera import Camera
from orkiosk.render.state import ClipPlane, DisplayState, cut_plane
from orkiosk.touch import Command, DoubleTap, Drag, LongPress, Tap

Prepare = Callable[[Package], None]
PickAt = Callable[[float, float], Pick | None]


@dataclass(frozen=True)
class _Candidate:
    """A package with what showing it needs: computed off the UI thread when possible."""

    package: Package
    metrics: tuple[TrajectoryMetrics, ...]
    bounds: tuple[np.ndarray, np.ndarray]
    prepare: Prepare | None


class KioskState:
    """The kiosk's state; `subscribe(fn)` calls fn(event) for every real change."""

    def __init__(self) -> None:
        self.package: Package | None = None
        self._pending: _Candidate | None = None
        self.error: str = ""  # shown in the error banner until dismissed or replaced
        self.changes: PlanDiff | None = None  # same case replaced: what changed (until dismissed)
        self._tracker = ChangeTracker()
        self.mode: str = "view"
        self.locked: bool = False
        self.hidden: set[str] = set()
        self.opacity: dict[str, float] = {}  # structure id -> step of OPACITY_STEPS (not 1.0)
        self.cut_plane: str = "axial"
        self.cut_offset: float = 0.0
        self.picks: list[Pick] = []  # measure mode: up to two points
        self.named: Pick | None = None  # long press: the structure named on screen
        self.selected: str | None = None  # trajectory id: the readout and the cut follow it
        self.metrics: tuple[TrajectoryMetrics, ...] = ()  # of the shown plan
        self.bounds: tuple[np.ndarray, np.ndarray] | None = None  # of the shown plan
        self.view: ActiveView = DEFAULT_VIEW
        self.camera: Camera | None = None
        self._fitted = False  # the camera shows self.view as fitted, untouched by gestures
        self.viewport_px: tuple[int, int] = (1, 1)
        self.px_per_mm: float = 96 / 25.4
        self.following: bool = False  # follow mode: the planner's view (orkiosk point)
        self.highlight: str | None = None  # follow mode: this structure full, others dimmed
        self.showing: str = ""  # follow mode: what the planner points at, for the screen
        self.on_tap: Callable[[Pick | None], bool] | None = None  # the workbench takes taps first
        self._subscribers: list[Callable[[ev.Event], None]] = []
        self._queue: list[ev.Event] | None = None

    # ------------------------------------------------------------ events
    def subscribe(self, fn: Callable[[ev.Event], None]) -> None:
        self._subscribers.append(fn)

    def _emit(self, event: ev.Event) -> None:
        if self._queue is not None:
            self._queue.append(event)
            return
        for fn in list(self._subscribers):
            fn(event)

    @contextmanager
    def _batch(self):
        """Hold events until the outermost operation is done, then send them in order."""
        if self._queue is not None:
            yield
            return
        self._queue = []
        try:
            yield
        finally:
            queued, self._queue = self._queue, None
            for event in queued:
                self._emit(event)

    # ------------------------------------------------------------ plans
    @property
    def pending(self) -> Package | None:
        """Another patient's plan, waiting for confirmation."""
        return self._pending.package if self._pending is not None else None

    def judge(self, pkg: Package) -> Offer:
        """What offering this package would do, without doing it."""
        return judge(self.package, pkg)

    def offer(
        self,
        pkg: Package,
        prepare: Prepare | None = None,
        *,
        metrics: Iterable[TrajectoryMetrics] | None = None,
        bounds=None,
    ) -> Offer:
        """A verified package arrives: show it, hold it for confirmation, or refuse it.

        `prepare(pkg)` (the GPU upload) runs just before it is shown; if it raises, the plan on
        screen stays and the error propagates. `metrics` and `bounds` are computed from the
        package's meshes when not given (pass them when they were made on a worker thread)."""
        verdict = self.judge(pkg)
        if verdict.outcome == "refused" and verdict.code == "same-plan":
            return verdict
        if verdict.outcome == "refused":
            self.set_error(f"Refused a plan for case {pkg.plan.case_id}: {verdict.reason}")
            return verdict
        if metrics is None:
            metrics = all_trajectory_metrics(pkg.plan, pkg.meshes)
        if bounds is None:
            bounds = plan_bounds(pkg.plan, pkg.meshes)
        cand = _Candidate(pkg, tuple(metrics), bounds, prepare)
        if verdict.outcome == "shown":
            self._show(cand)
        else:
            self._pending = cand
            self._emit(ev.PendingChanged(pkg))
        return verdict

    def confirm_pending(self, prepare: Prepare | None = None) -> bool:
        """Show the waiting plan (`prepare` overrides the one given with the offer)."""
        if self._pending is None:
            return False
        self._show(replace(self._pending, prepare=prepare or self._pending.prepare))
        return True

    def reject_pending(self) -> None:
        if self._pending is not None:
            self._pending = None
            self._emit(ev.PendingChanged(None))

    def _show(self, cand: _Candidate) -> None:
        if cand.prepare is not None:
            cand.prepare(cand.package)  # may raise: nothing has changed yet
        pkg = cand.package
        same_anatomy = self.package is not None and self.package.plan.case_id == pkg.plan.case_id
        changes = self._tracker.show(pkg)
        with self._batch():
            self.package, self.metrics, self.bounds = pkg, cand.metrics, cand.bounds
            self._emit(ev.PlanShown(pkg))
            self.reject_pending()
            self.clear_error()
            self._set_changes(changes)
            ids = {s.id for s in pkg.plan.structures}
            if same_anatomy:  # keep the surgeon's choices for structures that still exist
                self._set_structures(
                    self.hidden & ids, {k: v for k, v in self.opacity.items() if k in ids}
                )
            else:
                self._set_structures({s.id for s in pkg.plan.structures if not s.visible}, {})
                self._set_picks([])
            tids = [t.id for t in pkg.plan.trajectories]
            keep = same_anatomy and self.selected in tids
            self.select_trajectory(self.selected if keep else (tids[0] if tids else None))
            if not same_anatomy:
                self.set_cut(offset=0.0)
            self.name_structure(None)
            if not same_anatomy:
                self._set_follow(self.following, "", "", None)
            view_ok = same_anatomy and self.camera is not None and self._view_exists(self.view)
            if not view_ok:
                self.set_view(DEFAULT_VIEW)

    def edit_plan(self, plan: Plan, metrics: Iterable[TrajectoryMetrics]) -> None:
        """The workbench edited the shown plan (same meshes). Bounds stay, so slices do not jump
        while an end is dragged; the selection stays while its trajectory exists."""
        if self.package is None or [s.id for s in plan.structures] != [
            s.id for s in self.package.plan.structures
        ]:
            raise ValueError("an edit must keep the shown plan's structures")
        with self._batch():
            self.package = replace(self.package, plan=plan)
            self.metrics = tuple(metrics)
            self._emit(ev.PlanEdited(plan))
            self._set_structures({s.id for s in plan.structures if not s.visible}, {})
            tids = [t.id for t in plan.trajectories]
            if self.selected not in tids:
                self.select_trajectory(tids[-1] if tids else None)

    def drop_meshes(self) -> None:
        """Once the shown plan is on the GPU, its CPU mesh copies are not needed: free them."""
        if self.package is not None and self.package.meshes:
            self.package = replace(self.package, meshes={})

    def _set_changes(self, changes: PlanDiff | None) -> None:
        if changes is not self.changes:
            self.changes = changes
            self._emit(ev.ChangesChanged(changes))

    def dismiss_changes(self) -> None:
        """The "what changed" banner was tapped away: the team has seen the changes."""
        self._tracker.dismiss()
        self._set_changes(None)

    def set_error(self, message: str) -> None:
        if message != self.error:
            self.error = message
            self._emit(ev.ErrorChanged(message))

    def clear_error(self) -> None:
        self.set_error("")

    # ------------------------------------------------------------ structures
    def _set_structures(self, hidden: set[str], opacity: dict[str, float]) -> None:
        if hidden != self.hidden or opacity != self.opacity:
            self.hidden, self.opacity = set(hidden), dict(opacity)
            self._emit(ev.StructuresChanged(frozenset(hidden), tuple(sorted(opacity.items()))))

    def toggle_visible(self, sid: str) -> None:
        self._set_structures(self.hidden ^ {sid}, self.opacity)

    def step_opacity(self, sid: str) -> float:
        """Cycle 100 % -> 50 % -> 20 % -> 100 % (the plan's own opacity counts as 100 %)."""
        cur = self.opacity.get(sid, OPACITY_STEPS[0])
        nxt = OPACITY_STEPS[(OPACITY_STEPS.index(cur) + 1) % len(OPACITY_STEPS)]
        opacity = {k: v for k, v in self.opacity.items() if k != sid}
        if nxt != OPACITY_STEPS[0]:
            opacity[sid] = nxt
        self._set_structures(self.hidden, opacity)
        return nxt

    def effective_opacity(self, sid: str) -> float:
        base = self.package.plan.structure(sid).opacity if self.package else 1.0
        return base * self.opacity.get(sid, 1.0)

    # ------------------------------------------------------------ modes
    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        with self._batch():
            if mode != self.mode:
                self.mode = mode
                self._emit(ev.ModeChanged(mode))
            if mode != "measure":
                self._set_picks([])

    def set_locked(self, locked: bool) -> None:
        if bool(locked) != self.locked:
            self.locked = bool(locked)
            self._emit(ev.LockChanged(self.locked))

    # ------------------------------------------------------------ cut and selection
    @property
    def cut(self) -> Cut:
        follows = self.cut_plane in TRAJECTORY_CUTS
        return Cut(self.cut_plane, self.cut_offset, self.selected if follows else None)

    def set_cut(self, plane: str | None = None, offset: float | None = None) -> None:
        """Choose the plane (a new plane starts at offset 0) and/or move it."""
        before = self.cut
        if plane is not None:
            if plane not in CUT_PLANES:
                raise ValueError(f"unknown cut plane {plane!r}; known: {', '.join(CUT_PLANES)}")
            if plane != self.cut_plane:
                self.cut_plane, self.cut_offset = plane, 0.0
        if offset is not None:
            self.cut_offset = float(offset)
        if self.cut != before:
            self._emit(ev.CutChanged(self.cut))

    def select_trajectory(self, tid: str | None) -> None:
        """The trajectory the readout and a trajectory cut follow (a new one starts at 0)."""
        if tid == self.selected:
            return
        if tid is not None and (self.package is None or tid not in self._trajectory_ids()):
            raise KeyError(f"no trajectory {tid!r} in the shown plan")
        with self._batch():
            before = self.cut
            self.selected = tid
            self._emit(ev.SelectionChanged(tid))
            if before.follows_trajectory:
                self.cut_offset = 0.0
            if self.cut != before:
                self._emit(ev.CutChanged(self.cut))

    def selected_metrics(self) -> TrajectoryMetrics | None:
        return next((m for m in self.metrics if m.trajectory_id == self.selected), None)

    def clip_plane(self) -> ClipPlane | None:
        """The plane the renderer cuts with: only in cut mode, following the selection."""
        if self.mode != "cut" or self.package is None or self.bounds is None:
            return None
        cut = self.cut
        traj = self.package.plan.trajectory(cut.trajectory_id) if cut.trajectory_id else None
        return cut_plane(cut.plane, cut.offset, self.bounds, traj)

    def _trajectory_ids(self) -> list[str]:
        return [t.id for t in self.package.plan.trajectories] if self.package else []

    # ------------------------------------------------------------ picks
    def _set_picks(self, picks: list[Pick]) -> None:
        if picks != self.picks:
            self.picks = list(picks)
            self._emit(ev.PicksChanged(tuple(picks)))

    def add_pick(self, pick: Pick) -> None:
        """Measure mode: a third pick starts a new measurement."""
        self._set_picks(([] if len(self.picks) >= 2 else self.picks) + [pick])

    def clear_picks(self) -> None:
        self._set_picks([])

    @property
    def distance_mm(self) -> float | None:
        if len(self.picks) < 2:
            return None
        a, b = (np.asarray(p.point) for p in self.picks)
        return float(np.linalg.norm(a - b))

    def name_structure(self, pick: Pick | None) -> None:
        if pick != self.named:
            self.named = pick
            self._emit(ev.NamedChanged(pick))

    def tapped(self, pick: Pick | None) -> None:
        """What a tap on the 3D view means: a measure point in measure mode; elsewhere a tap
        on a trajectory selects it. Taps on nothing do nothing."""
        if self.on_tap is not None and self.on_tap(pick):
            return
        if pick is None:
            return
        if self.mode == "measure":
            self.add_pick(pick)
        elif pick.kind == "trajectory" and pick.id in self._trajectory_ids():
            self.select_trajectory(pick.id)

    # ------------------------------------------------------------ view and camera
    def set_viewport(self, width_px: int, height_px: int, px_per_mm: float | None = None) -> None:
        """The 3D view's size (pixels) and the screen's density, for view fits and gestures.

        A camera that still shows a view as fitted (no gesture since) is fitted again to the new
        shape: a plan shown before the window had its layout (a kiosk resuming its stored plan
        at start) would otherwise stay fitted to a sliver, far away and too small to see."""
        size = (max(1, int(width_px)), max(1, int(height_px)))
        if px_per_mm is not None:
            self.px_per_mm = float(px_per_mm)
        if size == self.viewport_px:
            return
        self.viewport_px = size
        if self._fitted and self.package is not None and self.bounds is not None:
            try:
                camera = camera_for_view(self.view, self.package.plan, self.bounds, self.aspect)
            except KeyError:
                return
            with self._batch():
                self._set_camera(camera, interactive=False)

    @property
    def aspect(self) -> float:
        return self.viewport_px[0] / self.viewport_px[1]

    def set_view(self, view: ActiveView) -> None:
        """Jump to a view, fitted to the shown plan (a trajectory view selects that trajectory).
        Choosing the active view again restores it (undoes gestures)."""
        if self.package is None or self.bounds is None:
            return
        camera = camera_for_view(view, self.package.plan, self.bounds, self.aspect)
        with self._batch():
            if isinstance(view, TrajectoryView):
                self.select_trajectory(view.trajectory_id)
            if view != self.view:
                self.view = view
                self._emit(ev.ViewChanged(view))
            self._set_camera(camera, interactive=False)

    def reset_view(self) -> None:
        self.set_view(DEFAULT_VIEW)

    def _view_exists(self, view: ActiveView) -> bool:
        try:
            camera_for_view(view, self.package.plan, self.bounds, self.aspect)
        except KeyError:
            return False
        return True

    def _set_camera(self, camera: Camera, interactive: bool, fitted: bool = True) -> None:
        self._fitted = fitted  # the camera shows its view as fitted (no gesture since)
        if not same_camera(camera, self.camera):
            self.camera = camera
            self._emit(ev.CameraMoved(interactive))

    def handle_gestures(self, commands: Iterable[Command], pick: PickAt | None = None) -> None:
        """Commands from the touch recogniser. `pick(x_mm, y_mm)` says what lies under a point
        of the view (mm from its bottom-left corner); it is asked only for taps and long
        presses. Nothing happens while locked or with no plan shown."""
        if self.locked or self.camera is None:
            return
        with self._batch():
            for c in commands:
                if isinstance(c, CAMERA_GESTURES):
                    moved = apply_gesture(self.camera, c, self.viewport_px, self.px_per_mm)
                    self._set_camera(moved, interactive=True, fitted=False)
                elif isinstance(c, DoubleTap):
                    self.reset_view()
                elif isinstance(c, Drag) and self.mode == "cut":
                    mm = screen_mm_to_world_mm(
                        self.camera, c.dy_mm, self.viewport_px, self.px_per_mm
                    )
                    self.set_cut(offset=self.cut_offset + mm)
                elif isinstance(c, Tap) and pick is not None:
                    self.tapped(pick(c.x, c.y))
                elif isinstance(c, LongPress) and pick is not None:
                    self.name_structure(pick(c.x, c.y))

    # ------------------------------------------------------------ follow mode
    def _set_follow(self, on: bool, why: str, showing: str, highlight: str | None) -> None:
        now = (on, showing, highlight)
        if now != (self.following, self.showing, self.highlight):
            self.following, self.showing, self.highlight = now
            self._emit(ev.FollowChanged(on, why, showing, highlight))

    def set_following(self, on: bool, why: str = "") -> None:
        """Follow the planner (on) or stop; stopping drops the highlight."""
        self._set_follow(bool(on), why, self.showing if on else "", self.highlight if on else None)

    def touched(self) -> None:
        """A finger on the 3D view: the person takes over, follow mode ends."""
        if self.following:
            self._set_follow(False, "touch", "", None)

    def follow(self, kind: str, target: str, side: bool = False) -> str:
        """Apply what the planner points at, if following; '' when applied, else why not."""
        if not self.following:
            return "follow mode is off"
        if self.package is None or self.bounds is None:
            return "no plan shown"
        plan = self.package.plan
        with self._batch():
            if kind == "highlight":
                sid = resolve_structure(plan, target)
                if sid is None:
                    return "no such structure in the shown plan"
                name = plan.structure(sid).name
                self._set_follow(True, "", describe(kind, name), sid)
                return ""
            view = resolve_view(plan, kind, target, side)
            if view is None:
                return f"no such {kind} in the shown plan"
            self.set_view(view)
            self._set_follow(True, "", describe(kind, target, side), self.highlight)
        return ""

    # ------------------------------------------------------------ for the renderer
    def display_state(self) -> DisplayState:
        """The renderer's per-frame choices for the shown plan."""
        ds = DisplayState()
        if self.package is None:
            return ds
        for s in self.package.plan.structures:
            ds.visible[s.id] = s.id not in self.hidden
            ds.opacity[s.id] = self.effective_opacity(s.id)
            if self.highlight is not None:  # follow mode: that one full, the others dimmed
                full = s.id == self.highlight
                ds.visible[s.id] = full or ds.visible[s.id]
                ds.opacity[s.id] = 1.0 if full else ds.opacity[s.id] * HIGHLIGHT_DIM
        ds.clip = self.clip_plane()
        ds.probe_trajectory = probe_trajectory(self.view)
        return ds
