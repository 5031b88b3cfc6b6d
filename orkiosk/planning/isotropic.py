"""Thick slices -> near-isotropic field, so that marching cubes makes no terraces (one per slice).

A CT with slices much thicker than its pixels (e.g. 0.7 x 0.7 x 5 mm) gives a surface that steps
from slice to slice: marching cubes interpolates linearly along the slice axis, and Taubin
smoothing (a low-pass over a few rings of neighbours) cannot reach across a 5 mm step. The field is
therefore resampled along the slice axis (the affine's k column) before marching cubes, with a
shape-preserving (monotone, Fritsch-Carlson "PCHIP") cubic Hermite interpolant per (j, i) column:

- it passes through every slice (the image is not blurred: the in-plane contours stay exact);
- it is smooth across slices (C1), so the surface between slices curves instead of kinking;
- it never overshoots: between two samples of the same sign it keeps that sign. A cubic B-spline
  or Catmull-Rom rings by 7 % of a step, and the field next to a clean-up clamp (-0.5 beside
  -1000 HU) would then grow surfaces where nothing is (measured in docs / the issue 17 note).

Choice with figures (tests/test_planning_terraces.py, note of issue 17): see the module's caller,
surface.build_mesh.
"""

from __future__ import annotations

import numpy as np

THICK_RATIO = 1.5  # resample when slice spacing / in-plane spacing is at least this


def spacing_ijk(affine: np.ndarray) -> np.ndarray:
    return np.linalg.norm(np.asarray(affine, dtype=np.float64)[:3, :3], axis=0)


def upsample_factor(affine: np.ndarray) -> int:
    """How many sub-slices per slice make the field near-isotropic (1: leave it alone)."""
    di, dj, dk = spacing_ijk(affine)
    ratio = dk / max(di, dj)
    if ratio < THICK_RATIO:
        return 1
    return int(round(ratio))


def pchip_slopes(field: np.ndarray) -> np.ndarray:
    """Fritsch-Carlson slopes along axis 0 (unit spacing): 0 at extrema, harmonic mean elsewhere."""
    delta = np.diff(field, axis=0)
    d = np.empty_like(field)
    a, b = delta[:-1], delta[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        inner = 2.0 * a * b / (a + b)
    inner[~(a * b > 0)] = 0.0
    d[1:-1] = inner
    d[0] = delta[0]  # one-sided ends: |d| <= 3 |delta| keeps the ends monotone
    d[-1] = delta[-1]
    return d


def upsample_slices(field: np.ndarray, affine: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """n - 1 new slices between each pair of slices (monotone cubic); slice 0 stays where it was."""
    if n <= 1 or field.shape[0] < 2:
        return field, affine
    f = np.asarray(field, dtype=np.float32)
    d = pchip_slopes(f)
    k = f.shape[0]
    out = np.empty(((k - 1) * n + 1, *f.shape[1:]), dtype=np.float32)
    out[::n] = f
    f0, f1, d0, d1 = f[:-1], f[1:], d[:-1], d[1:]
    for p in range(1, n):
        t = p / n
        t2, t3 = t * t, t * t * t
        h00, h10 = 2 * t3 - 3 * t2 + 1, t3 - 2 * t2 + t
        h01, h11 = -2 * t3 + 3 * t2, t3 - t2
        s = out[p::n]
        np.multiply(f0, np.float32(h00), out=s)
        s += np.float32(h01) * f1
        s += np.float32(h10) * d0
        s += np.float32(h11) * d1
    scale = np.eye(4)
    scale[2, 2] = 1.0 / n
    return out, np.asarray(affine, dtype=np.float64) @ scale


def downsample_inplane(field: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average 2x2 blocks in (j, i) only; the new (j, i) = (0, 0) sits between old 0 and 1."""
    f = field
    pads = [(0, 0), (0, f.shape[1] % 2), (0, f.shape[2] % 2)]
    if pads[1][1] or pads[2][1]:
        f = np.pad(f, pads, mode="edge")
    k, j, i = f.shape[0], f.shape[1] // 2, f.shape[2] // 2
    f = f.reshape(k, j, 2, i, 2).mean(axis=(2, 4), dtype=np.float32)
    scale = np.eye(4)
    scale[0, 0] = scale[1, 1] = 2.0
    scale[0, 3] = scale[1, 3] = 0.5
    return np.ascontiguousarray(f), np.asarray(affine, dtype=np.float64) @ scale


def slice_distance(field: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Per slice, the signed in-plane distance (mm, > 0 inside) to the 0-contour of `field`.

    Shape-based interpolation (Raya and Udupa 1990): a CT field is a step (hundreds of HU within
    one pixel), so interpolating it between slices puts every in-between contour half-way, one
    terrace per slice; a distance varies linearly across the slices and so does the contour. The
    contour is found to sub-pixel precision on the pixel edges where the field changes sign (linear
    interpolation of the field, as marching squares), every pixel then takes the distance to the
    crossing point of its nearest edge pixel. Slices without a contour get -+ one slice spacing.
    The field must have outside values all around its border (Segmentation fields are padded).
    """
    from scipy import ndimage

    di, dj, dk = spacing_ijk(affine)
    f = np.asarray(field, dtype=np.float32)
    n_k, n_j, n_i = f.shape
    out = np.empty(f.shape, dtype=np.float32)
    jj, ii = np.indices((n_j, n_i), dtype=np.float32)
    jj *= np.float32(dj)
    ii *= np.float32(di)
    for k in range(n_k):
        fk = f[k]
        ins = fk > 0
        if ins.all() or not ins.any():
            out[k] = dk if ins.all() else -dk
            continue
        best = np.full(fk.shape, np.inf, dtype=np.float32)
        off_j = np.zeros(fk.shape, dtype=np.float32)
        off_i = np.zeros(fk.shape, dtype=np.float32)
        for axis, h in ((0, dj), (1, di)):
            for step in (1, -1):
                nb = np.roll(fk, -step, axis=axis)  # the neighbour at +step (the border is outside)
                change = ins != (nb > 0)
                with np.errstate(divide="ignore", invalid="ignore"):
                    dist = np.where(change, fk / (fk - nb), np.inf).astype(np.float32) * np.float32(
                        h
                    )
                better = dist < best
                best[better] = dist[better]
                (off_j if axis == 0 else off_i)[better] = step * dist[better]
                (off_i if axis == 0 else off_j)[better] = 0.0
        edge = np.isfinite(best)
        _, (nj, ni) = ndimage.distance_transform_edt(~edge, sampling=(dj, di), return_indices=True)
        pj = nj * np.float32(dj) + off_j[nj, ni]
        pi = ni * np.float32(di) + off_i[nj, ni]
        d = np.hypot(jj - pj, ii - pi)
        out[k] = np.where(ins, d, -d)
    return out


def resample_thick(field: np.ndarray, affine: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Thick-slice field -> field on n sub-slices per slice (distance, monotone cubic)."""
    if n <= 1:
        return field, affine
    return upsample_slices(slice_distance(field, affine), affine, n)


def crossings(field: np.ndarray) -> tuple[int, int, int]:
    """Sign changes along k, j, i (marching cubes makes about two triangles per crossing)."""
    inside = field > 0
    return tuple(int(np.count_nonzero(np.diff(inside, axis=a))) for a in range(3))
