"""What the kiosk shows, as a plain object that announces its changes (no Kivy here).

The widgets subscribe and copy state out; touch and buttons call the methods below. The rules of
the display live here, where they can be tested without a window:
- a plan version never goes backwards;
- a plan for another patient or case waits for an explicit confirmation;
- a refused or broken plan leaves the current one on screen, with the reason shown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from orkiosk.plan.package import Package

MODES = ("view", "cut", "measure")
OPACITY_STEPS = (1.0, 0.5, 0.2)
CUT_PLANES = ("axial", "sagittal", "coronal", "trajectory")


@dataclass(frozen=True)
class Offer:
    """The outcome of offering a package: shown, waiting for confirmation, or refused."""

    outcome: str  # "shown" | "confirm" | "refused"
    reason: str = ""
    same_case: bool = False


@dataclass(frozen=True)
class Pick:
    id: str  # what was hit: a structure, trajectory or landmark id
    point: tuple[float, float, float]  # LPS mm
    name: str = ""
    kind: str = "structure"


class KioskState:
    """The kiosk's state; `subscribe(fn)` calls fn(what_changed) after every change."""

    def __init__(self) -> None:
        self.package: Package | None = None
        self.pending: Package | None = None  # another patient's plan, waiting for confirmation
        self.error: str = ""  # shown in the error banner until dismissed or replaced
        self.mode: str = "view"
        self.locked: bool = False
        self.hidden: set[str] = set()
        self.opacity: dict[str, float] = {}
        self.cut_plane: str = "axial"
        self.cut_offset: float = 0.0  # mm along the plane normal from the plan centre
        self.picks: list[Pick] = []  # measure mode: up to two points
        self.named: Pick | None = None  # long press: the structure named on screen
        self._subscribers: list[Callable[[str], None]] = []

    # ------------------------------------------------------------ events
    def subscribe(self, fn: Callable[[str], None]) -> None:
        self._subscribers.append(fn)

    def _changed(self, what: str) -> None:
        for fn in list(self._subscribers):
            fn(what)

    # ------------------------------------------------------------ plans
    def judge(self, pkg: Package) -> Offer:
        """What offering this package would do, without doing it."""
        cur = self.package
        if cur is None:
            return Offer("shown")
        same_patient = pkg.plan.patient.id == cur.plan.patient.id
        same_case = same_patient and pkg.plan.case_id == cur.plan.case_id
        if not same_case:
            return Offer("confirm", f"plan for another patient/case ({_who(pkg)})")
        if pkg.manifest_sha256 == cur.manifest_sha256:
            return Offer("refused", "this exact plan is already shown", True)
        if pkg.plan.plan_version <= cur.plan.plan_version:
            return Offer(
                "refused",
                f"plan version {pkg.plan.plan_version} is not newer than the shown "
                f"version {cur.plan.plan_version}",
                True,
            )
        return Offer("shown", same_case=True)

    def offer(self, pkg: Package, prepare: Callable[[Package], None] | None = None) -> Offer:
        """A verified package arrives: show it, hold it for confirmation, or refuse it.

        `prepare(pkg)` runs before anything changes (the GPU upload); if it raises, the plan on
        screen stays and the error propagates.
        """
        verdict = self.judge(pkg)
        if verdict.outcome == "shown":
            if prepare is not None:
                prepare(pkg)
            self._show(pkg)
        elif verdict.outcome == "confirm":
            self.pending = pkg
            self._changed("pending")
        elif verdict.reason != "this exact plan is already shown":
            self.set_error(f"Refused a plan for case {pkg.plan.case_id}: {verdict.reason}")
        return verdict

    def confirm_pending(self, prepare: Callable[[Package], None] | None = None) -> bool:
        if self.pending is None:
            return False
        pkg = self.pending
        if prepare is not None:
            prepare(pkg)
        self._show(pkg)
        return True

    def reject_pending(self) -> None:
        if self.pending is not None:
            self.pending = None
            self._changed("pending")

    def _show(self, pkg: Package) -> None:
        same_anatomy = self.package is not None and self.package.plan.case_id == pkg.plan.case_id
        self.package = pkg
        self.pending = None
        self.error = ""
        if not same_anatomy:
            self.hidden = {s.id for s in pkg.plan.structures if not s.visible}
            self.opacity = {}
            self.picks = []
            self.cut_offset = 0.0
        else:  # keep the surgeon's choices for structures that still exist
            ids = {s.id for s in pkg.plan.structures}
            self.hidden &= ids
            self.opacity = {k: v for k, v in self.opacity.items() if k in ids}
        self.named = None
        self._changed("package")

    def drop_meshes(self) -> None:
        """Once the shown plan is on the GPU, its CPU mesh copies are not needed: free them."""
        if self.package is not None and self.package.meshes:
            self.package = replace(self.package, meshes={})

    def set_error(self, message: str) -> None:
        self.error = message
        self._changed("error")

    def clear_error(self) -> None:
        if self.error:
            self.error = ""
            self._changed("error")

    # ------------------------------------------------------------ structures
    def toggle_visible(self, sid: str) -> None:
        self.hidden ^= {sid}
        self._changed("structures")

    def step_opacity(self, sid: str) -> float:
        """Cycle 100 % -> 50 % -> 20 % -> 100 % (the plan's own opacity counts as 100 %)."""
        cur = self.opacity.get(sid, OPACITY_STEPS[0])
        nxt = OPACITY_STEPS[(OPACITY_STEPS.index(cur) + 1) % len(OPACITY_STEPS)]
        if nxt == OPACITY_STEPS[0]:
            self.opacity.pop(sid, None)
        else:
            self.opacity[sid] = nxt
        self._changed("structures")
        return nxt

    def effective_opacity(self, sid: str) -> float:
        base = self.package.plan.structure(sid).opacity if self.package else 1.0
        return base * self.opacity.get(sid, 1.0)

    # ------------------------------------------------------------ modes
    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        self.mode = mode
        if mode != "measure":
            self.picks = []
        self._changed("mode")

    def set_locked(self, locked: bool) -> None:
        self.locked = locked
        self._changed("lock")

    def set_cut(self, plane: str | None = None, offset: float | None = None) -> None:
        if plane is not None:
            if plane not in CUT_PLANES:
                raise ValueError(f"unknown cut plane {plane!r}")
            if plane != self.cut_plane:
                self.cut_offset = 0.0
            self.cut_plane = plane
        if offset is not None:
            self.cut_offset = float(offset)
        self._changed("cut")

    def add_pick(self, pick: Pick) -> None:
        """Measure mode: a third pick starts a new measurement."""
        if len(self.picks) >= 2:
            self.picks = []
        self.picks.append(pick)
        self._changed("measure")

    def clear_picks(self) -> None:
        self.picks = []
        self._changed("measure")

    @property
    def distance_mm(self) -> float | None:
        if len(self.picks) < 2:
            return None
        a, b = (np.asarray(p.point) for p in self.picks)
        return float(np.linalg.norm(a - b))

    def name_structure(self, pick: Pick | None) -> None:
        self.named = pick
        self._changed("named")


def _who(pkg: Package) -> str:
    p = pkg.plan.patient
    return f"{p.name}, ID {p.id}, case {pkg.plan.case_id}"
