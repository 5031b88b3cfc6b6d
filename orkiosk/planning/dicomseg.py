"""DICOM Segmentation objects (SEG), read with highdicom, as label volumes on their own grid.

Each segment becomes a layer of its own, so overlapping segments stay separate structures. Names
come from the Segment Label, colours from the Recommended Display CIELab Value (converted to sRGB
by highdicom; the plan stores linear RGB, see colors.py), the terminology from the Segmented
Property Type. A FRACTIONAL segmentation is thresholded at 0.5 (with a note); a LABELMAP one
(its own SOP Class) gives each segment number a layer, as a BINARY one. highdicom does not
check that a SEG belongs to the CT: here the Frame of Reference UID must match the CT's, and when
the SEG names the series it was made from, that must be the CT's series; a mismatch is refused
naming both UIDs.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from pathlib import Path

import numpy as np

from orkiosk.planning.dicom.volume import Volume
from orkiosk.planning.labels import LabelError, LabelVolume, Segment, check_affine, check_voxels

# Segmentation Storage (BINARY, FRACTIONAL) and Label Map Segmentation Storage (LABELMAP: one
# segment number per voxel, DICOM 2024), both read by highdicom
SEG_SOP_CLASSES = ("1.2.840.10008.5.1.4.1.1.66.4", "1.2.840.10008.5.1.4.1.1.66.7")
FRACTIONAL_THRESHOLD = 0.5
_READ_ERRORS = (ValueError, AttributeError, KeyError, TypeError, RuntimeError, IndexError, OSError)


def read_dicom_seg(path, volume: Volume) -> LabelVolume:
    """The segments of a DICOM SEG as layers [segment, k, j, i] with the affine -> LPS mm."""
    import highdicom as hd
    from pydicom.errors import InvalidDicomError

    p = Path(path)
    try:
        seg = hd.seg.segread(str(p))
    except (InvalidDicomError, *_READ_ERRORS) as exc:
        raise LabelError(f"{p}: not a DICOM Segmentation highdicom can read ({exc})") from exc
    check_belongs_to(p, seg, volume, "segmentation")
    numbers = list(seg.segment_numbers)
    if not numbers:
        raise LabelError(f"{p}: the DICOM SEG holds no segment")
    check_voxels((seg.Rows, seg.Columns, int(getattr(seg, "NumberOfFrames", 1)), len(numbers)), p)
    try:
        vol = seg.get_volume(
            segment_numbers=numbers, combine_segments=False, rescale_fractional=True
        )
    except _READ_ERRORS as exc:
        raise LabelError(
            f"{p}: the segmentation's frames do not form a regular volume ({exc})"
        ) from exc
    notes = []
    array = np.asarray(vol.array)
    if array.ndim == 3:
        array = array[..., np.newaxis]
    if str(seg.SegmentationType).upper() == "FRACTIONAL":
        layers = (array >= FRACTIONAL_THRESHOLD).astype(np.uint8)
        notes.append(
            f"{p.name}: fractional segmentation thresholded at {FRACTIONAL_THRESHOLD:g} "
            "(a voxel at least half inside belongs to the segment)"
        )
    else:
        layers = (array > 0).astype(np.uint8)
    layers = np.ascontiguousarray(np.moveaxis(layers, -1, 0))  # [segment, slice, row, column]
    hd_affine = np.asarray(vol.affine, dtype=np.float64)
    affine = (
        hd_affine.copy()
    )  # highdicom: (slice, row, column) -> LPS; ours: (i, j, k) = (col, row, slice)
    affine[:3, 0], affine[:3, 2] = hd_affine[:3, 2], hd_affine[:3, 0]
    check_affine(affine, p)
    segments = tuple(_segment(seg, number, layer, p) for layer, number in enumerate(numbers))
    empty = [s.name for s, lay in zip(segments, layers, strict=True) if not lay.any()]
    if empty:
        notes.append(f"{p.name}: segment(s) {', '.join(empty)} hold no voxel; left out")
        keep = [n for n, lay in enumerate(layers) if lay.any()]
        if not keep:
            raise LabelError(f"{p}: every segment of the DICOM SEG is empty")
        segments = tuple(replace(segments[n], layer=m) for m, n in enumerate(keep))
        layers = layers[keep]
    return LabelVolume(str(p), layers, affine, segments, tuple(notes), kind="seg")


def _segment(seg, number: int, layer: int, path: Path) -> Segment:
    import highdicom as hd

    desc = seg.get_segment_description(number)
    name = str(getattr(desc, "SegmentLabel", "") or f"Segment {number}").strip()
    color = None
    lab = getattr(desc, "RecommendedDisplayCIELabValue", None)
    if lab is not None:
        try:
            rgb = hd.color.CIELabColor.from_dicom_value([int(v) for v in lab]).to_rgb(clip=True)
        except (ValueError, TypeError) as exc:
            raise LabelError(
                f"{path}: segment {number} ({name}) has an unreadable CIELab colour ({exc})"
            ) from exc
        color = tuple(float(c) / 255.0 for c in rgb)
    term = ""
    with contextlib.suppress(AttributeError, IndexError, KeyError, ValueError):
        term = str(desc.segmented_property_type.meaning)
    return Segment(value=1, name=name, color=color, layer=layer, terminology=term)


def check_belongs_to(path: Path, ds, volume: Volume, what: str) -> None:
    """The object's Frame of Reference and referenced series must be the CT's."""
    ct_for = volume.info.frame_of_reference_uid
    own_for = str(getattr(ds, "FrameOfReferenceUID", "") or "")
    if not own_for:
        for item in getattr(ds, "ReferencedFrameOfReferenceSequence", []) or []:
            own_for = str(getattr(item, "FrameOfReferenceUID", "") or "")
            break
    if ct_for and own_for != ct_for:
        raise LabelError(
            f"{path}: the {what} is in Frame of Reference {own_for or '(none)'}, the CT in "
            f"{ct_for}: it was not made on this CT (another scan or patient?)"
        )
    series = referenced_series(ds)
    if series and volume.info.series_uid not in series:
        raise LabelError(
            f"{path}: the {what} was made on series {', '.join(sorted(series))}, not on the CT "
            f"series {volume.info.series_uid}; choose that series or the right file"
        )


def referenced_series(ds) -> set[str]:
    """Series Instance UIDs the object says it was made from (SEG or RTSTRUCT layout)."""
    out = {
        str(s.SeriesInstanceUID)
        for s in getattr(ds, "ReferencedSeriesSequence", []) or []
        if getattr(s, "SeriesInstanceUID", None)
    }
    for fr in getattr(ds, "ReferencedFrameOfReferenceSequence", []) or []:
        for st in getattr(fr, "RTReferencedStudySequence", []) or []:
            for se in getattr(st, "RTReferencedSeriesSequence", []) or []:
                if getattr(se, "SeriesInstanceUID", None):
                    out.add(str(se.SeriesInstanceUID))
    return out
