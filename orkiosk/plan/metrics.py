"""Glanceable trajectory metrics and distances: pure numpy, no GL (importable anywhere).

All inputs and outputs are patient LPS millimetres. Angles are in degrees: the angle between the
path and a plane is 90 degrees minus the angle to that plane's normal (0 = lying in the plane).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orkiosk.plan.mesh import Mesh
from orkiosk.plan.model import Plan, Trajectory


@dataclass(frozen=True)
class CriticalDistance:
    structure_id: str
    name: str
    distance: float  # mm from the path to the structure's surface; 0 when the path crosses it
    along: float  # mm from the entry to the closest point of the path
    fraction: float  # the same along the path, 0 = entry, 1 = target
    path_point: tuple[float, float, float]  # the closest point on the path
    surface_point: tuple[float, float, float]  # the closest point on the structure
    crosses: bool  # the path passes through the surface (distance 0)
    inside: bool  # the closest path point lies inside the (closed) structure


@dataclass(frozen=True)
class TrajectoryMetrics:
    trajectory_id: str
    name: str
    length: float  # mm, entry to target
    direction: tuple[float, float, float]  # unit vector entry -> target (LPS)
    angle_axial: float  # degrees between the path and the axial plane
    angle_sagittal: float  # degrees between the path and the sagittal plane
    angle_coronal: float  # degrees between the path and the coronal plane
    critical: tuple[CriticalDistance, ...]  # closest first

    @property
    def closest(self) -> CriticalDistance | None:
        return self.critical[0] if self.critical else None


def distance(a, b) -> float:
    """Euclidean distance in mm between two points (e.g. two picked points)."""
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)))


def plane_angle(direction, normal) -> float:
    """Angle in degrees between a line direction and the plane with `normal`."""
    d = np.asarray(direction, dtype=np.float64)
    n = np.asarray(normal, dtype=np.float64)
    s = abs(float(np.dot(d, n))) / (np.linalg.norm(d) * np.linalg.norm(n))
    return float(np.degrees(np.arcsin(min(1.0, s))))


def trajectory_metrics(
    plan: Plan, meshes: dict[str, Mesh], trajectory: Trajectory | str
) -> TrajectoryMetrics:
    """Length, plane angles and the clearance to every critical structure of one trajectory."""
    t = plan.trajectory(trajectory) if isinstance(trajectory, str) else trajectory
    entry = np.asarray(t.entry, dtype=np.float64)
    target = np.asarray(t.target, dtype=np.float64)
    v = target - entry
    length = float(np.linalg.norm(v))
    direction = v / length if length > 0 else np.zeros(3)
    crit = []
    for s in plan.structures:
        if s.critical and s.id in meshes:
            crit.append(segment_mesh_distance(entry, target, meshes[s.id], s.id, s.name))
    crit.sort(key=lambda c: (c.distance, c.along))
    return TrajectoryMetrics(
        trajectory_id=t.id,
        name=t.name,
        length=length,
        direction=tuple(float(x) for x in direction),
        angle_axial=plane_angle(v, (0, 0, 1)) if length > 0 else 0.0,
        angle_sagittal=plane_angle(v, (1, 0, 0)) if length > 0 else 0.0,
        angle_coronal=plane_angle(v, (0, 1, 0)) if length > 0 else 0.0,
        critical=tuple(crit),
    )


def all_trajectory_metrics(plan: Plan, meshes: dict[str, Mesh]) -> list[TrajectoryMetrics]:
    return [trajectory_metrics(plan, meshes, t) for t in plan.trajectories]


# --------------------------------------------------------------------------- geometry


def _closest_on_segment(p: np.ndarray, a: np.ndarray, b: np.ndarray):
    """Closest points on segment a-b to points p (N, 3): (points, parameter t)."""
    ab = b - a
    denom = float(np.dot(ab, ab))
    if denom == 0:
        return np.broadcast_to(a, p.shape).copy(), np.zeros(len(p))
    t = np.clip((p - a) @ ab / denom, 0.0, 1.0)
    return a + t[:, None] * ab, t


def _closest_on_triangles(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray):
    """Closest point on each triangle (a, b, c) (N, 3) to points p (N, 3) (Ericson 5.1.5)."""
    ab, ac, ap = b - a, c - a, p - a
    d1 = np.einsum("ij,ij->i", ab, ap)
    d2 = np.einsum("ij,ij->i", ac, ap)
    bp = p - b
    d3 = np.einsum("ij,ij->i", ab, bp)
    d4 = np.einsum("ij,ij->i", ac, bp)
    cp = p - c
    d5 = np.einsum("ij,ij->i", ab, cp)
    d6 = np.einsum("ij,ij->i", ac, cp)
    va = d3 * d6 - d5 * d4
    vb = d5 * d2 - d1 * d6
    vc = d1 * d4 - d3 * d2
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = 1.0 / (va + vb + vc)
        v = vb * denom
        w = vc * denom
        out = a + ab * v[:, None] + ac * w[:, None]  # inside the face
        # edge regions
        t_ab = d1 / (d1 - d3)
        t_ac = d2 / (d2 - d6)
        t_bc = (d4 - d3) / ((d4 - d3) + (d5 - d6))
    m = (vc <= 0) & (d1 >= 0) & (d3 <= 0)
    out[m] = a[m] + ab[m] * t_ab[m, None]
    m = (vb <= 0) & (d2 >= 0) & (d6 <= 0)
    out[m] = a[m] + ac[m] * t_ac[m, None]
    m = (va <= 0) & ((d4 - d3) >= 0) & ((d5 - d6) >= 0)
    out[m] = b[m] + (c[m] - b[m]) * t_bc[m, None]
    # vertex regions (last, they win)
    m = (d6 >= 0) & (d5 <= d6)
    out[m] = c[m]
    m = (d3 >= 0) & (d4 <= d3)
    out[m] = b[m]
    m = (d1 <= 0) & (d2 <= 0)
    out[m] = a[m]
    return out


def _segment_segment(p1, q1, p2, q2):
    """Closest points between segment p1-q1 (3,) and segments p2-q2 (N, 3) (Ericson 5.1.9)."""
    d1 = q1 - p1
    d2 = q2 - p2
    r = p1 - p2
    a = float(np.dot(d1, d1))
    e = np.einsum("ij,ij->i", d2, d2)
    f = np.einsum("ij,ij->i", d2, r)
    c = r @ d1
    b = d2 @ d1
    denom = a * e - b * b
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(denom > 1e-12, np.clip((b * f - c * e) / denom, 0, 1), 0.0)
        t = (b * s + f) / e
        t = np.where(e > 1e-12, t, 0.0)
    low, high = t < 0, t > 1
    t = np.clip(t, 0, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(low, np.clip(-c / a, 0, 1), s)
        s = np.where(high, np.clip((b - c) / a, 0, 1), s)
    s = np.nan_to_num(s)
    c1 = p1 + s[:, None] * d1
    c2 = p2 + t[:, None] * d2
    return c1, c2, s


def _segment_hits(a, b, v0, v1, v2):
    """Parameters t in [0, 1] where segment a-b crosses triangles (NaN where it does not)."""
    d = b - a
    e1, e2 = v1 - v0, v2 - v0
    pvec = np.cross(d, e2)
    det = np.einsum("ij,ij->i", e1, pvec)
    ok = np.abs(det) > 1e-12
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / det
        tvec = a - v0
        u = np.einsum("ij,ij->i", tvec, pvec) * inv
        qvec = np.cross(tvec, e1)
        w = (qvec @ d) * inv
        t = np.einsum("ij,ij->i", e2, qvec) * inv
    hit = ok & (u >= 0) & (w >= 0) & (u + w <= 1) & (t >= 0) & (t <= 1)
    return np.where(hit, t, np.nan)


def point_inside(point, mesh: Mesh) -> bool:
    """Whether a point lies inside a closed mesh (parity of crossings along a fixed ray)."""
    p = np.asarray(point, dtype=np.float64)
    pos = mesh.positions.astype(np.float64)
    idx = mesh.indices
    lo, hi = pos.min(axis=0), pos.max(axis=0)
    if np.any(p < lo) or np.any(p > hi):
        return False
    # an irrational-ish direction avoids hitting edges of axis-aligned tessellations exactly
    direction = np.array([0.5773, 0.5774, 0.5773]) + np.array([1e-4, -3e-4, 2e-4])
    far = p + direction * (float(np.linalg.norm(hi - lo)) * 2 + 1)
    t = _segment_hits(p, far, pos[idx[:, 0]], pos[idx[:, 1]], pos[idx[:, 2]])
    return int(np.count_nonzero(~np.isnan(t))) % 2 == 1


def segment_mesh_distance(
    entry, target, mesh: Mesh, sid: str = "", name: str = ""
) -> CriticalDistance:
    """Minimum distance between the segment entry-target and a triangle mesh's surface."""
    a = np.asarray(entry, dtype=np.float64)
    b = np.asarray(target, dtype=np.float64)
    length = float(np.linalg.norm(b - a))
    pos = mesh.positions.astype(np.float64)
    idx = mesh.indices
    v0, v1, v2 = pos[idx[:, 0]], pos[idx[:, 1]], pos[idx[:, 2]]

    # 1. does the path cross the surface? the first crossing is the answer (distance 0)
    t_hit = _segment_hits(a, b, v0, v1, v2)
    if np.any(~np.isnan(t_hit)):
        k = int(np.nanargmin(t_hit))
        t = float(t_hit[k])
        p = a + t * (b - a)
        return _result(sid, name, 0.0, t, length, p, p, crosses=True, inside=False)

    # 2. prune triangles by a lower bound: distance from the path to each triangle's bounding
    #    sphere; the closest vertex gives an upper bound on the answer
    centre = (v0 + v1 + v2) / 3
    radius = np.sqrt(
        np.max(
            np.stack(
                [((v - centre) ** 2).sum(axis=1) for v in (v0, v1, v2)],
                axis=1,
            ),
            axis=1,
        )
    )
    cp, _ = _closest_on_segment(centre, a, b)
    lower = np.linalg.norm(centre - cp, axis=1) - radius
    vp, _ = _closest_on_segment(pos, a, b)
    upper = float(np.min(np.linalg.norm(pos - vp, axis=1)))
    cand = np.nonzero(lower <= upper + 1e-9)[0]
    c0, c1, c2 = v0[cand], v1[cand], v2[cand]

    # 3. exact distance for the candidates: segment ends to triangles, path to triangle edges
    best_d = np.inf
    best = (0.0, a, a)
    for end, t_end in ((a, 0.0), (b, 1.0)):
        q = _closest_on_triangles(np.broadcast_to(end, c0.shape), c0, c1, c2)
        d = np.linalg.norm(q - end, axis=1)
        k = int(np.argmin(d))
        if d[k] < best_d:
            best_d, best = float(d[k]), (t_end, end, q[k])
    for p2, q2 in ((c0, c1), (c1, c2), (c2, c0)):
        s1, s2, s = _segment_segment(a, b, p2, q2)
        d = np.linalg.norm(s1 - s2, axis=1)
        k = int(np.argmin(d))
        if d[k] < best_d:
            best_d, best = float(d[k]), (float(s[k]), s1[k], s2[k])
    t, path_point, surface_point = best
    inside = point_inside(path_point, mesh)
    return _result(sid, name, best_d, t, length, path_point, surface_point, False, inside)


def _result(sid, name, d, t, length, p, q, crosses, inside) -> CriticalDistance:
    return CriticalDistance(
        structure_id=sid,
        name=name,
        distance=float(d),
        along=float(t * length),
        fraction=float(t),
        path_point=tuple(float(x) for x in p),
        surface_point=tuple(float(x) for x in q),
        crosses=bool(crosses),
        inside=bool(inside),
    )
