"""The node with DICOM TLS: a sender with a certificate from the node's CA stores; one without a
certificate, or with one from another CA, never gets an association."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pynetdicom import AE
from pynetdicom.sop_class import CTImageStorage, Verification
from sync_support import Proc

from orkiosk.planning.phantom.series import write_series


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _cert(subject: str, key, issuer_name: str, issuer_key, ca: bool, san: str | None = None):
    now = datetime.datetime.now(datetime.UTC)
    b = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if san:
        import ipaddress

        b = b.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(san))]),
            critical=False,
        )
    return b.sign(issuer_key, hashes.SHA256())


def _write(path: Path, cert=None, key=None) -> Path:
    if cert is not None:
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    else:
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return path


def _pki(root: Path, name: str) -> dict:
    ca_key = _key()
    ca = _cert(f"{name} CA", ca_key, f"{name} CA", ca_key, True)
    out = {"ca": _write(root / f"{name}-ca.pem", cert=ca)}
    for who, san in (("server", "127.0.0.1"), ("client", None)):
        k = _key()
        c = _cert(f"{name} {who}", k, f"{name} CA", ca_key, False, san)
        out[who] = (
            _write(root / f"{name}-{who}.pem", cert=c),
            _write(root / f"{name}-{who}.key", key=k),
        )
    return out


def _client(ca: Path, cert_key=None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca))
    ctx.check_hostname = False
    if cert_key:
        ctx.load_cert_chain(str(cert_key[0]), str(cert_key[1]))
    return ctx


def test_tls_requires_a_client_certificate_from_the_nodes_ca(tmp_path):
    good, other = _pki(tmp_path, "hospital"), _pki(tmp_path, "elsewhere")
    cert, key = good["server"]
    node = Proc(
        [
            "node",
            "--inbox",
            tmp_path / "inbox",
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--allow",
            "SENDER@127.0.0.1",
            "--tls-cert",
            cert,
            "--tls-key",
            key,
            "--tls-ca",
            good["ca"],
        ],
        "node",
    )
    try:
        port = int(node.wait_line(r"listening on 127\.0\.0\.1:(\d+) \(TLS\)").group(1))
        import numpy as np

        (f,) = write_series(np.zeros((1, 8, 8), np.int16), np.eye(4), tmp_path / "src")
        import pydicom

        ds = pydicom.dcmread(f)

        def associate(ctx):
            ae = AE(ae_title="SENDER")
            ae.add_requested_context(Verification)
            ae.add_requested_context(CTImageStorage)
            return ae.associate("127.0.0.1", port, ae_title="ORKIOSK", tls_args=(ctx, None))

        assoc = associate(_client(good["ca"], good["client"]))
        assert assoc.is_established
        assert assoc.send_c_echo().Status == 0x0000
        assert assoc.send_c_store(ds).Status == 0x0000
        assoc.release()
        assert len(list((tmp_path / "inbox").rglob("*.dcm"))) == 1
        for ctx in (_client(good["ca"]), _client(good["ca"], other["client"])):
            assoc = associate(ctx)  # no certificate; one from another CA
            assert not assoc.is_established
    finally:
        node.stop()
