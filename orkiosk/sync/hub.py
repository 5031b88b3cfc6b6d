"""The hub on the planning station: one ROUTER socket (CurveZMQ server, ZAP allow-lists), the
current plan of every OR room, uploads from planners, chunked fetches for kiosks, and the kiosks'
answers forwarded to the planners who pushed.

A peer's role (planner or kiosk) and name come from its authenticated CurveZMQ key (the frame's
User-Id), never from what it writes. A message that is malformed, oversize (libzmq drops those
itself), or not one this role may send drops that peer: it gets an Error with the reason and is
ignored from then on; the hub goes on serving everyone else.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import zmq
from zmq.auth.thread import ThreadAuthenticator

from orkiosk.errors import OrkioskError
from orkiosk.plan.signing import SignatureError, load_trust_dir
from orkiosk.sync import codec
from orkiosk.sync.cutthrough import CutThrough
from orkiosk.sync.keys import Peer, SyncError, load_allow_list, load_identity
from orkiosk.sync.link import HEARTBEAT_S, send, tune, uncopied
from orkiosk.sync.rooms import Rooms, Upload, reason_of

log = logging.getLogger("orkiosk.hub")

ALLOWED = {
    "planner": (codec.Ping, codec.Pong, codec.Push, codec.Put, codec.Commit, codec.Point),
    "kiosk": (codec.Ping, codec.Pong, codec.GetState, codec.Fetch, codec.Answer),
}
MAX_DROPPED = 4096


@dataclass
class HubConfig:
    bind: str
    identity: Path
    planners: Path | None
    kiosks: Path | None
    state: Path
    open_store: Callable[[Path], object]  # folder -> orkiosk.store.PlanStore (injected)
    heartbeat_s: float = HEARTBEAT_S
    peer_timeout_s: float = 10.0
    max_package: int = 256 << 20
    max_files: int = codec.MAX_FILES


@dataclass
class Session:
    peer: Peer
    heard: float
    room: str | None = None  # a kiosk's room (from its GetState)
    upload: Upload | None = None
    watch: tuple | None = None  # a planner's (room, sha) after Accepted


@dataclass
class _Allow:
    """ZAP callback for pyzmq's authenticator: a key is allowed if some allow-list holds it."""

    peers: dict
    denied: list = field(default_factory=list)

    def callback(self, domain, key) -> bool:
        ok = bytes(key) in self.peers
        if not ok:
            self.denied.append(time.monotonic())
        return ok


