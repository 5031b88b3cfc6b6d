"""The kiosk's side of sync: a DEALER on its own thread that keeps the room's plan.

It asks the hub for the room's state on connect, on every heartbeat and on a notice (the hub also
sends it unasked when the room's plan changes); fetches what it lacks file by file in chunks by
offset with a bounded window of credit into the store's staging folder, through the store's
staging writer (files already staged are skipped, a partial file resumes at its size); then hands
the staged folder to `deliver` and sends the hub its answer.

Cut-through: when the hub says a plan is incoming for the room (`Incoming`, while a planner
uploads it), the receiver prefetches it the same way into its staging (at most one, the newest).
It hands it to `deliver` (which verifies and commits) only once the hub's State names that plan,
that is after the hub verified and committed exactly the upload it came from; the fetch then just
goes on with whatever had not arrived yet. A prefetch the hub gives up (a Notice: refused,
abandoned, or replaced by a new upload of the same plan, whose plan.sig may differ), replaced by
a newer one or by another plan's State, or not announced again for STALL_S, is dropped from
staging. The socket never leaves this thread:
other threads report late answers through `answer()`, which wakes the loop through a pipe.

verify_early(folder), if given, runs on this thread once a prefetch is complete, while the hub
still verifies and commits that upload (the kiosk verifies at the same time instead of after it:
the store keeps the result for the commit in `deliver`).

deliver(folder, state) -> Outcome | None runs on this thread; None means "the answer comes later
through answer()" (the windowed kiosk answers once its screen has decided). on_follow(Follow),
also on this thread, gets what a planner points at (follow mode); without it they are ignored.
"""

from __future__ import annotations

import errno
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import zmq

from orkiosk.sync import codec
from orkiosk.sync.keys import Identity
from orkiosk.sync.link import HEARTBEAT_S, client_socket, recv_client, send

log = logging.getLogger("orkiosk.receiver")
WINDOW = 4
STALL_S = 5.0
# test hook: stop asking for chunks after this many (the tests SIGKILL a kiosk mid-fetch)
HOLD_ENV = "ORKIOSK_SYNC_HOLD_AFTER_CHUNKS"


@dataclass(frozen=True)
class Outcome:
    outcome: str  # shown / confirm / refused
    case_id: str
    plan_version: int
    reason: str = ""


@dataclass(frozen=True)
class Link:
    """What the status line shows: connected or not, and when the hub was last heard."""

    connected: bool
    last_heard: float | None  # time.time() of the last message, None = never


@dataclass
class _Fetch:
    state: codec.State
    todo: list  # (path, offset, length) not yet requested
    pending: set  # (path, offset) requested
    last: float
    writer: object  # the store's StagingWriter for staging/<sha>/
    sizes: dict  # path -> declared size
    prefetch: bool = False  # an incoming plan no State has named yet: never delivered
    early: bool = False  # verify_early ran on the complete prefetch


