"""The workbench's logic, Kivy-free: an EditSession (the plan being edited) joined to a KioskState
(what the shared views draw), the slices the views show, the tool in use and the readout of the
selected path. Widgets translate touches and clicks into these calls and draw what it announces.

- NEW PATH: the next point placed is the target (a tap on a slice, or on a structure in 3D), the
  one after it the entry (a tap on a slice, or on the skin in 3D, where it lies on the surface).
- A path end is dragged on any slice (in the slice's plane), the entry on the skin in 3D (it
  stays on the surface), and in the across view the entry pivots about the target at constant
  length. One drag is one undo step.
- Every edit recomputes the selected path's readout (length, angles, entry angle, clearance and
  its profile) before the views draw: readouts change within the frame of the drag step.
- The axial, coronal and sagittal slices pass through the selected target; the along view
  contains the path, the across view cuts it at the chosen depth.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from orkiosk.app.model import KioskState
from orkiosk.app.model.slicing import SliceModel
from orkiosk.app.model.values import Pick, TrajectoryView
from orkiosk.app.workbench.events import (
    EntryMapChanged,
    ItemSelected,
    ReadoutChanged,
    StatusChanged,
    ToolChanged,
    WorkbenchEvent,
)
from orkiosk.app.workbench.guide import EntryGuide
from orkiosk.edit import operations as ops
from orkiosk.edit.clearance import ClearanceIndex
from orkiosk.edit.entrymap import EntryScores
from orkiosk.edit.readout import PathReadout, Skin, as_metrics, path_readout
from orkiosk.edit.save import Saved, save_version
from orkiosk.edit.session import EditSession, PlanEdited
from orkiosk.errors import OrkioskError
from orkiosk.plan.package import Package

SLICE_PLANES = ("axial", "coronal", "sagittal", "along", "perp")
_AXIS = {"axial": 2, "coronal": 1, "sagittal": 0}  # the LPS axis each slice's offset runs along
GRAB_MM = 6.0  # on the screen: how near a path end a press must land to grab it
ON_SLICE_MM = 3.0  # a point this close to a slice's plane is on it (drawn filled, grabbable)
ENDS = ("target", "entry")
DIAMETER_STEP_MM = 0.5
PATH_COLORS = (None, (0.15, 0.75, 1.0), (1.0, 0.8, 0.05), (0.75, 0.35, 1.0), (0.25, 1.0, 0.45))
HINTS = {
    "view": "",
    "place-landmark": "ADD LANDMARK: tap the point on a slice, or on a structure in 3D",
    "place-target": "NEW PATH: tap the TARGET on a slice, or on a structure in 3D",
    "place-entry": "NEW PATH: tap the ENTRY on the skin in 3D, or on a slice",
}


class Workbench:
    def __init__(self, package: Package, state: KioskState | None = None):
        self.state = state or KioskState()
        self.session = EditSession(package)
        plan, meshes = package.plan, package.meshes
        self.clearance = ClearanceIndex(
            [(s.id, s.name, meshes[s.id]) for s in plan.structures if s.critical]
        )
        skin = next((s for s in plan.structures if s.category == "skin"), None)
        self.skin_id = skin.id if skin is not None else None
        self.skin = Skin(meshes[skin.id]) if skin is not None else None
        self.tool = "view"
        self.readout: PathReadout | None = None
        self._metrics_cache: dict = {}  # Trajectory -> TrajectoryMetrics
        self.item: tuple[str, str] | None = None  # what the name field and DELETE act on
        self.entry_wanted = False  # WHERE TO ENTER: the map for the selected path's target
        self.guide = EntryGuide()
        self.guide.build(
            meshes[skin.id] if skin is not None else None,
            [meshes[s.id] for s in plan.structures if s.critical],
        )
        self._pending_target: tuple[float, float, float] | None = None
        self._grab: tuple[str, str] | None = None  # (id, end) while dragging
        self._listeners: list[Callable[[WorkbenchEvent], None]] = []
        self.slices = {p: SliceModel(self.state) for p in SLICE_PLANES}
        self.state.offer(package, metrics=self._metrics(plan))
        for plane, sl in self.slices.items():
            sl.set_layout("slice")
            sl.set_plane(plane)
        self.state.on_tap = self._tap
        if self.state.selected is not None:
            self.item = ("trajectory", self.state.selected)
        self.session.subscribe(self._on_session)
        self._update_readout()
        self._follow_target()

    # ------------------------------------------------------------ events
    def subscribe(self, fn: Callable[[WorkbenchEvent], None]) -> None:
        self._listeners.append(fn)

    def _send(self, event: WorkbenchEvent) -> None:
        for fn in list(self._listeners):
            fn(event)

    def status(self, text: str, level: str = "info") -> None:
        self._send(StatusChanged(text, level))

    def _on_session(self, event) -> None:
        if isinstance(event, PlanEdited):
            self.readout = self._compute_readout(event.plan)
            self.state.edit_plan(event.plan, self._metrics(event.plan))
            if self.item is not None and self.item_name() == "":  # deleted, or undone
                sel = self.state.selected
                self._set_item(("trajectory", sel) if sel is not None else None)
            self._send(ReadoutChanged(self.readout))
            if self._grab is None or self._grab[1] != "target":
                self.refresh_entry_map()  # a target drag refreshes it when it ends

    # ------------------------------------------------------------ where to enter
    def _entry_for(self) -> tuple | None:
        """The target the map is for: the one being placed, else the selected path's."""
        if self.tool == "place-entry" and self._pending_target is not None:
            return self._pending_target
        if self.entry_wanted and self.readout is not None:
            return self.readout.trajectory.target
        return None

    def toggle_entry_map(self) -> None:
        self.entry_wanted = not self.entry_wanted
        self.refresh_entry_map()

    @property
    def entry_scores(self) -> EntryScores | None:
        return self.guide.scores

    def refresh_entry_map(self) -> None:
        """Score the skin for the current target (about 0.1 s), or hide the map."""
        target = self._entry_for()
        if target is not None and self.guide.available and not self.guide.ready:
            self.status("Where to enter: preparing the skin map ...")
        t = self.readout.trajectory if self.readout is not None else None
        diameter = t.diameter if t is not None and self.tool != "place-entry" else 2.0
        margin = diameter / 2 + self.plan.safety_placement_error
        if self.guide.score(target, margin):
            self._send(EntryMapChanged(self.guide.scores))

    def poll(self) -> None:
        """From the UI clock: show the entry map once its worker has built it."""
        if self.guide.ready and self.guide.scores is None and self._entry_for() is not None:
            self.refresh_entry_map()

    # ------------------------------------------------------------ what is selected
    @property
    def plan(self):
        return self.session.plan

    @property
    def selected(self) -> str | None:
        return self.state.selected

    def select(self, tid: str | None) -> None:
        self.state.select_trajectory(tid)
        self._set_item(("trajectory", tid) if tid is not None else None)
        self._update_readout()
        self._follow_target()

    def select_landmark(self, lid: str) -> None:
        self._set_item(("landmark", lid))

    def _set_item(self, item) -> None:
        if item != self.item:
            self.item = item
            self._send(ItemSelected(item))

    def item_name(self) -> str:
        if self.item is None:
            return ""
        kind, iid = self.item
        items = self.plan.trajectories if kind == "trajectory" else self.plan.landmarks
        return next((x.name for x in items if x.id == iid), "")

    def _compute_readout(self, plan) -> PathReadout | None:
        tid = self.state.selected
        ids = [t.id for t in plan.trajectories]
        if tid not in ids:
            tid = ids[-1] if ids else None
        if tid is None:
            return None
        return path_readout(plan, plan.trajectory(tid), self.clearance, self.skin)

    def _metrics(self, plan):
        """Every path's metrics for the display model; unchanged paths from the cache (a drag
        changes one path: the others are not measured again)."""
        cache, self._metrics_cache = self._metrics_cache, {}
        for t in plan.trajectories:
            if self.readout is not None and self.readout.trajectory == t:
                m = as_metrics(self.readout)
            else:
                m = cache.get(t) or as_metrics(path_readout(plan, t, self.clearance, self.skin))
            self._metrics_cache[t] = m
        return list(self._metrics_cache.values())

    def _update_readout(self) -> None:
        self.readout = self._compute_readout(self.plan)
        self._send(ReadoutChanged(self.readout))

    def _follow_target(self) -> None:
        """Axis slices through the selected target; the trajectory slices at their start."""
        r, bounds = self.readout, self.state.bounds
        if r is None or bounds is None:
            return
        for plane in ("along", "perp"):  # a plan opened without paths showed axial slices there
            if self.slices[plane].slice.plane != plane:
                self.slices[plane].set_plane(plane)
        centre = (np.asarray(bounds[0]) + np.asarray(bounds[1])) / 2
        for plane, axis in _AXIS.items():
            self.slices[plane].set_offset(float(r.trajectory.target[axis] - centre[axis]))

    # ------------------------------------------------------------ tools
    def set_tool(self, tool: str) -> None:
        if tool not in HINTS:
            raise ValueError(f"unknown tool {tool!r}")
        if tool != "place-entry":
            self._pending_target = None
        if tool != self.tool:
            self.tool = tool
            self._send(ToolChanged(tool, HINTS[tool]))
            self.refresh_entry_map()

    def new_path(self) -> None:
        self.set_tool("place-target")

    def cancel(self) -> None:
        self.set_tool("view")

    def place(self, point) -> bool:
        """A point placed by the current tool; False when no tool takes points."""
        try:
            p = self.session.bounds.check(point, self.tool.removeprefix("place-"))
        except ops.EditError as exc:
            self.status(str(exc), "error")
            return self.tool != "view"
        if self.tool == "place-landmark":
            names = {m.name for m in self.plan.landmarks}
            name = next(
                f"Landmark {k}" for k in range(1, len(names) + 2) if f"Landmark {k}" not in names
            )
            bounds = self.session.bounds
            if self._edit(f"add {name}", lambda plan: ops.add_landmark(plan, name, p, bounds)[0]):
                self.set_tool("view")
                self.select_landmark(self.plan.landmarks[-1].id)
            return True
        if self.tool == "place-target":
            self._pending_target = p
            self.set_tool("place-entry")  # shows where to enter for this target
            return True
        if self.tool == "place-entry" and self._pending_target is not None:
            target, name = self._pending_target, self._new_name()
            bounds = self.session.bounds
            if self._edit(
                f"new path {name}",
                lambda plan: ops.add_trajectory(plan, name, p, target, bounds)[0],
            ):
                self.set_tool("view")
                self.select(self.plan.trajectories[-1].id)
            return True
        return False

    def _new_name(self) -> str:
        names = {t.name for t in self.plan.trajectories}
        return next(f"Path {k}" for k in range(1, len(names) + 2) if f"Path {k}" not in names)

    def _tap(self, pick: Pick | None) -> bool:
        """A tap on the 3D view, before the kiosk's meaning of it (select, measure)."""
        if self.tool == "view":
            tid = self.selected
            if (
                self.entry_scores is not None
                and tid is not None
                and pick is not None
                and (pick.id == self.skin_id)
            ):  # the map is shown: a tap on the skin moves the entry there
                bounds = self.session.bounds
                self._edit(
                    "entry from the map",
                    lambda plan: ops.move_end(plan, tid, "entry", pick.point, bounds),
                )
                return True
            if pick is not None and pick.kind == "trajectory":
                self.select(pick.id)
                return True
            if pick is not None and pick.kind == "landmark":
                self.select_landmark(pick.id)
                return True
            return False
        if pick is None or pick.kind != "structure":
            what = "a structure" if self.tool == "place-target" else "the skin (or a slice)"
            self.status(f"Nothing there: tap {what}", "warn")
            return True
        if self.tool == "place-entry" and pick.id != self.skin_id:
            self.status(f"That is {pick.name}: the entry goes on the skin", "warn")
            return True
        self.place(pick.point)
        return True

    # ------------------------------------------------------------ edits
    def _edit(self, label: str, change, merge: str | None = None) -> bool:
        try:
            self.session.apply(label, change, merge=merge)
        except ops.EditError as exc:
            self.status(str(exc), "error")
            return False
        return True

    def grab(self, iid: str, end: str) -> None:
        """Take hold of a path's "entry" or "target", or of a landmark (end "landmark")."""
        if end == "landmark":
            self.select_landmark(iid)
        elif iid != self.selected or self.item != ("trajectory", iid):
            self.select(iid)
        self._grab = (iid, end)

    @property
    def grabbed(self) -> tuple[str, str] | None:
        return self._grab

    def drag_to(self, point) -> bool:
        """Move the grabbed end to `point` (LPS); one undo step per grab."""
        if self._grab is None:
            return False
        tid, end = self._grab
        bounds = self.session.bounds
        if end == "landmark":
            return self._edit(
                "move landmark",
                lambda plan: ops.move_landmark(plan, tid, point, bounds),
                merge=f"drag:{tid}:landmark",
            )
        return self._edit(
            f"move {end}",
            lambda plan: ops.move_end(plan, tid, end, point, bounds),
            merge=f"drag:{tid}:{end}",
        )

    def pivot_entry(self, right, up, dx_mm: float, dy_mm: float) -> bool:
        """Across view: the entry moves by (dx, dy) in the view's plane, then back onto the
        sphere about the target: the path pivots about the target at constant length."""
        tid = self.selected
        if tid is None:
            return False
        t = self.plan.trajectory(tid)
        target, entry = np.asarray(t.target), np.asarray(t.entry)
        length = float(np.linalg.norm(entry - target))
        moved = entry + dx_mm * np.asarray(right) + dy_mm * np.asarray(up)
        d = moved - target
        p = target + d / np.linalg.norm(d) * length
        self._grab = (tid, "entry")
        return self.drag_to(p)

    def release(self) -> None:
        if self._grab is not None:
            self._grab = None
            self.session.end_merge()
            self._follow_target()
            self.refresh_entry_map()

    def undo(self) -> None:
        if not self.session.undo():
            self.status("Nothing to undo")

    def redo(self) -> None:
        if not self.session.redo():
            self.status("Nothing to redo")

    def delete_selected(self) -> None:
        """Delete the selected path or landmark."""
        if self.item is not None:
            kind, iid = self.item
            self._edit(f"delete {kind}", lambda plan: ops.remove(plan, iid))

    def rename_item(self, name: str) -> None:
        if self.item is not None and name != self.item_name():
            iid = self.item[1]
            self._edit("rename", lambda plan: ops.rename(plan, iid, name))

    def step_diameter(self, steps: int) -> None:
        """The selected path's instrument diameter, DIAMETER_STEP_MM a step."""
        tid = self.selected
        if tid is not None:
            d = self.plan.trajectory(tid).diameter + steps * DIAMETER_STEP_MM
            self._edit("diameter", lambda plan: ops.set_diameter(plan, tid, round(d, 2)))

    def cycle_path_color(self) -> None:
        tid = self.selected
        if tid is not None:
            now = self.plan.trajectory(tid).color
            i = PATH_COLORS.index(now) if now in PATH_COLORS else 0
            color = PATH_COLORS[(i + 1) % len(PATH_COLORS)]
            self._edit("path colour", lambda plan: ops.set_path_color(plan, tid, color))

    def set_structure(self, sid: str, **changes) -> None:
        """Name (`name=`), colour, opacity, visibility or the critical flag of a structure; the
        clearance follows the critical set."""
        name = changes.pop("name", None)
        before = {s.id for s in self.plan.structures if s.critical}
        if name is not None:
            self._edit("rename structure", lambda plan: ops.rename(plan, sid, name))
        if changes:
            self._edit("structure", lambda plan: ops.set_structure(plan, sid, **changes))
        if {s.id for s in self.plan.structures if s.critical} != before:
            self._critical_changed()

    def _critical_changed(self) -> None:
        meshes = self.session.base.meshes
        crit = [s for s in self.plan.structures if s.critical]
        self.clearance = ClearanceIndex([(s.id, s.name, meshes[s.id]) for s in crit])
        had = self.guide.scores is not None
        self.guide.build(
            meshes[self.skin_id] if self.skin_id else None, [meshes[s.id] for s in crit]
        )
        if had:
            self._send(EntryMapChanged(None))
        self._metrics_cache = {}
        self._update_readout()
        self.state.edit_plan(self.plan, self._metrics(self.plan))

    def save_view(self, camera) -> str | None:
        """The 3D view's camera as a named view of the plan (the kiosk lists it)."""
        names = {v.name for v in self.plan.views}
        name = next(f"View {k}" for k in range(1, len(names) + 2) if f"View {k}" not in names)
        look = tuple(float(v) for v in camera.forward)
        up = tuple(float(v) for v in camera.up)
        center, distance = tuple(float(v) for v in camera.center), float(camera.distance)
        ok = self._edit(
            f"save {name}", lambda plan: ops.add_view(plan, name, look, up, center, distance)[0]
        )
        return name if ok else None

    def frame_both_ends(self) -> None:
        """The 3D view from the side of the selected path, both ends in the picture."""
        if self.selected is not None:
            self.state.set_view(TrajectoryView(self.selected, side=True))

    def set_depth(self, depth_mm: float) -> None:
        """The across view at `depth_mm` from the entry along the selected path."""
        r = self.readout
        if r is not None:
            depth = min(max(float(depth_mm), 0.0), r.length)
            self.slices["perp"].set_offset(r.length - depth)

    @property
    def depth(self) -> float | None:
        r = self.readout
        return None if r is None else r.length - self.slices["perp"].slice.offset

    def nearest_end(self, frame, x01: float, y01: float, mm_per_unit: tuple[float, float]):
        """(id, end) of the path end ("entry", "target") or landmark ("landmark") drawn within
        GRAB_MM of a point of a slice picture (0..1, top-left), the nearest; None.
        `mm_per_unit`: screen mm per picture unit (x, y)."""
        points = [(t.id, end, getattr(t, end)) for t in self.plan.trajectories for end in ENDS]
        points += [(m.id, "landmark", m.position) for m in self.plan.landmarks]
        best, where = GRAB_MM, None
        for iid, end, p in points:
            if abs(frame.depth(p)) > ON_SLICE_MM:
                continue  # not on this slice
            sx, sy = frame.to_screen(p)
            d = float(np.hypot((sx - x01) * mm_per_unit[0], (sy - y01) * mm_per_unit[1]))
            if d < best:
                best, where = d, (iid, end)
        return where

    # ------------------------------------------------------------ save
    def save(self, folder: Path, key_file: Path | None) -> Saved | None:
        """Save the next version as FOLDER/<case>-v<N>, signed, verified; None when refused."""
        base = self.session.base.plan
        out = Path(folder) / f"{base.case_id}-v{base.plan_version + 1}"
        try:
            saved = save_version(self.session.base, self.plan, out, key_file=key_file)
        except OrkioskError as exc:  # a refused edit, an unusable key
            self.status(f"Not saved: {exc}", "error")
            return None
        except OSError as exc:  # the folder: not writable, full
            where = exc.filename or folder
            self.status(f"Not saved: {where}: {exc.strerror or exc}", "error")
            return None
        self.session.saved(saved.package)
        self.status(f"Saved v{saved.package.plan.plan_version} as {saved.path} (verified)")
        return saved
