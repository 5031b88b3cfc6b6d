"""The sync wire format, parsed apart from any socket.

A message is two or three ZeroMQ frames:

    frame 0   b"orkiosk/1"                 protocol and version
    frame 1   a JSON object, at most 16 KiB: {"t": KIND, ...fields}
    frame 2   bytes, only for PUT and CHUNK (at most CHUNK_MAX)

`decode(frames)` returns one typed, frozen message or raises ProtocolError with one line saying
what is wrong; it never raises anything else, whatever the bytes. `encode(msg)` is its inverse.
Every field is checked: its type, its length, its range, and its form (rooms and names are short
words, hashes 64 hex digits, paths relative without "..").
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields

from orkiosk.errors import OrkioskError
from orkiosk.sync.fields import (  # noqa: F401  (limits re-exported: codec.CHUNK_MAX, ...)
    _CASE,
    _LENGTH,
    _OFFSET,
    _VERSION,
    _WORD,
    CHUNK_MAX,
    MAGIC,
    MAX_FILE_SIZE,
    MAX_FILES,
    MAX_HEADER,
    MAX_PACKAGE,
    MAX_TEXT,
    OUTCOMES,
    POINT_KINDS,
    _files,
    _flag,
    _name,
    _names,
    _opt_sha,
    _outcome,
    _path,
    _point_kind,
    _room,
    _sha,
    _target,
    _text,
)


class ProtocolError(OrkioskError):
    """Bytes that are not a valid message (the text says what and why, in one line)."""


# ---------------------------------------------------------------- messages
@dataclass(frozen=True)
class Ping:
    """Either side: are you there? Answered with Pong."""


@dataclass(frozen=True)
class Pong:
    pass


@dataclass(frozen=True)
class GetState:
    """Kiosk -> hub: what is my room's current plan? Answered with State."""

    room: str


@dataclass(frozen=True)
class State:
    """Hub -> kiosk: the room's current plan (sha "" = none yet) and its files."""

    room: str
    sha: str
    case_id: str
    plan_version: int
    files: tuple


@dataclass(frozen=True)
class Notice:
    """Hub -> kiosk: the room's plan changed; ask again (a lost notice costs one heartbeat)."""

    room: str


@dataclass(frozen=True)
class Incoming:
    """Hub -> kiosk: a planner is uploading this package for the room (cut-through): the kiosk
    may fetch its files while they arrive, but commits it only once a State names it."""

    room: str
    sha: str
    case_id: str
    plan_version: int
    files: tuple


@dataclass(frozen=True)
class Fetch:
    """Kiosk -> hub: send `length` bytes of a file from `offset` (one credit): of a committed
    plan, or of an incoming one (answered once the planner's upload has those bytes)."""

    sha: str
    path: str
    offset: int
    length: int


@dataclass(frozen=True)
class Chunk:
    sha: str
    path: str
    offset: int
    data: bytes = b""


@dataclass(frozen=True)
class Answer:
    """Kiosk -> hub: what it did with a plan (shown / confirm / refused, with the reason)."""

    room: str
    sha: str
    case_id: str
    plan_version: int
    outcome: str
    reason: str


@dataclass(frozen=True)
class Push:
    """Planner -> hub: I will upload this package (its manifest's SHA-256 and files)."""

    room: str
    sha: str
    case_id: str
    plan_version: int
    files: tuple


@dataclass(frozen=True)
class Ready:
    """Hub -> planner: upload; `have` lists the files the hub already holds (resume)."""

    sha: str
    have: tuple


@dataclass(frozen=True)
class Put:
    sha: str
    path: str
    offset: int
    data: bytes = b""


@dataclass(frozen=True)
class PutOk:
    """Hub -> planner: a Put was written (one credit back)."""

    sha: str
    path: str
    offset: int


@dataclass(frozen=True)
class Commit:
    """Planner -> hub: all files sent; verify and publish."""

    sha: str


@dataclass(frozen=True)
class Accepted:
    """Hub -> planner: published; `kiosks` are the room's kiosks connected now."""

    room: str
    sha: str
    plan_version: int
    kiosks: tuple


@dataclass(frozen=True)
class Refused:
    sha: str
    reason: str


@dataclass(frozen=True)
class Report:
    """Hub -> planner: one kiosk's answer about a plan."""

    room: str
    kiosk: str
    sha: str
    plan_version: int
    outcome: str
    reason: str


@dataclass(frozen=True)
class Point:
    """Planner -> hub: show this on the room's kiosks that follow the planner (follow mode):
    kind "view" (a named or plan view), "trajectory" (its probe's eye, or `side`), or
    "highlight" (a structure, by id or name)."""

    room: str
    kind: str
    target: str
    side: bool


@dataclass(frozen=True)
class Pointed:
    """Hub -> planner: the Point went to these kiosks of the room (connected now)."""

    room: str
    kiosks: tuple


@dataclass(frozen=True)
class Follow:
    """Hub -> kiosk: a planner (named by the hub from its key) points at something."""

    room: str
    planner: str
    kind: str
    target: str
    side: bool


@dataclass(frozen=True)
class Error:
    """Either side, just before it drops the peer: why."""

    reason: str


