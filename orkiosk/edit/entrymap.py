"""Where to enter: score every skin vertex as the entry of a straight path to the target.

With a target set, each skin vertex v is a candidate entry for the path v -> target. It is
unusable when the path is longer than `max_length_mm`, when it meets the skin more than
`UNUSABLE_ANGLE` degrees from the inward normal, when it passes closer than the safety margin
(plus `CLEARANCE_ALLOWANCE_MM`, see below) to a critical structure, or when the straight line
from the target leaves the skin before it reaches v (v is occluded: not the first skin
crossing). The others score in [0, 1], the product of a length term (1 at zero length, 0.5 at
`max_length_mm`), an angle term (1 perpendicular, 0.6 at `WARN_ANGLE`, 0 at `UNUSABLE_ANGLE`)
and a clearance term (0 at the margin, 1 from margin + `GOOD_SPAN_MM`): `entry_score`.

How compute() fits a frame budget (it runs whenever the target moves):
- once, in __init__, two fields on a regular grid (`voxel_mm`, 1.5 mm) over the skin's box:
  `room`, the distance from inside the head to the nearest outside node (the skin rasterised,
  its inside filled, scipy.ndimage.distance_transform_edt; 0 outside), and `clear`, the
  distance to the nearest critical surface (see `_clearance_field`), capped at
  `clearance_cap_mm` + 2 voxels;
- per target: the directions from the target to the vertices that pass the length and angle
  tests are binned on an equi-angular cube map (`bins_per_face`^2 bins per face: 1.4 degrees
  wide at 64); one ray per occupied bin, along its vertices' mean direction, is sphere-traced
  through both fields up to the bin's farthest vertex. It returns the minimum clearance and
  where the ray first left the skin; every vertex of the bin takes those.

`EntryScores.clearance` is that traced minimum, capped at margin + GOOD_SPAN_MM (more does not
change the score, so the trace stops refining there), NaN for vertices not traced. It is an
estimate of the exact ClearanceIndex value: the field is over by up to ~0.4 mm within 6 mm of
a surface (surface sampling) and ~0.9 mm farther out; the trace may miss a minimum by
`_TRACE_SLACK_MM`, or between two samples `_MIN_STEP_MM` apart by up to half that (in
practice a few hundredths: along a line the distance to a surface is smooth near its
minimum); and a vertex's own path is off its bin's ray by at most the bin's diagonal times the
depth (worst case ~3.5 mm at 100 mm, in practice far less). Measured on the demo plan: within
-0.7 / +0.9 mm for random vertices and targets, +1.4 mm at worst on a 225k-vertex skin
(tests/test_edit_geometry.py keeps it within 1.5 mm). So that an over-estimate never shows a
path inside the margin as usable, usable needs the estimate >= margin +
`CLEARANCE_ALLOWANCE_MM`. A vertex is occluded when it lies beyond its ray's first exit by more
than `_OCCLUSION_TOLERANCE_MM` plus the bin width times tan(UNUSABLE_ANGLE) at its depth (the
skin within one bin is at slightly different depths).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from orkiosk.plan.mesh import Mesh

WARN_ANGLE = 30.0  # degrees from the inward normal: above this the entry is a warning
UNUSABLE_ANGLE = 60.0  # degrees: above this the entry is unusable
GOOD_SPAN_MM = 8.0  # clearance above margin + this counts as fully good
CLEARANCE_ALLOWANCE_MM = 1.0  # usable needs margin + this: the estimate may be over by ~1 mm
_TRACE_SLACK_MM = 0.25  # the trace may miss a clearance minimum by at most this
_MIN_STEP_MM = 2.0  # shortest step of a ray
_OCCLUSION_TOLERANCE_MM = 3.0
_EXACT_BAND = 4  # voxels from the critical surfaces where the clearance field is exact
_POOR = np.array([0.80, 0.03, 0.02], np.float32)  # linear RGB
_FAIR = np.array([0.90, 0.40, 0.00], np.float32)  # amber
_GOOD = np.array([0.03, 0.55, 0.06], np.float32)
_UNUSABLE = np.array([0.04, 0.04, 0.04], np.float32)  # neutral dark grey


@dataclass(frozen=True, eq=False)
class EntryScores:
    target: tuple[float, float, float]
    score: np.ndarray  # (N,) float32 per skin vertex in [0, 1], 1 best; NaN where unusable
    length: np.ndarray  # (N,) float32 mm
    angle: np.ndarray  # (N,) float32 degrees to the inward normal
    clearance: np.ndarray  # (N,) float32 mm, capped (see the module docstring); NaN if not traced
    usable: np.ndarray  # (N,) bool

    def best(self) -> int | None:
        """The vertex index of the best entry, None when no vertex is usable."""
        if not self.usable.any():
            return None
        return int(np.nanargmax(self.score))

    def colors(self) -> np.ndarray:
        """(N, 3) float32 linear RGB: red (poor) -> amber -> green (good), dark grey unusable."""
        s = np.nan_to_num(self.score, nan=0.0)[:, None]
        low = _POOR + (_FAIR - _POOR) * np.clip(s * 2, 0, 1)
        out = np.where(s < 0.5, low, _FAIR + (_GOOD - _FAIR) * np.clip(s * 2 - 1, 0, 1))
        out[~self.usable] = _UNUSABLE
        return out.astype(np.float32)


class EntryMap:
    """Built once per plan (skin + critical meshes); compute() is called whenever the target
    moves."""

    def __init__(
        self,
        skin: Mesh,
        critical: Sequence[Mesh],
        *,
        max_length_mm: float = 120.0,
        voxel_mm: float = 1.5,
        clearance_cap_mm: float = 20.0,
        bins_per_face: int = 64,
    ):
        self.max_length_mm = float(max_length_mm)
        self.clearance_cap_mm = float(clearance_cap_mm)
        self.bins_per_face = int(bins_per_face)
        self._skin = skin.positions.astype(np.float64)
        self._normals = skin.normals.astype(np.float64)
        lo, hi = skin.bounds()
        self._grid = _Grid(lo, hi, voxel_mm)
        self._room = self._room_field(skin)
        self._clear = self._clearance_field(critical)

    def compute(self, target, *, margin_mm: float = 2.0) -> EntryScores:
        """Score every skin vertex as the entry of a straight path to `target`."""
        if margin_mm + GOOD_SPAN_MM > self.clearance_cap_mm:
            raise ValueError(
                f"margin {margin_mm:g} mm + {GOOD_SPAN_MM:g} mm exceeds the clearance cap "
                f"{self.clearance_cap_mm:g} mm this entry map was built with"
            )
        t = np.asarray(target, dtype=np.float64).reshape(3)
        offset = self._skin - t
        length = np.sqrt(np.einsum("ij,ij->i", offset, offset))
        with np.errstate(invalid="ignore", divide="ignore"):
            unit = offset / length[:, None]
        cosine = np.clip(np.einsum("ij,ij->i", unit, self._normals), -1.0, 1.0)
        angle = np.degrees(np.arccos(np.nan_to_num(cosine, nan=-1.0)))
        cand = np.flatnonzero((length <= self.max_length_mm) & (angle <= UNUSABLE_ANGLE))
        clearance = np.full(len(length), np.nan)
        usable = np.zeros(len(length), bool)
        if len(cand):
            cap = margin_mm + GOOD_SPAN_MM
            clear, exit_depth, bin_width = self._trace(t, unit[cand], length[cand], cap)
            depth = length[cand]
            slack = _OCCLUSION_TOLERANCE_MM + depth * bin_width * math.tan(
                math.radians(UNUSABLE_ANGLE)
            )
            clearance[cand] = clear
            safe = clear >= margin_mm + CLEARANCE_ALLOWANCE_MM
            usable[cand] = (depth <= exit_depth + slack) & safe
        score = np.full(len(length), np.nan)
        score[usable] = entry_score(
            length[usable], angle[usable], clearance[usable], margin_mm, self.max_length_mm
        )
        return EntryScores(
            target=tuple(float(x) for x in t),
            score=score.astype(np.float32),
            length=length.astype(np.float32),
            angle=angle.astype(np.float32),
            clearance=clearance.astype(np.float32),
            usable=usable,
        )

    # ------------------------------------------------------------------------------- internals

    def _trace(self, target, unit, length, cap):
        """Per candidate vertex: the clearance along its bin's ray (at most cap), the depth
        where that ray first left the skin (+inf if it did not before its farthest vertex) and
        the bin's angular width in radians."""
        n = self.bins_per_face
        face, iu, iv = _cube_coords(unit, n)
        bins, which = np.unique((face * n + iu) * n + iv, return_inverse=True)
        direction = np.stack(
            [np.bincount(which, weights=unit[:, k], minlength=len(bins)) for k in range(3)],
            axis=1,
        )
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        reach = np.zeros(len(bins))
        np.maximum.at(reach, which, length)
        minimum, exit_depth = self._sphere_trace(target, direction, reach, cap)
        return minimum[which], exit_depth[which], (math.pi / 2) / n

    def _sphere_trace(self, origin, direction, reach, cap):
        """March rays origin + t * direction, t in [0, reach]: (minimum clearance, at most cap;
        first depth found outside the skin or +inf). A step is the longest that cannot skip a
        clearance below the running minimum - _TRACE_SLACK_MM (the field is 1-Lipschitz) and
        that stays inside the skin (shorter than `room`), but at least _MIN_STEP_MM."""
        minimum = np.full(len(direction), cap)
        exit_depth = np.full(len(direction), np.inf)
        # the live rays' state, compacted as rays finish
        ray = np.arange(len(direction))
        d, end = direction, reach
        t = np.zeros(len(direction))
        m = minimum.copy()
        while ray.size:
            clear, room = self._grid.lookup(self._clear, self._room, origin + t[:, None] * d)
            m = np.minimum(m, clear)
            out = room <= 0.0
            done = out | (t >= end)
            if done.any():
                minimum[ray[done]] = m[done]
                exit_depth[ray[out]] = t[out]
                live = ~done
                ray, d, end, t, m = ray[live], d[live], end[live], t[live], m[live]
                clear, room = clear[live], room[live]
            step = np.minimum(clear - m + _TRACE_SLACK_MM, room - self._grid.voxel)
            t = np.minimum(t + np.maximum(step, _MIN_STEP_MM), end)
        return minimum, exit_depth

    def _room_field(self, skin: Mesh) -> np.ndarray:
        """Distance (mm) from each inside node to the nearest outside node; 0 outside."""
        shell = self._grid.rasterise(_surface_points(skin, self._grid.voxel / 2))
        inside = ndimage.binary_fill_holes(shell)
        return ndimage.distance_transform_edt(inside, sampling=self._grid.voxel).astype(np.float32)

    def _clearance_field(self, critical: Sequence[Mesh]) -> np.ndarray:
        """Distance (mm) from each node to the nearest critical surface, capped.

        Points are sampled on the critical triangles and each node takes the sample nearest to
        it within the voxel; scipy's feature transform then gives every node the nearest such
        voxel, and the distance is measured to that voxel's sample (a real surface point, so
        never under the true distance). Within `_EXACT_BAND` voxels of the surface, where the
        margin is decided, a KD-tree over all the samples replaces it."""
        h = self._grid.voxel
        limit = self.clearance_cap_mm + 2 * h
        if not critical:
            return np.full(self._grid.shape, limit, np.float32)
        points = np.concatenate([_surface_points(m, h / 2) for m in critical])
        node = self._grid.flat_index(points)
        gap = np.linalg.norm(points - self._grid.node_positions(node), axis=1)
        order = np.lexsort((gap, node))
        first = order[np.r_[True, node[order][1:] != node[order][:-1]]]
        sample = np.zeros((int(np.prod(self._grid.shape)), 3))
        sample[node[first]] = points[first]
        marked = np.zeros(self._grid.shape, bool)
        marked.ravel()[node[first]] = True
        coarse, feature = ndimage.distance_transform_edt(~marked, sampling=h, return_indices=True)
        nearest = np.ravel_multi_index(tuple(feature.reshape(3, -1)), self._grid.shape)
        nodes = self._grid.node_positions(np.arange(nearest.size))
        field = np.linalg.norm(nodes - sample[nearest], axis=1)
        band = np.flatnonzero(coarse.ravel() <= _EXACT_BAND * h)
        tree = cKDTree(points, compact_nodes=False, balanced_tree=False)
        field[band] = tree.query(nodes[band])[0]
        return np.minimum(field, limit).astype(np.float32).reshape(self._grid.shape)


