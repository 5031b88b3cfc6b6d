"""Label volumes made elsewhere (3D Slicer, ITK-SNAP, nnU-Net...): NRRD and NIfTI-1 readers.

A label volume keeps its own grid: its array [k, j, i] and affine (i, j, k, 1) -> LPS mm are used as
they are, so it does not need to share the CT's voxels, only its patient coordinates.

NRRD: `raw` or `gzip` encoding, `space` left-posterior-superior or right-anterior-superior (or
3D-right-handed... variants), `space directions` and `space origin`; 3D Slicer .seg.nrrd files give
segment names, label values and colours (SegmentN_Name / _LabelValue / _Color / _Layer); a 4-D file
with a leading `list` axis holds one layer per entry. NIfTI-1 (.nii, .nii.gz): sform when its code is
set, else qform, else pixdim; NIfTI space is RAS, converted here to LPS.
"""

from __future__ import annotations

import gzip
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from orkiosk.errors import OrkioskError

MAX_VOXELS = 1_500_000_000


class LabelError(OrkioskError):
    """A label volume that cannot be read or trusted."""


@dataclass(frozen=True)
class Segment:
    value: int
    name: str
    color: tuple[float, float, float] | None = None  # sRGB 0..1 as stored, or None
    layer: int = 0


@dataclass(frozen=True, eq=False)
class LabelVolume:
    path: str
    array: np.ndarray  # [k, j, i] integer labels, or [layer, k, j, i]
    affine: np.ndarray  # (i, j, k, 1) -> LPS mm
    segments: tuple[Segment, ...] = field(default_factory=tuple)

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
    try:
        if name.endswith(".nrrd"):
            return _read_nrrd(p)
        if name.endswith(".nii") or name.endswith(".nii.gz"):
            return _read_nifti(p)
    except LabelError:
        raise
    except (OSError, EOFError, ValueError, struct.error, gzip.BadGzipFile) as exc:
        raise LabelError(f"{p}: cannot read the label volume ({exc})") from exc
    raise LabelError(f"{p}: unknown label file type; use .nrrd, .seg.nrrd, .nii or .nii.gz")


# --------------------------------------------------------------------------------------- NRRD

_NRRD_TYPES = {
    "uchar": "u1",
    "unsigned char": "u1",
    "uint8": "u1",
    "uint8_t": "u1",
    "signed char": "i1",
    "int8": "i1",
    "int8_t": "i1",
    "short": "i2",
    "short int": "i2",
    "signed short": "i2",
    "int16": "i2",
    "int16_t": "i2",
    "ushort": "u2",
    "unsigned short": "u2",
    "uint16": "u2",
    "uint16_t": "u2",
    "int": "i4",
    "signed int": "i4",
    "int32": "i4",
    "int32_t": "i4",
    "uint": "u4",
    "unsigned int": "u4",
    "uint32": "u4",
    "uint32_t": "u4",
    "longlong": "i8",
    "long long": "i8",
    "int64": "i8",
    "int64_t": "i8",
    "ulonglong": "u8",
    "unsigned long long": "u8",
    "uint64": "u8",
    "uint64_t": "u8",
    "float": "f4",
    "double": "f8",
}

_SPACES = {  # sign to turn each axis of the named space into LPS
    "left-posterior-superior": (1, 1, 1),
    "lps": (1, 1, 1),
    "3d-left-handed": (1, 1, 1),
    "right-anterior-superior": (-1, -1, 1),
    "ras": (-1, -1, 1),
    "3d-right-handed": (-1, -1, 1),
    "left-anterior-superior": (1, -1, 1),
    "las": (1, -1, 1),
}


def _vector(text: str, path: Path, what: str) -> np.ndarray | None:
    t = text.strip()
    if t == "none":
        return None
    if not (t.startswith("(") and t.endswith(")")):
        raise LabelError(f"{path}: {what} {text!r} is not a vector '(x,y,z)'")
    try:
        return np.array([float(v) for v in t[1:-1].split(",")], dtype=np.float64)
    except ValueError as exc:
        raise LabelError(f"{path}: {what} {text!r} is not a vector of numbers") from exc


