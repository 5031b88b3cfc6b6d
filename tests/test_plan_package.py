"""Package verification and signatures, through the API and the `orkiosk` command line."""

import os
import stat
import subprocess
import sys

import pytest

from conftest import edit_manifest, small_plan
from orkiosk.plan.demo import demo_package_path
from orkiosk.plan.package import PackageError, load_package, write_package
from orkiosk.plan.signing import generate_keypair, load_trust_dir, sign_package


def orkiosk(*args, cwd=None):
    """Run the real command line in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "orkiosk", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def assert_clean_failure(result, *needles):
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


def test_bundled_demo_verifies():
    result = orkiosk("verify", demo_package_path())
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_bundled_demo_is_the_left_sided_phantom_plan():
    """The demo is built from the CT phantom (scripts/make-demo-plan.sh): right patient, right side."""
    from orkiosk.plan.metrics import all_trajectory_metrics

    pkg = load_package(demo_package_path())
    plan = pkg.plan
    assert plan.patient.name == "PHANTOM, HEAD" and plan.laterality == "left"
    lesion = pkg.meshes["lesion"].positions.mean(axis=0)
    assert lesion[0] > 20, "the lesion lies in the patient's left hemisphere (+x LPS)"
    skin = pkg.meshes["skin"].positions
    assert skin[:, 1].min() < -100 and skin[:, 1].max() < 100, "the nose points anterior (-y)"
    (traj,) = plan.trajectories
    assert traj.target[0] > 0 and abs(traj.target[0] - lesion[0]) < 10
    (metrics,) = all_trajectory_metrics(plan, pkg.meshes)
    assert metrics.closest is not None and metrics.closest.distance > 3.0, "keeps clear"


def test_flipped_byte_in_a_mesh_is_named(demo_copy):
    mesh = demo_copy / "meshes" / "lesion.glb"
    data = bytearray(mesh.read_bytes())
    data[len(data) // 2] ^= 0x01
    mesh.write_bytes(bytes(data))
    result = orkiosk("verify", demo_copy)
    assert_clean_failure(result, "meshes/lesion.glb", "SHA-256 mismatch")


def test_path_leaving_the_package_is_refused(package):
    edit_manifest(
        package,
        lambda d: d["files"].append({"path": "../../etc/passwd", "size": 1, "sha256": "0" * 64}),
    )
    result = orkiosk("verify", package)
    assert_clean_failure(result, "../../etc/passwd", "leave the package")
    with pytest.raises(PackageError, match="etc/passwd"):
        load_package(package)


@pytest.mark.parametrize("bad", ["/etc/passwd", "meshes/../plan.json", "./x", "a\\b", ""])
def test_unsafe_paths_are_refused(package, bad):
    edit_manifest(
        package, lambda d: d["files"].append({"path": bad, "size": 1, "sha256": "0" * 64})
    )
    with pytest.raises(PackageError, match="path"):
        load_package(package)


def test_symlink_is_refused(package, tmp_path):
    outside = tmp_path / "outside.glb"
    target = package / "meshes" / "target.glb"
    outside.write_bytes(target.read_bytes())
    target.unlink()
    target.symlink_to(outside)
    with pytest.raises(PackageError, match="symbolic link"):
        load_package(package)


def test_symlinked_folder_is_refused(package, tmp_path):
    (package / "meshes").rename(tmp_path / "elsewhere")
    (package / "meshes").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(PackageError, match="symbolic link"):
        load_package(package)


def test_size_is_checked_before_reading(package):
    edit_manifest(package, lambda d: d["files"][0].update(size=d["files"][0]["size"] + 1))
    with pytest.raises(PackageError, match="plan.json says"):
        load_package(package)


def test_missing_file_is_named(package):
    (package / "meshes" / "head.glb").unlink()
    with pytest.raises(PackageError, match="meshes/head.glb: listed in plan.json but missing"):
        load_package(package)


def test_unlisted_files_are_never_read(package):
    secret = package / "meshes" / "unlisted.glb"
    secret.write_bytes(b"x")
    os.chmod(secret, 0)  # reading it would fail (when not root); listing it is a note only
    pkg = load_package(package)
    assert any("unlisted.glb" in n for n in pkg.notes)


def test_every_problem_gets_its_own_line(package):
    (package / "meshes" / "head.glb").write_bytes(b"garbage")
    edit_manifest(package, lambda d: d["structures"][1].update(id="head"))
    result = orkiosk("verify", package)
    assert_clean_failure(result, "duplicate id 'head'", "meshes/head.glb: size is 7 bytes")
    assert (
        len(
            [
                line
                for line in result.stderr.splitlines()
                if "meshes/head.glb" in line or "duplicate" in line
            ]
        )
        >= 2
    )


def test_not_a_package():
    with pytest.raises(PackageError, match="not a package"):
        load_package("/nonexistent/package")


def test_keygen_sign_verify(package, tmp_path):
    keys, other = tmp_path / "keys", tmp_path / "other"
    assert orkiosk("keygen", keys).returncode == 0
    assert orkiosk("keygen", other).returncode == 0
    assert stat.S_IMODE((keys / "planner.key").stat().st_mode) == 0o600
    result = orkiosk("sign", package, "--key", keys / "planner.key")
    assert result.returncode == 0, result.stderr
    trust = tmp_path / "trust"
    trust.mkdir()
    (trust / "planner.pub").write_bytes((keys / "planner.pub").read_bytes())

    ok = orkiosk("verify", package, "--trust", trust, "--require-signature")
    assert ok.returncode == 0, ok.stderr
    assert "signed by planner.pub" in ok.stdout
    assert load_package(package, load_trust_dir(trust), True).signed_by is not None

    other_trust = tmp_path / "other-trust"
    other_trust.mkdir()
    (other_trust / "x.pub").write_bytes((other / "planner.pub").read_bytes())
    wrong = orkiosk("verify", package, "--trust", other_trust, "--require-signature")
    assert_clean_failure(wrong, "plan.sig", "not in the trust directory")

    edit_manifest(package, lambda d: d.update(planner="Mallory"))
    changed = orkiosk("verify", package, "--trust", trust)
    assert_clean_failure(changed, "plan.sig", "does not match plan.json")


def test_signature_required_but_absent(package, tmp_path):
    generate_keypair(tmp_path / "k")
    trust = load_trust_dir(tmp_path / "k")
    with pytest.raises(PackageError, match="plan.sig: missing"):
        load_package(package, trust, require_signature=True)
    result = orkiosk("verify", package, "--require-signature")
    assert_clean_failure(result, "signature is required")


def test_keygen_never_overwrites(tmp_path):
    generate_keypair(tmp_path)
    before = (tmp_path / "planner.key").read_bytes()
    result = orkiosk("keygen", tmp_path)
    assert_clean_failure(result, "already exists")
    assert (tmp_path / "planner.key").read_bytes() == before


def test_bad_key_files_give_clear_errors(package, tmp_path):
    (tmp_path / "junk.key").write_text("not a key")
    assert_clean_failure(
        orkiosk("sign", package, "--key", tmp_path / "junk.key"), "not a PEM private key"
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_clean_failure(orkiosk("verify", package, "--trust", empty), "holds no *.pub keys")


def test_sign_refuses_an_invalid_package(package, tmp_path):
    priv, _ = generate_keypair(tmp_path / "k")
    (package / "meshes" / "head.glb").write_bytes(b"x")
    assert_clean_failure(orkiosk("sign", package, "--key", priv), "meshes/head.glb")
    assert not (package / "plan.sig").exists()


def test_sign_package_api(package, tmp_path):
    priv, _ = generate_keypair(tmp_path / "k")
    assert sign_package(package, priv) == package / "plan.sig"
    assert (
        load_package(package, load_trust_dir(tmp_path / "k"), True).signed_by.path.name
        == "planner.pub"
    )


def test_write_is_atomic_and_replaces(tmp_path):
    plan, meshes = small_plan()
    out = write_package(plan, meshes, tmp_path / "p")
    with pytest.raises(PackageError, match="already exists"):
        write_package(plan, meshes, out)
    plan2, _ = small_plan(plan_version=2)
    write_package(plan2, meshes, out, overwrite=True)
    assert load_package(out).plan.plan_version == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p"]  # no partial folders left


def test_write_refuses_missing_mesh(tmp_path):
    plan, meshes = small_plan()
    del meshes["target"]
    with pytest.raises(PackageError, match="'target': no mesh"):
        write_package(plan, meshes, tmp_path / "p")
    assert not (tmp_path / "p").exists()


def test_help_lists_commands():
    result = orkiosk("--help")
    assert result.returncode == 0
    for cmd in ("verify", "keygen", "sign", "bench", "info"):
        assert cmd in result.stdout


def test_info_prints_patient_and_laterality():
    result = orkiosk("info")
    assert result.returncode == 0, result.stderr
    assert "PHANTOM, HEAD" in result.stdout and "LEFT" in result.stdout


def test_overwrite_replaces_only_a_package_or_an_empty_folder(tmp_path):
    plan, meshes = small_plan()
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "thesis.txt").write_text("years of work")
    with pytest.raises(PackageError, match="not a planning package"):
        write_package(plan, meshes, precious, overwrite=True)
    assert (precious / "thesis.txt").read_text() == "years of work"
    (tmp_path / "empty").mkdir()
    write_package(plan, meshes, tmp_path / "empty", overwrite=True)
    assert load_package(tmp_path / "empty").plan == load_package(tmp_path / "empty").plan


def test_no_traceback_for_file_errors(tmp_path):
    (tmp_path / "afile").write_text("x")
    result = orkiosk("keygen", tmp_path / "afile" / "keys")
    assert_clean_failure(result, "Not a directory")
    result = orkiosk("bench", "--json", tmp_path / "nowhere" / "b.json", "touch")
    assert_clean_failure(result, "folder does not exist")
