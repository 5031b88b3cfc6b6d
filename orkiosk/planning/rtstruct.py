"""DICOM RT Structure Sets (RTSTRUCT), read with pydicom: the CLOSED_PLANAR contours of each ROI
rasterised on the CT grid in patient coordinates.

Each contour's points (LPS mm) are taken into the CT's voxel indices; a contour must lie in the
plane of one CT slice (within a tenth of the slice spacing), or it is refused with its ROI and z.
On its slice the polygon is filled with scikit-image (a voxel belongs when its centre lies inside);
several contours on one slice combine by exclusive or, so an inner contour is a hole, as RT
planning systems draw them. Each ROI becomes a label volume of its own, cropped to its voxels, with
its ROI Name and ROI Display Colour (sRGB 0..255). POINT and OPEN_PLANAR contours are not surfaces
and are left out with a note. The Frame of Reference and the referenced series must be the CT's.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from orkiosk.planning.dicom.volume import Volume
from orkiosk.planning.dicomseg import check_belongs_to
from orkiosk.planning.labels import LabelError, LabelVolume, Segment

OFF_SLICE = 0.1  # how far (in slices) a contour may lie from a CT slice plane


def read_rtstruct(path, volume: Volume) -> list[LabelVolume]:
    """One label volume per ROI with closed planar contours, on the CT's grid (cropped)."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    p = Path(path)
    try:
        ds = pydicom.dcmread(str(p))
        names = {
            int(r.ROINumber): str(getattr(r, "ROIName", "") or f"ROI {r.ROINumber}").strip()
            for r in getattr(ds, "StructureSetROISequence", []) or []
        }
    except (InvalidDicomError, OSError, ValueError, AttributeError, TypeError) as exc:
        raise LabelError(f"{p}: not an RT Structure Set pydicom can read ({exc})") from exc
    check_belongs_to(p, ds, volume, "structure set")
    out, notes = [], []
    for item in getattr(ds, "ROIContourSequence", []) or []:
        number = int(getattr(item, "ReferencedROINumber", 0) or 0)
        name = names.get(number, f"ROI {number}")
        mask, skipped = rasterise_roi(item, volume, f"{p}: ROI {name!r}")
        if skipped:
            notes.append(f"{p.name}: ROI {name!r}: {skipped} point/open contour(s) left out")
        if mask is None:
            notes.append(f"{p.name}: ROI {name!r} has no closed planar contour; left out")
            continue
        out.append(_cropped(p, mask, volume, name, _colour(item)))
    if not out:
        raise LabelError(f"{p}: the structure set holds no ROI with closed planar contours")
    first = out[0]
    out[0] = replace(first, notes=tuple(notes))
    return out


def rasterise_roi(item, volume: Volume, what: str) -> tuple[np.ndarray | None, int]:
    """The ROI's CLOSED_PLANAR contours filled on the CT grid -> (mask[k, j, i] or None, skipped)."""
    from skimage.draw import polygon2mask

    nk, nj, ni = volume.array.shape
    inv = np.linalg.inv(volume.affine)
    mask = None
    skipped = 0
    for contour in getattr(item, "ContourSequence", []) or []:
        if str(getattr(contour, "ContourGeometricType", "")).upper() != "CLOSED_PLANAR":
            skipped += 1
            continue
        try:
            pts = np.asarray(contour.ContourData, dtype=np.float64).reshape(-1, 3)
        except (AttributeError, ValueError) as exc:
            raise LabelError(f"{what}: a contour's points are unreadable ({exc})") from exc
        if len(pts) < 3 or not np.isfinite(pts).all():
            raise LabelError(f"{what}: a contour has fewer than 3 points or non-finite ones")
        ijk = pts @ inv[:3, :3].T + inv[:3, 3]
        k = float(np.round(ijk[:, 2].mean()))
        if np.abs(ijk[:, 2] - k).max() > OFF_SLICE:
            z = pts[:, 2].mean()
            raise LabelError(
                f"{what}: a contour near z = {z:.1f} mm does not lie in the plane of a CT slice; "
                "the structure set was drawn on another grid"
            )
        if not 0 <= k < nk:
            raise LabelError(
                f"{what}: a contour at slice {k:.0f} lies outside the CT (0..{nk - 1})"
            )
        if mask is None:
            mask = np.zeros((nk, nj, ni), dtype=bool)
        mask[int(k)] ^= polygon2mask((nj, ni), ijk[:, [1, 0]])
    if mask is not None and not mask.any():
        mask = None
    return mask, skipped


def _colour(item) -> tuple[float, float, float] | None:
    rgb = getattr(item, "ROIDisplayColor", None)
    try:
        vals = [min(max(float(v), 0.0), 255.0) / 255.0 for v in rgb][:3] if rgb else []
    except (TypeError, ValueError):
        vals = []
    return tuple(vals) if len(vals) == 3 else None


def _cropped(p: Path, mask: np.ndarray, volume: Volume, name, colour) -> LabelVolume:
    hit = np.argwhere(mask)
    lo, hi = hit.min(axis=0), hit.max(axis=0) + 1
    sub = mask[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]].astype(np.uint8)
    shift = np.eye(4)
    shift[:3, 3] = lo[::-1]  # (i, j, k) of the crop's first voxel
    seg = Segment(value=1, name=name, color=colour)
    return LabelVolume(str(p), sub, volume.affine @ shift, (seg,), kind="rtstruct")