def _read_nrrd(path: Path) -> LabelVolume:
    raw = path.read_bytes()
    if not raw.startswith(b"NRRD000"):
        raise LabelError(f"{path}: not a NRRD file (no NRRD magic)")
    end = raw.find(b"\n\n")
    if end < 0:
        end = raw.find(b"\r\n\r\n")
        if end < 0:
            raise LabelError(f"{path}: NRRD header has no end (no blank line)")
        data_start = end + 4
    else:
        data_start = end + 2
    header = raw[:end].decode("latin-1").splitlines()
    fields: dict[str, str] = {}
    keys: dict[str, str] = {}
    for line in header[1:]:
        line = line.rstrip("\r")
        if not line or line.startswith("#"):
            continue
        if ":=" in line:
            k, v = line.split(":=", 1)
            keys[k.strip()] = v.strip()
        elif ": " in line:
            k, v = line.split(": ", 1)
            fields[k.strip().lower()] = v.strip()
    for need in ("type", "dimension", "sizes", "encoding"):
        if need not in fields:
            raise LabelError(f"{path}: NRRD header lacks the '{need}' field")
    if "data file" in fields or "datafile" in fields:
        raise LabelError(f"{path}: detached NRRD data files are not supported; save as one .nrrd")
    dtype_code = _NRRD_TYPES.get(fields["type"].lower())
    if dtype_code is None:
        raise LabelError(f"{path}: NRRD type {fields['type']!r} is not supported")
    if dtype_code.startswith("f"):
        raise LabelError(f"{path}: NRRD type {fields['type']} is not a labelmap (integers needed)")
    dim = int(fields["dimension"])
    sizes = [int(v) for v in fields["sizes"].split()]
    if len(sizes) != dim or dim not in (3, 4) or min(sizes) < 1:
        raise LabelError(f"{path}: NRRD with dimension {dim} sizes {sizes}: need a 3-D labelmap")
    kinds = fields.get("kinds", "").split()
    layered = dim == 4
    if layered and (not kinds or kinds[0] not in ("list", "vector", "???", "none")):
        raise LabelError(f"{path}: 4-D NRRD must have a list/vector first axis (layers)")
    endian = ">" if fields.get("endian", "little") == "big" else "<"
    dtype = np.dtype(endian + dtype_code)
    count = int(np.prod(sizes, dtype=np.int64))
    if count > MAX_VOXELS:
        raise LabelError(f"{path}: {count} voxels is more than this builder handles")
    data = raw[data_start:]
    enc = fields["encoding"].lower()
    if enc in ("gzip", "gz"):
        data = gzip.decompress(data)
    elif enc != "raw":
        raise LabelError(f"{path}: NRRD encoding {enc!r} is not supported (use raw or gzip)")
    need = count * dtype.itemsize
    if len(data) < need:
        raise LabelError(f"{path}: NRRD data is truncated ({len(data)} of {need} bytes)")
    arr = np.frombuffer(data[-need:] if enc == "raw" else data[:need], dtype=dtype)
    arr = arr.reshape(sizes[::-1])  # C order: slowest axis first -> [k, j, i] (+ layer last)
    if layered:
        arr = np.moveaxis(arr, -1, 0)
    arr = np.ascontiguousarray(arr.astype(np.int32 if dtype.itemsize >= 4 else np.int16))
    space = fields.get("space", "").lower()
    if space not in _SPACES:
        raise LabelError(
            f"{path}: NRRD space {fields.get('space', '(missing)')!r} is not a patient space; "
            "need left-posterior-superior or right-anterior-superior"
        )
    sign = np.array(_SPACES[space], dtype=np.float64)
    dirs_text = fields.get("space directions", "")
    tokens = re.findall(r"\([^)]*\)|none", dirs_text)
    vecs = [_vector(t, path, "space direction") for t in tokens]
    vecs = [v for v in vecs if v is not None]
    if len(vecs) != 3 or any(v.shape != (3,) for v in vecs):
        raise LabelError(f"{path}: NRRD needs three 'space directions' (got {dirs_text!r})")
    origin = _vector(fields.get("space origin", "(0,0,0)"), path, "space origin")
    affine = np.eye(4)
    for c in range(3):
        affine[:3, c] = vecs[c] * sign
    affine[:3, 3] = origin * sign
    _check_affine(affine, path)
    segments = []
    n = 0
    while f"Segment{n}_LabelValue" in keys or f"Segment{n}_Name" in keys:
        try:
            value = int(keys.get(f"Segment{n}_LabelValue", n + 1))
            layer = int(keys.get(f"Segment{n}_Layer", 0))
            color = keys.get(f"Segment{n}_Color")
            rgb = tuple(float(v) for v in color.split()[:3]) if color else None
        except ValueError as exc:
            raise LabelError(f"{path}: segment {n} has an unreadable value ({exc})") from exc
        segments.append(
            Segment(value, keys.get(f"Segment{n}_Name", f"Segment {n + 1}"), rgb, layer)
        )
        n += 1
    if layered:
        nlayers = arr.shape[0]
        bad = [s for s in segments if not 0 <= s.layer < nlayers]
        if bad:
            raise LabelError(f"{path}: segment {bad[0].name!r} names layer {bad[0].layer}")
    return LabelVolume(str(path), arr, affine, tuple(segments))


