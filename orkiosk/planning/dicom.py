"""Read one DICOM image series into a volume in patient LPS millimetres.

A folder is scanned recursively (any file names; files that are not DICOM are ignored), images are
grouped by Series Instance UID and one series is chosen: the one asked for, else the one with the
most images (localizers never win). Its slices are sorted by their position along the slice normal
(the cross product of the two ImageOrientationPatient cosines) and the geometry is checked before
anything is built: one orientation, one matrix size and pixel spacing, at least two slices, uniform
spacing, no missing slice, no gantry tilt (sheared stack). Pixel values go through
RescaleSlope/RescaleIntercept (Hounsfield units for CT). Compressed transfer syntaxes decode
through pydicom's plugins (pylibjpeg, pylibjpeg-libjpeg, -openjpeg, -rle). Enhanced multi-frame
images (one file, many frames, positions in the per-frame functional groups) are read frame by
frame in the same way.

Conventions of the result (Volume):
- `array` is indexed [k, j, i]: k = slice (sorted along the slice normal), j = row, i = column.
- `affine` (4x4) maps the voxel index column (i, j, k, 1) to patient LPS millimetres, so the
  centre of voxel array[k, j, i] is at affine @ (i, j, k, 1).

Every refusal is a DicomError whose message names the series or the file to blame and why.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from orkiosk.errors import OrkioskError
from orkiosk.plan.names import person_name

ProgressFn = Callable[[int, int], None]

DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
ORIENTATION_TOL = 1e-3  # direction cosines equal within this
MIN_SLICES = 2
TILT_TOL_DEG = 0.1  # a stack sheared by more than this is a gantry tilt


class DicomError(OrkioskError):
    """A DICOM folder, series or file that cannot become a trustworthy volume."""


@dataclass(frozen=True)
class SeriesInfo:
    """Header fields of the chosen series, for the plan and the summary."""

    series_uid: str
    series_number: str = ""
    series_description: str = ""
    modality: str = ""
    patient_name: str = ""
    patient_id: str = ""
    birth_date: str = ""  # ISO YYYY-MM-DD or ""
    sex: str = ""  # "F", "M", "O" or ""
    study_uid: str = ""
    study_date: str = ""  # ISO
    study_description: str = ""
    study_id: str = ""
    accession_number: str = ""
    manufacturer: str = ""
    body_part: str = ""


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


@dataclass(frozen=True)
class Frame:
    """One 2-D image of a series: a single-frame file or one frame of a multi-frame file."""

    path: str
    frame: int | None  # None: single-frame file; else 0-based frame number
    sop_uid: str
    position: tuple[float, float, float] | None
    orientation: tuple[float, ...] | None  # six direction cosines
    pixel_spacing: tuple[float, float] | None  # (between rows, between columns)
    rows: int
    columns: int
    slope: float
    intercept: float
    localizer: bool
    instance: int
    samples: int = 1
    tilt: float = 0.0


@dataclass
class SeriesGroup:
    uid: str
    frames: list[Frame] = field(default_factory=list)
    number: str = ""
    description: str = ""
    modality: str = ""
    first_path: str = ""
    problems: list[str] = field(default_factory=list)  # images of this series that cannot be used

    @property
    def localizer(self) -> bool:
        return bool(self.frames) and all(f.localizer for f in self.frames)

    def label(self) -> str:
        bits = [self.uid]
        if self.number:
            bits.append(f"#{self.number}")
        if self.description:
            bits.append(repr(self.description))
        if self.modality:
            bits.append(self.modality)
        n = len(self.frames)
        bits.append(f"{n} image{'s' if n != 1 else ''}")
        if self.localizer:
            bits.append("localizer")
        return " ".join(bits)


@dataclass
class Scan:
    """What a folder holds: image series, and the files that were ignored or are broken."""

    folder: str
    series: dict[str, SeriesGroup] = field(default_factory=dict)
    ignored: list[tuple[str, str]] = field(default_factory=list)  # (path, why) not DICOM images
    broken: list[tuple[str, str]] = field(default_factory=list)  # (path, why) DICOM, unreadable
    file_count: int = 0


# ----------------------------------------------------------------------------------- scanning


def _looks_like_dicom(path: str) -> tuple[bool, bool]:
    """(is_part10, maybe_raw): 'DICM' at byte 128, or a raw data set starting with group 0008.

    OSError (e.g. no permission) propagates: an unreadable file might be a slice.
    """
    with open(path, "rb") as fh:
        head = fh.read(132)
    if len(head) >= 132 and head[128:132] == b"DICM":
        return True, False
    return False, len(head) >= 8 and head[0:2] == b"\x08\x00" and head[2:4] in (
        b"\x05\x00",
        b"\x08\x00",
        b"\x16\x00",
        b"\x18\x00",
        b"\x00\x00",
    )


def _floats(value, n: int) -> tuple[float, ...] | None:
    if value is None:
        return None
    try:
        vals = tuple(float(v) for v in (value if isinstance(value, list | tuple) else list(value)))
    except (TypeError, ValueError):
        return None
    if len(vals) != n or not all(np.isfinite(vals)):
        return None
    return vals


def _get(ds, name, default=None):
    try:
        value = ds.get(name, default)
    except Exception:  # a damaged element: treat as absent
        return default
    return default if value is None else value


def _num(ds, name, default: float) -> float:
    value = _get(ds, name)
    try:
        return float(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default


def _is_localizer(ds) -> bool:
    image_type = _get(ds, "ImageType", [])
    try:
        return any(str(v).upper() == "LOCALIZER" for v in image_type)
    except TypeError:
        return False


def _frames_of(path: str, ds) -> list[Frame]:
    """All frames of one data set, with their geometry (None where absent)."""
    sop = str(_get(ds, "SOPInstanceUID", "")) or path
    rows = int(_num(ds, "Rows", 0))
    cols = int(_num(ds, "Columns", 0))
    samples = int(_num(ds, "SamplesPerPixel", 1))
    instance = int(_num(ds, "InstanceNumber", 0))
    localizer = _is_localizer(ds)
    nframes = int(_num(ds, "NumberOfFrames", 1))
    tilt = _num(ds, "GantryDetectorTilt", 0.0)
    if nframes <= 1 and "PerFrameFunctionalGroupsSequence" not in ds:
        return [
            Frame(
                path=path,
                frame=None,
                sop_uid=sop,
                position=_floats(_get(ds, "ImagePositionPatient"), 3),
                orientation=_floats(_get(ds, "ImageOrientationPatient"), 6),
                pixel_spacing=_floats(_get(ds, "PixelSpacing"), 2),
                rows=rows,
                columns=cols,
                slope=_num(ds, "RescaleSlope", 1.0),
                intercept=_num(ds, "RescaleIntercept", 0.0),
                localizer=localizer,
                instance=instance,
                samples=samples,
                tilt=tilt,
            )
        ]
    # Enhanced multi-frame: shared and per-frame functional groups.
    shared_seq = _get(ds, "SharedFunctionalGroupsSequence")
    shared = shared_seq[0] if shared_seq else None
    per_frame = _get(ds, "PerFrameFunctionalGroupsSequence")
    if per_frame is None or len(per_frame) != nframes:
        raise DicomError(
            f"{path}: multi-frame image with {nframes} frames but without per-frame positions "
            "(no Per-Frame Functional Groups): this kind of multi-frame image is not supported yet"
        )

    def group(item, name):
        for src in (item, shared):
            if src is not None and name in src and len(src[name].value):
                return src[name].value[0]
        return None

    frames = []
    for n, item in enumerate(per_frame):
        pos = group(item, "PlanePositionSequence")
        ori = group(item, "PlaneOrientationSequence")
        meas = group(item, "PixelMeasuresSequence")
        rescale = group(item, "PixelValueTransformationSequence")
        frames.append(
            Frame(
                path=path,
                frame=n,
                sop_uid=f"{sop}#{n}",
                position=_floats(_get(pos, "ImagePositionPatient"), 3) if pos else None,
                orientation=_floats(_get(ori, "ImageOrientationPatient"), 6) if ori else None,
                pixel_spacing=_floats(_get(meas, "PixelSpacing"), 2) if meas else None,
                rows=rows,
                columns=cols,
                slope=_num(rescale, "RescaleSlope", 1.0)
                if rescale
                else _num(ds, "RescaleSlope", 1.0),
                intercept=(
                    _num(rescale, "RescaleIntercept", 0.0)
                    if rescale
                    else _num(ds, "RescaleIntercept", 0.0)
                ),
                localizer=localizer,
                instance=n + 1,
                samples=samples,
                tilt=tilt,
            )
        )
    return frames


def scan_folder(folder, progress: ProgressFn | None = None) -> Scan:
    """Find every DICOM image under `folder`, grouped by series. Reads headers only."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    root = Path(folder)
    if not root.exists():
        raise DicomError(f"{root}: no such folder")
    if not root.is_dir():
        raise DicomError(f"{root}: not a folder (give the folder that holds the DICOM series)")
    paths = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            paths.append(os.path.join(dirpath, name))
    scan = Scan(folder=str(root), file_count=len(paths))
    seen_sop: dict[str, str] = {}
    for n, path in enumerate(paths):
        if progress:
            progress(n, len(paths))
        try:
            part10, raw = _looks_like_dicom(path)
        except OSError as exc:
            scan.broken.append((path, f"cannot be opened ({exc.strerror or exc})"))
            continue
        if not part10 and not raw:
            scan.ignored.append((path, "not a DICOM file"))
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = pydicom.dcmread(path, stop_before_pixels=True, force=raw)
        except (InvalidDicomError, EOFError) as exc:
            if part10:
                scan.broken.append((path, f"cannot be read ({exc})"))
            else:
                scan.ignored.append((path, "not a DICOM file"))
            continue
        except Exception as exc:  # pydicom raises many kinds on damaged files
            if part10:
                scan.broken.append((path, f"damaged ({type(exc).__name__}: {exc})"))
            else:
                scan.ignored.append((path, "not a DICOM file"))
            continue
        meta = getattr(ds, "file_meta", None)
        sop_class = str(_get(meta, "MediaStorageSOPClassUID", "")) if meta is not None else ""
        if sop_class == DICOMDIR_SOP_CLASS or "DirectoryRecordSequence" in ds:
            scan.ignored.append((path, "DICOMDIR index"))
            continue
        uid = str(_get(ds, "SeriesInstanceUID", "")).strip()
        if not uid:
            if part10:
                scan.broken.append(
                    (path, "truncated or damaged: the header ends before the Series Instance UID")
                )
            else:
                scan.ignored.append((path, "not a DICOM image"))
            continue
        if "Rows" not in ds and "PerFrameFunctionalGroupsSequence" not in ds:
            scan.ignored.append((path, "DICOM object without an image"))
            continue
        try:
            frames = _frames_of(path, ds)
        except DicomError as exc:  # readable, but not a kind of image that can be built
            grp = scan.series.setdefault(uid, SeriesGroup(uid=uid, first_path=path))
            grp.problems.append(str(exc))
            continue
        sop = frames[0].sop_uid
        if sop in seen_sop:  # the same image copied twice: keep the first
            scan.ignored.append((path, f"duplicate of {seen_sop[sop]} (same SOP Instance UID)"))
            continue
        seen_sop[sop] = path
        grp = scan.series.get(uid)
        if grp is None:
            grp = scan.series[uid] = SeriesGroup(uid=uid, first_path=path)
        if not grp.description:
            grp.number = str(_get(ds, "SeriesNumber", "") or "")
            grp.description = str(_get(ds, "SeriesDescription", "") or "")
            grp.modality = str(_get(ds, "Modality", "") or "")
        grp.frames.extend(frames)
    if progress:
        progress(len(paths), len(paths))
    return scan


