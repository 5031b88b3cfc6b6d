"""The image volume of a format 1.1 package: the source series, cropped to the plan's region and
resampled, so that the kiosk can show the original images on a cut and in slice views.

On disk: one listed file (`image/volume.i16.gz` by default), raw little-endian int16 (or
uint16) voxels, i fastest (array[k, j, i], as a DICOM volume), gzip-compressed; its size and
SHA-256 are in plan.json like every file. The manifest's `image` block says how to read it
(`ImageEntry`): dims (i, j, k), the affine (i, j, k, 1) -> LPS mm, modality, units and the
window/level presets. Numpy only (plan layer).
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass

import numpy as np

IMAGE_PATH = "image/volume.i16.gz"
MAX_DIM = 1024  # voxels per axis
MAX_VOXELS = 64 * 1024 * 1024  # 128 MiB as int16 in memory
MIN_SPACING, MAX_SPACING = 0.05, 20.0  # mm per voxel
DTYPES = {"int16": "<i2", "uint16": "<u2"}
ENCODINGS = ("gzip", "raw")


class ImageError(ValueError):
    """One line: what is wrong with the image volume and why it cannot be shown."""


@dataclass(frozen=True)
class WindowPreset:
    """A display window: values from level - window/2 (black) to level + window/2 (white)."""

    name: str
    window: float
    level: float


@dataclass(frozen=True)
class ImageEntry:
    """The manifest's `image` block (format 1.1)."""

    path: str
    dims: tuple[int, int, int]  # (i, j, k): columns, rows, slices
    affine: tuple[tuple[float, ...], ...]  # 4x4, (i, j, k, 1) -> LPS mm
    modality: str
    units: str = ""  # "HU" for CT
    dtype: str = "int16"
    encoding: str = "gzip"
    presets: tuple[WindowPreset, ...] = ()

    @property
    def matrix(self) -> np.ndarray:
        return np.array(self.affine, dtype=np.float64)

    @property
    def voxels(self) -> int:
        return int(np.prod([int(d) for d in self.dims], dtype=np.int64))

    @property
    def raw_bytes(self) -> int:
        return self.voxels * 2

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "encoding": self.encoding,
            "dtype": self.dtype,
            "dims": list(self.dims),
            "affine": [list(r) for r in self.affine],
            "modality": self.modality,
            "units": self.units,
            "presets": [
                {"name": p.name, "window": p.window, "level": p.level} for p in self.presets
            ],
        }

    @classmethod
    def from_dict(cls, d: dict) -> ImageEntry:
        return cls(
            path=d["path"],
            encoding=d["encoding"],
            dtype=d["dtype"],
            dims=tuple(int(x) for x in d["dims"]),
            affine=tuple(tuple(float(x) for x in row) for row in d["affine"]),
            modality=d["modality"],
            units=d.get("units", ""),
            presets=tuple(
                WindowPreset(p["name"], float(p["window"]), float(p["level"])) for p in d["presets"]
            ),
        )


@dataclass(frozen=True, eq=False)
class ImageVolume:
    """A loaded (or about to be written) image: array[k, j, i] and its manifest entry."""

    array: np.ndarray  # int16 or uint16, shape (k, j, i)
    entry: ImageEntry

    @property
    def affine(self) -> np.ndarray:
        return self.entry.matrix

    @property
    def spacing(self) -> tuple[float, float, float]:
        d = np.linalg.norm(self.affine[:3, :3], axis=0)
        return (float(d[0]), float(d[1]), float(d[2]))

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return image_box(self.entry)

    def lps_to_index(self, lps) -> np.ndarray:
        """LPS mm (..., 3) -> continuous voxel indices (i, j, k)."""
        a = self.affine
        p = np.asarray(lps, dtype=np.float64) - a[:3, 3]
        return p @ np.linalg.inv(a[:3, :3]).T

    def default_preset(self) -> WindowPreset:
        return self.entry.presets[0] if self.entry.presets else full_range_preset(self.array)


# ---------------------------------------------------------------- checks


def image_box(entry: ImageEntry) -> tuple[np.ndarray, np.ndarray]:
    """The LPS box around the centres of the image's corner voxels."""
    a = entry.matrix
    n = [int(d) - 1 for d in entry.dims]
    corners = np.array([[i, j, k] for i in (0, n[0]) for j in (0, n[1]) for k in (0, n[2])])
    pts = corners @ a[:3, :3].T + a[:3, 3]
    return pts.min(axis=0), pts.max(axis=0)


def entry_problems(entry: ImageEntry) -> list[str]:
    """What makes the manifest's image block unusable, before its file is read."""
    where = "plan.json: image"
    out = []
    dims = [int(d) for d in entry.dims]
    if len(dims) != 3 or any(d < 1 or d > MAX_DIM for d in dims):
        out.append(f"{where}.dims: {dims} must be 3 sizes of 1..{MAX_DIM} voxels")
    elif entry.voxels > MAX_VOXELS:
        out.append(
            f"{where}.dims: {dims[0]}x{dims[1]}x{dims[2]} = {entry.voxels} voxels is over the "
            f"limit of {MAX_VOXELS} (rebuild with a coarser --image-spacing)"
        )
    if entry.dtype not in DTYPES:
        out.append(f"{where}.dtype: {entry.dtype!r} is not one of {', '.join(DTYPES)}")
    if entry.encoding not in ENCODINGS:
        out.append(f"{where}.encoding: {entry.encoding!r} is not one of {', '.join(ENCODINGS)}")
    out += affine_problems(entry.affine, f"{where}.affine")
    for n, p in enumerate(entry.presets):
        if not (np.isfinite(p.window) and np.isfinite(p.level) and p.window > 0):
            out.append(f"{where}.presets[{n}] ({p.name}): window must be > 0 and finite")
    return out


