"""What changed in the kiosk model: one small frozen event per kind of change.

KioskState emits an event only when the value it names actually changed, after the whole
operation is done (so a handler always sees a consistent model), carrying the new value.
"""

from __future__ import annotations

from dataclasses import dataclass

from orkiosk.app.model.values import ActiveView, Cut, Pick
from orkiosk.plan.diff import PlanDiff
from orkiosk.plan.model import Plan
from orkiosk.plan.package import Package


@dataclass(frozen=True)
class PlanShown:
    """A new package is on screen (with its metrics, bounds and a fitting camera)."""

    package: Package


@dataclass(frozen=True)
class PlanEdited:
    """The shown plan was edited in place (the workbench): same meshes, other trajectories,
    landmarks, names or display settings, and new metrics."""

    plan: Plan


@dataclass(frozen=True)
class PendingChanged:
    """A plan for another patient/case waits for confirmation (None: no longer)."""

    package: Package | None


@dataclass(frozen=True)
class ChangesChanged:
    """What changed since the plan the team last acknowledged, after a newer version of the
    same case replaced it (model/changes.py); None once dismissed, or for another case."""

    changes: PlanDiff | None


@dataclass(frozen=True)
class ErrorChanged:
    message: str  # "" once dismissed


@dataclass(frozen=True)
class ModeChanged:
    mode: str


@dataclass(frozen=True)
class LockChanged:
    locked: bool


@dataclass(frozen=True)
class StructuresChanged:
    """Visibility or opacity steps of structures changed."""

    hidden: frozenset[str]
    opacity: tuple[tuple[str, float], ...]  # sorted (structure id, step) for the non-default ones


@dataclass(frozen=True)
class CutChanged:
    cut: Cut


@dataclass(frozen=True)
class PicksChanged:
    picks: tuple[Pick, ...]  # measure mode: up to two


@dataclass(frozen=True)
class NamedChanged:
    pick: Pick | None  # long press: the thing named on screen


@dataclass(frozen=True)
class SelectionChanged:
    trajectory_id: str | None  # the selected trajectory (the readout and the cut follow it)


@dataclass(frozen=True)
class ViewChanged:
    view: ActiveView


@dataclass(frozen=True)
class CameraMoved:
    """The camera changed: by a gesture (`interactive`: more moves are likely) or a jump to a
    view (draw at full quality at once)."""

    interactive: bool


@dataclass(frozen=True)
class FollowChanged:
    """Follow mode switched on or off (`why`: "touch" when a touch on the 3D view ended it),
    or the planner pointed at something else (`showing`: what, for the screen)."""

    following: bool
    why: str = ""
    showing: str = ""
    highlight: str | None = None  # structure id shown at full opacity, the others dimmed


Event = (
    PlanShown
    | PlanEdited
    | PendingChanged
    | ChangesChanged
    | ErrorChanged
    | ModeChanged
    | LockChanged
    | StructuresChanged
    | CutChanged
    | PicksChanged
    | NamedChanged
    | SelectionChanged
    | ViewChanged
    | CameraMoved
    | FollowChanged
)
