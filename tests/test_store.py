"""The kiosk's plan store (orkiosk.store) on real files, with real processes for locks and crashes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, small_plan
from orkiosk.plan.package import load_package, write_package
from orkiosk.plan.signing import generate_keypair, load_trust_dir, sign_package
from orkiosk.store import CRASH_ENV, CRASH_STEPS, PlanStore, StoreError

PATIENT_NAME = "TEST^PATIENT"


def make_pkg(base: Path, version: int, name: str | None = None, **changes) -> Path:
    plan, meshes = small_plan(plan_version=version, **changes)
    return write_package(plan, meshes, base / (name or f"pkg-v{version}"), overwrite=True)


def sha_of(pkg: Path) -> str:
    return load_package(pkg).manifest_sha256


def stage(store: PlanStore, pkg: Path) -> Path:
    """Copy a package into the store's staging folder the way the sync layer does."""
    dst = store.staging_dir(sha_of(pkg))
    for src in sorted(pkg.rglob("*")):
        if src.is_file():
            target = dst / src.relative_to(pkg)
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".part")
            shutil.copyfile(src, tmp)
            os.replace(tmp, target)
    return dst


def version_dirs(state: Path) -> list[str]:
    return sorted(p.name for p in (state / "plans" / "CASE-1").iterdir())


def test_commit_current_find_and_history(tmp_path):
    state = tmp_path / "state"
    store = PlanStore(state, history=2)
    assert store.current() is None and store.status() == {"current": None}
    pkgs = [make_pkg(tmp_path, v) for v in (1, 2, 3, 4)]
    done = [store.commit(p) for p in pkgs]
    cur = store.current()
    assert cur == done[-1] and cur.plan_version == 4 and cur.case_id == "CASE-1"
    assert cur.committed_at.endswith("Z") and cur.manifest_sha256 == sha_of(pkgs[-1])
    assert (state / "current").resolve() == cur.path.resolve()
    assert load_package(cur.path).manifest_sha256 == cur.manifest_sha256
    assert (cur.path / "meshes" / "head.glb").stat().st_mode & 0o222 == 0  # read-only files
    # history: the two newest kept, older ones pruned from disk and record
    assert [d.split("-")[0] for d in version_dirs(state)] == ["3", "4"]
    assert store.find(done[2].manifest_sha256) == done[2].path
    assert store.find(done[0].manifest_sha256) is None
    status = store.status()
    assert status["plan_version"] == 4 and [h["plan_version"] for h in status["history"]] == [4, 3]
    assert PATIENT_NAME not in json.dumps(status) and "P-1" not in json.dumps(status)
    # idempotent: the same manifest again is the same commit
    assert store.commit(pkgs[-1]) == done[-1]
    assert store.highest_version("CASE-1") == 4 and store.highest_version("OTHER") is None


def test_rollback_refused_and_remembered_after_reopen(tmp_path):
    state = tmp_path / "state"
    PlanStore(state).commit(make_pkg(tmp_path, 3))
    with pytest.raises(
        StoreError,
        match="plan version 2 of case CASE-1 is not newer than version 3 already committed",
    ):
        PlanStore(state).commit(make_pkg(tmp_path, 2))
    # the same version with other content is no newer either, after a re-open too
    store = PlanStore(state)
    other = make_pkg(tmp_path, 3, name="other-v3", procedure="Other")
    with pytest.raises(StoreError, match="version 3 of case CASE-1 is not newer than version 3"):
        store.commit(other)
    assert store.highest_version("CASE-1") == 3 and store.current().plan_version == 3
    assert json.loads((state / "versions.json").read_text())["highest"] == {"CASE-1": 3}


def test_staging_resumes_across_reopen(tmp_path):
    state = tmp_path / "state"
    pkg = make_pkg(tmp_path, 1)
    sha = sha_of(pkg)
    store = PlanStore(state)
    staging = store.staging_dir(sha)
    assert staging == state / "staging" / sha and store.staged_files(sha) == {}
    shutil.copyfile(pkg / "plan.json", staging / "plan.json")
    (staging / "meshes").mkdir()
    shutil.copyfile(pkg / "meshes/head.glb", staging / "meshes/head.glb")
    (staging / "meshes/target.glb.part").write_bytes(b"half")  # a file still being written
    expected = {
        "plan.json": (pkg / "plan.json").stat().st_size,
        "meshes/head.glb": (pkg / "meshes/head.glb").stat().st_size,
    }
    assert store.staged_files(sha) == expected
    store = PlanStore(state)  # a restart keeps what was staged
    assert store.staging_dir(sha) == staging and store.staged_files(sha) == expected
    with pytest.raises(StoreError, match="refused: the file meshes/target.glb is missing"):
        store.commit(staging)
    shutil.copyfile(pkg / "meshes/target.glb", staging / "meshes/target.glb")
    assert store.commit(staging).manifest_sha256 == sha
    assert not staging.exists()  # staging goes once committed
    with pytest.raises(StoreError, match="not a manifest SHA-256"):
        store.staging_dir("../../etc")


