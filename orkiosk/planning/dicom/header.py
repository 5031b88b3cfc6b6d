"""Patient, study and series fields of the chosen series, for the plan and the summary."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from orkiosk.plan.names import person_name
from orkiosk.planning.dicom.frames import get


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
    frame_of_reference_uid: str = ""


def _iso_date(value) -> str:
    s = str(value or "").strip()
    if len(s) == 8 and s.isascii() and s.isdigit():  # "1²" isdigit() but is no number
        y, m, d = int(s[:4]), int(s[4:6]), int(s[6:])
        if 1 <= m <= 12 and 1 <= d <= 31:
            return f"{y:04d}-{m:02d}-{d:02d}"
    return ""


def _text(ds, name: str) -> str:
    """An element as text; "" where it is absent or cannot be decoded (a wrong character set
    never stops a build)."""
    try:
        return str(get(ds, name, "") or "").strip()
    except Exception:
        return ""


def _name(ds) -> str:
    try:
        return person_name(get(ds, "PatientName", ""))
    except Exception:  # undecodable in its declared character set
        return ""


def read_info(path: str, series_uid: str) -> SeriesInfo:
    import pydicom

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
    sex = _text(ds, "PatientSex").upper()
    return SeriesInfo(
        series_uid=series_uid,
        series_number=_text(ds, "SeriesNumber"),
        series_description=_text(ds, "SeriesDescription"),
        modality=_text(ds, "Modality"),
        patient_name=_name(ds),
        patient_id=_text(ds, "PatientID"),
        birth_date=_iso_date(get(ds, "PatientBirthDate")),
        sex=sex if sex in ("F", "M", "O") else "",
        study_uid=_text(ds, "StudyInstanceUID"),
        study_date=_iso_date(get(ds, "StudyDate")),
        study_description=_text(ds, "StudyDescription"),
        study_id=_text(ds, "StudyID"),
        accession_number=_text(ds, "AccessionNumber"),
        manufacturer=_text(ds, "Manufacturer"),
        body_part=_text(ds, "BodyPartExamined"),
        frame_of_reference_uid=_text(ds, "FrameOfReferenceUID"),
    )
