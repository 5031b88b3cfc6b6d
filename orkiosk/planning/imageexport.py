"""The image volume a package carries (format 1.1): the source series cropped to the plan's
region (its bounds plus a margin) and resampled to `spacing` mm on the series' own axes.

Default spacing 1.0 mm (figures in docs/architecture.md, "Format 1.1"): a 512x512x300 head CT
cropped to a whole-head plan is about 10 M voxels, 20 MB as int16 before gzip. Never finer than
the source along any axis (nothing is invented). Linear interpolation, with a Gaussian
pre-filter along an axis that is coarsened by more than 1.5x (no aliasing of the noise).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from orkiosk.plan.image import (
    IMAGE_PATH,
    MAX_VOXELS,
    ImageEntry,
    ImageVolume,
    default_presets,
)
from orkiosk.planning.dicom.volume import Volume
from orkiosk.planning.options import BuildError

DEFAULT_SPACING = 1.0  # mm
MARGIN = 15.0  # mm around the plan's bounds


def export_image(
    volume: Volume, plan_box, spacing: float = DEFAULT_SPACING, margin: float = MARGIN
) -> ImageVolume:
    """The cropped, resampled image of `volume` around `plan_box` (LPS min, max corners)."""
    if not (np.isfinite(spacing) and 0.1 <= spacing <= 10.0):
        raise BuildError(f"--image-spacing {spacing}: choose 0.1 to 10 mm")
    src = np.asarray(volume.spacing, dtype=np.float64)
    out_sp = np.maximum(src, spacing)
    lo, hi = (np.asarray(b, dtype=np.float64) for b in plan_box)
    corners = np.array(
        [
            [x, y, z]
            for x in (lo[0] - margin, hi[0] + margin)
            for y in (lo[1] - margin, hi[1] + margin)
            for z in (lo[2] - margin, hi[2] + margin)
        ]
    )
    idx = volume.lps_to_index(corners)
    shape = np.array(volume.shape_ijk)
    first = np.clip(np.floor(idx.min(axis=0)), 0, shape - 1)  # on a source voxel: at the
    # source's own spacing the image is a plain copy of its voxels
    last = np.clip(idx.max(axis=0), 0, shape - 1)
    step = out_sp / src  # source voxels per output voxel, per axis (i, j, k)
    dims = np.floor((last - first) / step).astype(int) + 1
    if np.prod(dims.astype(np.int64)) > MAX_VOXELS:
        raise BuildError(
            f"the image would be {dims[0]}x{dims[1]}x{dims[2]} voxels (limit {MAX_VOXELS}); "
            "give a coarser --image-spacing or --no-image"
        )
    data = np.asarray(volume.array)
    for axis_ijk in range(3):  # array axes are (k, j, i)
        axis = 2 - axis_ijk
        pos = first[axis_ijk] + step[axis_ijk] * np.arange(dims[axis_ijk])
        data = _resample_axis(data, axis, pos, step[axis_ijk])
    modality = (volume.info.modality or "").upper()
    array = _to_int(data, modality)
    affine = np.eye(4)
    affine[:3, :3] = volume.affine[:3, :3] * step  # columns scaled: i, j, k axes
    affine[:3, 3] = volume.index_to_lps(first)
    entry = ImageEntry(
        path=IMAGE_PATH,
        dims=tuple(int(d) for d in dims),
        affine=tuple(tuple(float(x) for x in row) for row in affine),
        modality=modality[:16],
        units="HU" if modality == "CT" else "",
        dtype="int16" if array.dtype == np.int16 else "uint16",
        presets=default_presets(modality, array),
    )
    return ImageVolume(array, entry)


def _resample_axis(a: np.ndarray, axis: int, pos: np.ndarray, step: float) -> np.ndarray:
    """Linear interpolation of `a` at fractional indices `pos` along `axis`."""
    if abs(step - 1.0) < 1e-9 and np.allclose(pos, np.round(pos)):
        return np.take(a, np.round(pos).astype(int), axis=axis)
    a = np.asarray(a, dtype=np.float32)
    if step > 1.5:
        a = ndimage.gaussian_filter1d(a, sigma=0.4 * step, axis=axis, mode="nearest")
    n = a.shape[axis]
    i0 = np.clip(np.floor(pos).astype(int), 0, n - 1)
    i1 = np.minimum(i0 + 1, n - 1)
    w = (pos - i0).astype(np.float32)
    shape = [1, 1, 1]
    shape[axis] = len(pos)
    w = w.reshape(shape)
    return np.take(a, i0, axis=axis) * (1 - w) + np.take(a, i1, axis=axis) * w


def _to_int(data: np.ndarray, modality: str) -> np.ndarray:
    """int16 (CT in HU, or anything that fits) else uint16; values rounded, clipped."""
    lo, hi = float(np.min(data)), float(np.max(data))
    if lo >= -32768 and hi <= 32767:
        return np.round(data).astype(np.int16) if data.dtype.kind == "f" else data.astype(np.int16)
    if lo >= 0 and modality != "CT":
        return np.clip(np.round(data), 0, 65535).astype(np.uint16)
    return np.clip(np.round(data), -32768, 32767).astype(np.int16)