# -------------------------------------------------------------------------------------- NIfTI

_NIFTI_TYPES = {
    2: "u1",
    4: "i2",
    8: "i4",
    256: "i1",
    512: "u2",
    768: "u4",
    1024: "i8",
    1280: "u8",
    16: "f4",
    64: "f8",
}


def _read_nifti(path: Path) -> LabelVolume:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 352:
        raise LabelError(f"{path}: too short for a NIfTI-1 file")
    endian = "<"
    if struct.unpack("<i", raw[:4])[0] != 348:
        if struct.unpack(">i", raw[:4])[0] != 348:
            if struct.unpack("<i", raw[:4])[0] == 540:
                raise LabelError(f"{path}: NIfTI-2 is not supported; save as NIfTI-1")
            raise LabelError(f"{path}: not a NIfTI-1 file (header size is not 348)")
        endian = ">"
    if raw[344:347] not in (b"n+1", b"ni1"):
        raise LabelError(f"{path}: not a NIfTI-1 file (no n+1 magic)")
    if raw[344:347] == b"ni1":
        raise LabelError(f"{path}: two-file NIfTI (.hdr/.img) is not supported")
    dims = struct.unpack(endian + "8h", raw[40:56])
    datatype = struct.unpack(endian + "h", raw[70:72])[0]
    pixdim = struct.unpack(endian + "8f", raw[76:108])
    vox_offset = int(struct.unpack(endian + "f", raw[108:112])[0])
    scl_slope, scl_inter = struct.unpack(endian + "2f", raw[112:120])
    qform_code, sform_code = struct.unpack(endian + "2h", raw[252:256])
    quat = struct.unpack(endian + "6f", raw[256:280])
    srow = np.array(struct.unpack(endian + "12f", raw[280:328]), dtype=np.float64).reshape(3, 4)
    ndim = dims[0]
    if ndim < 3 or ndim > 7 or any(d > 1 for d in dims[4 : ndim + 1]):
        raise LabelError(f"{path}: NIfTI with dimensions {dims[1 : ndim + 1]}: need a 3-D labelmap")
    sizes = dims[1:4]
    if min(sizes) < 1:
        raise LabelError(f"{path}: NIfTI sizes {sizes} are not valid")
    code = _NIFTI_TYPES.get(datatype)
    if code is None:
        raise LabelError(f"{path}: NIfTI datatype {datatype} is not supported")
    dtype = np.dtype(endian + code)
    count = int(np.prod(sizes, dtype=np.int64))
    need = count * dtype.itemsize
    if len(raw) < vox_offset + need:
        raise LabelError(
            f"{path}: NIfTI data is truncated ({len(raw) - vox_offset} of {need} bytes)"
        )
    arr = np.frombuffer(raw, dtype=dtype, count=count, offset=vox_offset).reshape(sizes[::-1])
    if code.startswith("f") and (not np.isfinite(arr).all() or not np.all(arr == np.round(arr))):
        raise LabelError(f"{path}: NIfTI holds non-integer values: not a labelmap")
    if scl_slope not in (0.0, 1.0) or scl_inter != 0.0:
        raise LabelError(f"{path}: NIfTI labelmap must not be scaled (scl_slope {scl_slope})")
    arr = np.ascontiguousarray(arr.astype(np.int32))
    if sform_code > 0:
        ras = np.vstack([srow, [0, 0, 0, 1]])
    elif qform_code > 0:
        b, c, d, qx, qy, qz = quat
        a = np.sqrt(max(0.0, 1.0 - (b * b + c * c + d * d)))
        rot = np.array(
            [
                [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
                [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
                [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
            ]
        )
        qfac = -1.0 if pixdim[0] < 0 else 1.0
        scale = np.array([pixdim[1], pixdim[2], pixdim[3] * qfac])
        ras = np.eye(4)
        ras[:3, :3] = rot * scale
        ras[:3, 3] = (qx, qy, qz)
    else:
        ras = np.diag([pixdim[1] or 1.0, pixdim[2] or 1.0, pixdim[3] or 1.0, 1.0])
    affine = np.diag([-1.0, -1.0, 1.0, 1.0]) @ ras  # RAS -> LPS
    _check_affine(affine, path)
    return LabelVolume(str(path), arr, affine, ())


def _check_affine(affine: np.ndarray, path: Path) -> None:
    if not np.isfinite(affine).all() or abs(np.linalg.det(affine[:3, :3])) < 1e-9:
        raise LabelError(f"{path}: the voxel-to-patient transform is missing or degenerate")


def write_nifti(path, array_kji: np.ndarray, affine_lps: np.ndarray) -> Path:
    """A small NIfTI-1 writer (sform, RAS), used for tests and for exporting labelmaps."""
    arr = np.ascontiguousarray(array_kji)
    codes = {np.dtype("uint8"): 2, np.dtype("int16"): 4, np.dtype("int32"): 8}
    if arr.dtype not in codes:
        arr = arr.astype(np.int16)
    hdr = bytearray(352)
    struct.pack_into("<i", hdr, 0, 348)
    nk, nj, ni = arr.shape
    struct.pack_into("<8h", hdr, 40, 3, ni, nj, nk, 1, 1, 1, 1)
    struct.pack_into("<h", hdr, 70, codes[arr.dtype])
    struct.pack_into("<h", hdr, 72, arr.dtype.itemsize * 8)
    ras = np.diag([-1.0, -1.0, 1.0, 1.0]) @ affine_lps
    sp = np.linalg.norm(ras[:3, :3], axis=0)
    struct.pack_into("<8f", hdr, 76, 1.0, *sp, 1, 1, 1, 1)
    struct.pack_into("<f", hdr, 108, 352.0)
    struct.pack_into("<2f", hdr, 112, 1.0, 0.0)
    struct.pack_into("<2h", hdr, 252, 0, 1)
    struct.pack_into("<12f", hdr, 280, *ras[:3].ravel())
    hdr[344:348] = b"n+1\x00"
    data = bytes(hdr) + arr.astype("<" + arr.dtype.str[1:]).tobytes()
    p = Path(path)
    p.write_bytes(gzip.compress(data) if p.name.endswith(".gz") else data)
    return p
