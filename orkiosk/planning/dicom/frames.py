"""One 2-D image of a series (a single-frame file or one frame of a multi-frame file) and the
header fields it is placed and scaled by; tolerant readers of single header elements."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orkiosk.planning.dicom.errors import DicomError


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


def frame_name(frame: Frame) -> str:
    """The file, and the frame number in a multi-frame file, for messages."""
    return frame.path if frame.frame is None else f"{frame.path} (frame {frame.frame + 1})"


# ---------------------------------------------------------------------------- header elements


def floats(value, n: int) -> tuple[float, ...] | None:
    if value is None:
        return None
    try:
        vals = tuple(float(v) for v in (value if isinstance(value, list | tuple) else list(value)))
    except (TypeError, ValueError):
        return None
    if len(vals) != n or not all(np.isfinite(vals)):
        return None
    return vals


def get(ds, name, default=None):
    try:
        value = ds.get(name, default)
    except Exception:  # a damaged element: treat as absent
        return default
    return default if value is None else value


def num(ds, name, default: float) -> float:
    value = get(ds, name)
    try:
        return float(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default


def _is_localizer(ds) -> bool:
    image_type = get(ds, "ImageType", [])
    try:
        return any(str(v).upper() == "LOCALIZER" for v in image_type)
    except TypeError:
        return False


# ----------------------------------------------------------------------------------- frames


def frames_of(path: str, ds) -> list[Frame]:
    """All frames of one data set, with their geometry (None where absent)."""
    common = dict(
        rows=int(num(ds, "Rows", 0)),
        columns=int(num(ds, "Columns", 0)),
        samples=int(num(ds, "SamplesPerPixel", 1)),
        localizer=_is_localizer(ds),
        tilt=num(ds, "GantryDetectorTilt", 0.0),
    )
    sop = str(get(ds, "SOPInstanceUID", "")) or path
    nframes = int(num(ds, "NumberOfFrames", 1))
    if nframes <= 1 and "PerFrameFunctionalGroupsSequence" not in ds:
        return [
            Frame(
                path=path,
                frame=None,
                sop_uid=sop,
                position=floats(get(ds, "ImagePositionPatient"), 3),
                orientation=floats(get(ds, "ImageOrientationPatient"), 6),
                pixel_spacing=floats(get(ds, "PixelSpacing"), 2),
                slope=num(ds, "RescaleSlope", 1.0),
                intercept=num(ds, "RescaleIntercept", 0.0),
                instance=int(num(ds, "InstanceNumber", 0)),
                **common,
            )
        ]
    return _multi_frames(path, ds, sop, nframes, common)


def _multi_frames(path: str, ds, sop: str, nframes: int, common: dict) -> list[Frame]:
    """Enhanced multi-frame: shared and per-frame functional groups."""
    shared_seq = get(ds, "SharedFunctionalGroupsSequence")
    shared = shared_seq[0] if shared_seq else None
    per_frame = get(ds, "PerFrameFunctionalGroupsSequence")
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
        rescale = group(item, "PixelValueTransformationSequence") or ds
        frames.append(
            Frame(
                path=path,
                frame=n,
                sop_uid=f"{sop}#{n}",
                position=floats(get(pos, "ImagePositionPatient"), 3) if pos else None,
                orientation=floats(get(ori, "ImageOrientationPatient"), 6) if ori else None,
                pixel_spacing=floats(get(meas, "PixelSpacing"), 2) if meas else None,
                slope=num(rescale, "RescaleSlope", 1.0),
                intercept=num(rescale, "RescaleIntercept", 0.0),
                instance=n + 1,
                **common,
            )
        )
    return frames
