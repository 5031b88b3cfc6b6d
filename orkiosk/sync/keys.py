"""The CurveZMQ half of an identity (orkiosk.plan.signing holds the signing half and the file
format): make a pair, read a private identity for a socket, read allow-list folders of .pub files.

Every problem is a SyncError naming the file and why; an empty, missing or unreadable allow-list
is an error (fail closed), never "allow everybody".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from orkiosk.errors import OrkioskError
from orkiosk.plan.signing import (
    SignatureError,
    load_public_identity,
    read_identity,
    write_identity,
)

MAX_KEYS = 1000


class SyncError(OrkioskError):
    """A sync setting, key or peer that cannot be used (the message says which and why)."""


@dataclass(frozen=True)
class Identity:
    """A party's own keys for a socket (Z85 text as bytes, as pyzmq wants them)."""

    name: str
    curve_public: bytes
    curve_secret: bytes


@dataclass(frozen=True)
class Peer:
    name: str
    role: str  # "planner" or "kiosk"
    path: Path


def generate_identity(directory: Path, name: str) -> tuple[Path, Path]:
    import zmq

    if not zmq.has("curve"):
        raise SyncError("this libzmq was built without CurveZMQ; cannot make an identity")
    public, secret = zmq.curve_keypair()
    return write_identity(directory, name, public.decode("ascii"), secret.decode("ascii"))


def identity_paths(stem: Path) -> tuple[Path, Path]:
    """--identity DIR/NAME (or DIR/NAME.key) -> (DIR/NAME.key, DIR/NAME.pub)."""
    stem = Path(stem)
    if stem.suffix in (".key", ".pub"):
        stem = stem.with_suffix("")
    return stem.with_name(stem.name + ".key"), stem.with_name(stem.name + ".pub")


def load_identity(stem: Path) -> Identity:
    key_path, _ = identity_paths(stem)
    try:
        doc = read_identity(key_path, private=True)
    except SignatureError as exc:
        raise SyncError(f"identity: {exc}") from None
    _check_pair(doc["curve_public"], doc["curve_secret"], key_path)
    return Identity(doc["name"], doc["curve_public"].encode(), doc["curve_secret"].encode())


def load_public_curve(path: Path, what: str) -> bytes:
    """The CurveZMQ public key of one .pub file (e.g. --hub-key)."""
    try:
        ident = load_public_identity(Path(path))
    except SignatureError as exc:
        raise SyncError(f"{what}: {exc}") from None
    if ident.curve_public is None:
        raise SyncError(
            f"{what}: {path} is an old PEM key without a CurveZMQ key; "
            "make an identity with `orkiosk keygen DIR --name NAME`"
        )
    return ident.curve_public.encode()


def load_allow_list(directory: Path | None, role: str, option: str) -> dict[bytes, Peer]:
    """Every .pub in directory, by CurveZMQ public key (Z85). Fails closed: no folder, an
    unreadable one, an unreadable key or no key at all is a SyncError."""
    if directory is None:
        raise SyncError(f"{option}: no allow-list given; refusing to accept anybody")
    directory = Path(directory)
    try:
        files = sorted(p for p in directory.iterdir() if p.suffix == ".pub")
    except OSError as exc:
        raise SyncError(
            f"{option} {directory}: cannot read the allow-list ({exc.strerror}); "
            "refusing to accept anybody"
        ) from None
    peers: dict[bytes, Peer] = {}
    for p in files[: MAX_KEYS + 1]:
        if len(peers) >= MAX_KEYS:
            raise SyncError(f"{option} {directory}: more than {MAX_KEYS} keys")
        try:
            ident = load_public_identity(p)
        except SignatureError as exc:
            raise SyncError(f"{option}: {exc}") from None
        if ident.curve_public is None:
            raise SyncError(f"{option}: {p} has no CurveZMQ key (an old PEM key)")
        peers[ident.curve_public.encode()] = Peer(ident.name, role, p)
    if not peers:
        raise SyncError(
            f"{option} {directory}: the allow-list holds no .pub files; refusing to accept anybody"
        )
    return peers


def _check_pair(public: str, secret: str, path: Path) -> None:
    import zmq

    try:
        derived = zmq.curve_public(secret.encode())
    except (zmq.ZMQError, ValueError):
        raise SyncError(f"identity: {path}: curve_secret is not a CurveZMQ key") from None
    if derived != public.encode():
        raise SyncError(f"identity: {path}: curve_public does not belong to curve_secret")
