"""The watchdog path, with the real windowed kiosk (offscreen SDL window, real GL) and the
sd_notify protocol read from a datagram socket the test owns (this container cannot run systemd
as PID 1): READY=1 only once the plan's first frame is drawn, WATCHDOG=1 pings from the Kivy
clock while the UI runs, none while the UI thread is blocked; then the test does what systemd
does with WatchdogSec= and Restart=always (SIGABRT, start again) and the kiosk comes back on
the same plan."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import small_plan
from orkiosk.plan.package import write_package
from orkiosk.store import PlanStore
from orkiosk.store.audit import AuditLog

FREEZE_AFTER_S = 8.0


class Notify:
    """A NOTIFY_SOCKET like systemd's: every datagram with the time it arrived."""

    def __init__(self, path: Path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.got: list[tuple[float, str]] = []

    def pump(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            self.got.append((time.monotonic(), data.decode()))

    def wait(self, message: str, timeout: float) -> float:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for t, m in self.got:
                if message in m.split("\n"):
                    return t
            self.pump(0.1)
        raise AssertionError(f"no {message} within {timeout} s: {self.got}")


def start(state: Path, notify: Path, home: Path, freeze: float | None) -> subprocess.Popen:
    env = {
        **os.environ,
        "SDL_VIDEODRIVER": "offscreen",
        "KIVY_NO_ARGS": "1",
        "KIVY_HOME": str(home),
        "NOTIFY_SOCKET": str(notify),
        "WATCHDOG_USEC": "1000000",  # WatchdogSec=1: a ping every 0.5 s
    }
    env.pop("WATCHDOG_PID", None)
    if freeze is not None:
        env["ORKIOSK_TEST_FREEZE_UI_S"] = str(freeze)
    cmd = [sys.executable, "-m", "orkiosk", "run", "--windowed", "--size", "800x600"]
    return subprocess.Popen(
        [*cmd, "--state", str(state)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.fixture
def kiosk_procs():
    procs: list[subprocess.Popen] = []
    yield procs
    for p in procs:  # only what this test started, by PID
        if p.poll() is None:
            p.kill()
            p.wait(timeout=20)


def test_ready_after_first_frame_pings_stop_when_the_ui_hangs_and_restart(tmp_path, kiosk_procs):
    plan, meshes = small_plan()
    state = tmp_path / "state"
    PlanStore(state).commit(write_package(plan, meshes, tmp_path / "v1"))
    audit = AuditLog(state / "audit")
    notify = Notify(tmp_path / "notify.sock")
    t0 = time.monotonic()
    kiosk = start(state, notify.path, tmp_path / "kivy", FREEZE_AFTER_S)
    kiosk_procs.append(kiosk)

    ready = notify.wait("READY=1", timeout=60)
    events = [e["event"] for e in audit.entries()]
    assert events[-2:] == ["start", "plan-shown"], "READY=1 came before the first frame"
    assert ready - t0 < FREEZE_AFTER_S, "the kiosk started too slowly for this test"

    # pings while the UI runs, then none once its thread is blocked
    notify.pump(FREEZE_AFTER_S + 4.0 - (time.monotonic() - t0))
    pings = [t for t, m in notify.got if m == "WATCHDOG=1" and t >= ready]
    assert len(pings) >= 3, notify.got
    assert max(b - a for a, b in zip(pings, pings[1:], strict=False)) < 1.0, "late pings"
    silent = time.monotonic() - pings[-1]
    assert silent > 2.5, f"pings went on for {silent:.1f} s with the UI thread blocked"
    assert kiosk.poll() is None, "hung, not crashed: only the watchdog can tell"

    # what systemd does after WatchdogSec without a ping (WatchdogSignal=SIGABRT), then
    # Restart=always: the kiosk comes back on the same plan, READY after its first frame
    kiosk.send_signal(signal.SIGABRT)
    assert kiosk.wait(timeout=20) == -signal.SIGABRT
    notify.got.clear()
    again = start(state, notify.path, tmp_path / "kivy", None)
    kiosk_procs.append(again)
    notify.wait("READY=1", timeout=60)
    shown = [e for e in audit.entries() if e["event"] == "plan-shown"]
    assert len(shown) == 2 and shown[-1]["case_id"] == "CASE-1"
    assert shown[-1]["plan_version"] == 1
    notify.pump(1.6)
    assert sum(m == "WATCHDOG=1" for _, m in notify.got) >= 2
