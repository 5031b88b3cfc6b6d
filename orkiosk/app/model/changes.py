"""What changed since the plan the team last acknowledged: the kiosk's "what changed" banner.

When a newer version of the same case (same patient ID and case ID) replaces the shown plan,
the diff (orkiosk.plan.diff) is from the plan on screen before it; if that banner was still up
(not acknowledged), from the plan it was about, so that two quick replacements never hide the
first one's changes. Another case, or the first plan, has no diff. Meshes are summarised
(MeshShape) when a plan is shown, so the diff can say how far a mesh moved after the kiosk has
freed its CPU copies.
"""

from __future__ import annotations

from dataclasses import dataclass

from orkiosk.plan.diff import MeshShape, PlanDiff, diff_plans, mesh_shapes
from orkiosk.plan.model import Plan
from orkiosk.plan.package import Package


@dataclass(frozen=True)
class _Seen:
    plan: Plan
    shapes: dict[str, MeshShape]


def same_case(a: Plan, b: Plan) -> bool:
    return a.patient.id == b.patient.id and a.case_id == b.case_id


class ChangeTracker:
    def __init__(self) -> None:
        self._shown: _Seen | None = None  # the plan on screen
        self._base: _Seen | None = None  # what the open diff is from (None: no open diff)

    def show(self, pkg: Package) -> PlanDiff | None:
        """`pkg` is now on screen: what changed since the acknowledged plan (None: nothing to
        compare with, or another case)."""
        seen = _Seen(pkg.plan, mesh_shapes(pkg.meshes))
        before = self._base or self._shown
        self._shown = seen
        if before is None or not same_case(before.plan, pkg.plan):
            self._base = None
            return None
        self._base = before
        return diff_plans(before.plan, pkg.plan, before.shapes, seen.shapes)

    def dismiss(self) -> None:
        """The team has seen the changes: the next diff starts from the plan on screen."""
        self._base = None
