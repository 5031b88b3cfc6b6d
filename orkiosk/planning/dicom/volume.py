"""A scalar volume in patient LPS millimetres: what the DICOM reader returns and what the
segmentation and the synthetic phantom work on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orkiosk.planning.dicom.header import SeriesInfo


@dataclass(frozen=True, eq=False)
class Volume:
    """A scalar volume: array[k, j, i] and the affine (i, j, k, 1) -> LPS mm."""

    array: np.ndarray
    affine: np.ndarray
    info: SeriesInfo
    files: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size (di, dj, dk) in mm: column, row and slice spacing."""
        d = np.linalg.norm(self.affine[:3, :3], axis=0)
        return (float(d[0]), float(d[1]), float(d[2]))

    @property
    def shape_ijk(self) -> tuple[int, int, int]:
        k, j, i = self.array.shape
        return (i, j, k)

    def index_to_lps(self, ijk) -> np.ndarray:
        """Voxel indices (..., 3) in (i, j, k) order -> LPS mm (..., 3)."""
        p = np.asarray(ijk, dtype=np.float64)
        return p @ self.affine[:3, :3].T + self.affine[:3, 3]

    def lps_to_index(self, lps) -> np.ndarray:
        """LPS mm (..., 3) -> continuous voxel indices (i, j, k)."""
        p = np.asarray(lps, dtype=np.float64) - self.affine[:3, 3]
        return p @ np.linalg.inv(self.affine[:3, :3]).T

    def bounds_lps(self) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned LPS box around the centres of the eight corner voxels."""
        i, j, k = (n - 1 for n in self.shape_ijk)
        corners = np.array(
            [[a, b, c] for a in (0, i) for b in (0, j) for c in (0, k)], dtype=np.float64
        )
        pts = self.index_to_lps(corners)
        return pts.min(axis=0), pts.max(axis=0)
