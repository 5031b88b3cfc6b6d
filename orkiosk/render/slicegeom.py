"""Slice geometry, pure numpy: where a slice lies and which way it faces the viewer, the
letters on its four sides, structure contours (mesh-plane intersection) and trajectory
crossings. Shared by the slice view and the image on cut caps.

Conventions (radiological, as every PACS and 3D Slicer's default layout show them):
- axial: seen from the feet, anterior up: the patient's LEFT on the image's RIGHT;
- coronal: seen from the front, superior up: the patient's LEFT on the image's RIGHT;
- sagittal: seen from the patient's left, superior up: anterior on the image's LEFT;
- perp (across a trajectory): seen from the entry looking to the target (the probe's eye);
- along (containing a trajectory): the entry at the top, the target below it.
A slice's `offset` follows the cut vocabulary (render/state.py): axis slices mm from the centre
of the plan's bounds along +z / +x / +y; trajectory slices mm before the target ("perp") or
along the plane's normal ("along").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orkiosk.plan.model import Plan, Trajectory
from orkiosk.render.errors import RenderError
from orkiosk.render.state import AXIS_CUTS, CUT_PLANES, TRAJECTORY_CUTS, ClipPlane

LPS_LETTERS = (("L", "R"), ("P", "A"), ("S", "I"))  # (+axis, -axis)
# along a trajectory: the path plus a margin at both ends (the larger of 20 mm and 30 % of its
# length), and 3/4 of that across, so the path fills the picture rather than a whole head
ALONG_MARGIN_MM = 20.0
ALONG_MARGIN_SHARE = 0.3
ALONG_WIDTH_SHARE = 0.75
_FRAMES = {  # kind: (right, up) on the screen, LPS
    "axial": ((1.0, 0.0, 0.0), (0.0, -1.0, 0.0)),
    "coronal": ((1.0, 0.0, 0.0), (0.0, 0.0, 1.0)),
    "sagittal": ((0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
}


@dataclass(frozen=True)
class SliceFrame:
    """A slice on the screen: the LPS point at the picture's centre, the LPS directions of the
    screen's right and up (unit, perpendicular), its extent in mm, and how it was asked for."""

    center: np.ndarray
    right: np.ndarray
    up: np.ndarray
    width_mm: float  # across the picture's width
    height_mm: float
    kind: str
    offset: float
    trajectory_id: str | None = None

    @property
    def normal(self) -> np.ndarray:
        """Towards the viewer (right x up)."""
        return np.cross(self.right, self.up)

    def to_screen(self, lps) -> np.ndarray:
        """LPS (..., 3) -> (x, y) in 0..1 of the picture, x to the right, y DOWN (top-left)."""
        d = np.asarray(lps, dtype=np.float64) - self.center
        x = d @ self.right / self.width_mm + 0.5
        y = 0.5 - d @ self.up / self.height_mm
        return np.stack([x, y], axis=-1)

    def to_lps(self, xy) -> np.ndarray:
        """(x, y) in 0..1 of the picture (top-left origin) -> LPS on the slice."""
        xy = np.asarray(xy, dtype=np.float64)
        u = (xy[..., 0:1] - 0.5) * self.width_mm
        v = (0.5 - xy[..., 1:2]) * self.height_mm
        return self.center + u * self.right + v * self.up

    def depth(self, lps) -> np.ndarray:
        """mm of a point in front of (+, towards the viewer) or behind (-) the slice."""
        return (np.asarray(lps, dtype=np.float64) - self.center) @ self.normal


def side_letters(frame: SliceFrame) -> dict[str, str]:
    """The patient direction at each side of the picture: {'right': 'L', 'left': 'R', 'top':
    'A', 'bottom': 'P'} for an axial slice; oblique sides get two letters, main one first."""
    out = {}
    for side, vec in (
        ("right", frame.right),
        ("left", -frame.right),
        ("top", frame.up),
        ("bottom", -frame.up),
    ):
        order = np.argsort(-np.abs(vec))
        text = ""
        for n, axis in enumerate(order[:2]):
            if n == 0 or abs(vec[axis]) > 0.38:  # more than ~22 degrees off: say so
                text += LPS_LETTERS[axis][0 if vec[axis] > 0 else 1]
        out[side] = text
    return out


