"""Clearance of a straight path against the critical structures, fast enough for every drag step.

`ClearanceIndex` is built once per plan (or when the critical set changes) and answers, for a
path entry -> target, each critical structure's exact minimum distance to the segment, where it
occurs and whether the path crosses the surface, plus a clearance profile along the path.

Why a hierarchy: the brute-force `orkiosk.plan.metrics.segment_mesh_distance` touches every
triangle (about a second at a million). Here each structure's triangles are sorted along a
Morton curve and cut into contiguous blocks of `_CHUNK` triangles, and those into groups of
`_GROUP` blocks. Every group, block and triangle has a bounding sphere (centre, radius) and an
anchor that lies on the surface. For a segment, `distance(segment, centre) - radius` is a lower
bound on the distance to anything in it and `distance(segment, anchor)` an upper bound on the
structure's distance; whatever has a lower bound above the structure's best upper bound cannot
hold the minimum and is dropped, level by level. The survivors (typically a few hundred
triangles) go through the same exact maths as metrics.py (its private helpers are imported, not
copied), so the answer is the brute-force answer, only without the triangles that provably
cannot matter. A crossing needs a triangle whose bounding sphere touches the segment (lower
bound <= 0), and such triangles always survive, so crossings are found exactly as well.

The profile (distance from points along the path to the nearest critical surface) uses a
KD-tree over triangle centroids: each point's `_NEIGHBOURS` nearest centroids, then the exact
point-triangle distance to those triangles. That is the distance to a real surface point, so
it never under-states the clearance; it can over-state it only when the closest triangle is
not among those neighbours, and then by at most the largest triangle's bounding radius
(`ClearanceIndex.profile_tolerance`). Distances are unsigned: a sample inside a closed
structure gets its distance to that surface, not 0 (the per-structure readout says `crosses`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from orkiosk.plan.mesh import Mesh
from orkiosk.plan.metrics import _closest_on_triangles, _segment_hits, _segment_segment

_CHUNK = 32  # triangles per block
_GROUP = 32  # blocks per group
_NEIGHBOURS = 8  # centroids examined per profile point
_EPS = 1e-6  # mm of slack on every pruning test, against rounding


@dataclass(frozen=True)
class StructureClearance:
    structure_id: str
    name: str
    distance: float  # mm from the path segment to the surface; 0.0 when the path crosses it
    depth: float  # mm from the entry along the path to the closest (or first crossing) point
    crosses: bool  # the segment passes through the surface
    path_point: tuple[float, float, float]
    surface_point: tuple[float, float, float]


@dataclass(frozen=True, eq=False)
class PathClearance:
    """One path's readout: per-structure clearances and the profile along the path.

    `depths` are K evenly spaced depths from the entry (0 and `length` included), K =
    max(2, ceil(length / step) + 1); for a zero-length path both samples are at depth 0.
    `distances[i]` is the unsigned distance from the path point at `depths[i]` to the nearest
    critical surface and `nearest[i]` that structure's index in `ClearanceIndex.ids`. With no
    critical structures, `distances` is all +inf and `nearest` all -1.
    """

    length: float
    structures: tuple[StructureClearance, ...]  # closest first (distance, then depth)
    depths: np.ndarray
    distances: np.ndarray
    nearest: np.ndarray

    @property
    def closest(self) -> StructureClearance | None:
        return self.structures[0] if self.structures else None


@dataclass(frozen=True, eq=False)
class _Level:
    """Bounding spheres of consecutive triangle ranges [start, end) of one structure each."""

    centre: np.ndarray  # (n, 3) float64
    radius: np.ndarray  # (n,) float64
    anchor: np.ndarray  # (n, 3) float64, a point on the surface inside the range
    start: np.ndarray  # (n,) int64, first triangle
    end: np.ndarray  # (n,) int64, one past the last triangle
    owner: np.ndarray  # (n,) int64, structure index


class ClearanceIndex:
    """Built once per plan (at load / when the critical set changes); queried every drag step."""

    def __init__(self, structures: Sequence[tuple[str, str, Mesh]]):
        self._ids = tuple(sid for sid, _, _ in structures)
        self._names = tuple(name for _, name, _ in structures)
        parts, owners = [], []
        for k, (_, _, mesh) in enumerate(structures):
            tri = mesh.positions[mesh.indices.astype(np.int64)]  # (M, 3, 3) float32
            parts.append(tri[np.argsort(_morton(tri.mean(axis=1, dtype=np.float64)))])
            owners.append(np.full(len(tri), k, np.int64))
        self._tri = np.concatenate(parts) if parts else np.zeros((0, 3, 3), np.float32)
        self._owner = np.concatenate(owners) if owners else np.zeros(0, np.int64)
        tri64 = self._tri.astype(np.float64)
        self._centroid = tri64.mean(axis=1)
        self._radius = np.sqrt(((tri64 - self._centroid[:, None]) ** 2).sum(axis=2).max(axis=1))
        self.profile_tolerance = float(self._radius.max()) if len(self._radius) else 0.0
        self._blocks = self._level(self._ranges(_CHUNK))
        self._groups = self._level(self._ranges(_CHUNK * _GROUP))
        self._tree = _tree(self._centroid) if len(self._centroid) else None

    @property
    def ids(self) -> tuple[str, ...]:
        return self._ids

    @property
    def triangle_count(self) -> int:
        return int(len(self._tri))

    # ------------------------------------------------------------------------------- queries

    def path(self, entry, target, *, step_mm: float = 1.0) -> PathClearance:
        """Exact per-structure clearances of the segment entry -> target, and its profile."""
        if not step_mm > 0:
            raise ValueError(f"step_mm must be positive, got {step_mm}")
        a = np.asarray(entry, dtype=np.float64).reshape(3)
        b = np.asarray(target, dtype=np.float64).reshape(3)
        length = float(np.linalg.norm(b - a))
        count = max(2, math.ceil(length / step_mm) + 1)
        frac = np.linspace(0.0, 1.0, count)
        distances, nearest = self.point(a + frac[:, None] * (b - a))
        found = [self._structure(k, *hit, length) for k, hit in self._exact(a, b)]
        found.sort(key=lambda s: (s.distance, s.depth))
        return PathClearance(length, tuple(found), frac * length, distances, nearest)

    def point(self, points) -> tuple[np.ndarray, np.ndarray]:
        """Distance from each point (N, 3) to the nearest critical surface, and that structure's
        index in `ids` (unsigned; see the module docstring for the tolerance; +inf and -1
        without structures)."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        if self._tree is None:
            return np.full(len(p), np.inf), np.full(len(p), -1, np.int64)
        k = min(_NEIGHBOURS, len(self._tri))
        _, idx = self._tree.query(p, k=k)
        idx = idx.reshape(len(p), k)
        tri = self._tri[idx.ravel()].astype(np.float64)
        rep = np.repeat(p, k, axis=0)
        q = _closest_on_triangles(rep, tri[:, 0], tri[:, 1], tri[:, 2])
        d = np.linalg.norm(q - rep, axis=1).reshape(len(p), k)
        best = d.argmin(axis=1)
        rows = np.arange(len(p))
        return d[rows, best], self._owner[idx[rows, best]]

    # ------------------------------------------------------------------------------- internals

    def _exact(self, a: np.ndarray, b: np.ndarray):
        """(structure index, (fraction, path point, surface point, distance, crosses)) for each
        structure, after pruning by bounding spheres (see the module docstring)."""
        n = len(self._ids)
        if not len(self._tri):
            return []
        groups = self._groups
        upper = _group_min(_segment_point_distance(groups.anchor, a, b), groups.owner, n)
        low = _segment_point_distance(groups.centre, a, b) - groups.radius
        keep = low <= upper[groups.owner] + _EPS
        blocks = self._blocks
        first = np.searchsorted(blocks.start, groups.start[keep])
        last = np.searchsorted(blocks.start, groups.end[keep])
        sel = _expand(first, last)
        upper = np.minimum(
            upper,
            _group_min(_segment_point_distance(blocks.anchor[sel], a, b), blocks.owner[sel], n),
        )
        low = _segment_point_distance(blocks.centre[sel], a, b) - blocks.radius[sel]
        sel = sel[low <= upper[blocks.owner[sel]] + _EPS]
        tri = _expand(blocks.start[sel], blocks.end[sel])
        owner = self._owner[tri]
        centre_d = _segment_point_distance(self._centroid[tri], a, b)
        upper = np.minimum(upper, _group_min(centre_d, owner, n))
        low = centre_d - self._radius[tri]
        keep = low <= upper[owner] + _EPS
        tri, owner, low = tri[keep], owner[keep], low[keep]
        v = self._tri[tri].astype(np.float64)
        out = {}
        touching = low <= _EPS
        if touching.any():
            tv = v[touching]
            t_hit = _segment_hits(a, b, tv[:, 0], tv[:, 1], tv[:, 2])
            hit = ~np.isnan(t_hit)
            for k in np.unique(owner[touching][hit]):
                t = float(np.min(t_hit[hit & (owner[touching] == k)]))
                p = a + t * (b - a)
                out[int(k)] = (t, p, p, 0.0, True)
        rest = ~np.isin(owner, list(out)) if out else np.ones(len(tri), bool)
        out.update(_closest(a, b, v[rest], owner[rest]))
        return sorted(out.items())

    def _structure(self, k, t, p, q, d, crosses, length) -> StructureClearance:
        return StructureClearance(
            structure_id=self._ids[k],
            name=self._names[k],
            distance=float(d),
            depth=float(t * length),
            crosses=crosses,
            path_point=tuple(float(x) for x in p),
            surface_point=tuple(float(x) for x in q),
        )

    def _ranges(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Consecutive [start, end) ranges of at most `size` triangles, never spanning two
        structures."""
        starts, ends = [], []
        bounds = np.flatnonzero(np.diff(self._owner)) + 1
        for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(self._owner)], strict=True):
            s = np.arange(lo, hi, size)
            starts.append(s)
            ends.append(np.minimum(s + size, hi))
        if not starts:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(starts).astype(np.int64), np.concatenate(ends).astype(np.int64)

    def _level(self, ranges: tuple[np.ndarray, np.ndarray]) -> _Level:
        """Bounding spheres of the ranges: centre = mean of their vertices, radius = the
        farthest vertex, anchor = the centroid of the range's middle triangle."""
        start, end = ranges
        if not len(start):
            z = np.zeros((0, 3))
            return _Level(z, np.zeros(0), z, start, end, np.zeros(0, np.int64))
        count = (end - start)[:, None]
        csum = np.concatenate([np.zeros((1, 3)), np.cumsum(self._centroid, axis=0)])
        centre = (csum[end] - csum[start]) / count
        # farthest vertex from the centre: per triangle, its centroid distance + its radius
        gap = np.linalg.norm(self._centroid - np.repeat(centre, end - start, axis=0), axis=1)
        radius = np.maximum.reduceat(gap + self._radius, start)
        anchor = self._centroid[(start + end) // 2]
        return _Level(centre, radius, anchor, start, end, self._owner[start])


def _closest(a, b, v, owner) -> dict:
    """Per structure, the closest approach of segment a-b to triangles v (n, 3, 3) that it
    does not cross: the segment's ends against the faces, the segment against the edges."""
    if not len(v):
        return {}
    v0, v1, v2 = v[:, 0], v[:, 1], v[:, 2]
    best_d = np.full(len(v), np.inf)
    best_t = np.zeros(len(v))
    best_p = np.zeros((len(v), 3))
    best_q = np.zeros((len(v), 3))
    for end, t_end in ((a, 0.0), (b, 1.0)):
        q = _closest_on_triangles(np.broadcast_to(end, v0.shape), v0, v1, v2)
        d = np.linalg.norm(q - end, axis=1)
        m = d < best_d
        best_d[m], best_t[m], best_p[m], best_q[m] = d[m], t_end, end, q[m]
    for p2, q2 in ((v0, v1), (v1, v2), (v2, v0)):
        s1, s2, s = _segment_segment(a, b, p2, q2)
        d = np.linalg.norm(s1 - s2, axis=1)
        m = d < best_d
        best_d[m], best_t[m], best_p[m], best_q[m] = d[m], s[m], s1[m], s2[m]
    out = {}
    for k in np.unique(owner):
        rows = np.flatnonzero(owner == k)
        i = rows[np.argmin(best_d[rows])]
        out[int(k)] = (float(best_t[i]), best_p[i], best_q[i], float(best_d[i]), False)
    return out


def _segment_point_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance from points p (n, 3) to the segment a-b (a point when a == b)."""
    ab = b - a
    denom = float(ab @ ab)
    ap = p - a
    if denom == 0.0:
        return np.sqrt(np.einsum("ij,ij->i", ap, ap))
    t = np.clip(ap @ ab / denom, 0.0, 1.0)
    r = ap - t[:, None] * ab
    return np.sqrt(np.einsum("ij,ij->i", r, r))


def _group_min(values: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """Minimum of values per owner 0..n-1 (+inf where an owner has none)."""
    out = np.full(n, np.inf)
    np.minimum.at(out, owner, values)
    return out


def _expand(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Concatenation of arange(start[i], end[i]) for all i, without a Python loop."""
    count = end - start
    total = int(count.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    offset = np.repeat(start - np.concatenate([[0], np.cumsum(count)[:-1]]), count)
    return offset + np.arange(total)


def _morton(points: np.ndarray) -> np.ndarray:
    """Morton (Z-order) codes of points on a 1024^3 grid over their box: sorting by them keeps
    nearby triangles together, so consecutive ranges have small bounding spheres."""
    if not len(points):
        return np.zeros(0, np.int64)
    lo = points.min(axis=0)
    span = max(float((points.max(axis=0) - lo).max()), 1e-9)
    q = np.minimum((points - lo) / span * 1023, 1023).astype(np.int64)
    code = np.zeros(len(points), np.int64)
    for bit in range(10):
        for axis in range(3):
            code |= ((q[:, axis] >> bit) & 1) << (3 * bit + axis)
    return code


def _tree(points: np.ndarray) -> cKDTree:
    """A KD-tree over surface points. Measured on 1M vessel and ventricle centroids: the default
    (compact, balanced) tree took ~22 ms for 31 queries 27 mm from the nearest surface, this one
    ~1 ms, and builds in half the time."""
    return cKDTree(points, compact_nodes=False, balanced_tree=False)
