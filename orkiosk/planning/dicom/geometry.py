"""Checks of a stack of frames before it becomes a volume (one orientation, one grid, at least two
slices), and the regular grid it is placed on: the affine (i, j, k, 1) -> LPS mm.

Real scanners do not always write a perfect stack. What is accepted, resampled or refused
(figures in the constants below):
- positions rounded by the scanner (a few hundredths of a mm off a regular grid) are placed on the
  least-squares grid of all positions, with a note naming the largest deviation;
- a missing slice or a spacing that changes within the series is resampled onto a regular grid at
  the finest spacing from the true positions (linear interpolation between the two neighbouring
  acquired slices, as 3D Slicer's acquisition geometry regularisation does), with a note; a gap
  too wide to interpolate honestly is refused, named;
- a gantry tilt (a stack sheared against its slice normal) is de-sheared: each slice is shifted
  in-plane onto an orthogonal grid, with a note giving the angle; beyond a scanner's tilt range it
  is refused;
- two images at one position (several volumes in one series) are refused.
The array work is regularise.py's; this module decides it (StackPlan).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orkiosk.planning.dicom.errors import DicomError
from orkiosk.planning.dicom.frames import Frame
from orkiosk.planning.dicom.frames import frame_name as _name

ORIENTATION_TOL = 1e-3  # direction cosines equal within this
MIN_SLICES = 2
# Below this the shear is kept in the affine (a skewed but faithful grid); above it the stack is a
# gantry tilt and is de-sheared.
TILT_TOL_DEG = 0.1
# CT gantries tilt at most about +-30 degrees; a steeper shear is not a tilt but a stack put
# together wrongly (or a scout), and de-shearing it would push most of each slice out of the field.
MAX_TILT_DEG = 30.0
# Rounded positions: 3D Slicer warns when two spacings differ by more than 0.01 mm
# (DICOMScalarVolumePlugin spacingEpsilon=1e-2) and then loads the slices on a regular grid anyway;
# we place them on the least-squares grid when no slice is further from it than 10 % of the slice
# spacing and 0.5 mm, or than 0.1 mm whatever the spacing (positions written with one decimal are
# up to 0.087 mm off along an oblique normal): then no voxel moves by more than a tenth of a slice
# or 0.1 mm, whichever is more, and never by more than 0.5 mm (the surfaces are held to 0.5 mm). The
# MR that brought this (gaps 6.958, 6.972, 7.057, 7.071 mm) is 0.05 mm off its grid, under 1 % of
# its 7 mm slices. The note is written above Slicer's 0.01 mm.
ROUNDING_REL = 0.10
ROUNDING_MM = 0.5
ROUNDING_FLOOR_MM = 0.1
NOTE_DEVIATION_MM = 0.01
# Gaps: linear interpolation across one missing slice (gap 2x the spacing), or across the 2:1 change
# of spacing head CTs use (2.5 mm at the skull base, 5 mm above), makes a slice from its two
# neighbours, as 3D Slicer's regularisation does. Two missing slices side by side (3x) or a gap over
# 15 mm is refused: a 10 mm vessel or nodule could lie wholly inside it and interpolation would draw
# something that was never measured.
MAX_GAP_RATIO = 2.5
MAX_GAP_MM = 15.0
OFF_LINE_MM = 0.1  # a slice further than this (and a quarter pixel) off the stack's line: refused


@dataclass(frozen=True)
class StackPlan:
    """What check_geometry decided: the sorted frames, the output grid and, if the acquired slices
    are not on it, how to make each output slice.

    Output slice k = (1 - weight[k]) * deshear(acquired[lower[k]]) + weight[k] *
    deshear(acquired[lower[k] + 1]), where deshear moves the content of acquired slice n by
    shift_ji[n] pixels (rows, columns): out[j, i] = in[j - shift_ji[n, 0], i - shift_ji[n, 1]]
    (the slice lies that far from the grid's in-plane origin).
    """

    frames: list[Frame]
    affine: np.ndarray
    notes: list[str]
    lower: np.ndarray | None = None  # (n_out,) int; None: the acquired slices are the grid
    weight: np.ndarray | None = None  # (n_out,) float in [0, 1]
    shift_ji: np.ndarray | None = None  # (n_acquired, 2) pixels; None: no de-shearing

    @property
    def resampled(self) -> bool:
        return self.lower is not None or self.shift_ji is not None


def _fmt(v) -> str:
    return "(" + ", ".join(f"{x:.4g}" for x in v) + ")"


def check_geometry(frames: list[Frame], series: str) -> StackPlan:
    """Sort the frames along the slice normal, check the stack and plan its regular grid."""
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
    pos, s = pos[order], along[order]
    _refuse_duplicates(frames, s, series)
    di, dj = first.pixel_spacing[1], first.pixel_spacing[0]
    # The stack's line: in-plane offset (along row and column) as a straight function of the
    # position along the normal, fitted by least squares over all slices.
    design = np.stack([np.ones_like(s), s], axis=1)
    inplane = np.stack([pos @ row, pos @ col], axis=1)
    coef, *_ = np.linalg.lstsq(design, inplane, rcond=None)
    fitted = design @ coef
    off = np.linalg.norm(inplane - fitted, axis=1)
    worst = int(np.argmax(off))
    if off[worst] > max(OFF_LINE_MM, 0.25 * min(di, dj)):
        raise DicomError(
            f"series {series}: {_name(frames[worst])} lies {off[worst]:.2f} mm off the line of "
            "the other slices; the stack is not regular"
        )
    shear = coef[1]  # in-plane mm (row, column) per mm along the normal
    tilt = float(np.degrees(np.arctan(np.linalg.norm(shear))))
    if tilt > MAX_TILT_DEG:
        raise DicomError(
            f"series {series}: the slices are sheared by {tilt:.1f} degrees against their normal, "
            f"beyond any gantry tilt (at most {MAX_TILT_DEG:g} degrees); the stack cannot be "
            "straightened honestly: check that the series holds one stack"
        )
    grid_s, lower, weight, step = _plan_along(frames, s, series, notes)
    affine = np.eye(4)
    affine[:3, 0] = row * di  # i: along a row, spacing between columns
    affine[:3, 1] = col * dj  # j: down a column, spacing between rows
    shift_ji = None
    if tilt <= TILT_TOL_DEG:
        # Keep the slight shear in the affine: the grid follows the fitted line of the stack.
        direction = normal + shear[0] * row + shear[1] * col
        affine[:3, 2] = direction * step
        affine[:3, 3] = grid_s[0] * direction + coef[0, 0] * row + coef[0, 1] * col
    else:
        # De-shear about the middle of the stack (the least in-plane shift at both ends).
        mid = 0.5 * (s[0] + s[-1])
        ref = coef[0] + shear * mid
        affine[:3, 2] = normal * step
        affine[:3, 3] = grid_s[0] * normal + ref[0] * row + ref[1] * col
        shift_mm = fitted - ref  # acquired slice n sits this far (row, col) from the grid
        # to 1/1000 pixel: an edge column with a 1e-12 shift must not fall off the image
        shift_ji = np.round(np.stack([shift_mm[:, 1] / dj, shift_mm[:, 0] / di], axis=1), 3)
        ends = float(np.abs(shift_mm).max())
        tag = f" (GantryDetectorTilt {first.tilt:g} degrees)" if first.tilt else ""
        notes.append(
            f"gantry tilt of {tilt:.2f} degrees{tag}: slices shifted in-plane (up to "
            f"{ends:.1f} mm at the ends of the stack) onto an orthogonal grid by linear "
            "interpolation"
        )
    return StackPlan(frames, affine, notes, lower, weight, shift_ji)


def _refuse_duplicates(frames: list[Frame], s: np.ndarray, series: str) -> None:
    for n, gap in enumerate(np.diff(s)):
        if gap < 1e-3:
            raise DicomError(
                f"series {series}: two images at the same position {s[n]:.3f} mm along the "
                f"slice normal ({_name(frames[n])} and {_name(frames[n + 1])}); the series holds "
                "more than one volume (time points, echoes or a repeated scan), which cannot be "
                "built; export one volume per series"
            )


def rounding_tolerance(step: float) -> float:
    """How far (mm) a slice may lie off a regular grid of `step` and still count as on it."""
    return max(ROUNDING_FLOOR_MM, min(ROUNDING_REL * step, ROUNDING_MM))


def _plan_along(frames: list[Frame], s: np.ndarray, series: str, notes: list[str]):
    """The output grid along the normal: (grid positions, lower, weight, step); lower and weight
    are None when the acquired slices are the grid (within the rounding tolerance)."""
    n = len(s)
    idx = np.arange(n, dtype=np.float64)
    slope, icpt = np.polyfit(idx, s, 1)  # least-squares line through all positions
    dev = np.abs(s - (icpt + slope * idx))
    if dev.max() <= rounding_tolerance(slope):
        if dev.max() > NOTE_DEVIATION_MM:
            w = int(np.argmax(dev))
            notes.append(
                f"slice positions lie up to {dev.max():.3f} mm off a regular {slope:.4g} mm grid "
                f"(largest at {_name(frames[w])}; positions rounded by the scanner): placed on "
                "the least-squares grid of all positions"
            )
        return icpt + slope * idx, None, None, float(slope)
    gaps = np.diff(s)
    fine = float(np.median(gaps[gaps <= 1.2 * gaps.min()]))
    limit = min(MAX_GAP_RATIO * fine, MAX_GAP_MM)
    big = int(np.argmax(gaps))
    where = (
        f"between {_name(frames[big])} at {s[big]:.3f} mm and {_name(frames[big + 1])} at "
        f"{s[big + 1]:.3f} mm"
    )
    if gaps[big] > limit:
        ratio = gaps[big] / fine
        missing = (
            f"{int(round(ratio)) - 1} slice(s) missing "
            if ratio > 1.5 and abs(ratio - round(ratio)) < 0.1
            else "a gap "
        )
        raise DicomError(
            f"series {series}: {missing}{where} (gap {gaps[big]:.3f} mm, slice spacing "
            f"{fine:.3f} mm); a gap over {limit:.3g} mm ({MAX_GAP_RATIO:g} slices or "
            f"{MAX_GAP_MM:g} mm) cannot be filled honestly by interpolation: the series is "
            "incomplete, export it again"
        )
    count = int(round((s[-1] - s[0]) / fine)) + 1
    step = (s[-1] - s[0]) / (count - 1)
    grid = s[0] + step * np.arange(count)
    upper = np.clip(np.searchsorted(s, grid, side="right"), 1, n - 1)
    lower = upper - 1
    weight = np.clip((grid - s[lower]) / (s[upper] - s[lower]), 0.0, 1.0)
    tol = rounding_tolerance(step)
    weight[np.abs(grid - s[lower]) <= tol] = 0.0  # on an acquired slice: taken as it is
    weight[np.abs(grid - s[upper]) <= tol] = 1.0
    # A missing slice: a gap that is a whole multiple of the spacing between two gaps of the
    # spacing itself. Coarse gaps side by side, or gaps that are no multiple: a varying spacing.
    mult = np.rint(gaps / fine).astype(int)
    whole = np.abs(gaps / fine - mult) < 0.1
    holes = [m for m in range(len(gaps)) if mult[m] > 1]
    isolated = all(
        whole[m] and all(mult[x] == 1 for x in (m - 1, m + 1) if 0 <= x < len(gaps)) for m in holes
    )
    what = []
    if holes and isolated and whole.all():
        for m in holes:
            what.append(
                f"{mult[m] - 1} slice(s) missing between {_name(frames[m])} at {s[m]:.3f} mm and "
                f"{_name(frames[m + 1])} at {s[m + 1]:.3f} mm"
            )
    else:
        what.append(
            f"slice spacing varies from {gaps.min():.3g} to {gaps.max():.3g} mm "
            f"(largest gap {where})"
        )
    notes.append(
        f"{'; '.join(what)}: resampled onto a regular {step:.4g} mm grid ({count} slices from "
        f"{n}) by linear interpolation between neighbouring slices"
    )
    return grid, lower, weight, float(step)


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
