"""Checks of a stack of frames before it becomes a volume (one orientation, one grid, uniform
spacing, no missing slice, no gantry tilt), and the affine (i, j, k, 1) -> LPS mm it defines."""

from __future__ import annotations

import numpy as np

from orkiosk.planning.dicom.errors import DicomError
from orkiosk.planning.dicom.frames import Frame
from orkiosk.planning.dicom.frames import frame_name as _name

ORIENTATION_TOL = 1e-3  # direction cosines equal within this
MIN_SLICES = 2
TILT_TOL_DEG = 0.1  # a stack sheared by more than this is a gantry tilt


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
        _check_frame(f)
    if len(frames) < MIN_SLICES:
        raise DicomError(
            f"series {series} has only {len(frames)} image ({_name(frames[0])}): a single slice "
            f"is not a volume; at least {MIN_SLICES} parallel slices are needed"
        )
    _check_same_grid(frames, series)
    first = frames[0]  # before sorting: its spacing and tilt speak for the series
    row, col, normal = _axes(first)
    pos = np.array([f.position for f in frames], dtype=np.float64)
    along = pos @ normal
    order = np.argsort(along, kind="stable")
    frames = [frames[n] for n in order]
    pos = pos[order]
    _check_spacing(frames, along[order], series)
    kvec = _stack_axis(frames, pos, normal, first, series)
    affine = np.eye(4)
    affine[:3, 0] = row * first.pixel_spacing[1]  # i: along a row, spacing between columns
    affine[:3, 1] = col * first.pixel_spacing[0]  # j: down a column, spacing between rows
    affine[:3, 2] = kvec
    affine[:3, 3] = pos[0]
    return frames, affine, notes


def _check_frame(f: Frame) -> None:
    """One frame on its own: placed in the patient, a valid greyscale image, usable rescale."""
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


def _check_same_grid(frames: list[Frame], series: str) -> None:
    """All frames share the first one's orientation, matrix size and pixel spacing."""
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


def _axes(first: Frame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit row and column directions of the images and the slice normal (their cross product)."""
    ori0 = np.array(first.orientation)
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
    return row, col, normal


def _check_spacing(frames: list[Frame], along: np.ndarray, series: str) -> None:
    """Sorted positions along the normal: no two at one place, no missing slice, uniform gaps."""
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


def _stack_axis(
    frames: list[Frame], pos: np.ndarray, normal: np.ndarray, first: Frame, series: str
):
    """Stack axis (one slice step, mm) from the actual positions: a sheared stack (gantry tilt)
    or a slice off the line of the others is refused."""
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
    return kvec
