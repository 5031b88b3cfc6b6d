"""The named anatomical views and the view along a trajectory: directions in patient LPS.

Anatomical convention: "anterior" looks at the patient's face with superior up, so the patient's
LEFT (+x) is on the screen's RIGHT; "posterior" the reverse; "left"/"right" look from that side;
"superior" looks down from above the head and "inferior" up from the feet, both with anterior at
the top of the screen. The renderer's camera and the planning side both take them from here.
"""

from __future__ import annotations

import numpy as np

from orkiosk.plan.model import Trajectory, View

Direction = tuple[float, float, float]

# look direction and screen-up direction of each named view (LPS)
NAMED_VIEWS: dict[str, tuple[Direction, Direction]] = {
    "anterior": ((0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
    "posterior": ((0.0, -1.0, 0.0), (0.0, 0.0, 1.0)),
    "left": ((-1.0, 0.0, 0.0), (0.0, 0.0, 1.0)),
    "right": ((1.0, 0.0, 0.0), (0.0, 0.0, 1.0)),
    "superior": ((0.0, 0.0, -1.0), (0.0, -1.0, 0.0)),
    "inferior": ((0.0, 0.0, 1.0), (0.0, -1.0, 0.0)),
}


def unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    n = float(np.linalg.norm(v))
    if not np.isfinite(n) or n < 1e-12:
        raise ValueError(f"direction {v.tolist()} has no length")
    return v / n


def up_for(look) -> np.ndarray:
    """Screen-up for a view along `look`: superior, or anterior when looking along S-I."""
    f = unit(look)
    for cand in ((0.0, 0.0, 1.0), (0.0, -1.0, 0.0)):
        c = np.asarray(cand)
        u = c - f * float(np.dot(c, f))
        if np.linalg.norm(u) > 0.2:
            return unit(u)
    return unit(np.cross(f, (1.0, 0.0, 0.0)))


def anatomical_views() -> list[View]:
    """The six named views as plan View records (id = the name, title-cased label)."""
    return [View(name, name.title(), look, up) for name, (look, up) in NAMED_VIEWS.items()]


def along_trajectory(t: Trajectory, view_id: str) -> View:
    """A view down a trajectory (entry -> target), centred on the target."""
    look = unit(np.subtract(t.target, t.entry))
    return View(
        view_id,
        f"Along {t.name}",
        tuple(round(float(v), 6) for v in look),
        tuple(round(float(v), 6) for v in up_for(look)),
        center=tuple(float(v) for v in t.target),
    )