def choose_series(scan: Scan, series_uid: str | None = None) -> tuple[SeriesGroup, list[str]]:
    """The series to build and notes saying which was chosen and which others exist."""
    usable = {uid: g for uid, g in scan.series.items() if g.frames or g.problems}
    if not usable:
        why = f"no DICOM image found in {scan.folder} ({scan.file_count} files looked at"
        if scan.broken:
            path, reason = scan.broken[0]
            why += f"; {len(scan.broken)} damaged DICOM file(s), e.g. {path}: {reason}"
        raise DicomError(why + ")")
    if series_uid:
        grp = usable.get(series_uid.strip())
        if grp is None:
            listing = "; ".join(g.label() for g in _ordered(usable))
            raise DicomError(
                f"series {series_uid} is not in {scan.folder}; series found: {listing}"
            )
        how = "as asked"
    else:
        candidates = [g for g in _ordered(usable) if not g.localizer] or _ordered(usable)
        grp = candidates[0]
        how = "the largest"
    if grp.problems:
        raise DicomError(grp.problems[0])
    notes = [f"series {grp.label()} ({how})"]
    others = [g for g in _ordered(usable) if g.uid != grp.uid]
    if others:
        notes.append(
            "other series (use --series UID to choose): " + "; ".join(g.label() for g in others)
        )
    return grp, notes


