"""Ed25519 signatures over the exact bytes of plan.json.

plan.json lists every file of the package with its SHA-256, so one signature covers the whole
package. plan.sig is a small JSON document: {"algorithm": "Ed25519", "key_id": ..., "signature":
base64}. The key id is the first 16 hex digits of SHA-256 over the raw 32-byte public key.

Keys are PEM files: NAME.key (PKCS#8 private key, mode 0600) and NAME.pub (SubjectPublicKeyInfo).
A trust directory holds the *.pub files of the planners whose packages a kiosk accepts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from orkiosk.errors import OrkioskError

SIG_NAME = "plan.sig"
MAX_SIG_BYTES = 4096
MAX_KEY_BYTES = 16384


class SignatureError(OrkioskError):
    """A key or signature that cannot be used, or a signature that does not verify."""


@dataclass(frozen=True)
class TrustedKey:
    key_id: str
    path: Path
    key: Ed25519PublicKey


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


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
    data = _read_small(Path(path), "private key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise SignatureError(f"{path}: not a PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError(f"{path}: not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
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


def _read_small(path: Path, what: str, limit: int = MAX_KEY_BYTES) -> bytes:
    try:
        if path.stat().st_size > limit:
            raise SignatureError(f"{path}: too large for a {what}")
        return path.read_bytes()
    except OSError as exc:
        raise SignatureError(f"{path}: cannot read {what} ({exc.strerror})") from None
