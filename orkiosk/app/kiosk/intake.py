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
import shutil
import socket
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from orkiosk.app.logsafe import path_for_log

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
                log.info("watch: new package %s", path_for_log(path))
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


class SyncIntake:
    """Plans from the planning hub (orkiosk.sync.receiver on its own thread).

    A plan that arrives is verified with the kiosk's own trusted keys and, for the case already
    committed, committed to the store; then it is offered to the app like any other package
    (`offer(path, verified)`, which hands it to the Kivy thread; `verified` is the Package the
    store verified, so that the screen does not verify the same files again). A plan for another case or patient is
    offered from staging without being committed: nothing of it is shown until a person confirms
    it on the kiosk. The app calls `report(path, outcome, reason)` once its screen has decided,
    and that answer goes back to the hub. A plan waiting for confirmation is committed when the
    person confirms it (`confirm`, on a worker thread: the store copies and fsyncs) and then
    answered "shown"; declined (`decline`), it is answered "refused" and dropped from staging.
    `link` is the hub link for the status line; `on_follow(Follow)` gets what a planner points
    at (receiver thread)."""

    def __init__(self, settings, offer: Callable[[Path], None], on_follow=None):
        from orkiosk.app.kiosk.syncrun import sync_parts
        from orkiosk.store import PlanStore
        from orkiosk.sync.receiver import Link, Receiver

        me, hub_key, self.trusted = sync_parts(settings)
        self.offer = offer
        self.store = PlanStore(settings.state, lock_wait=10.0)
        self.stale_after_s = settings.stale_after_s
        self.link = Link(False, None)
        self._waiting: dict[Path, tuple] = {}
        self._held: dict[Path, tuple] = {}  # staged plans of another case, until a person decides
        self._lock = threading.Lock()
        self._commit_lock = threading.Lock()  # the receiver and a confirmation both commit
        self.receiver = Receiver(
            settings.hub,
            hub_key,
            me,
            settings.room,
            self.store,
            self._deliver,
            on_link=self._on_link,
            heartbeat_s=settings.heartbeat_s,
            on_follow=on_follow,
            verify_early=self._verify_early,
        )

    def start(self) -> SyncIntake:
        self.receiver.start()
        return self

    def stop(self) -> None:
        self.receiver.stop()

    def _on_link(self, link) -> None:
        if link.connected != self.link.connected:
            log.info("hub link: %s", "connected" if link.connected else "lost")
        self.link = link  # one reference, read by the status line on the Kivy thread

    def _verify_early(self, folder: Path) -> None:
        self.store.verify_early(folder, trusted=self.trusted, require_signature=True)

    def _deliver(self, folder: Path, state):
        from orkiosk.app.kiosk.syncrun import AwaitConfirmation, same_case
        from orkiosk.errors import OrkioskError
        from orkiosk.sync.receiver import Outcome
        from orkiosk.sync.rooms import reason_of

        verified = []

        def check(pkg) -> None:
            verified.append(pkg)  # verified by the store with this kiosk's own trust
            current = self.store.current()
            if current is not None and not same_case(current.path, pkg):
                raise AwaitConfirmation("another case or patient")

        staged = False
        try:
            with self._commit_lock:
                path = self.store.commit(
                    folder, trusted=self.trusted, require_signature=True, check=check
                ).path
        except AwaitConfirmation:
            path, staged = folder, True
        except OrkioskError as exc:
            return Outcome("refused", state.case_id, state.plan_version, reason_of(exc))
        with self._lock:
            self._waiting[Path(path).resolve()] = (state.sha, state, staged)
        log.info("hub: plan %s v%d offered", state.case_id, state.plan_version)
        # the package the store verified (the committed files are those very files, hard
        # linked): the screen need not read, hash and decode 20 MB again while the plan arrives
        pkg = replace(verified[-1], path=Path(path)) if verified else None
        if pkg is not None and pkg.manifest_sha256 != state.sha:
            pkg = None  # not the plan the hub announced: let the screen verify what it reads
        self.offer(Path(path), pkg)
        return None  # the screen decides; report() answers

    def report(self, path: Path, outcome: str, reason: str = "") -> None:
        """The app's decision about a package it was offered (any thread)."""
        from orkiosk.sync.receiver import Outcome

        key = Path(path).resolve()
        with self._lock:
            entry = self._waiting.pop(key, None)
            if entry is not None and entry[2] and outcome == "confirm":
                self._held[key] = entry + ("",)
        if entry is not None:
            sha, state, _ = entry
            self.receiver.answer(sha, Outcome(outcome, state.case_id, state.plan_version, reason))

    def holds(self, path: Path) -> bool:
        """Is this a hub plan waiting in staging for a person's confirmation?"""
        with self._lock:
            return Path(path).resolve() in self._held

    def confirm(self, path: Path, done: Callable[[str], None]) -> bool:
        """A person confirmed the held plan: commit it on a worker thread, answer the hub, then
        `done(reason)` ("" = committed; else why not, and nothing was committed). False when
        this plan is not held; True also while its commit is already under way."""
        key = Path(path).resolve()
        with self._lock:
            entry = self._held.get(key)
            if entry is None or entry[3] == "committing":
                return entry is not None
            self._held[key] = entry[:3] + ("committing",)
        threading.Thread(
            target=self._commit_held, args=(key, entry, done), name="orkiosk-confirm", daemon=True
        ).start()
        return True

    def _commit_held(self, key: Path, entry: tuple, done: Callable[[str], None]) -> None:
        from orkiosk.errors import OrkioskError
        from orkiosk.sync.receiver import Outcome
        from orkiosk.sync.rooms import reason_of

        sha, state, _, _ = entry
        try:
            with self._commit_lock:
                c = self.store.commit(key, trusted=self.trusted, require_signature=True)
        except OrkioskError as exc:
            reason = reason_of(exc)
            outcome = Outcome("refused", state.case_id, state.plan_version, reason)
            shutil.rmtree(key, ignore_errors=True)
        else:
            reason = ""
            log.info(
                "hub: plan %s v%d confirmed on the kiosk, committed", c.case_id, c.plan_version
            )
            outcome = Outcome("shown", c.case_id, c.plan_version)
        with self._lock:
            self._held.pop(key, None)
        self.receiver.answer(sha, outcome)
        done(reason)

    def decline(self, path: Path) -> None:
        """A person kept the current plan: answer "refused" and drop the staged one."""
        from orkiosk.sync.receiver import Outcome

        key = Path(path).resolve()
        with self._lock:
            entry = self._held.get(key)
            if entry is None or entry[3] == "committing":
                return
            del self._held[key]
        sha, state, _, _ = entry
        reason = "not confirmed on the kiosk; the plan on screen stays"
        self.receiver.answer(sha, Outcome("refused", state.case_id, state.plan_version, reason))
        shutil.rmtree(key, ignore_errors=True)
        log.info("hub: plan %s v%d declined on the kiosk", state.case_id, state.plan_version)

    def status_text(self, now: float | None = None) -> tuple[str, bool]:
        """("hub connected, last heard 10:31:02", stale?) for the status line."""
        import time

        now = time.time() if now is None else now
        heard = self.link.last_heard
        when = time.strftime("%H:%M:%S", time.localtime(heard)) if heard else "never"
        stale = heard is None or now - heard > self.stale_after_s
        if stale:
            return f"HUB NOT HEARD (last {when}): the plan may not be the latest", True
        state = "connected" if self.link.connected else "reconnecting"
        return f"hub {state}, last heard {when}", False