class Hub:
    def __init__(self, config: HubConfig):
        self.cfg = config
        self.me = load_identity(config.identity)
        planners = load_allow_list(config.planners, "planner", "--planners")
        kiosks = load_allow_list(config.kiosks, "kiosk", "--kiosks")
        both = set(planners) & set(kiosks)
        if both:
            raise SyncError(
                f"{planners[next(iter(both))].path.name}: the same key is a planner and a kiosk; "
                "give each party its own identity"
            )
        self.peers = {**planners, **kiosks}
        try:
            self.trust = load_trust_dir(config.planners)
        except SignatureError as exc:
            raise SyncError(f"--planners: {exc}") from None
        self.rooms = Rooms(config.state, config.open_store)
        self.cut = CutThrough(self._kiosk_routes)
        self.sessions: dict[bytes, Session] = {}
        self.dropped: dict[bytes, None] = {}
        self.answers: dict[tuple[str, str], codec.Report] = {}
        self.endpoint = ""
        self.denied = 0

    # ------------------------------------------------------------ the loop
    def serve(self, stop: threading.Event, on_ready=None) -> None:
        ctx = zmq.Context()
        auth = ThreadAuthenticator(ctx)
        auth.start()
        allow = _Allow(self.peers)
        auth.configure_curve_callback(domain="orkiosk", credentials_provider=allow)
        sock = ctx.socket(zmq.ROUTER)
        try:
            tune(sock, self.cfg.heartbeat_s)
            sock.curve_server = True
            sock.curve_secretkey = self.me.curve_secret
            sock.curve_publickey = self.me.curve_public
            sock.zap_domain = b"orkiosk"
            try:
                sock.bind(self.cfg.bind)
            except zmq.ZMQError as exc:
                raise SyncError(f"--bind {self.cfg.bind}: cannot listen there ({exc})") from None
            self.endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)
            if on_ready:
                on_ready(self.endpoint)
            poller = zmq.Poller()
            poller.register(sock, zmq.POLLIN)
            tick = max(50, int(self.cfg.heartbeat_s * 1000))
            while not stop.is_set():
                if poller.poll(tick):
                    for _ in range(1000):
                        try:
                            frames = sock.recv_multipart(flags=zmq.NOBLOCK, copy=False)
                        except zmq.Again:
                            break
                        self._receive(sock, frames)
                self._expire(sock)
                if len(allow.denied) > self.denied:
                    log.warning(
                        "refused %d connection(s) with an unknown key",
                        len(allow.denied) - self.denied,
                    )
                    self.denied = len(allow.denied)
        finally:
            sock.close(0)
            auth.stop()
            ctx.term()

    def _receive(self, sock, frames) -> None:
        route = frames[0].bytes
        if route in self.dropped:
            return
        user = frames[1].get("User-Id") if len(frames) > 1 else None
        peer = self.peers.get((user or "").encode())
        if peer is None:  # cannot happen past ZAP; never trust a message without a key
            self._drop(sock, route, "no authenticated key")
            return
        sess = self.sessions.get(route)
        if sess is None or sess.peer is not peer:
            sess = self.sessions[route] = Session(peer, time.monotonic())
        sess.heard = time.monotonic()
        try:
            msg = codec.decode(uncopied(frames[1:]))
        except codec.ProtocolError as exc:
            self._drop(sock, route, f"malformed message: {exc}")
            return
        if not isinstance(msg, ALLOWED[peer.role]):
            self._drop(sock, route, f"a {peer.role} may not send {codec.kind_of(msg)}")
            return
        try:
            self._handle(sock, route, sess, msg)
        except OrkioskError as exc:
            self._drop(sock, route, reason_of(exc))

    def _drop(self, sock, route: bytes, reason: str) -> None:
        sess = self.sessions.pop(route, None)
        self._abandon(sock, sess)
        who = f"{sess.peer.role} {sess.peer.name}" if sess else "a peer"
        log.warning("dropped %s: %s", who, reason)
        send(sock, codec.Error(reason[: codec.MAX_TEXT]), route)
        self.dropped[route] = None
        while len(self.dropped) > MAX_DROPPED:
            self.dropped.pop(next(iter(self.dropped)))

    def _expire(self, sock) -> None:
        now = time.monotonic()
        for route, sess in list(self.sessions.items()):
            if now - sess.heard > self.cfg.peer_timeout_s:
                log.info("%s %s went silent", sess.peer.role, sess.peer.name)
                del self.sessions[route]
                self._abandon(sock, sess)

    def _abandon(self, sock, sess: Session | None) -> None:
        """A planner gone mid-upload: close the files it was writing (a re-push resumes) and
        tell the kiosks that prefetched from it."""
        if sess is not None and sess.upload is not None:
            sess.upload.writer.close_files()
            self.cut.abandon(sock, sess.upload)
            sess.upload = None

    def _kiosk_routes(self, room: str) -> list:
        return [r for r, s in self.sessions.items() if s.room == room and s.peer.role == "kiosk"]

    # ------------------------------------------------------------ messages
    def _handle(self, sock, route: bytes, sess: Session, msg) -> None:
        if isinstance(msg, codec.Ping):
            send(sock, codec.Pong(), route)
        elif isinstance(msg, codec.GetState):
            sess.room = msg.room
            state = self._state(msg.room)
            send(sock, state, route)
            incoming = self.cut.announce(msg.room)
            if incoming is not None and incoming.sha != state.sha:
                send(sock, incoming, route)  # a kiosk that came late, or missed it, prefetches
        elif isinstance(msg, codec.Fetch):
            self._fetch(sock, route, sess, msg)
        elif isinstance(msg, codec.Answer):
            self._answer(sock, sess, msg)
        elif isinstance(msg, codec.Push):
            self._push(sock, route, sess, msg)
        elif isinstance(msg, codec.Put):
            if sess.upload is None or sess.upload.sha != msg.sha:
                raise SyncError("put without a push")
            up = sess.upload
            end = up.write(msg.path, msg.offset, msg.data)
            send(sock, codec.PutOk(msg.sha, msg.path, end), route)
            if up.rewritten:  # bytes kiosks may hold were written again: no cut-through
                self.cut.abandon(sock, up)
            self.cut.wrote(sock, up, msg.path, msg.offset, msg.data, end)
        elif isinstance(msg, codec.Commit):
            self._commit(sock, route, sess, msg)
        elif isinstance(msg, codec.Point):
            self._point(sock, route, sess, msg)

    def _state(self, room: str) -> codec.State:
        cur = self.rooms.current(room)
        if cur is None:
            return codec.State(room, "", "", 0, ())
        found = self.rooms.committed_files(cur.manifest_sha256)
        files = found[1] if found else ()
        return codec.State(room, cur.manifest_sha256, cur.case_id, cur.plan_version, files)

    def _fetch(self, sock, route, sess, msg: codec.Fetch) -> None:
        if self.cut.fetch(sock, route, msg):  # of a plan still arriving (cut-through)
            return
        data = self.rooms.read(msg.sha, msg.path, msg.offset, msg.length)
        if data is None:  # superseded and pruned: the kiosk asks for the state again
            send(sock, codec.Notice(sess.room or "none"), route)
            return
        send(sock, codec.Chunk(msg.sha, msg.path, msg.offset, data), route)

    def _answer(self, sock, sess: Session, msg: codec.Answer) -> None:
        if sess.room != msg.room:
            raise SyncError(f"answer for room {msg.room}, but the kiosk asked for {sess.room}")
        report = codec.Report(
            msg.room, sess.peer.name, msg.sha, msg.plan_version, msg.outcome, msg.reason
        )
        if self.answers.get((msg.room, sess.peer.name)) == report:
            return
        self.answers[(msg.room, sess.peer.name)] = report
        log.info("kiosk %s in %s: %s v%d", sess.peer.name, msg.room, msg.outcome, msg.plan_version)
        for route, other in self.sessions.items():
            if other.watch == (msg.room, msg.sha):
                send(sock, report, route)

    def _push(self, sock, route, sess, msg: codec.Push) -> None:
        total = sum(size for _, size in msg.files)
        reason = None
        if total > self.cfg.max_package or len(msg.files) > self.cfg.max_files:
            reason = (
                f"package too large: {len(msg.files)} files, {total >> 20} MiB (limits "
                f"{self.cfg.max_files} files, {self.cfg.max_package >> 20} MiB)"
            )
        elif "plan.json" not in dict(msg.files):
            reason = "the package has no plan.json"
        else:
            highest = self.rooms.highest_version(msg.case_id)
            if highest is not None and msg.plan_version <= highest:
                reason = (
                    f"plan version {msg.plan_version} of case {msg.case_id} is not newer than "
                    f"version {highest} the hub already has; a plan version never goes back"
                )
        if reason:
            log.info("planner %s: push to %s refused: %s", sess.peer.name, msg.room, reason)
            send(sock, codec.Refused(msg.sha, reason), route)
            return
        if sess.upload is not None and sess.upload.sha != msg.sha:
            self.cut.abandon(sock, sess.upload)  # this planner pushes another plan instead
        sess.upload = self.rooms.begin(msg)
        have = tuple((p, s) for p, s in msg.files if p in sess.upload.done)
        send(sock, codec.Ready(msg.sha, have), route)
        self.cut.begin(sock, sess.upload)  # the room's kiosks may fetch while it arrives

    def _commit(self, sock, route, sess, msg: codec.Commit) -> None:
        up = sess.upload
        if up is None or up.sha != msg.sha:
            raise SyncError("commit without a push")
        sess.upload = None
        try:
            committed = self.rooms.commit(up, self.trust)
        except OrkioskError as exc:
            self.cut.abandon(sock, up)  # kiosks drop what they prefetched of it
            reason = reason_of(exc)
            log.info("planner %s: plan for %s refused: %s", sess.peer.name, up.room, reason)
            send(sock, codec.Refused(up.sha, reason[: codec.MAX_TEXT]), route)
            return
        log.info(
            "planner %s: room %s now case %s v%d (%s)",
            sess.peer.name,
            up.room,
            committed.case_id,
            committed.plan_version,
            committed.manifest_sha256[:12],
        )
        self.cut.finish(up)
        kiosks = sorted({s.peer.name for s in self.sessions.values() if s.room == up.room})
        sess.watch = (up.room, up.sha)
        # the room's state itself, not a notice to ask for it: one round trip less per kiosk
        state = self._state(up.room)
        for r, other in list(self.sessions.items()):
            if other.room == up.room and other.peer.role == "kiosk":
                send(sock, state, r)
        send(sock, codec.Accepted(up.room, up.sha, committed.plan_version, tuple(kiosks)), route)

    def _point(self, sock, route, sess, msg: codec.Point) -> None:
        """Follow mode: relay a planner's view to its room's kiosks (the role came from the
        key: only planners reach here); each kiosk decides whether it follows."""
        follow = codec.Follow(msg.room, sess.peer.name, msg.kind, msg.target, msg.side)
        sent = []
        for r, other in list(self.sessions.items()):
            if other.room == msg.room and other.peer.role == "kiosk" and send(sock, follow, r):
                sent.append(other.peer.name)
        log.info(
            "planner %s points %s in %s (%d kiosk(s))",
            sess.peer.name,
            msg.kind,
            msg.room,
            len(sent),
        )
        send(sock, codec.Pointed(msg.room, tuple(sorted(set(sent)))), route)