def _ordered(groups: dict[str, SeriesGroup]) -> list[SeriesGroup]:
    return sorted(groups.values(), key=lambda g: (-len(g.frames), g.number, g.uid))


# ---------------------------------------------------------------------------------- geometry


def _name(frame: Frame) -> str:
    return frame.path if frame.frame is None else f"{frame.path} (frame {frame.frame + 1})"


def _fmt(v) -> str:
    return "(" + ", ".join(f"{x:.4g}" for x in v) + ")"


def check_geometry(frames: list[Frame], series: str) -> tuple[list[Frame], np.ndarray, list[str]]:
    """Sort the frames along the slice normal, check the stack; return (frames, affine, notes)."""
    notes: list[str] = []
    if any(not f.localizer for f in frames) and any(f.localizer for f in frames):
        dropped = [f for f in frames if f.localizer]
        frames = [f for f in frames if not f.localizer]
        notes.append(f"left out {len(dropped)} localizer image(s) of the series")
    for f in frames:
        missing = [
            what
            for what, value in (
                ("ImagePositionPatient", f.position),
                ("ImageOrientationPatient", f.orientation),
                ("PixelSpacing", f.pixel_spacing),
            )
            if value is None
        ]
        if missing:
            raise DicomError(
                f"{_name(f)}: lacks {', '.join(missing)} (or holds an unreadable value), so its "
                "place in the patient is unknown; the file may be truncated or not a cross-section"
            )
        if f.rows < 1 or f.columns < 1:
            raise DicomError(f"{_name(f)}: image size {f.rows}x{f.columns} is not valid")
        if f.samples != 1:
            raise DicomError(
                f"{_name(f)}: colour image ({f.samples} samples per pixel); only greyscale "
                "CT/MR images can be built into a volume"
            )
        if not np.isfinite([f.slope, f.intercept]).all() or f.slope == 0:
            raise DicomError(f"{_name(f)}: RescaleSlope {f.slope} is not usable")
        ps = f.pixel_spacing
        if ps[0] <= 0 or ps[1] <= 0:
            raise DicomError(f"{_name(f)}: PixelSpacing {_fmt(ps)} must be positive")
    if len(frames) < MIN_SLICES:
        raise DicomError(
            f"series {series} has only {len(frames)} image ({_name(frames[0])}): a single slice "
            f"is not a volume; at least {MIN_SLICES} parallel slices are needed"
        )
    first = frames[0]
    ori0 = np.array(first.orientation)
    odd = [f for f in frames if np.abs(np.array(f.orientation) - ori0).max() > ORIENTATION_TOL]
    if odd:
        same = len(frames) - len(odd)
        raise DicomError(
            f"series {series} mixes slice orientations: {same} image(s) with orientation "
            f"{_fmt(ori0)} (e.g. {_name(first)}) and {len(odd)} with other orientations "
            f"(e.g. {_name(odd[0])}: {_fmt(odd[0].orientation)}); choose a series with one "
            "orientation"
        )
    for f in frames:
        if (f.rows, f.columns) != (first.rows, first.columns):
            raise DicomError(
                f"series {series}: image sizes differ: {first.columns}x{first.rows} in "
                f"{_name(first)} and {f.columns}x{f.rows} in {_name(f)}"
            )
        if (
            max(abs(a - b) for a, b in zip(f.pixel_spacing, first.pixel_spacing, strict=True))
            > 1e-4
        ):
            raise DicomError(
                f"series {series}: pixel spacing differs: {_fmt(first.pixel_spacing)} in "
                f"{_name(first)} and {_fmt(f.pixel_spacing)} in {_name(f)}"
            )
    row = ori0[:3]
    col = ori0[3:]
    if (
        abs(np.linalg.norm(row) - 1) > 1e-2
        or abs(np.linalg.norm(col) - 1) > 1e-2
        or abs(float(row @ col)) > 1e-2
    ):
        raise DicomError(
            f"{_name(first)}: ImageOrientationPatient {_fmt(ori0)} is not two perpendicular unit "
            "vectors"
        )
    row = row / np.linalg.norm(row)
    col = col / np.linalg.norm(col)
    normal = np.cross(row, col)
    normal /= np.linalg.norm(normal)
    pos = np.array([f.position for f in frames], dtype=np.float64)
    along = pos @ normal
    order = np.argsort(along, kind="stable")
    frames = [frames[n] for n in order]
    pos = pos[order]
    along = along[order]
    gaps = np.diff(along)
    for n, gap in enumerate(gaps):
        if gap < 1e-3:
            raise DicomError(
                f"series {series}: two images at the same position {along[n]:.3f} mm along the "
                f"slice normal ({_name(frames[n])} and {_name(frames[n + 1])}); the series holds "
                "more than one volume (time points, echoes or a repeated scan), which cannot be "
                "built; export one volume per series"
            )
    step = float(np.median(gaps))
    tol = max(0.01, 0.01 * step)
    for n, gap in enumerate(gaps):
        if abs(gap - step) <= tol:
            continue
        ratio = gap / step
        where = (
            f"between {_name(frames[n])} at {along[n]:.3f} mm and {_name(frames[n + 1])} at "
            f"{along[n + 1]:.3f} mm"
        )
        if ratio > 1.5 and abs(ratio - round(ratio)) < 0.1:
            missing = int(round(ratio)) - 1
            raise DicomError(
                f"series {series}: {missing} slice(s) missing {where} (gap {gap:.3f} mm, slice "
                f"spacing {step:.3f} mm); the series is incomplete: export it again"
            )
        raise DicomError(
            f"series {series}: slice spacing is not uniform: gap of {gap:.3f} mm {where}, while "
            f"most gaps are {step:.3f} mm"
        )
    # Stack axis from the actual positions: a sheared stack (gantry tilt) is refused.
    n = len(frames)
    kvec = (pos[-1] - pos[0]) / (n - 1)
    inplane = kvec - (kvec @ normal) * normal
    angle = float(np.degrees(np.arctan2(np.linalg.norm(inplane), kvec @ normal)))
    if angle > TILT_TOL_DEG:
        tag = f" (GantryDetectorTilt {first.tilt:g} degrees)" if first.tilt else ""
        raise DicomError(
            f"series {series}: the slices are sheared by {angle:.2f} degrees against their "
            f"normal: a gantry-tilt acquisition{tag}; tilted stacks are not supported: "
            "resample the series (e.g. in 3D Slicer) or use a non-tilted reconstruction"
        )
    expected = pos[0] + np.outer(np.arange(n), kvec)
    off = np.linalg.norm(pos - expected, axis=1)
    worst = int(np.argmax(off))
    if off[worst] > max(0.05, 0.25 * min(first.pixel_spacing)):
        raise DicomError(
            f"series {series}: {_name(frames[worst])} lies {off[worst]:.2f} mm off the line of "
            "the other slices; the stack is not regular"
        )
    affine = np.eye(4)
    affine[:3, 0] = row * first.pixel_spacing[1]  # i: along a row, spacing between columns
    affine[:3, 1] = col * first.pixel_spacing[0]  # j: down a column, spacing between rows
    affine[:3, 2] = kvec
    affine[:3, 3] = pos[0]
    return frames, affine, notes