def test_open_removes_half_written_commits_and_stale_staging(tmp_path):
    state = tmp_path / "state"
    store = PlanStore(state)
    v2 = store.commit(make_pkg(tmp_path, 2))
    half = state / "plans" / "CASE-1" / (".tmp-" + "a" * 64)
    (half / "meshes").mkdir(parents=True)
    (half / "plan.json").write_text("{")
    orphan = state / "plans" / "CASE-1" / ("3-" + "b" * 64)  # renamed but never current
    shutil.copytree(v2.path, orphan)
    old = stage(store, make_pkg(tmp_path, 5, name="old"))
    day_ago = time.time() - 25 * 3600
    for p in [old, *old.rglob("*")]:
        os.utime(p, (day_ago, day_ago))
    stale = stage(store, make_pkg(tmp_path, 1, name="stale"))  # not newer than v2
    junk = store.staging_dir("c" * 64)
    (junk / "plan.json").write_text("not json")  # not the manifest it is named after
    keep = stage(store, make_pkg(tmp_path, 4, name="keep"))  # newer: kept for resume
    partial = store.staging_dir("d" * 64)  # no plan.json yet: kept
    PlanStore(state)
    assert not half.exists() and not orphan.exists()
    assert not old.exists() and not stale.exists() and not junk.exists()
    assert keep.is_dir() and partial.is_dir()
    assert PlanStore(state).current() == v2


def test_damaged_current_is_set_aside_and_previous_good_version_shown(tmp_path, caplog):
    state = tmp_path / "state"
    store = PlanStore(state)
    v1 = store.commit(make_pkg(tmp_path, 1))
    v2 = store.commit(make_pkg(tmp_path, 2))
    mesh = v2.path / "meshes" / "head.glb"
    os.chmod(mesh, 0o644)
    data = bytearray(mesh.read_bytes())
    data[-10] ^= 0xFF
    mesh.write_bytes(bytes(data))
    caplog.set_level("WARNING", logger="orkiosk.store")
    store = PlanStore(state)
    assert store.current() == v1
    assert "is damaged" in caplog.text and "version 1 is current again" in caplog.text
    assert PATIENT_NAME not in caplog.text
    assert not v2.path.exists() and len(list((state / "quarantine").iterdir())) == 1
    assert store.highest_version("CASE-1") == 2  # a damaged version still counts
    assert store.commit(make_pkg(tmp_path, 3)).plan_version == 3


def test_check_that_raises_commits_nothing(tmp_path):
    state = tmp_path / "state"
    store = PlanStore(state)
    v1 = store.commit(make_pkg(tmp_path, 1))
    staged = stage(store, make_pkg(tmp_path, 2))

    def check(pkg):
        assert pkg.plan.plan_version == 2
        raise RuntimeError("off-screen render failed")

    with pytest.raises(RuntimeError, match="off-screen render failed"):
        store.commit(staged, check=check)
    assert store.current() == v1 and store.highest_version("CASE-1") == 1
    assert version_dirs(state) == [v1.path.name] and staged.is_dir()
    seen = []
    assert store.commit(staged, check=seen.append).plan_version == 2 and len(seen) == 1


def test_refusals_name_what_and_why(tmp_path):
    store = PlanStore(tmp_path / "state")
    pkg = make_pkg(tmp_path, 1)
    with pytest.raises(StoreError, match=r"refused: .*signature"):
        store.commit(pkg, require_signature=True)
    damaged = make_pkg(tmp_path, 2)
    (damaged / "meshes/target.glb").write_bytes(
        b"x" * (damaged / "meshes/target.glb").stat().st_size
    )
    with pytest.raises(StoreError, match="meshes/target.glb is damaged") as err:
        store.commit(damaged)
    assert err.value.problems and store.current() is None
    with pytest.raises(StoreError, match="case id '../x' cannot be stored"):
        store.highest_version("../x")
    keys = tmp_path / "keys"
    _, pub = generate_keypair(keys)
    sign_package(pkg, keys / "planner.key")
    trust = tmp_path / "trust"
    trust.mkdir()
    shutil.copy(pub, trust)
    done = store.commit(pkg, trusted=load_trust_dir(trust), require_signature=True)
    assert (done.path / "plan.sig").is_file()
    load_package(done.path, load_trust_dir(trust), require_signature=True)


