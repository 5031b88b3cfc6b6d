"""Safety checks of what is put on the image: every point, labelmap and imported mesh must lie in
or near the image volume (a file in the other coordinate system, or of another patient, lands far
away), and a declared laterality must agree with the side of the trajectory targets."""

from __future__ import annotations

import numpy as np

from orkiosk.plan.sides import laterality_conflicts, sided_targets
from orkiosk.planning.dicom.volume import Volume
from orkiosk.planning.markups import PlanItems
from orkiosk.planning.options import BuildError

MARGIN_MM = 30.0  # how far outside the image volume a point may lie


def _box(lo, hi) -> str:
    x, y, z = (f"{a:.0f}..{b:.0f}" for a, b in zip(lo, hi, strict=True))
    return f"x {x}, y {y}, z {z} mm"


def check_inside(volume: Volume, what: str, points, margin: float = MARGIN_MM) -> None:
    lo, hi = volume.bounds_lps()
    pts = np.atleast_2d(np.asarray(points, dtype=np.float64))
    below = np.maximum(lo - margin - pts, 0)
    above = np.maximum(pts - hi - margin, 0)
    dist = np.linalg.norm(np.maximum(below, above), axis=1)
    worst = int(np.argmax(dist))
    if dist[worst] > 0:
        p = ", ".join(f"{v:.1f}" for v in pts[worst])
        raise BuildError(
            f"{what}: point ({p}) LPS lies {dist[worst] + margin:.0f} mm outside the image volume "
            f"({_box(lo, hi)}); wrong coordinate system (LPS/RAS), wrong units or another "
            "patient's file?"
        )


def check_items_inside(volume: Volume, items: PlanItems) -> None:
    """Every trajectory, landmark and measurement point lies in or near the image volume."""
    for t in items.trajectories:
        check_inside(volume, f"trajectory {t.name!r}", [t.entry, t.target])
    for lm in items.landmarks:
        check_inside(volume, f"landmark {lm.name!r}", [lm.position])
    for m in items.measurements:
        check_inside(volume, f"measurement {m.name!r}", [m.a, m.b])


def check_overlap(volume: Volume, what: str, lo2, hi2) -> None:
    lo, hi = volume.bounds_lps()
    gap = np.maximum(np.maximum(lo - hi2, lo2 - hi), 0)
    if np.any(gap > MARGIN_MM):
        raise BuildError(
            f"{what}: lies outside the image volume ({_box(lo2, hi2)} against {_box(lo, hi)}); "
            "wrong coordinate system (LPS/RAS), wrong units or another patient's file?"
        )


def label_bounds(lv) -> tuple[np.ndarray, np.ndarray]:
    """LPS box around the non-zero voxels of a label volume."""
    nz = np.argwhere(lv.array if lv.array.ndim == 3 else lv.array.any(axis=0))
    if nz.size == 0:
        raise BuildError(f"{lv.path}: the label volume is empty (all zero)")
    kji_lo, kji_hi = nz.min(axis=0), nz.max(axis=0)
    corners = np.array(
        [
            [i, j, k]
            for i in (kji_lo[2], kji_hi[2])
            for j in (kji_lo[1], kji_hi[1])
            for k in (kji_lo[0], kji_hi[0])
        ],
        dtype=np.float64,
    )
    pts = corners @ lv.affine[:3, :3].T + lv.affine[:3, 3]
    return pts.min(axis=0), pts.max(axis=0)


def check_laterality(laterality: str, items: PlanItems) -> list[str]:
    targets = [(t.name, t.target) for t in items.trajectories]
    conflicts = laterality_conflicts(laterality, targets)
    if conflicts:
        raise BuildError(
            f"{conflicts[0]}; check the side, the markups' coordinate system, or --laterality"
        )
    return [
        f"trajectory {name!r} targets the patient's {side} side; consider --laterality {side}"
        for name, side in sided_targets(laterality, targets)
    ]
