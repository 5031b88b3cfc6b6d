"""Label volumes made elsewhere (3D Slicer, ITK-SNAP, nnU-Net...), read with the libraries made for
them: 3D Slicer segmentations (.seg.nrrd, or any NRRD with Slicer's SegmentN_ fields) through
slicerio (names, colours, layers, terminology), plain NRRD through pynrrd, NIfTI (.nii, .nii.gz)
through nibabel. Our checks sit on top: a patient space, a sane voxel-to-patient transform, integer
labels, a voxel limit checked from the header before the data are read, and the file named in every
message.

A label volume keeps its own grid: its array [k, j, i] (or [layer, k, j, i]) and affine
(i, j, k, 1) -> LPS mm are used as they are, so it need not share the CT's voxels, only its patient
coordinates. NIfTI space is RAS, converted here to LPS; a NIfTI without sform or qform has no
position in the patient and is refused.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from orkiosk.errors import OrkioskError

MAX_VOXELS = 1_500_000_000
NRRD_SPACES = {  # sign that turns each axis of the named space into LPS
    "left-posterior-superior": (1.0, 1.0, 1.0),
    "right-anterior-superior": (-1.0, -1.0, 1.0),
}


class LabelError(OrkioskError):
    """A label volume that cannot be read or trusted."""


@dataclass(frozen=True)
class Segment:
    value: int
    name: str
    color: tuple[float, float, float] | None = None  # sRGB 0..1 as stored, or None
    layer: int = 0
    terminology: str = ""  # e.g. the type's code meaning from a Slicer terminology entry
    opacity: float | None = None  # display opacity given by the source (scene, SEG), or None
    visible: bool = True
    key: str = ""  # the segment's id in its file (3D Slicer's Segment_1...), for scene overrides


@dataclass(frozen=True, eq=False)
class LabelVolume:
    path: str
    array: np.ndarray  # [k, j, i] integer labels, or [layer, k, j, i]
    affine: np.ndarray  # (i, j, k, 1) -> LPS mm
    segments: tuple[Segment, ...] = field(default_factory=tuple)
    notes: tuple[str, ...] = ()
    kind: str = "labelmap"  # or "seg" (DICOM SEG), "rtstruct", "scene" (one layer per segment)

    def layer(self, n: int) -> np.ndarray:
        return self.array if self.array.ndim == 3 else self.array[n]

    def values(self) -> list[int]:
        """Label values present (non-zero), by layer order then value."""
        if self.segments:
            return [s.value for s in self.segments]
        return [int(v) for v in np.unique(self.array) if v != 0]


def read_labels(path) -> LabelVolume:
    p = Path(path)
    if not p.is_file():
        raise LabelError(f"{p}: no such label file")
    name = p.name.lower()
    import nibabel
    import nrrd

    try:
        if name.endswith(".nrrd"):
            return _read_nrrd(p)
        if name.endswith(".nii") or name.endswith(".nii.gz"):
            return _read_nifti(p)
    except LabelError:
        raise
    except nibabel.filebasedimages.ImageFileError as exc:
        raise LabelError(f"{p}: not a NIfTI-1/NIfTI-2 file ({exc})") from exc
    except nibabel.spatialimages.HeaderDataError as exc:  # found by scripts/fuzz.py nifti
        raise LabelError(f"{p}: damaged NIfTI header ({exc})") from exc
    except (
        nrrd.NRRDError,
        OSError,
        EOFError,
        ValueError,
        KeyError,
        zlib.error,
        StopIteration,  # an empty file
        IndexError,  # pynrrd on a malformed header line (found by scripts/fuzz.py nrrd)
    ) as exc:
        raise LabelError(f"{p}: cannot read the label volume ({_reason(exc)})") from exc
    raise LabelError(f"{p}: unknown label file type; use .nrrd, .seg.nrrd, .nii or .nii.gz")


def _reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    if "does not equal the product" in text:
        return f"the data is truncated or does not match the header's sizes: {text}"
    return text.splitlines()[0]


def check_affine(affine: np.ndarray, path) -> None:
    if not np.isfinite(affine).all() or abs(np.linalg.det(affine[:3, :3])) < 1e-9:
        raise LabelError(f"{path}: the voxel-to-patient transform is missing or degenerate")


def check_voxels(sizes, path) -> None:
    count = int(np.prod([int(s) for s in sizes], dtype=np.int64))
    if count > MAX_VOXELS:
        raise LabelError(f"{path}: {count} voxels is more than this builder handles")


# --------------------------------------------------------------------------------------- NRRD


def _read_nrrd(path: Path) -> LabelVolume:
    import nrrd

    header = nrrd.read_header(str(path))
    for need in ("type", "dimension", "sizes", "encoding"):
        if need not in header:
            raise LabelError(f"{path}: NRRD header lacks the '{need}' field")
    if "data file" in header or "datafile" in header:
        raise LabelError(f"{path}: detached NRRD data files are not supported; save as one .nrrd")
    sizes = [int(s) for s in header["sizes"]]
    dim = int(header["dimension"])
    if dim not in (3, 4) or len(sizes) != dim or min(sizes) < 1:
        raise LabelError(f"{path}: NRRD with dimension {dim} sizes {sizes}: need a 3-D labelmap")
    check_voxels(sizes, path)
    if str(header["type"]).strip().lower() in ("float", "double"):
        raise LabelError(f"{path}: NRRD type {header['type']} is not a labelmap (integers needed)")
    space = str(header.get("space", "")).lower()
    if space not in NRRD_SPACES:
        raise LabelError(
            f"{path}: NRRD space {header.get('space', '(missing)')!r} is not a patient space; "
            "need left-posterior-superior or right-anterior-superior"
        )
    slicer = path.name.lower().endswith(".seg.nrrd") or any(
        str(k).startswith("Segment") for k in header
    )
    if slicer:
        return _read_slicer_seg(path)
    if dim == 4:
        raise LabelError(f"{path}: 4-D NRRD without 3D Slicer segment fields: need a 3-D labelmap")
    data, header = nrrd.read(str(path))
    dirs = np.asarray(header.get("space directions"), dtype=np.float64)
    if dirs.shape != (3, 3):
        raise LabelError(f"{path}: NRRD needs three 'space directions' (got {dirs.tolist()})")
    origin = np.asarray(header.get("space origin", np.zeros(3)), dtype=np.float64)
    sign = np.array(NRRD_SPACES[space])
    affine = np.eye(4)
    affine[:3, :3] = (dirs * sign).T  # row c of `space directions` is the step of axis c
    affine[:3, 3] = origin * sign
    check_affine(affine, path)
    return LabelVolume(str(path), _kji(data), affine, ())


def _kji(voxels: np.ndarray) -> np.ndarray:
    """pynrrd's Fortran order (i, j, k) or (layer, i, j, k) -> C order [k, j, i] / [layer, k, j, i]."""
    axes = (2, 1, 0) if voxels.ndim == 3 else (0, 3, 2, 1)
    return np.ascontiguousarray(np.transpose(voxels, axes))


