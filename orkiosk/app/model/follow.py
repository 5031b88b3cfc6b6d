"""Follow mode: what a planner points at (orkiosk point) resolved against the shown plan.

Pure functions, no state: KioskState.follow() applies the result. A name matches an id first,
then a name without regard to case; nothing found is a reason for the log, never an exception.
"""

from __future__ import annotations

from orkiosk.app.model.values import ActiveView, NamedView, PlanViewRef, TrajectoryView
from orkiosk.plan.model import Plan
from orkiosk.plan.views import NAMED_VIEWS

HIGHLIGHT_DIM = 0.15  # others' opacity is multiplied by this while a structure is highlighted


def _find(items, target: str):
    by_id = next((x for x in items if x.id == target), None)
    low = target.casefold()
    return by_id or next((x for x in items if x.name.casefold() == low), None)


def resolve_view(plan: Plan, kind: str, target: str, side: bool = False) -> ActiveView | None:
    """The typed view for a 'view' or 'trajectory' point, or None if the plan has none such."""
    if kind == "view":
        if target.casefold() in NAMED_VIEWS:
            return NamedView(target.casefold())
        found = _find(plan.views, target)
        return PlanViewRef(found.id) if found is not None else None
    if kind == "trajectory":
        found = _find(plan.trajectories, target)
        return TrajectoryView(found.id, bool(side)) if found is not None else None
    return None


def resolve_structure(plan: Plan, target: str) -> str | None:
    found = _find(plan.structures, target)
    return found.id if found is not None else None


def describe(kind: str, target: str, side: bool = False) -> str:
    """What the follow banner says the planner shows, e.g. 'trajectory Biopsy (side)'."""
    if kind == "highlight":
        return f"{target} highlighted"
    if kind == "trajectory":
        return f"along trajectory {target}" + (" (side)" if side else "")
    return f"view {target}"