def entry_score(length, angle, clearance, margin_mm: float, max_length_mm: float) -> np.ndarray:
    """The score in [0, 1] of usable entries (see the module docstring): each term falls
    strictly with length and angle and rises with clearance up to margin + GOOD_SPAN_MM."""
    length, angle, clearance = (np.asarray(x, dtype=np.float64) for x in (length, angle, clearance))
    s_len = 1.0 - 0.5 * length / max_length_mm
    s_ang = np.where(
        angle <= WARN_ANGLE,
        1.0 - 0.4 * angle / WARN_ANGLE,
        0.6 * (UNUSABLE_ANGLE - angle) / (UNUSABLE_ANGLE - WARN_ANGLE),
    )
    s_clr = np.clip((clearance - margin_mm) / GOOD_SPAN_MM, 0.0, 1.0)
    return np.clip(s_len * s_ang * s_clr, 0.0, 1.0)


@dataclass(frozen=True, eq=False)
class _Grid:
    """A regular grid of nodes origin + voxel * (i, j, k) over a padded box."""

    origin: np.ndarray
    voxel: float
    shape: tuple[int, int, int]

    def __init__(self, lo, hi, voxel):
        pad = 3 * voxel
        lo = np.asarray(lo, np.float64) - pad
        hi = np.asarray(hi, np.float64) + pad
        object.__setattr__(self, "origin", lo)
        object.__setattr__(self, "voxel", float(voxel))
        object.__setattr__(self, "shape", tuple(int(x) for x in np.ceil((hi - lo) / voxel) + 1))

    def flat_index(self, points: np.ndarray) -> np.ndarray:
        """Flat index of the node nearest to each point (clamped to the grid)."""
        ijk = np.rint((points - self.origin) / self.voxel).astype(np.int64)
        ijk = np.clip(ijk, 0, np.array(self.shape) - 1)
        return np.ravel_multi_index(tuple(ijk.T), self.shape)

    def rasterise(self, points: np.ndarray) -> np.ndarray:
        """A boolean grid, True at the node nearest to each point."""
        out = np.zeros(self.shape, bool)
        out.ravel()[self.flat_index(points)] = True
        return out

    def node_positions(self, flat: np.ndarray) -> np.ndarray:
        return self.origin + np.stack(np.unravel_index(flat, self.shape), axis=1) * self.voxel

    def lookup(self, smooth: np.ndarray, coarse: np.ndarray, x: np.ndarray):
        """(smooth interpolated trilinearly, coarse at the nearest node) at points x (n, 3);
        points outside the grid are clamped to it."""
        g = np.clip((x - self.origin) / self.voxel, 0.0, np.array(self.shape) - 1.000001)
        i = g.astype(np.int64)
        f = g - i
        ny, nz = self.shape[1], self.shape[2]
        base = (i[:, 0] * ny + i[:, 1]) * nz + i[:, 2]
        up = f >= 0.5
        near = coarse.ravel()[base + (up[:, 0] * ny + up[:, 1]) * nz + up[:, 2]]
        flat = smooth.ravel()
        fx, fy, fz = f[:, 0], f[:, 1], f[:, 2]
        out = np.zeros(len(x))
        for dx, wx in ((0, 1 - fx), (1, fx)):
            for dy, wy in ((0, 1 - fy), (1, fy)):
                row = base + (dx * ny + dy) * nz
                out += (wx * wy) * ((1 - fz) * flat[row] + fz * flat[row + 1])
        return out, near


