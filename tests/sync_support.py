"""Helpers for the sync tests: identities, signed packages, and real hub / kiosk / push processes
on 127.0.0.1 (free ports chosen by the hub: tcp://127.0.0.1:*)."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from conftest import small_plan
from orkiosk.plan.package import write_package
from orkiosk.plan.signing import sign_package
from orkiosk.plan.synthetic import surface
from orkiosk.sync.keys import generate_identity

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


class Proc:
    """A child process whose output lines are read on a thread (nothing blocks the test)."""

    def __init__(self, args: list, name: str, env: dict | None = None, cmd=None):
        self.name = name
        self.lines: list[str] = []
        self._q: queue.Queue = queue.Queue()
        self.p = subprocess.Popen(
            (cmd or [sys.executable, "-m", "orkiosk"]) + list(map(str, args)),
            stdin=subprocess.PIPE if cmd else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**ENV, **(env or {})},
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.p.stdout:
            self.lines.append(line.rstrip("\n"))
            self._q.put(line)
        self._q.put(None)

    def wait_line(self, pattern: str, timeout: float = 30.0) -> re.Match:
        """The first line from now on matching pattern (earlier lines are searched first)."""
        rx = re.compile(pattern)
        for line in list(self.lines):
            if m := rx.search(line):
                return m
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._q.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            if m := rx.search(line):
                return m
        raise AssertionError(f"{self.name}: no line matching {pattern!r}:\n" + self.text())

    def text(self) -> str:
        return "\n".join(self.lines[-60:])

    def forget(self) -> None:
        self.lines.clear()
        while not self._q.empty():
            self._q.get_nowait()

    def stop(self, sig: int = 15) -> None:
        if self.p.stdin is not None and self.p.poll() is None:
            try:
                self.p.stdin.write("quit\n")
                self.p.stdin.flush()
                self.p.wait(timeout=20)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


class Net:
    """Identities and folders for a hub, planners and kiosks under root."""

    def __init__(self, root: Path, kiosks=("k1", "k2", "k3")):
        self.root = root
        self.keys = root / "keys"
        for name in ("hub", "alice", "mallory", *kiosks):
            generate_identity(self.keys, name)
        for folder, names in (
            ("planners", ["alice"]),
            ("kiosks", list(kiosks)),
            ("trust", ["alice"]),
        ):
            (root / folder).mkdir()
            for n in names:
                shutil.copy(self.keys / f"{n}.pub", root / folder)
        self.procs: list[Proc] = []
        self.endpoint = ""

    def add_kiosk_key(self, name: str) -> None:
        generate_identity(self.keys, name)
        shutil.copy(self.keys / f"{name}.pub", self.root / "kiosks")

    def start_hub(self, bind: str = "tcp://127.0.0.1:*") -> Proc:
        hub = Proc(
            [
                "hub",
                "--bind",
                bind,
                "--identity",
                self.keys / "hub",
                "--planners",
                self.root / "planners",
                "--kiosks",
                self.root / "kiosks",
                "--state",
                self.root / "hub-state",
            ],
            "hub",
        )
        self.procs.append(hub)
        self.endpoint = hub.wait_line(r"hub listening on (tcp://\S+)").group(1)
        return hub

    def start_kiosk(self, name: str, room: str = "OR-1", trust: str = "trust", env=None) -> Proc:
        k = Proc(
            [
                "run",
                "--headless",
                "--hub",
                self.endpoint,
                "--hub-key",
                self.keys / "hub.pub",
                "--identity",
                self.keys / name,
                "--room",
                room,
                "--trust",
                self.root / trust,
                "--state",
                self.state(name),
            ],
            name,
            env,
        )
        self.procs.append(k)
        k.wait_line(rf"kiosk {name} in {room}:")
        return k

    def state(self, name: str) -> Path:
        return self.root / "state" / name

    def push(self, pkg: Path, room: str = "OR-1", who: str = "alice", wait: float = 20):
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "orkiosk",
                "push",
                str(pkg),
                "--hub",
                self.endpoint,
                "--hub-key",
                str(self.keys / "hub.pub"),
                "--identity",
                str(self.keys / who),
                "--room",
                room,
                "--wait",
                str(wait),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env=ENV,
        )

    def push_proc(self, pkg: Path, room: str = "OR-1", who: str = "alice", env=None) -> Proc:
        p = Proc(
            [
                "push",
                pkg,
                "--hub",
                self.endpoint,
                "--hub-key",
                self.keys / "hub.pub",
                "--identity",
                self.keys / who,
                "--room",
                room,
                "--wait",
                "30",
            ],
            "push",
            env,
        )
        self.procs.append(p)
        return p

    def package(
        self, version: int, signer: str | None = "alice", big: bool = False, **changes
    ) -> Path:
        """A signed package; big: a ~8 MB head mesh (several 1 MiB chunks)."""
        plan, meshes = small_plan(plan_version=version, **changes)
        if big:
            meshes["head"] = surface((0, 0, 0), (60, 70, 80), 400, 400)
        tag = "-".join(f"{k}" for k in changes) + ("-big" if big else "")
        tag += f"-{changes['case_id']}" if "case_id" in changes else ""
        out = write_package(plan, meshes, self.root / "pkgs" / f"v{version}-{signer}{tag}")
        if signer:
            sign_package(out, self.keys / f"{signer}.key")
        return out

    def status(self, name: str) -> dict:
        result = subprocess.run(
            [sys.executable, "-m", "orkiosk", "status", "--state", str(self.state(name))],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def close(self) -> None:
        for p in reversed(self.procs):
            p.stop()


def manifest_sha(pkg: Path) -> str:
    import hashlib

    return hashlib.sha256((pkg / "plan.json").read_bytes()).hexdigest()