HOLD_LOCK = """
import sys
from pathlib import Path
from orkiosk.store.files import StoreLock
with StoreLock(Path(sys.argv[1]) / ".lock"):
    print("locked", flush=True)
    sys.stdin.read()
"""


def test_a_second_process_holding_the_lock_gets_a_clear_error(tmp_path):
    state = tmp_path / "state"
    store = PlanStore(state)
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(state)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert child.stdout.readline().strip() == "locked"
        busy = f"plan store {state} is busy: process {child.pid} is changing it"
        with pytest.raises(StoreError, match=busy):
            store.commit(make_pkg(tmp_path, 1))
        with pytest.raises(StoreError, match=busy):
            PlanStore(state)
    finally:
        child.communicate("", timeout=60)
    assert store.commit(make_pkg(tmp_path, 1)).plan_version == 1  # free again


COMMIT = """
import sys
from pathlib import Path
from orkiosk.store import PlanStore
PlanStore(Path(sys.argv[1])).commit(Path(sys.argv[2]))
"""


@pytest.mark.parametrize("step", CRASH_STEPS)
def test_killed_commit_leaves_old_or_new_plan_never_a_mix(tmp_path, step):
    state = tmp_path / "state"
    store = PlanStore(state)
    v1 = store.commit(make_pkg(tmp_path, 1))
    staged = stage(store, make_pkg(tmp_path, 2))
    new_sha = staged.name
    env = {**os.environ, CRASH_ENV: step}
    result = subprocess.run(
        [sys.executable, "-c", COMMIT, str(state), str(staged)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 137, result.stderr
    store = PlanStore(state)
    cur = store.current()
    switched = step in ("current-switched", "versions-written")
    assert cur.manifest_sha256 == (new_sha if switched else v1.manifest_sha256)
    assert cur.plan_version == (2 if switched else 1)
    assert load_package(cur.path).manifest_sha256 == cur.manifest_sha256  # whole, not a mix
    assert store.highest_version("CASE-1") == cur.plan_version
    assert store.status()["plan_version"] == cur.plan_version
    record = json.loads((state / "versions.json").read_text())
    assert sorted(Path(e["dir"]).name for e in record["plans"]) == version_dirs(state)
    assert staged.is_dir() != switched  # kept to resume, or gone once committed
    assert store.commit(make_pkg(tmp_path, 3)).plan_version == 3
    assert PlanStore(state).current().plan_version == 3


def orkiosk(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "orkiosk", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_status_command(tmp_path):
    state = tmp_path / "state"
    PlanStore(state).commit(make_pkg(tmp_path, 1))
    out = orkiosk("status", "--state", str(state))
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["case_id"] == "CASE-1" and doc["plan_version"] == 1
    assert PATIENT_NAME not in out.stdout
    missing = orkiosk("status", "--state", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and missing.stdout == ""
    assert missing.stderr.strip().splitlines() == [
        f"orkiosk status: {tmp_path / 'nowhere'}: no plan store here (the folder does not exist)"
    ]


def test_kiosk_resumes_the_stored_plan(tmp_path):
    from orkiosk.app.commands import start_plan, stored_plan
    from orkiosk.app.settings import KioskSettings, load_settings
    from orkiosk.plan.demo import bundled_demo_path

    state = tmp_path / "state"
    assert stored_plan(None) is None and stored_plan(state) is None
    # a kiosk with a plan store never shows the demo patient: an empty store means "no plan"
    assert start_plan(KioskSettings(state=state)) is None
    assert start_plan(KioskSettings()) == bundled_demo_path()  # a kiosk without a store: the demo
    committed = PlanStore(state).commit(make_pkg(tmp_path, 1))
    assert stored_plan(state) == committed.path
    assert start_plan(KioskSettings(state=state)) == committed.path
    assert start_plan(KioskSettings(state=state, plan=tmp_path / "x")) == tmp_path / "x"
    assert load_settings(environ={"ORKIOSK_STATE": str(state)}).state == state
    toml = tmp_path / "kiosk.toml"
    toml.write_text(f'[kiosk]\nstate = "{state}"\n')
    assert load_settings(toml, environ={}).state == state
