"""What changed since the plan the team last acknowledged: the kiosk's "what changed" banner.

When a newer version of the same case (same patient ID and case ID) replaces the shown plan,
the diff (orkiosk.plan.diff) is from the plan on screen before it; if that banner was still up
(not acknowledged), from the plan it was about, so that two quick replacements never hide the
first one's changes. Another case, or the first plan, has no diff. Meshes are summarised
(MeshShape) when a plan is shown, so the diff can say how far a mesh moved after the kiosk has
freed its CPU copies. Summarising 850k triangles takes ~40 ms on this machine's CPU, so the
load worker does it beforehand (`summarise`) and `show` on the UI thread only looks it up.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from orkiosk.plan.diff import MeshShape, PlanDiff, diff_plans, mesh_shapes
from orkiosk.plan.model import Plan
from orkiosk.plan.package import Package


@dataclass(frozen=True)
class _Seen:
    plan: Plan
    shapes: dict[str, MeshShape]


_SUMMARIES: dict[str, dict[str, MeshShape]] = {}  # manifest SHA-256 -> shapes (a few kept)
_KEEP = 4
_lock = threading.Lock()


def summarise(pkg: Package) -> None:
    """Summarise `pkg`'s meshes now (any thread: the load worker), for a later `show`."""
    shapes = mesh_shapes(pkg.meshes)
    with _lock:
        _SUMMARIES[pkg.manifest_sha256] = shapes
        while len(_SUMMARIES) > _KEEP:
            del _SUMMARIES[next(iter(_SUMMARIES))]


def _shapes_of(pkg: Package) -> dict[str, MeshShape]:
    with _lock:
        shapes = _SUMMARIES.pop(pkg.manifest_sha256, None)
    return shapes if shapes is not None else mesh_shapes(pkg.meshes)


def same_case(a: Plan, b: Plan) -> bool:
    return a.patient.id == b.patient.id and a.case_id == b.case_id


class ChangeTracker:
    def __init__(self) -> None:
        self._shown: _Seen | None = None  # the plan on screen
        self._base: _Seen | None = None  # what the open diff is from (None: no open diff)

    def show(self, pkg: Package) -> PlanDiff | None:
        """`pkg` is now on screen: what changed since the acknowledged plan (None: nothing to
        compare with, or another case)."""
        seen = _Seen(pkg.plan, _shapes_of(pkg))
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
