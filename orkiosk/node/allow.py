"""Who may send to the node: `AET@HOST` pairs, both checked (a calling AE title is only a
name anyone can type; the address is where the association really comes from). Nobody is
accepted by default."""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass

from orkiosk.errors import OrkioskError

AET_RE = re.compile(r"[\x20-\x5b\x5d-\x7e]{1,16}")  # DICOM AE: 16 chars, no backslash


class AllowError(OrkioskError):
    """An --allow entry that cannot be used."""


@dataclass(frozen=True)
class Sender:
    aet: str
    host: str  # as given
    addresses: frozenset[str]  # what it resolves to

    def matches(self, aet: str, address: str) -> bool:
        return aet.strip() == self.aet and address in self.addresses


def parse_allow(text: str) -> tuple[Sender, ...]:
    """'AET@HOST[,AET@HOST...]' -> senders; each host resolved now (a name that does not
    resolve is refused here, not at the first association)."""
    out = []
    for item in (t.strip() for t in text.split(",")):
        aet, at, host = item.rpartition("@")
        if not at or not aet or not host:
            raise AllowError(f"--allow {item!r}: expected AET@HOST, e.g. ORTHANC@10.0.0.5")
        aet = aet.strip()
        if not AET_RE.fullmatch(aet) or aet != aet.strip():
            raise AllowError(f"--allow {item!r}: {aet!r} is not a DICOM AE title (1-16 characters)")
        out.append(Sender(aet, host, frozenset(_resolve(host, item))))
    return tuple(out)


def allowed(senders, aet: str, address: str) -> bool:
    return any(s.matches(aet, address) for s in senders)


def _resolve(host: str, item: str) -> set[str]:
    try:
        return {str(ipaddress.ip_address(host))}
    except ValueError:
        pass
    try:
        return {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError as exc:
        raise AllowError(f"--allow {item!r}: {host!r} does not resolve ({exc})") from None
