"""What `--labels FILE` may be: a labelmap (NRRD, 3D Slicer .seg.nrrd, NIfTI), a DICOM
Segmentation (SEG) or a DICOM RT Structure Set (RTSTRUCT). DICOM files are told apart by their
SOP Class, whatever their name; the DICOM objects are checked against the CT they are put on."""

from __future__ import annotations

from pathlib import Path

from orkiosk.planning.dicom.volume import Volume
from orkiosk.planning.dicomseg import SEG_SOP_CLASSES
from orkiosk.planning.labels import LabelError, LabelVolume, read_labels

RTSTRUCT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"


def is_dicom(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(132)[128:132] == b"DICM"
    except OSError:
        return False


def read_label_source(path, volume: Volume) -> list[LabelVolume]:
    """Any --labels file as label volumes (each on its own grid, affine to LPS mm): one for a
    labelmap or SEG, one per ROI for an RTSTRUCT (cropped, so many ROIs stay small)."""
    p = Path(path)
    if not p.is_file():
        raise LabelError(f"{p}: no such label file")
    if not is_dicom(p):
        return [read_labels(p)]
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        head = pydicom.dcmread(str(p), stop_before_pixels=True, specific_tags=["SOPClassUID"])
    except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
        raise LabelError(f"{p}: cannot read the DICOM file ({exc})") from exc
    uid = getattr(head, "SOPClassUID", None)
    sop = str(uid or "")
    if sop in SEG_SOP_CLASSES:
        from orkiosk.planning.dicomseg import read_dicom_seg

        return [read_dicom_seg(p, volume)]
    if sop == RTSTRUCT_SOP_CLASS:
        from orkiosk.planning.rtstruct import read_rtstruct

        return read_rtstruct(p, volume)
    name = getattr(uid, "name", "") or sop or "no SOP Class"
    raise LabelError(
        f"{p}: a DICOM {name} object is not a segmentation; --labels takes DICOM SEG or RTSTRUCT "
        "(or .nrrd, .seg.nrrd, .nii, .nii.gz)"
    )