def _surface_points(mesh: Mesh, spacing: float) -> np.ndarray:
    """Points on a mesh's triangles, no point of a triangle farther than about `spacing` from
    one of them: the vertices, and a barycentric lattice on each triangle longer than that."""
    pos = mesh.positions.astype(np.float64)
    tri = pos[mesh.indices.astype(np.int64)]
    edge = np.linalg.norm(tri - np.roll(tri, 1, axis=1), axis=2).max(axis=1)
    steps = np.ceil(edge / spacing).astype(np.int64)
    out = [pos]
    for k in np.unique(steps[steps > 1]):
        sel = tri[steps == k]
        i, j = np.meshgrid(np.arange(k + 1), np.arange(k + 1), indexing="ij")
        keep = i + j <= k
        w1, w2 = i[keep] / k, j[keep] / k
        w0 = 1.0 - w1 - w2
        lattice = (
            w0[None, :, None] * sel[:, None, 0]
            + w1[None, :, None] * sel[:, None, 1]
            + w2[None, :, None] * sel[:, None, 2]
        )
        out.append(lattice.reshape(-1, 3))
    return np.concatenate(out)


def _cube_coords(unit: np.ndarray, n: int):
    """(face, iu, iv) of each unit direction on an equi-angular cube map, n x n bins a face."""
    major = np.argmax(np.abs(unit), axis=1)
    rows = np.arange(len(unit))
    big = unit[rows, major]
    a = np.arctan(unit[rows, (major + 1) % 3] / np.abs(big))
    b = np.arctan(unit[rows, (major + 2) % 3] / np.abs(big))
    iu = np.clip(((a / (math.pi / 2) + 0.5) * n).astype(np.int64), 0, n - 1)
    iv = np.clip(((b / (math.pi / 2) + 0.5) * n).astype(np.int64), 0, n - 1)
    return major * 2 + (big < 0), iu, iv