# ------------------------------------------------------------------------------------ pixels


def _decode(path: str, ds) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ds.pixel_array
    except Exception as exc:  # decoders raise many kinds; name the file and the cause
        ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        syntax = f"{ts.name} ({ts})" if ts is not None else "unknown transfer syntax"
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = ""
        if ts is not None and ts.is_compressed:
            hint = (
                "; compressed images need the pylibjpeg plugins (pip install pylibjpeg "
                "pylibjpeg-libjpeg pylibjpeg-openjpeg pylibjpeg-rle)"
            )
        raise DicomError(
            f"{path}: cannot decode the pixel data ({syntax}): {text}; the file may be "
            f"truncated or damaged{hint}"
        ) from exc


def load_frames(frames: list[Frame], progress: ProgressFn | None = None) -> np.ndarray:
    """Decode and rescale the frames into array[k, j, i]: int16 when the rescale is exact (int32
    if values need it), else float32."""
    import pydicom

    exact = all(f.slope == 1.0 and float(f.intercept).is_integer() for f in frames)
    first = frames[0]
    shape = (len(frames), first.rows, first.columns)
    out = np.empty(shape, dtype=np.int16 if exact else np.float32)
    cache: dict[str, np.ndarray] = {}  # multi-frame files decode once
    for n, f in enumerate(frames):
        if progress:
            progress(n, len(frames))
        if f.frame is None or f.path not in cache:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ds = pydicom.dcmread(f.path)
            except Exception as exc:
                raise DicomError(f"{f.path}: cannot be read ({type(exc).__name__}: {exc})") from exc
            pixels = _decode(f.path, ds)
            if f.frame is not None:
                cache.clear()
                cache[f.path] = pixels
        else:
            pixels = cache[f.path]
        img = pixels if f.frame is None else (pixels if pixels.ndim == 2 else pixels[f.frame])
        if img.shape != (first.rows, first.columns):
            raise DicomError(
                f"{_name(f)}: decoded image is {img.shape[1]}x{img.shape[0]}, header says "
                f"{first.columns}x{first.rows}"
            )
        if exact:
            vals = img.astype(np.int32) + int(f.intercept)
            if out.dtype == np.int16 and (vals.min() < -32768 or vals.max() > 32767):
                out = out.astype(np.int32)  # rare: values beyond int16, keep them exact
            out[n] = vals
        else:
            out[n] = img.astype(np.float32) * np.float32(f.slope) + np.float32(f.intercept)
    if progress:
        progress(len(frames), len(frames))
    return out


