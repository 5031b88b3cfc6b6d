"""`orkiosk push`: a planner's DEALER client. Announce the package, upload what the hub lacks in
chunks with a bounded window of credit, ask the hub to publish it, then print each kiosk's answer
as it arrives.

The package is read lightly here (plan.json's hash, case, version and file list); the hub and
every kiosk verify it in full, so a damaged package is refused there with the reason.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import zmq

from orkiosk.plan.package import MANIFEST_NAME
from orkiosk.plan.signing import SIG_NAME
from orkiosk.sync import codec
from orkiosk.sync.keys import Identity, SyncError
from orkiosk.sync.link import HEARTBEAT_S, client_socket, recv_client, send

WINDOW = 8
# test hook: stop uploading after this many chunks (the tests SIGKILL a planner mid-upload)
HOLD_ENV = "ORKIOSK_SYNC_HOLD_AFTER_CHUNKS"
REPLY_TIMEOUT_S = 15.0
COMMIT_TIMEOUT_S = 120.0
WORDS = {"shown": "shown v{v}", "confirm": "waiting for confirmation", "refused": "refused: {r}"}


@dataclass(frozen=True)
class Outline:
    sha: str
    case_id: str
    plan_version: int
    files: tuple  # ((path, size), ...)


def outline(package: Path) -> Outline:
    package = Path(package)
    try:
        manifest = (package / MANIFEST_NAME).read_bytes()
        doc = json.loads(manifest)
        case_id, version = str(doc["case_id"]), int(doc["plan_version"])
        paths = [MANIFEST_NAME] + [str(f["path"]) for f in doc["files"]]
    except (OSError, ValueError, KeyError, TypeError):
        raise SyncError(f"{package}: not a planning package (no readable plan.json)") from None
    if (package / SIG_NAME).is_file():
        paths.insert(1, SIG_NAME)
    files = []
    for p in paths:
        try:
            files.append((p, (package / p).stat().st_size))
        except OSError:
            raise SyncError(f"{package}: {p} is listed but missing") from None
    return Outline(hashlib.sha256(manifest).hexdigest(), case_id, version, tuple(files))


class Pusher:
    def __init__(self, hub: str, hub_key: bytes, me: Identity, out: Callable[[str], None]):
        self.ctx = zmq.Context()
        self.sock = client_socket(self.ctx, hub, hub_key, me)
        self.hub = hub
        self.out = out

    def close(self) -> None:
        self.sock.close(0)
        self.ctx.term()

    def _next(self, timeout_s: float, waiting_for: str):
        """The next message from the hub (Pongs answer our pings and are skipped)."""
        deadline = time.monotonic() + timeout_s
        next_ping = time.monotonic() + HEARTBEAT_S
        while True:
            now = time.monotonic()
            if now >= deadline:
                raise SyncError(
                    f"the hub at {self.hub} did not answer ({waiting_for}) within "
                    f"{timeout_s:.0f} s; is it running, and is this identity in its --planners?"
                )
            wait = min(deadline, next_ping) - now
            if self.sock.poll(int(wait * 1000) + 1):
                try:
                    msg = recv_client(self.sock)
                except codec.ProtocolError as exc:
                    raise SyncError(f"the hub sent a malformed message ({exc})") from None
                if isinstance(msg, codec.Error):
                    raise SyncError(f"the hub dropped this planner: {msg.reason}")
                if not isinstance(msg, codec.Pong):
                    return msg
            if time.monotonic() >= next_ping:
                send(self.sock, codec.Ping())
                next_ping = time.monotonic() + HEARTBEAT_S

    def push(self, package: Path, room: str, wait_s: float) -> int:
        o = outline(package)
        send(self.sock, codec.Push(room, o.sha, o.case_id, o.plan_version, o.files))
        msg = self._next(REPLY_TIMEOUT_S, "push")
        if isinstance(msg, codec.Refused):
            raise SyncError(f"the hub refused the plan: {msg.reason}")
        if not isinstance(msg, codec.Ready) or msg.sha != o.sha:
            raise SyncError(f"unexpected answer from the hub ({codec.kind_of(msg)})")
        self._upload(Path(package), o, {p for p, _ in msg.have})
        send(self.sock, codec.Commit(o.sha))
        msg = self._next(COMMIT_TIMEOUT_S, "commit")
        if isinstance(msg, codec.Refused):
            raise SyncError(f"the hub refused the plan: {msg.reason}")
        if not isinstance(msg, codec.Accepted):
            raise SyncError(f"unexpected answer from the hub ({codec.kind_of(msg)})")
        names = ", ".join(msg.kiosks) or "none connected"
        self.out(
            f"hub accepted case {o.case_id} v{msg.plan_version} for room {room} (kiosks: {names})"
        )
        self._answers(o.sha, set(msg.kiosks), wait_s)
        return 0

    def point(self, room: str, kind: str, target: str, side: bool = False) -> int:
        """Follow mode: show `target` on the room's kiosks that follow the planner."""
        send(self.sock, codec.Point(room, kind, target, side))
        msg = self._next(REPLY_TIMEOUT_S, "point")
        if not isinstance(msg, codec.Pointed):
            raise SyncError(f"unexpected answer from the hub ({codec.kind_of(msg)})")
        what = f"{kind} {target}" + (" (side)" if side else "")
        names = ", ".join(msg.kiosks) or "none connected"
        self.out(f"sent {what} to room {room} (kiosks: {names}; shown where follow mode is on)")
        return 0

    def _upload(self, package: Path, o: Outline, have: set) -> None:
        chunks = []
        for path, size in o.files:
            if path in have:
                continue
            chunks += [(path, off) for off in range(0, size, codec.CHUNK_MAX)] or [(path, 0)]
        pending = acked = 0
        hold = int(os.environ.get(HOLD_ENV, "0") or 0)
        handles: dict[str, object] = {}
        stack = contextlib.ExitStack()
        try:
            while chunks or pending:
                while chunks and pending < WINDOW:
                    path, off = chunks.pop(0)
                    if path not in handles:
                        handles[path] = stack.enter_context(open(package / path, "rb"))  # noqa: SIM115
                    f = handles[path]
                    f.seek(off)
                    if not send(self.sock, codec.Put(o.sha, path, off, f.read(codec.CHUNK_MAX))):
                        raise SyncError(f"cannot reach the hub at {self.hub}")
                    pending += 1
                msg = self._next(REPLY_TIMEOUT_S, "upload")
                if isinstance(msg, codec.PutOk):
                    pending -= 1
                    acked += 1
                    if acked == hold:
                        self.out(f"holding after {acked} chunks")
                        threading.Event().wait()
                elif isinstance(msg, codec.Refused):
                    raise SyncError(f"the hub refused the plan: {msg.reason}")
        except OSError as exc:
            raise SyncError(f"{package}: cannot read {exc.filename} ({exc.strerror})") from None
        finally:
            stack.close()

    def _answers(self, sha: str, kiosks: set, wait_s: float) -> None:
        """Print each kiosk's answer until every kiosk known at commit has a final one."""
        final: set = set()
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and not (kiosks and kiosks <= final):
            try:
                msg = self._next(deadline - time.monotonic(), "answers")
            except SyncError:
                break
            if isinstance(msg, codec.Report) and msg.sha == sha:
                self.out(
                    f"{msg.kiosk}: " + WORDS[msg.outcome].format(v=msg.plan_version, r=msg.reason)
                )
                final.add(msg.kiosk)
        silent = sorted(kiosks - final)
        if silent:
            self.out(f"no answer within {wait_s:g} s from: {', '.join(silent)}")
