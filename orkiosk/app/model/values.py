"""The values the kiosk model holds: small, frozen, comparable (no Kivy, no GL)."""

from __future__ import annotations

from dataclasses import dataclass

from orkiosk.render.state import AXIS_CUTS, CUT_PLANES, TRAJECTORY_CUTS

MODES = ("view", "cut", "measure")
OPACITY_STEPS = (1.0, 0.5, 0.2)

__all__ = [
    "AXIS_CUTS",
    "CUT_PLANES",
    "MODES",
    "OPACITY_STEPS",
    "TRAJECTORY_CUTS",
    "ActiveView",
    "Cut",
    "NamedView",
    "Pick",
    "PlanViewRef",
    "TrajectoryView",
]


@dataclass(frozen=True)
class Pick:
    id: str  # what was hit: a structure, trajectory or landmark id
    point: tuple[float, float, float]  # LPS mm
    name: str = ""
    kind: str = "structure"  # "structure" | "trajectory" | "landmark"


# ------------------------------------------------------------------ the active view
@dataclass(frozen=True)
class NamedView:
    """One of orkiosk.plan.views.NAMED_VIEWS ("anterior", "left", ...)."""

    name: str


@dataclass(frozen=True)
class PlanViewRef:
    """A view the planner saved in the plan (orkiosk.plan.model.View), by id."""

    view_id: str


@dataclass(frozen=True)
class TrajectoryView:
    """Looking along a trajectory, entry to target (probe's eye), or at its side."""

    trajectory_id: str
    side: bool = False


ActiveView = NamedView | PlanViewRef | TrajectoryView
DEFAULT_VIEW = NamedView("anterior")


# ------------------------------------------------------------------ the cut
@dataclass(frozen=True)
class Cut:
    """The cutting plane, in orkiosk.render.state's vocabulary (CUT_PLANES).

    `offset` is mm from the plan's centre along +z/+x/+y for the axis cuts, along the plane's
    normal for "along", and before the target for "perp"; `trajectory_id` is the trajectory a
    trajectory cut follows (the selected one), None for axis cuts."""

    plane: str = "axial"
    offset: float = 0.0
    trajectory_id: str | None = None

    @property
    def follows_trajectory(self) -> bool:
        return self.plane in TRAJECTORY_CUTS
