"""Identities (`orkiosk keygen DIR --name NAME`): files, modes, signing with them, allow-lists."""

import stat
import subprocess
import sys

import pytest

from orkiosk.plan.package import load_package
from orkiosk.plan.signing import (
    generate_keypair,
    load_public_identity,
    load_trust_dir,
    sign_package,
)
from orkiosk.sync.keys import SyncError, load_allow_list, load_identity, load_public_curve


def orkiosk(*args):
    return subprocess.run(
        [sys.executable, "-m", "orkiosk", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_keygen_writes_an_identity_pair_that_signs_and_verifies(package, tmp_path):
    keys = tmp_path / "keys"
    result = orkiosk("keygen", keys, "--name", "alice")
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE((keys / "alice.key").stat().st_mode) == 0o600
    pub_text = (keys / "alice.pub").read_text()
    assert "secret" not in pub_text and "curve_public" in pub_text
    ident = load_identity(keys / "alice")
    assert ident.name == "alice" and len(ident.curve_secret) == 40
    assert load_public_curve(keys / "alice.pub", "--hub-key") == ident.curve_public

    again = orkiosk("keygen", keys, "--name", "alice")
    assert again.returncode != 0 and "refusing to overwrite" in again.stderr
    assert "Traceback" not in again.stderr

    signed = orkiosk("sign", package, "--key", keys / "alice.key")
    assert signed.returncode == 0, signed.stderr
    trust = tmp_path / "trust"
    trust.mkdir()
    (trust / "alice.pub").write_text(pub_text)
    generate_keypair(trust, "old-pem")  # an older PEM key in the same folder still counts
    ok = orkiosk("verify", package, "--trust", trust, "--require-signature")
    assert ok.returncode == 0, ok.stderr
    assert "signed by alice.pub" in ok.stdout
    assert load_package(package, load_trust_dir(trust), True).signed_by.path.name == "alice.pub"


def test_old_pem_key_still_signs(package, tmp_path):
    priv, pub = generate_keypair(tmp_path / "k")
    sign_package(package, priv)
    assert load_package(package, load_trust_dir(tmp_path / "k"), True).signed_by is not None
    assert load_public_identity(pub).curve_public is None


def test_bad_identity_names_and_files(tmp_path):
    bad = orkiosk("keygen", tmp_path, "--name", "../evil")
    assert bad.returncode != 0 and "identity name" in bad.stderr
    (tmp_path / "x.key").write_text('format = "orkiosk-identity-1"\nname = "x"\n')
    with pytest.raises(SyncError, match="lacks"):
        load_identity(tmp_path / "x")
    with pytest.raises(SyncError, match="cannot read"):
        load_identity(tmp_path / "missing")


def test_allow_lists_fail_closed(tmp_path):
    with pytest.raises(SyncError, match="no allow-list"):
        load_allow_list(None, "kiosk", "--kiosks")
    with pytest.raises(SyncError, match="cannot read"):
        load_allow_list(tmp_path / "absent", "kiosk", "--kiosks")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SyncError, match="holds no .pub"):
        load_allow_list(tmp_path / "empty", "kiosk", "--kiosks")
    generate_keypair(tmp_path / "pem")
    with pytest.raises(SyncError, match="no CurveZMQ key"):
        load_allow_list(tmp_path / "pem", "planner", "--planners")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "j.pub").write_text("junk")
    with pytest.raises(SyncError, match="not an orkiosk identity"):
        load_allow_list(tmp_path / "junk", "planner", "--planners")
    assert orkiosk("keygen", tmp_path / "k", "--name", "or-1").returncode == 0
    peers = load_allow_list(tmp_path / "k", "kiosk", "--kiosks")
    assert [p.name for p in peers.values()] == ["or-1"]
