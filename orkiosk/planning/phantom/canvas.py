"""Painting tissues into a voxel grid with partial volume: ellipsoids, z-cylinders and tubes
given in LPS mm, blended by the fraction of each voxel they cover."""

from __future__ import annotations

import numpy as np

from orkiosk.planning.phantom.anatomy import AIR, HU


class Canvas:
    """Paints tissues with partial volume: each voxel's CT number blends by the fraction covered."""

    def __init__(self, shape_kji, affine):
        self.labels = np.zeros(shape_kji, dtype=np.uint8)
        self.hu = np.full(shape_kji, HU[AIR], dtype=np.float32)
        self.affine = affine
        self.inv = np.linalg.inv(affine)
        self.h = float(np.mean(np.linalg.norm(affine[:3, :3], axis=0)))  # ramp width, mm

    def _blocks(self, lo_lps, hi_lps, chunk_voxels: int = 4_000_000):
        """Blocks of the grid covering an LPS box (a few slices at a time, to bound memory):
        yields (k, j, i) slices and the LPS coordinates of the block as [k, j, i] broadcasts."""
        lo_lps = np.asarray(lo_lps, float) - self.h
        hi_lps = np.asarray(hi_lps, float) + self.h
        corners = np.array(
            [
                [x, y, z, 1.0]
                for x in (lo_lps[0], hi_lps[0])
                for y in (lo_lps[1], hi_lps[1])
                for z in (lo_lps[2], hi_lps[2])
            ]
        )
        ijk = (self.inv @ corners.T)[:3]
        lo = np.floor(ijk.min(axis=1)).astype(int)
        hi = np.ceil(ijk.max(axis=1)).astype(int) + 1
        nk, nj, ni = self.labels.shape
        lo = np.maximum(lo, 0)
        hi = np.minimum(hi, [ni, nj, nk])
        if np.any(hi <= lo):
            return
        a = self.affine.astype(np.float32)
        ii = np.arange(lo[0], hi[0], dtype=np.float32)
        jj = np.arange(lo[1], hi[1], dtype=np.float32)
        step = max(1, chunk_voxels // int((hi[0] - lo[0]) * (hi[1] - lo[1])))
        for k0 in range(lo[2], hi[2], step):
            k1 = min(hi[2], k0 + step)
            kk = np.arange(k0, k1, dtype=np.float32)
            xyz = [
                a[r, 0] * ii[None, None, :]
                + a[r, 1] * jj[None, :, None]
                + a[r, 2] * kk[:, None, None]
                + a[r, 3]
                for r in range(3)
            ]
            yield (slice(k0, k1), slice(lo[1], hi[1]), slice(lo[0], hi[0])), *xyz

    def _paint(self, sl, label, dist, only=None):
        """Blend `label` into the block by coverage of the signed distance (mm, < 0 inside)."""
        alpha = np.clip(0.5 - dist / self.h, 0.0, 1.0).astype(np.float32)
        labels = self.labels[sl]
        if only is not None:
            alpha *= np.isin(labels, only)
        hu = self.hu[sl]
        hu += alpha * (HU[label] - hu)
        labels[alpha >= 0.5] = label

    @staticmethod
    def _limits(d, x, z, zmin, xmax):
        if zmin is not None:
            d = np.maximum(d, zmin - z)
        if xmax is not None:
            d = np.maximum(d, x - xmax)
        return d

    def ellipsoid(self, label, center, radii, zmin=None, xmax=None, only=None):
        c = np.asarray(center, float)
        r = np.asarray(radii, float)
        for sl, x, y, z in self._blocks(c - r, c + r):
            u, v, w = (x - c[0]) / r[0], (y - c[1]) / r[1], (z - c[2]) / r[2]
            q = np.sqrt(u * u + v * v + w * w) + 1e-6
            grad = np.sqrt((u / r[0]) ** 2 + (v / r[1]) ** 2 + (w / r[2]) ** 2) / q + 1e-9
            d = self._limits((q - 1.0) / grad, x, z, zmin, xmax)
            self._paint(sl, label, d, only)

    def cylinder_z(self, label, center_xy, radii_xy, z0, z1):
        cx, cy = center_xy
        rx, ry = radii_xy
        for sl, x, y, z in self._blocks((cx - rx, cy - ry, z0), (cx + rx, cy + ry, z1)):
            u, v = (x - cx) / rx, (y - cy) / ry
            q = np.sqrt(u * u + v * v) + 1e-6
            grad = np.sqrt((u / rx) ** 2 + (v / ry) ** 2) / q + 1e-9
            d = np.maximum((q - 1.0) / grad, np.maximum(z0 - z, z - z1))
            self._paint(sl, label, d)

    def tube(self, label, radius, points):
        pts = np.asarray(points, float)
        for p, q in zip(pts[:-1], pts[1:], strict=True):
            d = q - p
            for sl, x, y, z in self._blocks(np.minimum(p, q) - radius, np.maximum(p, q) + radius):
                t = ((x - p[0]) * d[0] + (y - p[1]) * d[1] + (z - p[2]) * d[2]) / float(d @ d)
                t = np.clip(t, 0.0, 1.0)
                dist = np.sqrt(
                    (x - p[0] - t * d[0]) ** 2
                    + (y - p[1] - t * d[1]) ** 2
                    + (z - p[2] - t * d[2]) ** 2
                )
                self._paint(sl, label, dist - radius)
