"""The node's Storage SCP (pynetdicom): every storage SOP class in every transfer syntax, from
the allowed senders only, each instance written durably into the inbox before it is answered.

- An association is refused unless its calling AE title AND the address it comes from match an
  --allow entry (A-ASSOCIATE-RJ, "calling AE title not recognised"), and unless it calls this
  node's AE title ("called AE title not recognised").
- With TLS, the sender must present a certificate signed by the given CA.
- A C-STORE is answered only after the inbox wrote the instance (part file, fsync, rename): an
  unwritable or full inbox answers "out of resources" (0xA700) and what was stored before stays;
  a dataset without its study or series UID answers "cannot understand" (0xC000).
- The log names senders, UIDs and counts, never a patient.
"""

from __future__ import annotations

import io
import logging
import ssl
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
from pynetdicom.sop_class import Verification

from orkiosk.node.allow import Sender, allowed
from orkiosk.node.inbox import Inbox

log = logging.getLogger("orkiosk.node")

SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700
CANNOT_UNDERSTAND = 0xC000


@dataclass(frozen=True)
class Tls:
    cert: Path
    key: Path
    ca: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(self.ca))
        ctx.load_cert_chain(str(self.cert), str(self.key))
        ctx.verify_mode = ssl.CERT_REQUIRED  # client certificates required
        return ctx


class Node:
    def __init__(self, aet: str, inbox: Inbox, senders: tuple[Sender, ...]):
        self.aet = aet
        self.inbox = inbox
        self.senders = senders
        self.stored = 0
        self.duplicates = 0
        self.refused = 0
        self._server = None

    def start(self, host: str, port: int, tls: Tls | None = None) -> int:
        """Listen (not blocking); returns the port (0: one the system chose)."""
        ae = AE(ae_title=self.aet)
        ae.require_called_aet = True
        ae.maximum_pdu_size = 0  # no limit: fewer, larger PDUs
        for cx in AllStoragePresentationContexts:
            ae.add_supported_context(cx.abstract_syntax, ALL_TRANSFER_SYNTAXES)
        ae.add_supported_context(Verification)
        handlers = [(evt.EVT_REQUESTED, self._on_request), (evt.EVT_C_STORE, self._on_store)]
        self._server = ae.start_server(
            (host, port),
            block=False,
            evt_handlers=handlers,
            ssl_context=tls.server_context() if tls else None,
        )
        return self._server.server_address[1]

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    # ------------------------------------------------------------ handlers
    def _on_request(self, event) -> None:
        rq = event.assoc.requestor
        aet = str(rq.primitive.calling_ae_title).strip()
        address = rq.address
        if not allowed(self.senders, aet, address):
            self.refused += 1
            log.warning("refused an association from %s at %s (not in --allow)", aet, address)
            event.assoc.acse.send_reject(0x01, 0x01, 0x03)
            event.assoc.kill()  # as pynetdicom does: the DUL sends the A-ASSOCIATE-RJ, then stops

    def _on_store(self, event) -> int:
        data = event.encoded_dataset(include_meta=True)
        try:
            ds = pydicom.dcmread(
                io.BytesIO(data),
                stop_before_pixels=True,
                specific_tags=["StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"],
            )
            study, series = str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID)
        except Exception as exc:  # noqa: BLE001 - any undecodable dataset gets the same answer
            log.warning("an instance without readable study/series UIDs was refused (%s)", exc)
            return CANNOT_UNDERSTAND
        sop = str(event.request.AffectedSOPInstanceUID)
        try:
            stored = self.inbox.store(study, series, sop, data)
        except OSError as exc:
            log.error("cannot store an instance of series %s: %s", series, exc.strerror or exc)
            return OUT_OF_RESOURCES
        if stored.duplicate:
            self.duplicates += 1
        else:
            self.stored += 1
        return SUCCESS
