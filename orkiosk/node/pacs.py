"""Pulling studies from the hospital's archive (DIMSE, pynetdicom): C-FIND at study then series
level, and C-GET of a series straight into the node's inbox (the same durable writer as the
Storage SCP). Queries never ask for a patient's name; answers carry UIDs, dates, modality,
series number and description, and the archive's instance count (which says when a series that
is arriving is whole)."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass

import pydicom
from pydicom.dataset import Dataset
from pynetdicom import AE, StoragePresentationContexts, build_role, evt
from pynetdicom.sop_class import (
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
)

from orkiosk.errors import OrkioskError
from orkiosk.node.inbox import Inbox

PEER_RE = re.compile(r"(?P<aet>[^@]{1,16})@(?P<host>[^:@]+):(?P<port>\d{1,5})")
PENDING = (0xFF00, 0xFF01)
GET_STORAGE_CONTEXTS = 120  # C-GET: storage contexts proposed with the SCP role (128 at most)


class PacsError(OrkioskError):
    """The archive cannot be reached, refuses us, or answers with a failure."""


@dataclass(frozen=True)
class Peer:
    aet: str
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Peer:
        m = PEER_RE.fullmatch(text.strip())
        if not m or not 0 < int(m["port"]) < 65536:
            raise PacsError(f"--pacs {text!r}: expected AET@HOST:PORT, e.g. PACS@10.0.0.5:104")
        return cls(m["aet"].strip(), m["host"], int(m["port"]))


def _associate(ae: AE, peer: Peer, what: str, **kwargs):
    assoc = ae.associate(peer.host, peer.port, ae_title=peer.aet, **kwargs)
    if assoc.is_established:
        return assoc
    if assoc.is_rejected:
        raise PacsError(
            f"{peer.aet}@{peer.host}:{peer.port} refused the association for {what} (is this "
            f"node's AE title {ae.ae_title!r} known to the archive at this address?)"
        )
    raise PacsError(f"{peer.aet}@{peer.host}:{peer.port} cannot be reached for {what}")


# ---------------------------------------------------------------- C-FIND
SERIES_KEYS = {
    "StudyInstanceUID": "study",
    "SeriesInstanceUID": "series",
    "Modality": "modality",
    "SeriesNumber": "series_number",
    "SeriesDescription": "description",
    "BodyPartExamined": "body_part",
    "NumberOfSeriesRelatedInstances": "instances",
}


def find_series(
    peer: Peer,
    aet: str,
    *,
    patient_id: str = "",
    accession: str = "",
    modality: str = "",
    study_uid: str = "",
) -> list[dict]:
    """The archive's series matching the keys (study-level query, then series-level per study)."""
    ae = AE(ae_title=aet)
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    assoc = _associate(ae, peer, "a query")
    try:
        q = Dataset()
        q.QueryRetrieveLevel = "STUDY"
        q.StudyInstanceUID = study_uid
        q.PatientID = patient_id
        q.AccessionNumber = accession
        q.StudyDate = ""
        studies = [r for r in _find(assoc, q)]
        out = []
        for st in studies:
            s = Dataset()
            s.QueryRetrieveLevel = "SERIES"
            s.StudyInstanceUID = st.StudyInstanceUID
            for key in SERIES_KEYS:
                if key != "StudyInstanceUID":
                    setattr(s, key, "")
            s.Modality = modality
            for r in _find(assoc, s):
                row = {name: _value(r.get(key)) for key, name in SERIES_KEYS.items()}
                row["study_date"] = _value(st.get("StudyDate"))
                row["instances"] = int(row["instances"]) if row["instances"] else None
                row["series_number"] = int(row["series_number"]) if row["series_number"] else None
                out.append(row)
        return out
    finally:
        assoc.release()


def _find(assoc, query: Dataset):
    for status, identifier in assoc.send_c_find(query, StudyRootQueryRetrieveInformationModelFind):
        if status is None or "Status" not in status:  # timed out, or aborted by the archive
            raise PacsError(_ended("query", assoc))
        if status.Status in PENDING and identifier is not None:
            yield identifier
        elif status.Status != 0x0000:
            raise PacsError(f"the archive answered the query with status 0x{status.Status:04X}")


def _ended(what: str, assoc) -> str:
    aet = assoc.ae.ae_title
    return (
        f"the archive ended the {what} without an answer (aborted or timed out: is this node's "
        f"AE title {aet!r} allowed to {'query' if what == 'query' else 'retrieve'} there?)"
    )


def _value(v) -> str:
    return "" if v is None else str(v)


# ---------------------------------------------------------------- C-GET
def get_series(
    peer: Peer,
    aet: str,
    study_uid: str,
    series_uid: str,
    inbox: Inbox,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Retrieve a series with C-GET into `inbox`; returns the number of instances written."""
    stored = {"n": 0, "failed": 0}

    def on_store(event) -> int:
        data = event.encoded_dataset(include_meta=True)
        ds = pydicom.dcmread(
            io.BytesIO(data),
            stop_before_pixels=True,
            specific_tags=["StudyInstanceUID", "SeriesInstanceUID"],
        )
        try:
            inbox.store(
                str(ds.StudyInstanceUID),
                str(ds.SeriesInstanceUID),
                str(event.request.AffectedSOPInstanceUID),
                data,
            )
        except OSError:
            stored["failed"] += 1
            return 0xA700
        stored["n"] += 1
        return 0x0000

    ae = AE(ae_title=aet)
    ae.maximum_pdu_size = 0
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
    roles = []
    for cx in StoragePresentationContexts[:GET_STORAGE_CONTEXTS]:
        ae.add_requested_context(cx.abstract_syntax)
        roles.append(build_role(cx.abstract_syntax, scp_role=True))
    assoc = _associate(
        ae, peer, "a retrieve", ext_neg=roles, evt_handlers=[(evt.EVT_C_STORE, on_store)]
    )
    try:
        q = Dataset()
        q.QueryRetrieveLevel = "SERIES"
        q.StudyInstanceUID = study_uid
        q.SeriesInstanceUID = series_uid
        final = None
        for status, _identifier in assoc.send_c_get(q, StudyRootQueryRetrieveInformationModelGet):
            if status is None or "Status" not in status:
                raise PacsError(_ended("retrieve", assoc))
            final = status
            if status.Status in PENDING and progress is not None:
                left = int(status.get("NumberOfRemainingSuboperations", 0))
                progress(stored["n"], stored["n"] + left)
        if final is None or final.Status not in (0x0000, 0xB000):
            code = "none" if final is None else f"0x{final.Status:04X}"
            raise PacsError(f"the archive ended the retrieve with status {code}")
        if stored["failed"]:
            raise PacsError(f"{stored['failed']} instances could not be written into {inbox.root}")
        return stored["n"]
    finally:
        assoc.release()