# ------------------------------------------------------------------------------------- header


def _iso_date(value) -> str:
    s = str(value or "").strip()
    if len(s) == 8 and s.isdigit():
        y, m, d = int(s[:4]), int(s[4:6]), int(s[6:])
        if 1 <= m <= 12 and 1 <= d <= 31:
            return f"{y:04d}-{m:02d}-{d:02d}"
    return ""


def read_info(path: str, series_uid: str) -> SeriesInfo:
    import pydicom

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
    sex = str(_get(ds, "PatientSex", "") or "").strip().upper()
    return SeriesInfo(
        series_uid=series_uid,
        series_number=str(_get(ds, "SeriesNumber", "") or ""),
        series_description=str(_get(ds, "SeriesDescription", "") or ""),
        modality=str(_get(ds, "Modality", "") or ""),
        patient_name=person_name(_get(ds, "PatientName", "")),
        patient_id=str(_get(ds, "PatientID", "") or "").strip(),
        birth_date=_iso_date(_get(ds, "PatientBirthDate")),
        sex=sex if sex in ("F", "M", "O") else "",
        study_uid=str(_get(ds, "StudyInstanceUID", "") or ""),
        study_date=_iso_date(_get(ds, "StudyDate")),
        study_description=str(_get(ds, "StudyDescription", "") or ""),
        study_id=str(_get(ds, "StudyID", "") or ""),
        accession_number=str(_get(ds, "AccessionNumber", "") or ""),
        manufacturer=str(_get(ds, "Manufacturer", "") or ""),
        body_part=str(_get(ds, "BodyPartExamined", "") or ""),
    )