class Receiver:
    def __init__(
        self,
        hub: str,
        hub_key: bytes,
        me: Identity,
        room: str,
        store,
        deliver: Callable[[Path, codec.State], Outcome | None],
        on_link: Callable[[Link], None] | None = None,
        heartbeat_s: float = HEARTBEAT_S,
        on_follow: Callable[[codec.Follow], None] | None = None,
        verify_early: Callable[[Path], None] | None = None,
    ):
        self.hub, self.hub_key, self.me, self.room = hub, hub_key, me, room
        self.store = store  # orkiosk.store.PlanStore (injected: sync does not import it)
        self.deliver = deliver
        self.on_link = on_link or (lambda link: None)
        self.heartbeat_s = heartbeat_s
        self.on_follow = on_follow  # None: this kiosk ignores a planner's pointing (headless)
        self.verify_early = verify_early
        self._stop = threading.Event()
        self._answers: queue.Queue = queue.Queue()
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="orkiosk-sync", daemon=True)
        self.outcomes: dict[str, Outcome] = {}  # by sha: what this kiosk did with each plan
        self._sent: set = set()  # shas answered on this connection
        self._fetch: _Fetch | None = None
        self._prefetch_failed = ""  # an incoming plan this kiosk could not stage: not again
        self._heard: float | None = None
        self._connected = False
        self._chunks = 0
        self._hold = int(os.environ.get(HOLD_ENV, "0") or 0)

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        os.write(self._wake_w, b"x")
        self._thread.join(timeout=5)
        for fd in (self._wake_r, self._wake_w):
            os.close(fd)

    def answer(self, sha: str, outcome: Outcome) -> None:
        """From any thread: the final answer about a plan delivered earlier."""
        self._answers.put((sha, outcome))
        os.write(self._wake_w, b"x")

    # ------------------------------------------------------------ the loop
    def _run(self) -> None:
        ctx = zmq.Context()
        sock = None
        try:
            while not self._stop.is_set():
                sock = client_socket(ctx, self.hub, self.hub_key, self.me, self.heartbeat_s)
                self._sent.clear()
                self._loop(sock)
                sock.close(0)
                sock = None
        except Exception:  # never a silent death: the status line then says "no hub"
            log.exception("sync receiver stopped")
            self._link(False)
        finally:
            if sock is not None:
                sock.close(0)
            ctx.term()

    def _loop(self, sock) -> None:
        """Serve one connection; returns to reconnect (after an Error or garbage from the hub)."""
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        poller.register(self._wake_r, zmq.POLLIN)
        send(sock, codec.GetState(self.room))
        beat = time.monotonic() + self.heartbeat_s
        while not self._stop.is_set():
            events = dict(poller.poll(max(1, int((beat - time.monotonic()) * 1000))))
            if self._wake_r in events:
                os.read(self._wake_r, 4096)
                self._drain_answers(sock)
            if sock in events:
                for _ in range(64):
                    try:
                        msg = recv_client(sock)
                    except zmq.Again:
                        break
                    except codec.ProtocolError as exc:
                        log.warning("hub sent a malformed message (%s); reconnecting", exc)
                        return
                    self._heard = time.time()
                    if isinstance(msg, codec.Error):
                        log.warning("hub dropped this kiosk: %s; reconnecting", msg.reason)
                        return
                    self._on_message(sock, msg)
            if time.monotonic() >= beat:
                beat = time.monotonic() + self.heartbeat_s
                send(sock, codec.GetState(self.room))
                self._check_stall(sock)
            self._link(self._heard is not None and time.time() - self._heard < 3 * self.heartbeat_s)

    def _link(self, connected: bool) -> None:
        self._connected = connected
        self.on_link(Link(connected, self._heard))

    def _drain_answers(self, sock) -> None:
        while True:
            try:
                sha, outcome = self._answers.get_nowait()
            except queue.Empty:
                return
            self.outcomes[sha] = outcome
            self._sent.discard(sha)
            self._send_answer(sock, sha)

    def _send_answer(self, sock, sha: str) -> None:
        o = self.outcomes.get(sha)
        if o is None or sha in self._sent:
            return
        reason = o.reason[: codec.MAX_TEXT]
        case_id = o.case_id[: codec.MAX_TEXT]
        if send(sock, codec.Answer(self.room, sha, case_id, o.plan_version, o.outcome, reason)):
            self._sent.add(sha)

    # ------------------------------------------------------------ messages
    def _on_message(self, sock, msg) -> None:
        if isinstance(msg, codec.State):
            self._on_state(sock, msg)
        elif isinstance(msg, codec.Incoming):
            self._on_incoming(sock, msg)
        elif isinstance(msg, codec.Notice):
            if self._fetch is not None and self._fetch.prefetch:
                log.info("the hub gave up the incoming plan; dropping what was prefetched")
                self._drop_fetch()
            send(sock, codec.GetState(self.room))
        elif isinstance(msg, codec.Chunk):
            self._on_chunk(sock, msg)
        elif isinstance(msg, codec.Follow) and msg.room == self.room and self.on_follow:
            self.on_follow(msg)

    def _on_state(self, sock, state: codec.State) -> None:
        if state.room != self.room or not state.sha:
            return
        sha = state.sha
        if sha in self.outcomes:
            self._send_answer(sock, sha)
            return
        cur = self.store.current()
        if cur is not None and cur.manifest_sha256 == sha:
            self.outcomes[sha] = Outcome("shown", cur.case_id, cur.plan_version)
            self._send_answer(sock, sha)
            return
        f = self._fetch
        if f is not None and f.state.sha == sha:
            if f.prefetch:
                self._confirm(sock, state)
            return
        self._start_fetch(sock, state)

    def _on_incoming(self, sock, inc: codec.Incoming) -> None:
        """A plan is arriving at the hub: prefetch it (the newest only; a fetch of the room's
        committed plan goes first, and the hub says it again after its next State)."""
        f = self._fetch
        if inc.room != self.room or inc.sha in self.outcomes or inc.sha == self._prefetch_failed:
            return
        if f is not None and f.state.sha == inc.sha:
            f.last = time.monotonic()  # still under way at the hub
            return
        if f is not None and not f.prefetch:
            return
        cur = self.store.current()
        if cur is not None and cur.manifest_sha256 == inc.sha:
            return
        state = codec.State(inc.room, inc.sha, inc.case_id, inc.plan_version, inc.files)
        self._start_fetch(sock, state, prefetch=True)

    def _confirm(self, sock, state: codec.State) -> None:
        """The hub committed the plan this kiosk prefetches: go on to deliver it."""
        f = self._fetch
        if f.sizes != dict(state.files):
            log.warning("the committed plan's files differ from the incoming one's; fetching")
            self._start_fetch(sock, state)
            return
        f.state, f.prefetch = state, False
        log.info("v%d committed by the hub; finishing its fetch", state.plan_version)
        self._request(sock)

    def _start_fetch(self, sock, state: codec.State, prefetch: bool = False) -> None:
        self._drop_fetch()  # another plan's fetch under way (a prefetch's staging goes too)
        writer = self.store.stage_writer(state.sha)
        staged = self.store.staged_files(state.sha)
        staged.pop("plan.sig", None)  # not covered by the manifest's hash: always fetched
        sizes = dict(state.files)
        self._fetch = _Fetch(state, [], set(), time.monotonic(), writer, sizes, prefetch)
        try:
            self._plan(self._fetch, state.files, staged)
        except OSError as exc:
            self._staging_failed(sock, exc)
            return
        log.info(
            "fetching v%d (case %s): %d chunk(s)%s",
            state.plan_version,
            state.case_id,
            len(self._fetch.todo),
            " (incoming: prefetch while the planner uploads)" if prefetch else "",
        )
        self._request(sock)

    def _plan(self, f: _Fetch, files, staged: dict) -> None:
        """Add the chunks of `files` not yet staged to the fetch's list (OSError: staging)."""
        writer, todo = f.writer, f.todo
        for path, size in files:
            if staged.get(path) == size:
                continue
            have = writer.have(path, size)
            todo += [
                (path, off, min(codec.CHUNK_MAX, size - off))
                for off in range(have, size, codec.CHUNK_MAX)
            ]
            if size == 0:
                writer.write(path, 0, b"", 0)

    def _request(self, sock) -> None:
        f = self._fetch
        if self._hold and self._chunks >= self._hold:
            return  # the test hook holds: no more fetches from this process
        while f.todo and len(f.pending) < WINDOW:
            path, off, length = f.todo.pop(0)
            f.pending.add((path, off))
            send(sock, codec.Fetch(f.state.sha, path, off, length))
        if f.todo or f.pending:
            return
        if not f.prefetch:
            self._finish(sock)
        elif self.verify_early is not None and not f.early:  # complete; it waits for its State
            f.early = True
            try:
                self.verify_early(f.writer.folder)
            except Exception as exc:  # the commit verifies again and says why
                log.warning("early verification of v%d failed: %s", f.state.plan_version, exc)

    def _on_chunk(self, sock, msg: codec.Chunk) -> None:
        f = self._fetch
        if f is None or msg.sha != f.state.sha or (msg.path, msg.offset) not in f.pending:
            return  # late or unasked: ignore
        size = f.sizes[msg.path]
        if msg.offset + len(msg.data) > size:
            log.warning("hub sent %s past its size; fetching again", msg.path)
            self._drop_fetch()
            send(sock, codec.GetState(self.room))
            return
        f.pending.discard((msg.path, msg.offset))
        f.last = time.monotonic()
        self._chunks += 1
        try:
            f.writer.write(msg.path, msg.offset, msg.data, size)
        except OSError as exc:  # a full disk (ENOSPC), a read-only or failing one
            self._staging_failed(sock, exc)
            return
        if self._hold and self._chunks == self._hold:
            log.warning("test hook %s: holding after %d chunks", HOLD_ENV, self._chunks)
        self._request(sock)

    def _drop_fetch(self) -> None:
        """Forget the fetch under way; what it staged stays for the next one to resume, but
        not for a prefetch (a plan no State named)."""
        f, self._fetch = self._fetch, None
        if f is not None and f.prefetch:
            f.writer.discard()
        elif f is not None:
            f.writer.close_files()

    def _staging_failed(self, sock, exc: OSError) -> None:
        """The kiosk cannot store what it fetches: refuse with the reason (the plan on screen
        stays), drop the partial staging to free the space, and answer the hub."""
        f, self._fetch = self._fetch, None
        state = f.state
        code = errno.errorcode.get(exc.errno or 0, "EIO")
        log.error(
            "staging v%d (case %s) failed: %s (%s); the current plan stays",
            state.plan_version,
            state.case_id,
            exc.strerror or exc,
            code,
        )
        f.writer.discard()
        if f.prefetch:  # not answered: the hub has not committed it; the fetch after its
            self._prefetch_failed = state.sha  # State refuses it if the disk is still full
            return
        reason = f"the kiosk could not store the plan: {exc.strerror or 'I/O error'} ({code})"
        self.outcomes[state.sha] = Outcome("refused", state.case_id, state.plan_version, reason)
        self._send_answer(sock, state.sha)

    def _check_stall(self, sock) -> None:
        f = self._fetch
        if f is not None and f.prefetch and time.monotonic() - f.last > STALL_S:
            log.info("the incoming plan is no longer announced; dropping what was prefetched")
            self._drop_fetch()
        elif f is not None and f.pending and time.monotonic() - f.last > STALL_S:
            log.info("fetch stalled; resuming from what is staged")
            self._drop_fetch()
            send(sock, codec.GetState(self.room))

    def _finish(self, sock) -> None:
        f, self._fetch = self._fetch, None
        state, folder = f.state, f.writer.folder
        try:
            outcome = self.deliver(folder, state)
        except Exception as exc:  # deliver must answer, not crash the receiver
            log.error("delivering %s failed: %s", state.sha[:12], type(exc).__name__)
            outcome = Outcome("refused", state.case_id, state.plan_version, "internal error")
        if outcome is not None and outcome.outcome == "refused":
            f.writer.discard()  # not resumed: a retry fetches afresh
        if outcome is not None:
            self.outcomes[state.sha] = outcome
            self._send_answer(sock, state.sha)