_SCHEMA = {
    Ping: {},
    Pong: {},
    GetState: {"room": _room},
    State: {
        "room": _room,
        "sha": _opt_sha,
        "case_id": _CASE,
        "plan_version": _VERSION,
        "files": _files,
    },
    Notice: {"room": _room},
    Incoming: {
        "room": _room,
        "sha": _sha,
        "case_id": _CASE,
        "plan_version": _VERSION,
        "files": _files,
    },
    Fetch: {"sha": _sha, "path": _path, "offset": _OFFSET, "length": _LENGTH},
    Chunk: {"sha": _sha, "path": _path, "offset": _OFFSET},
    Answer: {
        "room": _room,
        "sha": _sha,
        "case_id": _CASE,
        "plan_version": _VERSION,
        "outcome": _outcome,
        "reason": _text,
    },
    Push: {
        "room": _room,
        "sha": _sha,
        "case_id": _CASE,
        "plan_version": _VERSION,
        "files": _files,
    },
    Ready: {"sha": _sha, "have": _files},
    Put: {"sha": _sha, "path": _path, "offset": _OFFSET},
    PutOk: {"sha": _sha, "path": _path, "offset": _OFFSET},
    Commit: {"sha": _sha},
    Accepted: {"room": _room, "sha": _sha, "plan_version": _VERSION, "kiosks": _names},
    Refused: {"sha": _opt_sha, "reason": _text},
    Report: {
        "room": _room,
        "kiosk": _name,
        "sha": _sha,
        "plan_version": _VERSION,
        "outcome": _outcome,
        "reason": _text,
    },
    Point: {"room": _room, "kind": _point_kind, "target": _target, "side": _flag},
    Pointed: {"room": _room, "kiosks": _names},
    Follow: {
        "room": _room,
        "planner": _name,
        "kind": _point_kind,
        "target": _target,
        "side": _flag,
    },
    Error: {"reason": _text},
}
KINDS = {cls.__name__.lower(): cls for cls in _SCHEMA}
WITH_DATA = (Chunk, Put)
Message = (
    Ping
    | Pong
    | GetState
    | State
    | Notice
    | Incoming
    | Fetch
    | Chunk
    | Answer
    | Push
    | Ready
    | Put
    | PutOk
    | Commit
    | Accepted
    | Refused
    | Report
    | Point
    | Pointed
    | Follow
    | Error
)


def kind_of(msg) -> str:
    return type(msg).__name__.lower()


def encode(msg) -> list[bytes]:
    """The frames of a message (checked the same way decode checks them)."""
    cls = type(msg)
    if cls not in _SCHEMA:
        raise ProtocolError(f"not a sync message: {cls.__name__}")
    doc = {"t": kind_of(msg)}
    for name in _SCHEMA[cls]:
        value = getattr(msg, name)
        doc[name] = (
            [list(x) for x in value]
            if name in ("files", "have")
            else (list(value) if isinstance(value, tuple) else value)
        )
    frames = [MAGIC, json.dumps(doc, separators=(",", ":")).encode("utf-8")]
    if cls in WITH_DATA:  # bytes or a received frame's memoryview: sent as they are, uncopied
        data = msg.data
        frames.append(data if isinstance(data, (bytes, memoryview)) else bytes(data))
    decode(frames)  # never send what the other side would refuse
    return frames


def decode(frames) -> Message:
    """One typed message from frames, or ProtocolError saying what is wrong."""
    try:
        return _decode(frames)
    except ProtocolError:
        raise
    except Exception as exc:  # belt and braces: garbage must never escape as anything else
        raise ProtocolError(f"malformed message ({type(exc).__name__})") from None


def _decode(frames) -> Message:
    # a data frame may come as a memoryview of the received message: kept, not copied
    frames = [
        (f if f.format == "B" else f.cast("B"))
        if i == 2 and isinstance(f, memoryview)
        else bytes(f)
        for i, f in enumerate(frames)
    ]
    if not frames or frames[0] != MAGIC:
        got = frames[0][:16] if frames else b""
        raise ProtocolError(f"not an orkiosk/1 message (first frame {got!r})")
    if len(frames) not in (2, 3):
        raise ProtocolError(f"expected 2 or 3 frames, got {len(frames)}")
    if len(frames[1]) > MAX_HEADER:
        raise ProtocolError(f"header of {len(frames[1])} bytes exceeds {MAX_HEADER}")
    try:
        doc = json.loads(frames[1].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ProtocolError("header is not UTF-8 JSON") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("t"), str):
        raise ProtocolError("header is not an object with a kind 't'")
    cls = KINDS.get(doc["t"])
    if cls is None:
        raise ProtocolError(f"unknown message kind {doc['t'][:32]!r}")
    kind, schema = doc["t"], _SCHEMA[cls]
    extra = sorted(set(doc) - set(schema) - {"t"})
    if extra:
        raise ProtocolError(f"{kind}: unexpected field {extra[0][:32]!r}")
    values = {}
    for name, check in schema.items():
        if name not in doc:
            raise ProtocolError(f"{kind}: missing field {name!r}")
        try:
            values[name] = check(doc[name])
        except ValueError as exc:
            raise ProtocolError(f"{kind}: field {name!r} {exc}") from None
    if cls in WITH_DATA:
        if len(frames) != 3:
            raise ProtocolError(f"{kind}: the data frame is missing")
        if len(frames[2]) > CHUNK_MAX:
            raise ProtocolError(f"{kind}: data of {len(frames[2])} bytes exceeds {CHUNK_MAX}")
        values["data"] = frames[2]
    elif len(frames) != 2:
        raise ProtocolError(f"{kind}: carries no data frame")
    return cls(**values)


assert all({f.name for f in fields(c)} - {"data"} == set(s) for c, s in _SCHEMA.items())
