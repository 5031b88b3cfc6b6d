"""Where new plans come from while the kiosk runs (until network sync drives it):

- FolderWatcher: polls a folder; a package directory that appears (or changes) in it is offered
  once its plan.json has stayed unchanged for one poll (packages written by orkiosk appear
  atomically; a copy made by hand is given time to finish).
- ControlSocket: a Unix stream socket accepting package paths, one per line; answers "queued".

Both run on their own threads and call `offer(path)`; the app moves the work onto its own thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("orkiosk.intake")
MAX_LINE = 4096


class FolderWatcher:
    def __init__(self, folder: Path, offer: Callable[[Path], None], interval: float = 1.0):
        self.folder = Path(folder)
        self.offer = offer
        self.interval = interval
        self._seen: dict[Path, tuple] = {}
        self._candidates: dict[Path, tuple] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="orkiosk-watch", daemon=True)

    def start(self) -> FolderWatcher:
        self._seen = self._scan()  # what is there at start is not new
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _scan(self) -> dict[Path, tuple]:
        found = {}
        try:
            entries = list(os.scandir(self.folder))
        except OSError:
            return found
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                continue
            try:
                st = os.stat(Path(entry.path) / "plan.json")
            except OSError:
                continue
            found[Path(entry.path)] = (st.st_mtime_ns, st.st_size, st.st_ino)
        return found

    def poll(self) -> list[Path]:
        """One scan: the packages that became ready since the last one (oldest first)."""
        now = self._scan()
        ready = []
        for path, sig in now.items():
            if self._seen.get(path) == sig:
                continue
            if self._candidates.get(path) == sig:  # unchanged over one interval: complete
                ready.append((sig[0], path))
                self._seen[path] = sig
                del self._candidates[path]
            else:
                self._candidates[path] = sig
        return [p for _, p in sorted(ready)]

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for path in self.poll():
                log.info("watch: new package %s", path)
                self.offer(path)


class ControlSocket:
    def __init__(self, path: Path, offer: Callable[[Path], None]):
        self.path = Path(path)
        self.offer = offer
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._thread = threading.Thread(target=self._run, name="orkiosk-control", daemon=True)

    def start(self) -> ControlSocket:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists() or self.path.is_symlink():
            self.path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(self.path))
        os.chmod(self.path, 0o660)
        sock.listen(4)
        sock.settimeout(0.5)
        self._sock = sock
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if self._sock is not None:
            self._sock.close()
        with contextlib.suppress(OSError):
            self.path.unlink()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(2.0)
                try:
                    self._serve(conn)
                except OSError as exc:
                    log.warning("control socket: %s", exc)

    def _serve(self, conn: socket.socket) -> None:
        data = b""
        while b"\n" not in data and len(data) <= MAX_LINE:
            chunk = conn.recv(1024)
            if not chunk:
                break
            data += chunk
        line = data.split(b"\n", 1)[0].strip()
        if len(data) > MAX_LINE or not line:
            conn.sendall(b"error: send one package path per line\n")
            return
        try:
            path = Path(line.decode("utf-8"))
        except UnicodeDecodeError:
            conn.sendall(b"error: path is not UTF-8\n")
            return
        self.offer(path)
        conn.sendall(b"queued\n")


def send_path(socket_path: Path, package: Path, timeout: float = 5.0) -> str:
    """Client side: ask a running kiosk to load a package; returns its one-line answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(socket_path))
        s.sendall(str(Path(package).resolve()).encode("utf-8") + b"\n")
        return s.recv(1024).decode("utf-8", "replace").strip()
