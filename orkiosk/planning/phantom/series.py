"""Any volume written as an ordinary DICOM series: one single-frame file per slice, the geometry
taken from the affine, so any orientation can be written (the phantom, and test series)."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from pathlib import Path

import numpy as np

PATIENT = {
    "PatientName": "PHANTOM^HEAD",
    "PatientID": "PHANTOM-0001",
    "PatientBirthDate": "19700101",
    "PatientSex": "O",
}


def write_series(
    array_kji: np.ndarray,
    affine: np.ndarray,
    out_dir,
    *,
    patient: dict | None = None,
    study_uid: str | None = None,
    series_uid: str | None = None,
    series_number: int = 2,
    series_description: str = "Phantom head 1.0 mm",
    study_description: str = "Synthetic CT head (orkiosk phantom)",
    modality: str = "CT",
    intercept: int = -1024,
    name_prefix: str = "IM",
    image_type=("ORIGINAL", "PRIMARY", "AXIAL"),
    progress: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Write array[k, j, i] (HU) as one single-frame DICOM file per slice k.

    The geometry comes from `affine` (i, j, k, 1) -> LPS: ImageOrientationPatient from its first two
    columns, ImagePositionPatient from its origin and third column, so any orientation can be
    written. Files are numbered from the top slice down with names that do not sort by position.
    """
    import pydicom
    from pydicom.uid import CTImageStorage, MRImageStorage, generate_uid

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sop_class = CTImageStorage if modality == "CT" else MRImageStorage
    col_dir = affine[:3, 0] / np.linalg.norm(affine[:3, 0])
    row_dir = affine[:3, 1] / np.linalg.norm(affine[:3, 1])
    normal = np.cross(col_dir, row_dir)
    nk, nj, ni = array_kji.shape
    stored = np.clip(np.rint(array_kji.astype(np.float32) - intercept), 0, 65535).astype(np.uint16)
    bits = max(12, int(stored.max()).bit_length())
    shared = _series_elements(
        affine,
        (nj, ni),
        bits,
        patient=patient,
        study_uid=study_uid or generate_uid(),
        series_uid=series_uid or generate_uid(),
        series_number=series_number,
        series_description=series_description,
        study_description=study_description,
        modality=modality,
        intercept=intercept,
        image_type=image_type,
    )
    paths = []
    for n, k in enumerate(range(nk - 1, -1, -1)):  # top slice first, as many scanners do
        if progress:
            progress(n, nk)
        pos = affine[:3, 3] + affine[:3, 2] * k
        ds = _slice_dataset(sop_class, shared)
        ds.InstanceNumber = n + 1
        ds.ImagePositionPatient = [f"{v:.6g}" for v in pos]
        ds.SliceLocation = f"{float(pos @ normal):.6g}"
        ds.PixelData = stored[k].tobytes()
        path = out / f"{name_prefix}{ds.SOPInstanceUID.rsplit('.', 1)[-1][-10:]}.dcm"
        pydicom.dcmwrite(path, ds, enforce_file_format=True)
        paths.append(path)
    if progress:
        progress(nk, nk)
    return paths


def _series_elements(
    affine: np.ndarray,
    rows_columns: tuple[int, int],
    bits: int,
    *,
    patient: dict | None,
    study_uid: str,
    series_uid: str,
    series_number: int,
    series_description: str,
    study_description: str,
    modality: str,
    intercept: int,
    image_type,
) -> dict:
    """The elements every image of the series shares, in the order they are set (the patient's
    may override those before them, not those after)."""
    from pydicom.uid import generate_uid

    col_dir = affine[:3, 0] / np.linalg.norm(affine[:3, 0])
    row_dir = affine[:3, 1] / np.linalg.norm(affine[:3, 1])
    now = _dt.datetime.now()
    date, time = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    return {
        "SpecificCharacterSet": "ISO_IR 100",
        "ImageType": list(image_type),
        **dict.fromkeys(("StudyDate", "SeriesDate", "ContentDate"), date),
        **dict.fromkeys(("StudyTime", "SeriesTime", "ContentTime"), time),
        "AccessionNumber": "PHANTOM",
        "Modality": modality,
        "Manufacturer": "orkiosk synthetic phantom",
        "InstitutionName": "none (synthetic data)",
        "ReferringPhysicianName": "",
        "StudyDescription": study_description,
        "SeriesDescription": series_description,
        **{**PATIENT, **(patient or {})},
        "BodyPartExamined": "HEAD",
        "SliceThickness": f"{float(np.linalg.norm(affine[:3, 2])):.4g}",
        **({"KVP": "120"} if modality == "CT" else {}),
        "PatientPosition": "HFS",
        "StudyInstanceUID": study_uid,
        "SeriesInstanceUID": series_uid,
        "StudyID": "1",
        "SeriesNumber": series_number,
        "ImageOrientationPatient": [f"{v:.6g}" for v in (*col_dir, *row_dir)],
        "FrameOfReferenceUID": generate_uid(),
        "PositionReferenceIndicator": "",
        "SamplesPerPixel": 1,
        "PhotometricInterpretation": "MONOCHROME2",
        "Rows": rows_columns[0],
        "Columns": rows_columns[1],
        "PixelSpacing": [
            f"{float(np.linalg.norm(affine[:3, 1])):.6g}",
            f"{float(np.linalg.norm(affine[:3, 0])):.6g}",
        ],
        "BitsAllocated": 16,
        "BitsStored": bits,
        "HighBit": bits - 1,
        "PixelRepresentation": 0,
        "RescaleIntercept": str(intercept),
        "RescaleSlope": "1",
        "RescaleType": "HU" if modality == "CT" else "US",
        "WindowCenter": "40",
        "WindowWidth": "400",
    }


def _slice_dataset(sop_class, shared: dict):
    """A new image data set with its own SOP Instance UID and the series' shared elements."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    for key, value in shared.items():
        setattr(ds, key, value)
    return ds
