"""The anatomy of the synthetic head: tissue labels and CT numbers, where each part lies (LPS mm),
and what a planner would mark on it (a biopsy trajectory to the lesion, landmarks)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Tissue labels painted in order (later wins) and their CT numbers (HU).
AIR, SOFT, BONE, DIPLOE, GREY, WHITE, CSF, LESION, ARTERY, VEIN, EYE = range(11)
HU = np.array([-1000, 40, 1500, 650, 40, 28, 5, 80, 300, 220, 12], dtype=np.float32)

HEAD_C = np.array([0.0, 5.0, 0.0])  # centre of the head ellipsoid
HEAD_R = np.array([72.0, 92.0, 100.0])  # its semi-axes (x, y, z)
SKULL_BASE_Z = -38.0
LESION_C = np.array([38.0, -18.0, 38.0])  # patient's LEFT (+x), anterior, superior
LESION_R = 12.0
LEFT_VENTRICLE = (np.array([13.0, 2.0, 18.0]), np.array([5.0, 24.0, 9.0]))  # compressed side
RIGHT_VENTRICLE = (np.array([-14.0, 4.0, 16.0]), np.array([8.0, 30.0, 13.0]))

# (label, radius mm, polyline LPS mm)
VESSELS: list[tuple[int, float, list[tuple[float, float, float]]]] = [
    # internal carotids and middle cerebral arteries (left runs higher and further back)
    (ARTERY, 2.5, [(-22, 12, -120), (-20, 10, -60), (-18, 8, -38), (-16, 2, -28)]),
    (ARTERY, 2.5, [(22, 12, -120), (20, 10, -60), (18, 8, -38), (16, 2, -28)]),
    (ARTERY, 1.8, [(-16, 2, -28), (-35, -2, -24), (-50, 2, -14), (-55, 10, 5), (-52, 25, 25)]),
    (ARTERY, 1.8, [(16, 2, -28), (35, 0, -22), (50, 6, -12), (56, 16, 4), (52, 34, 20)]),
    # anterior cerebral arteries joining into the pericallosal artery over the midline
    (ARTERY, 1.5, [(-16, 2, -28), (-4, -12, -22), (-1, -16, -18)]),
    (ARTERY, 1.5, [(16, 2, -28), (4, -12, -22), (1, -16, -18)]),
    (ARTERY, 1.5, [(0, -16, -18), (0, -36, 2), (-2, -42, 28), (-2, -24, 50), (-1, 12, 56)]),
    # vertebrobasilar system and posterior cerebral arteries
    (ARTERY, 2.0, [(0, 32, -120), (0, 24, -60), (0, 14, -34)]),
    (ARTERY, 1.5, [(0, 14, -34), (-22, 26, -26), (-30, 52, -12)]),
    (ARTERY, 1.5, [(0, 14, -34), (24, 24, -24), (34, 56, -6)]),
]


def _sss() -> list[tuple[float, float, float]]:
    """Superior sagittal sinus: just inside the inner table along the midline, front to back."""
    theta = np.radians(np.linspace(28, 160, 12))
    ys = HEAD_C[1] - (HEAD_R[1] - 17) * np.cos(theta)
    zs = (HEAD_R[2] - 17) * np.sin(theta)
    return [(0.0, float(y), float(z)) for y, z in zip(ys, zs, strict=True)]


VEINS: list[tuple[int, float, list[tuple[float, float, float]]]] = [
    (VEIN, 3.5, [*_sss(), (0, 78, -2)]),
    (VEIN, 3.0, [(0, 78, -2), (-30, 70, -10), (-52, 50, -18), (-46, 34, -45), (-30, 25, -120)]),
    (VEIN, 3.0, [(0, 78, -2), (28, 72, -8), (50, 52, -16), (46, 36, -44), (32, 26, -120)]),
]


@dataclass(frozen=True)
class PhantomPlan:
    """What a planner would mark on this head, in LPS mm."""

    lesion_center: tuple[float, float, float]
    lesion_radius: float
    entry: tuple[float, float, float]
    target: tuple[float, float, float]
    landmarks: tuple[tuple[str, tuple[float, float, float]], ...]


def _skin_point(direction, origin=HEAD_C) -> np.ndarray:
    """Where a ray from `origin` along `direction` leaves the head ellipsoid."""
    d = np.asarray(direction, float)
    d = d / np.linalg.norm(d)
    o = np.asarray(origin, float) - HEAD_C
    a = np.sum((d / HEAD_R) ** 2)
    b = 2 * np.sum(o * d / HEAD_R**2)
    c = np.sum((o / HEAD_R) ** 2) - 1
    t = (-b + np.sqrt(b * b - 4 * a * c)) / (2 * a)
    return np.asarray(origin, float) + t * d


def phantom_plan() -> PhantomPlan:
    """A biopsy trajectory from the left parietal convexity to the lesion centre, and landmarks."""
    entry = _skin_point((0.62, 0.28, 0.73), LESION_C)
    nose_tip = (0.0, -113.0, -30.0)
    nasion = _skin_point((0.0, -1.0, -0.02))
    return PhantomPlan(
        lesion_center=tuple(float(v) for v in LESION_C),
        lesion_radius=LESION_R,
        entry=tuple(round(float(v), 2) for v in entry),
        target=tuple(float(v) for v in LESION_C),
        landmarks=(
            ("Nasion", tuple(round(float(v), 2) for v in nasion)),
            ("Nose tip", nose_tip),
            ("Left tragus", (79.0, 8.0, -8.0)),
            ("Right tragus", (-79.0, 8.0, -8.0)),
            ("Vertex", (0.0, 5.0, 100.0)),
        ),
    )
