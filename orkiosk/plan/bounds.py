"""The box around a plan: every mesh, trajectory end and landmark (LPS mm). Pure numpy."""

from __future__ import annotations

import numpy as np

from orkiosk.plan.model import Plan

MARKER_MARGIN = 5.0  # mm around trajectory ends and landmarks in the bounds


def plan_bounds(plan: Plan, meshes) -> tuple[np.ndarray, np.ndarray]:
    """(min, max) LPS corners around every mesh, trajectory end and landmark of a plan."""
    lo, hi = [], []
    for s in plan.structures:
        if s.id in meshes:
            a, b = meshes[s.id].bounds()
            lo.append(a)
            hi.append(b)
    pts = [t.entry for t in plan.trajectories] + [t.target for t in plan.trajectories]
    pts += [m.position for m in plan.landmarks]
    for p in pts:
        lo.append(np.asarray(p, dtype=np.float64) - MARKER_MARGIN)
        hi.append(np.asarray(p, dtype=np.float64) + MARKER_MARGIN)
    if not lo:
        return np.full(3, -50.0), np.full(3, 50.0)
    return (
        np.min(np.array(lo, dtype=np.float64), axis=0),
        np.max(np.array(hi, dtype=np.float64), axis=0),
    )