# -------------------------------------------------------------------------------------- entry


def read_series(
    folder,
    series_uid: str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> Volume:
    """Scan `folder`, choose the series, check it and load it as a Volume.

    `progress(stage, done, total)` is called with stage "scan" and then "read".
    """
    scan = scan_folder(folder, (lambda d, t: progress("scan", d, t)) if progress else None)
    grp, notes = choose_series(scan, series_uid)
    mine = {f.path for f in grp.frames} | {grp.first_path}
    for path, reason in scan.broken:
        if path in mine:
            raise DicomError(f"{path}: {reason}")
    unknown = [(p, r) for p, r in scan.broken if p not in mine]
    if unknown:
        path, reason = unknown[0]
        more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
        raise DicomError(
            f"{path}: {reason}{more}; it cannot be told whether this file belongs to the series, "
            "so the series may be incomplete: remove or replace the damaged file"
        )
    frames, affine, geo_notes = check_geometry(list(grp.frames), grp.uid)
    notes += geo_notes
    if scan.ignored:
        notes.append(f"ignored {len(scan.ignored)} file(s) that are not DICOM images")
    array = load_frames(frames, (lambda d, t: progress("read", d, t)) if progress else None)
    info = read_info(frames[0].path, grp.uid)
    files = tuple(dict.fromkeys(f.path for f in frames))
    return Volume(array=array, affine=affine, info=info, files=files, notes=tuple(notes))
