"""Ed25519 signatures over the exact bytes of plan.json.

plan.json lists every file of the package with its SHA-256, so one signature covers the whole
package. plan.sig is a small JSON document: {"algorithm": "Ed25519", "key_id": ..., "signature":
base64}. The key id is the first 16 hex digits of SHA-256 over the raw 32-byte public key.

Keys are identity files (`orkiosk keygen DIR --name NAME`), two small TOML documents:

    DIR/NAME.pub  (public: the one file a party hands to others)
        format = "orkiosk-identity-1"
        name = "NAME"
        signing_public = "<base64 of the raw 32-byte Ed25519 public key>"
        curve_public = "<40 Z85 characters: the CurveZMQ public key>"
    DIR/NAME.key  (private, mode 0600, never overwritten)
        the same lines plus signing_secret (base64 of the 32-byte Ed25519 seed)
        and curve_secret (40 Z85 characters)

This module reads and writes the signing part and carries the Curve strings without using them
(orkiosk.sync makes and checks those). The older PEM files (PKCS#8 NAME.key, SubjectPublicKeyInfo
NAME.pub) are still read. A trust directory holds the *.pub files of the planners whose packages a
kiosk accepts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from orkiosk.errors import OrkioskError

SIG_NAME = "plan.sig"
MAX_SIG_BYTES = 4096
MAX_KEY_BYTES = 16384
IDENTITY_FORMAT = "orkiosk-identity-1"
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
Z85_RE = re.compile(r"[0-9a-zA-Z.:+=^!/*?&<>()\[\]{}@%$#-]{40}")


class SignatureError(OrkioskError):
    """A key or signature that cannot be used, or a signature that does not verify."""


@dataclass(frozen=True)
class TrustedKey:
    key_id: str
    path: Path
    key: Ed25519PublicKey


def key_id(public_key: Ed25519PublicKey) -> str:
    return hashlib.sha256(_raw_public(public_key)).hexdigest()[:16]


@dataclass(frozen=True)
class PublicIdentity:
    """What a NAME.pub file says: who, the signing key, the CurveZMQ key (None in a PEM file)."""

    name: str
    path: Path
    key: Ed25519PublicKey
    curve_public: str | None


def write_identity(
    directory: Path, name: str, curve_public: str, curve_secret: str
) -> tuple[Path, Path]:
    """Write DIR/NAME.key (0600) and DIR/NAME.pub with a new Ed25519 pair and the given Curve
    pair (Z85 text). Never overwrites either file."""
    if not NAME_RE.fullmatch(name or ""):
        raise SignatureError(
            f"identity name {name!r}: use 1-64 letters, digits, '.', '_' or '-' "
            "(starting with a letter or digit)"
        )
    for what, z in (("public", curve_public), ("secret", curve_secret)):
        if not Z85_RE.fullmatch(z):
            raise SignatureError(f"CurveZMQ {what} key: expected 40 Z85 characters")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    priv_path, pub_path = directory / f"{name}.key", directory / f"{name}.pub"
    for p in (priv_path, pub_path):
        if p.exists():
            raise SignatureError(f"{p}: already exists; refusing to overwrite a key")
    private = Ed25519PrivateKey.generate()
    raw = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    public = _raw_public(private.public_key())
    head = f'format = "{IDENTITY_FORMAT}"\nname = "{name}"\n'
    pub_text = (
        "# orkiosk identity, public part: hand this file to the parties that must know you\n"
        f'{head}signing_public = "{base64.b64encode(public).decode()}"\n'
        f'curve_public = "{curve_public}"\n'
    )
    key_text = (
        "# orkiosk identity, PRIVATE: keep it on this machine, never copy it anywhere\n"
        + pub_text.split("\n", 1)[1]
        + f'signing_secret = "{base64.b64encode(raw).decode()}"\n'
        + f'curve_secret = "{curve_secret}"\n'
    )
    fd = os.open(priv_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key_text)
    os.chmod(priv_path, 0o600)
    fd = os.open(pub_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(pub_text)
    return priv_path, pub_path


def read_identity(path: Path, private: bool = False) -> dict:
    """The fields of an identity file, checked: name, signing_public, curve_public and, when
    private, signing_secret and curve_secret (all text)."""
    path = Path(path)
    data = _read_small(path, "private key" if private else "public key")
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        raise SignatureError(f"{path}: {_neither(private)}") from None
    if doc.get("format") != IDENTITY_FORMAT:
        raise SignatureError(f"{path}: {_neither(private)}")
    wanted = ["name", "signing_public", "curve_public"]
    wanted += ["signing_secret", "curve_secret"] if private else []
    for k in wanted:
        if not isinstance(doc.get(k), str):
            raise SignatureError(f"{path}: identity file lacks {k}")
    if not NAME_RE.fullmatch(doc["name"]):
        raise SignatureError(f"{path}: identity name is not valid")
    for k in ("curve_public", "curve_secret") if private else ("curve_public",):
        if not Z85_RE.fullmatch(doc[k]):
            raise SignatureError(f"{path}: {k} is not 40 Z85 characters")
    return doc


def load_public_identity(path: Path) -> PublicIdentity:
    """A NAME.pub file: an identity file, or an older PEM public key (no Curve key)."""
    path = Path(path)
    if _is_pem(path):
        return PublicIdentity(path.stem, path, load_public_key(path), None)
    doc = read_identity(path)
    key = _ed25519_public(doc["signing_public"], path)
    return PublicIdentity(doc["name"], path, key, doc["curve_public"])


def generate_keypair(directory: Path, name: str = "planner") -> tuple[Path, Path]:
    """Write NAME.key (0600, never overwritten) and NAME.pub into directory."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    priv_path, pub_path = directory / f"{name}.key", directory / f"{name}.pub"
    for p in (priv_path, pub_path):
        if p.exists():
            raise SignatureError(f"{p}: already exists; refusing to overwrite a key")
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(priv_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.chmod(priv_path, 0o600)  # umask cannot widen it, but make the intent explicit
    pub = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pub_path.write_bytes(pub)
    return priv_path, pub_path


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 signing key of an identity file (NAME.key) or of an older PEM file."""
    if not _is_pem(Path(path)):
        doc = read_identity(path, private=True)
        try:
            raw = base64.b64decode(doc["signing_secret"], validate=True)
            return Ed25519PrivateKey.from_private_bytes(raw)
        except ValueError:
            raise SignatureError(f"{path}: signing_secret is not an Ed25519 key") from None
    data = _read_small(Path(path), "private key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise SignatureError(f"{path}: not a PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError(f"{path}: not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The Ed25519 key of an identity file (NAME.pub) or of an older PEM file."""
    if not _is_pem(Path(path)):
        return load_public_identity(path).key
    data = _read_small(Path(path), "public key")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise SignatureError(f"{path}: not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SignatureError(f"{path}: not an Ed25519 public key")
    return key


def load_trust_dir(directory: Path) -> dict[str, TrustedKey]:
    """All *.pub keys in directory, by key id. Raises if the directory holds none."""
    directory = Path(directory)
    if not directory.is_dir():
        raise SignatureError(f"{directory}: trust directory does not exist")
    keys = {}
    for p in sorted(directory.glob("*.pub")):
        k = load_public_key(p)
        keys[key_id(k)] = TrustedKey(key_id(k), p, k)
    if not keys:
        raise SignatureError(f"{directory}: trust directory holds no *.pub keys")
    return keys


def sign_bytes(private: Ed25519PrivateKey, manifest: bytes) -> bytes:
    """The plan.sig document for these exact plan.json bytes."""
    doc = {
        "algorithm": "Ed25519",
        "key_id": key_id(private.public_key()),
        "signature": base64.b64encode(private.sign(manifest)).decode("ascii"),
    }
    return (json.dumps(doc, indent=2) + "\n").encode("utf-8")


def verify_signature(manifest: bytes, sig_doc: bytes, trusted: dict[str, TrustedKey]) -> TrustedKey:
    """Return the trusted key that signed manifest, or raise SignatureError saying why not."""
    try:
        doc = json.loads(sig_doc.decode("utf-8"))
        algorithm, kid, sig_b64 = doc["algorithm"], doc["key_id"], doc["signature"]
        signature = base64.b64decode(sig_b64, validate=True)
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise SignatureError(f"{SIG_NAME}: not a valid signature document") from None
    if algorithm != "Ed25519":
        raise SignatureError(f"{SIG_NAME}: algorithm {algorithm!r} is not Ed25519")
    key = trusted.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise SignatureError(
            f"{SIG_NAME}: signed by key {kid!r}, which is not in the trust directory"
        )
    try:
        key.key.verify(signature, manifest)
    except InvalidSignature:
        raise SignatureError(
            f"{SIG_NAME}: signature does not match plan.json (changed after signing?)"
        ) from None
    return key


def sign_package(package_dir: Path, key_file: Path) -> Path:
    """Sign package_dir/plan.json with the private key in key_file; returns plan.sig's path."""
    package_dir = Path(package_dir)
    manifest = _read_small(package_dir / "plan.json", "plan.json", limit=16 << 20)
    sig_path = package_dir / SIG_NAME
    tmp = sig_path.with_name(SIG_NAME + ".tmp")
    tmp.write_bytes(sign_bytes(load_private_key(key_file), manifest))
    os.replace(tmp, sig_path)
    return sig_path


def _neither(private: bool) -> str:
    kind = "private" if private else "public"
    return f"not a PEM {kind} key and not an orkiosk identity file ({IDENTITY_FORMAT})"


def _is_pem(path: Path) -> bool:
    return _read_small(path, "key").lstrip().startswith(b"-----BEGIN")


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _ed25519_public(text: str, path: Path) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except ValueError:
        raise SignatureError(f"{path}: signing_public is not an Ed25519 public key") from None


def _read_small(path: Path, what: str, limit: int = MAX_KEY_BYTES) -> bytes:
    try:
        if path.stat().st_size > limit:
            raise SignatureError(f"{path}: too large for a {what}")
        return path.read_bytes()
    except OSError as exc:
        raise SignatureError(f"{path}: cannot read {what} ({exc.strerror})") from None
