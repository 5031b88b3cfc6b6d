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
    """The frames of one data set to build, with their geometry (None where absent)."""
    return frames_and_notes(path, ds)[0]


def frames_and_notes(path: str, ds) -> tuple[list[Frame], list[str]]:
    """The frames of one data set to build, and notes (e.g. which stack of a multi-frame file)."""
    common = dict(
        rows=int(num(ds, "Rows", 0)),
        columns=int(num(ds, "Columns", 0)),
        samples=int(num(ds, "SamplesPerPixel", 1)),
        localizer=_is_localizer(ds),
        tilt=num(ds, "GantryDetectorTilt", 0.0),
    )
    sop = str(get(ds, "SOPInstanceUID", "") or "").strip() or path
    nframes = int(num(ds, "NumberOfFrames", 1))
    if nframes <= 1 and "PerFrameFunctionalGroupsSequence" not in ds:
        single = [
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
        return single, []
    frames, stacks, times = _multi_frames(path, ds, sop, nframes, common)
    frames, times, notes = _one_stack(path, frames, stacks, times)
    frames, more = _one_time(path, frames, times)
    return frames, notes + more


def _multi_frames(path: str, ds, sop: str, nframes: int, common: dict):
    """Enhanced multi-frame: shared and per-frame functional groups. Returns the frames and the
    Stack ID and Temporal Position Index of each ("" / None where the frame names none)."""
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

    frames, stacks, times = [], [], []
    for n, item in enumerate(per_frame):
        content = group(item, "FrameContentSequence")
        stacks.append(str(get(content, "StackID", "") or "").strip() if content else "")
        t = num(content, "TemporalPositionIndex", -1.0) if content else -1.0
        times.append(None if t < 0 else int(t))
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
    return frames, stacks, times


def _one_stack(path: str, frames: list[Frame], stacks: list[str], times: list):
    """A file may hold several stacks (Stack ID in the Frame Content): build the largest, with a
    note naming the others."""
    counts: dict[str, int] = {}
    for s in stacks:
        counts[s] = counts.get(s, 0) + 1
    if len(counts) <= 1:
        return frames, times, []
    chosen = max(counts, key=lambda s: (counts[s], -list(counts).index(s)))
    ids = sorted(counts, key=lambda s: (not s.isdigit(), int(s) if s.isdigit() else 0, s))
    listing = ", ".join(f"stack {s or '(none)'}: {counts[s]} frames" for s in ids)
    note = (
        f"{path} holds {len(counts)} stacks ({listing}); built stack {chosen or '(none)'}, "
        "the largest"
    )
    keep = [n for n, s in enumerate(stacks) if s == chosen]
    return [frames[n] for n in keep], [times[n] for n in keep], [note]


def _one_time(path: str, frames: list[Frame], times: list) -> tuple[list[Frame], list[str]]:
    """A dynamic acquisition repeats the stack at several Temporal Position Indexes: build the
    first, with a note."""
    known = sorted({t for t in times if t is not None})
    if len(known) <= 1:
        return frames, []
    first = known[0]
    kept = [f for f, t in zip(frames, times, strict=True) if t == first]
    note = (
        f"{path} holds {len(known)} temporal positions (a dynamic acquisition); built the first "
        f"(Temporal Position Index {first}, {len(kept)} frames)"
    )
    return kept, [note]