def affine_problems(affine, where: str) -> list[str]:
    """A sane index -> LPS matrix: 4x4, finite, last row 0 0 0 1, invertible, orthogonal axes,
    spacing between MIN_SPACING and MAX_SPACING mm."""
    a = np.asarray(affine, dtype=np.float64)
    if a.shape != (4, 4):
        return [f"{where}: must be a 4x4 matrix, got shape {a.shape}"]
    if not np.isfinite(a).all():
        return [f"{where}: holds a value that is not a finite number"]
    if not np.allclose(a[3], [0, 0, 0, 1]):
        return [f"{where}: last row must be 0 0 0 1, got {a[3].tolist()}"]
    spacing = np.linalg.norm(a[:3, :3], axis=0)
    if abs(np.linalg.det(a[:3, :3])) < 1e-9 or (spacing < 1e-9).any():
        return [f"{where}: not invertible (the voxel axes are degenerate)"]
    if (spacing < MIN_SPACING).any() or (spacing > MAX_SPACING).any():
        sp = ", ".join(f"{s:.3g}" for s in spacing)
        return [f"{where}: voxel spacing {sp} mm is outside {MIN_SPACING}..{MAX_SPACING} mm"]
    axes = a[:3, :3] / spacing
    off = np.abs(axes.T @ axes - np.eye(3)).max()
    if off > 1e-3:
        return [f"{where}: the voxel axes are not perpendicular (sheared by {off:.3g})"]
    return []


def placement_problems(entry: ImageEntry, plan_box, targets) -> list[str]:
    """The image must overlap the plan's box and hold every trajectory target: an image of
    another patient or another frame of reference lands elsewhere."""
    lo, hi = image_box(entry)
    plo, phi = (np.asarray(b, dtype=np.float64) for b in plan_box)
    gap = np.maximum(0.0, np.maximum(plo - hi, lo - phi))
    if (gap > 0).any():
        return [
            f"{entry.path}: the image lies {float(np.linalg.norm(gap)):.0f} mm away from the "
            "plan's meshes and points (another patient's image, or another frame of reference?)"
        ]
    out = []
    tol = 0.5 * max(np.linalg.norm(entry.matrix[:3, :3], axis=0))
    for tid, p in targets:
        p = np.asarray(p, dtype=np.float64)
        if (p < lo - tol).any() or (p > hi + tol).any():
            out.append(f"{entry.path}: trajectory {tid}'s target lies outside the image")
    return out


# ---------------------------------------------------------------- bytes


def decode_image(entry: ImageEntry, data) -> np.ndarray:
    """The file's bytes -> array[k, j, i]; refuses a size that is not dims x 2 bytes (a gzip
    stream is never inflated beyond that)."""
    want = entry.raw_bytes
    dims = "x".join(str(int(d)) for d in entry.dims)
    if entry.encoding == "gzip":
        d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            raw = d.decompress(bytes(data), want)
            more = b"" if d.eof else d.decompress(d.unconsumed_tail, 1)
        except zlib.error as exc:
            raise ImageError(f"{entry.path}: not a readable gzip stream ({exc})") from None
        if more:
            raise ImageError(f"{entry.path}: holds more voxels than dims {dims} ({want} bytes)")
        if not d.eof or d.unused_data:
            raise ImageError(f"{entry.path}: the gzip stream is truncated or has trailing data")
    else:
        raw = bytes(data)
    if len(raw) != want:
        raise ImageError(f"{entry.path}: {len(raw)} bytes of voxels, but dims {dims} need {want}")
    arr = np.frombuffer(raw, dtype=DTYPES[entry.dtype]).reshape(entry.dims[::-1])
    return arr.astype(arr.dtype.newbyteorder("="), copy=False)


def encode_image(array: np.ndarray, encoding: str = "gzip") -> bytes:
    """array[k, j, i] of int16/uint16 -> the file's bytes (deterministic: no name, no time)."""
    dtype = {np.dtype(np.int16): "<i2", np.dtype(np.uint16): "<u2"}[array.dtype]
    raw = np.ascontiguousarray(array, dtype=dtype).tobytes()
    return gzip.compress(raw, compresslevel=6, mtime=0) if encoding == "gzip" else raw


# ---------------------------------------------------------------- presets

CT_PRESETS = (
    WindowPreset("Brain", 80.0, 40.0),
    WindowPreset("Soft tissue", 400.0, 40.0),
    WindowPreset("Bone", 2000.0, 500.0),
    WindowPreset("Lung", 1500.0, -600.0),
)


def full_range_preset(array: np.ndarray) -> WindowPreset:
    lo, hi = float(array.min()), float(array.max())
    return WindowPreset("Full range", max(1.0, hi - lo), (hi + lo) / 2)


def default_presets(modality: str, array: np.ndarray) -> tuple[WindowPreset, ...]:
    """CT: brain, soft tissue, bone, lung (Hounsfield units). Others (MR, ...): from the
    percentiles of the voxels above the lowest tenth (the air around the patient)."""
    if modality.upper() == "CT":
        return CT_PRESETS
    sample = np.asarray(array[:: max(1, array.shape[0] // 64)], dtype=np.float64).ravel()
    floor = np.percentile(sample, 10)
    tissue = sample[sample > floor]
    if tissue.size < 16:
        return (full_range_preset(array),)
    out = []
    for name, a, b in (("Default", 1.0, 99.0), ("Contrast", 5.0, 95.0), ("Wide", 0.1, 99.9)):
        lo, hi = np.percentile(tissue, [a, b])
        out.append(WindowPreset(name, float(max(1.0, hi - lo)), float((hi + lo) / 2)))
    return tuple(out)
