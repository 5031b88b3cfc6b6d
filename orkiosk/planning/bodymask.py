"""The patient's body in a CT, without the table, head holder, cushions and positioning devices.

Computed once per build on a coarse grid (about 2 mm voxels: a 512 x 512 x 300 CT becomes
170 x 170 x 300 or less), then looked up for the box of each structure at full resolution:

1. tissue: > -500 HU (air, the outside of the reconstruction circle and padding such as -2048 or
   -3024 are below it);
2. an opening with a ball of OPEN_MM breaks the thin bridges (cushions, mattress, straps, the
   rim of a head holder) between the patient and the furniture;
3. the largest connected piece is the patient;
4. grown back by GROW_MM through tissue only (so the skin, nose and ears that the opening rounded
   off come back, but not more than GROW_MM of a cushion pressed against the patient), holes
   filled in 3-D and in each slice (lungs, airways, bowel gas are inside the body), then dilated by
   one coarse voxel so the full-resolution skin surface is never cut.

Values at or below OUTSIDE_HU are never part of any CT structure (segment.py): the outside of the
reconstruction circle and padding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orkiosk.planning.dicom.volume import Volume

OUTSIDE_HU = -1500.0  # at or below: outside the reconstruction circle, or padding
BODY_HU = -500.0  # tissue (and the table) is above this
GRID_MM = 2.0  # coarse grid voxel size the mask is computed on
OPEN_MM = 6.0  # radius of the opening: bridges thinner than about 2 x this break
GROW_MM = 6.0  # how far the patient grows back through tissue after the opening


@dataclass(frozen=True)
class BodyMask:
    """The body on a coarse grid: coarse[k, j, i] covers full voxels [f*n, f*n + f) per axis."""

    coarse: np.ndarray  # bool
    factors: tuple[int, int, int]  # (k, j, i) coarse voxel = factors full voxels
    shape: tuple[int, int, int]  # of the full grid (k, j, i)
    voxel_mm3: float  # of the full grid

    def crop(self, box: tuple[slice, slice, slice]) -> np.ndarray:
        """The body at full resolution inside `box` (slices of the full grid), bool."""
        idx = [
            np.minimum(np.arange(s.start, s.stop) // f, n - 1)
            for s, f, n in zip(box, self.factors, self.coarse.shape, strict=True)
        ]
        return self.coarse[np.ix_(*idx)]

    @property
    def volume_ml(self) -> float:
        return float(self.coarse.sum()) * float(np.prod(self.factors)) * self.voxel_mm3 / 1000


def _ball(radius_vox) -> np.ndarray:
    """An ellipsoid structuring element with radii (k, j, i) in voxels (at least 0)."""
    r = [max(0, int(np.floor(x))) for x in radius_vox]
    g = np.ogrid[tuple(slice(-n, n + 1) for n in r)]
    d = sum((a / max(x, 1e-6)) ** 2 for a, x in zip(g, radius_vox, strict=True))
    return d <= 1.0


def body_mask(volume: Volume) -> BodyMask | None:
    """The patient's body (None when the image holds no tissue at all)."""
    from scipy import ndimage

    spacing_kji = np.array(volume.spacing, dtype=float)[::-1]
    factors = tuple(int(max(1, np.floor(GRID_MM / s + 1e-6))) for s in spacing_kji)
    arr = volume.array
    # Sample the centre voxel of each coarse block (no copy of the full volume at float).
    sub = arr[tuple(slice(f // 2, None, f) for f in factors)]
    full_blocks = [-(-n // f) for n, f in zip(arr.shape, factors, strict=True)]
    tissue = np.zeros(full_blocks, dtype=bool)
    tissue[tuple(slice(0, n) for n in sub.shape)] = sub > BODY_HU
    if not tissue.any():
        return None
    coarse_mm = spacing_kji * np.array(factors)
    # Pad so that the opening and the filling treat the volume's edges as outside air; a body
    # cut by the edges of the volume (a chest CT always is) stays whole.
    pad = int(np.ceil(max(OPEN_MM, GROW_MM) / coarse_mm.min())) + 1
    work = np.pad(tissue, pad, mode="edge")
    opened = ndimage.binary_opening(work, structure=_ball(OPEN_MM / coarse_mm))
    labels, n = ndimage.label(opened)
    if n == 0:  # nothing thicker than the opening: keep the tissue as it is
        core = work
    else:
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        core = labels == int(np.argmax(sizes))
    del labels, opened
    step = _ball(np.ones(3))  # 6-connected step of one coarse voxel
    steps = max(1, int(round(GROW_MM / coarse_mm.min())))
    grown = ndimage.binary_dilation(core, structure=step, iterations=steps, mask=work) | core
    grown = ndimage.binary_fill_holes(grown)
    for k in range(grown.shape[0]):  # lungs and airways open to the nose fill slice by slice
        grown[k] = ndimage.binary_fill_holes(grown[k])
    grown = ndimage.binary_dilation(grown, structure=_ball(np.ones(3)))
    inner = tuple(slice(pad, pad + n) for n in full_blocks)
    return BodyMask(
        coarse=np.ascontiguousarray(grown[inner]),
        factors=factors,
        shape=tuple(int(n) for n in arr.shape),
        voxel_mm3=float(np.prod(spacing_kji)),
    )