def slice_frame(
    kind: str,
    offset: float,
    bounds,
    aspect: float,
    trajectory: Trajectory | None = None,
) -> SliceFrame:
    """The SliceFrame of one of CUT_PLANES for a picture of width/height `aspect`, sized to show
    the whole plan ("along": the path with a margin), the same size for every offset, so a
    drag does not zoom."""
    if kind not in CUT_PLANES:
        raise RenderError(f"unknown slice plane {kind!r}; known: {', '.join(CUT_PLANES)}")
    lo, hi = (np.asarray(b, dtype=np.float64) for b in bounds)
    mid = (lo + hi) / 2
    tid = None
    if kind in TRAJECTORY_CUTS and trajectory is not None:
        tid = trajectory.id
        entry = np.asarray(trajectory.entry, dtype=np.float64)
        target = np.asarray(trajectory.target, dtype=np.float64)
        f = (target - entry) / np.linalg.norm(target - entry)
        if kind == "perp":
            center = target - f * offset
            up = _perpendicular(f)
            right = np.cross(up, -f)  # right x up = -f: towards the viewer at the entry
        else:
            plane = ClipPlane.along(trajectory, bounds, offset)
            n = np.asarray(plane.normal)
            up = -f
            right = np.cross(up, n)
            center = (entry + target) / 2 + n * offset
    else:
        kind = kind if kind in AXIS_CUTS else "axial"
        right, up = (np.asarray(v) for v in _FRAMES[kind])
        axis = {"axial": 2, "sagittal": 0, "coronal": 1}[kind]
        center = mid.copy()
        center[axis] += offset
    corners = np.array(
        [[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
    )
    du = np.abs((corners - center) @ right).max() * 2
    dv = np.abs((corners - center) @ up).max() * 2
    if kind in AXIS_CUTS:  # centred on the plan, not on the slice's own point
        du, dv = np.ptp(corners @ right), np.ptp(corners @ up)
    elif kind == "along" and tid is not None:  # the path and its surroundings, not the plan
        length = float(np.linalg.norm(target - entry))
        dv = length + 2 * max(ALONG_MARGIN_MM, ALONG_MARGIN_SHARE * length)
        du = ALONG_WIDTH_SHARE * dv
    scale = 1.04 * max(du / aspect, dv)
    return SliceFrame(center, right, up, scale * aspect, scale, kind, float(offset), tid)


def _perpendicular(f: np.ndarray) -> np.ndarray:
    """A unit vector across `f`, as close to superior (else anterior) as it can be."""
    for ref in ((0.0, 0.0, 1.0), (0.0, -1.0, 0.0)):
        r = np.asarray(ref)
        v = r - f * (r @ f)
        if np.linalg.norm(v) > 0.3:
            return v / np.linalg.norm(v)
    raise RenderError("no direction across the trajectory")  # pragma: no cover (unreachable)


def parse_slice(spec: str, plan: Plan) -> tuple[str, float, Trajectory | None]:
    """PLANE:MM -> (kind, offset, trajectory). axial|sagittal|coronal:MM (from the plan's
    centre along +z/+x/+y), trajectory:ID[:MM] or perp:ID[:MM] (across it, MM before the
    target), along:ID[:MM] (containing it)."""
    parts = [p.strip() for p in spec.split(":")]
    kind = parts[0].lower() if parts else ""
    kind = "perp" if kind == "trajectory" else kind
    if kind not in CUT_PLANES:
        raise RenderError(
            f"slice {spec!r}: the plane must be axial, sagittal, coronal, trajectory:ID "
            "(across it), perp:ID or along:ID, e.g. axial:20 or trajectory:biopsy:5"
        )

    def number(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise RenderError(f"slice {spec!r}: {text!r} is not a number of mm") from None
        if not np.isfinite(value):
            raise RenderError(f"slice {spec!r}: the position must be finite")
        return value

    if kind in AXIS_CUTS:
        if len(parts) > 2:
            raise RenderError(f"slice {spec!r}: expected {kind}:MM")
        return kind, number(parts[1]) if len(parts) == 2 and parts[1] else 0.0, None
    if len(parts) not in (2, 3):
        raise RenderError(f"slice {spec!r}: expected {parts[0]}:TRAJECTORY_ID[:MM]")
    try:
        traj = plan.trajectory(parts[1])
    except KeyError:
        known = ", ".join(t.id for t in plan.trajectories) or "none"
        raise RenderError(f"slice {spec!r}: no trajectory {parts[1]!r} (known: {known})") from None
    return kind, number(parts[2]) if len(parts) == 3 else 0.0, traj


def contour_segments(positions, indices, point, normal) -> np.ndarray:
    """Where a triangle mesh crosses a plane: (n, 2, 3) LPS line segments."""
    pos = np.asarray(positions, dtype=np.float64)
    d = (pos - np.asarray(point, dtype=np.float64)) @ np.asarray(normal, dtype=np.float64)
    d = np.where(d == 0.0, 1e-9, d)  # a vertex on the plane counts as in front
    tri = np.asarray(indices).reshape(-1, 3)
    s = d[tri] > 0
    crossing = s.any(axis=1) & ~s.all(axis=1)
    tri, s = tri[crossing], s[crossing]
    if not len(tri):
        return np.zeros((0, 2, 3))
    # the lone vertex (on its own side) and the two others: two edges cross the plane
    lone = np.where(s.sum(axis=1) == 1, np.argmax(s, axis=1), np.argmin(s, axis=1))
    rows = np.arange(len(tri))
    a = tri[rows, lone]
    b = tri[rows, (lone + 1) % 3]
    c = tri[rows, (lone + 2) % 3]

    def cut(p, q):
        t = (d[p] / (d[p] - d[q]))[:, None]
        return pos[p] + t * (pos[q] - pos[p])

    return np.stack([cut(a, b), cut(a, c)], axis=1)


IN_PLANE_MM = 0.5  # a path whose both ends lie this close to the plane lies in it


def path_in_plane(trajectory: Trajectory, point, normal) -> bool:
    """The whole path entry -> target lies in the plane (it has no single crossing)."""
    n = np.asarray(normal, dtype=np.float64)
    ends = np.array([trajectory.entry, trajectory.target], dtype=np.float64) - point
    return bool(np.all(np.abs(ends @ n) < IN_PLANE_MM))


def trajectory_crossing(trajectory: Trajectory, point, normal) -> np.ndarray | None:
    """Where the path entry -> target crosses the plane (None if it does not, or if the whole
    path lies in the plane)."""
    e = np.asarray(trajectory.entry, dtype=np.float64)
    t = np.asarray(trajectory.target, dtype=np.float64)
    n = np.asarray(normal, dtype=np.float64)
    de, dt = (e - point) @ n, (t - point) @ n
    if path_in_plane(trajectory, point, normal):
        return None
    if de * dt > 0 or de == dt:
        return None
    return e + (t - e) * (de / (de - dt))