def _read_slicer_seg(path: Path) -> LabelVolume:
    import slicerio

    try:
        seg = slicerio.read_segmentation(str(path))
    except OSError as exc:  # slicerio reports its own refusals as IOError
        raise LabelError(f"{path}: not a 3D Slicer segmentation slicerio can read ({exc})") from exc
    affine = np.asarray(seg["ijkToLPS"], dtype=np.float64)
    check_affine(affine, path)
    array = _kji(np.asarray(seg["voxels"]))
    segments = []
    for n, s in enumerate(seg.get("segments", [])):
        color = s.get("color")
        term = s.get("terminology") or {}
        segments.append(
            Segment(
                value=int(s.get("labelValue", n + 1)),
                name=str(s.get("name") or f"Segment {n + 1}"),
                color=tuple(float(c) for c in color[:3]) if color else None,
                layer=int(s.get("layer", 0)),
                terminology=str((term.get("type") or ["", "", ""])[2] or ""),
                key=str(s.get("id", "")),
            )
        )
    nlayers = 1 if array.ndim == 3 else array.shape[0]
    bad = [s for s in segments if not 0 <= s.layer < nlayers]
    if bad:
        raise LabelError(f"{path}: segment {bad[0].name!r} names layer {bad[0].layer}")
    return LabelVolume(str(path), array, affine, tuple(segments))


# -------------------------------------------------------------------------------------- NIfTI


def _read_nifti(path: Path) -> LabelVolume:
    import nibabel

    img = nibabel.load(str(path))
    if not isinstance(img, nibabel.Nifti1Image | nibabel.Nifti2Image):
        raise LabelError(f"{path}: not a single-file NIfTI image ({type(img).__name__})")
    shape = img.shape
    if len(shape) < 3 or any(d != 1 for d in shape[3:]):
        raise LabelError(f"{path}: NIfTI with dimensions {tuple(shape)}: need a 3-D labelmap")
    check_voxels(shape[:3], path)
    hdr = img.header
    # nibabel moves scl_slope/scl_inter from the header into the data proxy when it loads.
    slope = float(getattr(img.dataobj, "slope", 1.0))
    inter = float(getattr(img.dataobj, "inter", 0.0))
    if slope != 1.0 or inter != 0.0:
        raise LabelError(f"{path}: NIfTI labelmap must not be scaled (scl_slope {slope})")
    if int(hdr["sform_code"]) <= 0 and int(hdr["qform_code"]) <= 0:
        raise LabelError(
            f"{path}: NIfTI has neither sform nor qform, so its place in the patient is unknown"
        )
    raw = np.asanyarray(img.dataobj)
    raw = raw.reshape(shape[:3])
    if raw.dtype.kind == "f" and (not np.isfinite(raw).all() or not np.all(raw == np.round(raw))):
        raise LabelError(f"{path}: NIfTI holds non-integer values: not a labelmap")
    if raw.dtype.kind not in "iu" or raw.dtype.itemsize > 4:
        raw = raw.astype(np.int32)
    affine = np.diag([-1.0, -1.0, 1.0, 1.0]) @ img.affine  # RAS -> LPS
    check_affine(affine, path)
    return LabelVolume(str(path), _kji(raw), affine, ())


def write_nifti(path, array_kji: np.ndarray, affine_lps: np.ndarray) -> Path:
    """A labelmap as NIfTI (sform and qform, RAS) through nibabel: tests and exports."""
    import nibabel

    arr = np.ascontiguousarray(np.transpose(array_kji, (2, 1, 0)))
    if arr.dtype not in (np.uint8, np.int16, np.int32):
        arr = arr.astype(np.int16)
    ras = np.diag([-1.0, -1.0, 1.0, 1.0]) @ np.asarray(affine_lps, dtype=np.float64)
    img = nibabel.Nifti1Image(arr, ras)
    img.set_sform(ras, code=1)
    img.set_qform(ras, code=1)
    nibabel.save(img, str(path))
    return Path(path)
