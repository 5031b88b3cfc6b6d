"""Pulling from an archive over DICOMweb (dicomweb-client): QIDO-RS for the series (never asking
for a patient's name), WADO-RS for a series' instances into the node's inbox (the same durable
writer). The answers have the same shape as the DIMSE ones (orkiosk/node/pacs.py).

Credentials: `--dicomweb-auth FILE`, one line `user:password` in a file only its owner reads."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset

from orkiosk.node.inbox import Inbox
from orkiosk.node.pacs import SERIES_KEYS, PacsError


def _client(url: str, auth_file: Path | None):
    import requests
    from dicomweb_client.api import DICOMwebClient

    session = requests.Session()
    if auth_file is not None:
        auth_file = Path(auth_file)
        if os.stat(auth_file).st_mode & 0o077:
            raise PacsError(f"{auth_file}: readable by others; chmod 600 it (it holds a password)")
        user, colon, password = auth_file.read_text("utf-8").strip().partition(":")
        if not colon or not user:
            raise PacsError(f"{auth_file}: expected one line user:password")
        session.auth = (user, password)
    return DICOMwebClient(url=url, session=session)


def _ask(what: str, url: str, call):
    import requests

    try:
        return call()
    except requests.HTTPError as exc:
        code = exc.response.status_code if exc.response is not None else "?"
        raise PacsError(f"{url}: the archive answered the {what} with HTTP {code}") from None
    except requests.RequestException as exc:
        raise PacsError(f"{url}: cannot reach the archive for the {what} ({exc})") from None


def find_series_web(
    url: str,
    auth_file: Path | None,
    *,
    patient_id: str = "",
    accession: str = "",
    modality: str = "",
    study_uid: str = "",
) -> list[dict]:
    c = _client(url, auth_file)
    filters = {
        k: v
        for k, v in (
            ("PatientID", patient_id),
            ("AccessionNumber", accession),
            ("StudyInstanceUID", study_uid),
        )
        if v
    }
    studies = _ask(
        "query", url, lambda: c.search_for_studies(search_filters=filters, fields=["StudyDate"])
    )
    sfilters = {"Modality": modality} if modality else {}
    fields = [k for k in SERIES_KEYS if k != "StudyInstanceUID"]
    out = []
    for st_json in studies:
        st = Dataset.from_json(st_json)
        rows = _ask(
            "query",
            url,
            lambda st=st: c.search_for_series(
                st.StudyInstanceUID, search_filters=sfilters, fields=fields
            ),
        )
        for r_json in rows:
            r = Dataset.from_json(r_json)
            row = {name: str(r.get(key, "") or "") for key, name in SERIES_KEYS.items()}
            row["study"] = row["study"] or str(st.StudyInstanceUID)
            row["study_date"] = str(st.get("StudyDate", "") or "")
            row["instances"] = int(row["instances"]) if row["instances"] else None
            row["series_number"] = int(row["series_number"]) if row["series_number"] else None
            out.append(row)
    return out


def get_series_web(
    url: str,
    auth_file: Path | None,
    study_uid: str,
    series_uid: str,
    inbox: Inbox,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """WADO-RS: every instance of the series into `inbox`; returns how many were written."""
    c = _client(url, auth_file)
    listed = _ask(
        "retrieve",
        url,
        lambda: c.search_for_instances(study_uid, series_uid, fields=["SOPInstanceUID"]),
    )
    total, n = len(listed), 0
    for item in listed:
        sop = str(Dataset.from_json(item).SOPInstanceUID)
        ds = _ask("retrieve", url, lambda sop=sop: c.retrieve_instance(study_uid, series_uid, sop))
        buf = io.BytesIO()
        pydicom.dcmwrite(buf, ds, enforce_file_format=True)
        try:
            inbox.store(study_uid, series_uid, sop, buf.getvalue())
        except OSError as exc:
            raise PacsError(
                f"{inbox.root}: cannot write an instance ({exc.strerror or exc})"
            ) from None
        n += 1
        if progress is not None:
            progress(n, total)
    return n
