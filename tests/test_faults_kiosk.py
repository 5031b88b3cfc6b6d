"""Faults with real processes and real files: the headless kiosk (`orkiosk run --headless`)
SIGKILLed at each step of a commit and at random times during a stream of pushes, a full disk
(a small tmpfs as the state folder) while staging, and a damaged file in the store at start.
After each, the kiosk shows exactly the old or the new plan, whole (the committed package is
verified file by file), never a mix, and says why when it refused."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
from sync_support import Net, manifest_sha

from orkiosk.plan.package import load_package
from orkiosk.plan.signing import load_trust_dir
from orkiosk.store import CRASH_ENV, CRASH_STEPS, PlanStore


@pytest.fixture
def net(tmp_path):
    n = Net(tmp_path, kiosks=("k1",))
    n.start_hub()
    yield n
    n.close()


def shown(net: Net, name: str = "k1") -> tuple[int, str]:
    """The current plan of a kiosk's store, opened as the kiosk does at start (repairing what a
    crash left) and verified whole with the kiosk's trust: (version, manifest sha)."""
    current = PlanStore(net.state(name), lock_wait=10.0).current()
    assert current is not None, "no plan at all"
    pkg = load_package(current.path, load_trust_dir(net.root / "trust"), True)
    assert pkg.manifest_sha256 == current.manifest_sha256
    return pkg.plan.plan_version, pkg.manifest_sha256


def killed(proc) -> None:
    """SIGKILL a kiosk this test started (by its own PID) and reap it."""
    if proc.p.poll() is None:
        proc.p.send_signal(signal.SIGKILL)
    proc.p.wait(timeout=20)


@pytest.mark.parametrize("step", CRASH_STEPS)
def test_kiosk_killed_at_each_commit_step_comes_back_old_or_new(net, step):
    k = net.start_kiosk("k1")
    v1, v2 = net.package(1), net.package(2, big=True)
    assert "k1: shown v1" in net.push(v1).stdout
    k.stop()
    k = net.start_kiosk("k1", env={CRASH_ENV: step})  # dies right after `step` of a commit
    pusher = net.push_proc(v2)
    assert k.p.wait(timeout=60) == 137, k.text()
    version, sha = shown(net)
    expected = (1, manifest_sha(v1)) if step in ("copied", "renamed") else (2, manifest_sha(v2))
    assert (version, sha) == expected, f"{step}: v{version}"
    # it comes back on that plan, then takes the newer one from the hub
    k = net.start_kiosk("k1")
    k.wait_line(rf"kiosk k1 in OR-1: showing case CASE-1 v{version}")
    if version == 1:
        k.wait_line(r"case CASE-1 v2 shown", timeout=60)
    assert shown(net) == (2, manifest_sha(v2))
    pusher.p.wait(timeout=60)


def test_kiosk_killed_at_random_times_during_a_stream_of_pushes(net):
    seed = int(os.environ.get("ORKIOSK_FAULT_SEED", time.time_ns() % 10_000))
    rng = random.Random(seed)
    k = net.start_kiosk("k1")
    shas = {}
    v = net.package(1)
    shas[manifest_sha(v)] = 1
    assert "k1: shown v1" in net.push(v).stdout
    seen = []
    for version in range(2, 8):
        pkg = net.package(version, big=version % 2 == 0)
        shas[manifest_sha(pkg)] = version
        pusher = net.push_proc(pkg)
        time.sleep(rng.uniform(0.0, 1.5))
        killed(k)
        got_version, sha = shown(net)  # whole, verified: never a mix
        assert shas.get(sha) == got_version, f"seed {seed}: unknown plan on screen"
        assert got_version in (version - 1, version), f"seed {seed}: v{got_version}"
        seen.append(got_version)
        k = net.start_kiosk("k1")
        k.wait_line(rf"showing case CASE-1 v{got_version}\b")
        if got_version < version:  # it fetches the newer plan again
            k.wait_line(rf"case CASE-1 v{version} shown", timeout=60)
        pusher.p.wait(timeout=60)
    assert shown(net)[0] == 7, f"seed {seed}"
    assert seen == sorted(seen), f"seed {seed}: a version went back {seen}"


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MiB tmpfs mounted as the kiosk's state folder (root only)."""
    mnt = tmp_path / "state" / "k1"
    mnt.mkdir(parents=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        pytest.skip(f"this machine does not allow mounting a tmpfs: {r.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_full_disk_while_staging_keeps_the_old_plan_and_says_enospc(tmp_path, small_disk):
    net = Net(tmp_path, kiosks=("k1",))
    try:
        net.start_hub()
        k = net.start_kiosk("k1")
        v1 = net.package(1)
        assert "k1: shown v1" in net.push(v1).stdout
        result = net.push(net.package(2, big=True))  # ~8 MB: cannot fit in 3 MiB
        assert "k1: refused" in result.stdout and "ENOSPC" in result.stdout, result.stdout
        assert "No space left on device" in result.stdout
        k.wait_line(r"ERROR .*staging v2 \(case CASE-1\) failed: .*\(ENOSPC\)")
        assert "Traceback" not in k.text()
        assert shown(net) == (1, manifest_sha(v1))
        assert not any((small_disk / "staging").iterdir()), "the partial staging was dropped"
        # the kiosk still works: a plan that fits is taken
        v3 = net.package(3)
        assert "k1: shown v3" in net.push(v3).stdout
        assert shown(net) == (3, manifest_sha(v3))
    finally:
        net.close()


def test_damaged_file_found_at_start_newest_good_version_shown(net):
    store = PlanStore(net.state("k1"))
    trusted = load_trust_dir(net.root / "trust")
    for version in (1, 2, 3):
        store.commit(net.package(version), trusted=trusted, require_signature=True)
    current = store.current()
    mesh = current.path / "meshes" / "head.glb"
    mesh.chmod(0o644)
    data = bytearray(mesh.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped bit in the shown plan's mesh
    mesh.write_bytes(bytes(data))
    del store
    k = net.start_kiosk("k1", room="OR-2")  # a room with no plan at the hub
    k.wait_line(r"showing case CASE-1 v2\b")
    k.wait_line(r"WARNING orkiosk.store: .*quarantine", timeout=5)
    assert shown(net) == (2, manifest_sha(net.root / "pkgs" / "v2-alice"))
    quarantined = list((net.state("k1") / "quarantine").iterdir())
    assert len(quarantined) == 1 and Path(quarantined[0]).name.startswith("CASE-1")
