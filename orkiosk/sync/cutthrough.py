"""Cut-through on the hub: kiosks fetch an incoming plan's files while the planner uploads them.

When the hub accepts a planner's Push for a room it tells the room's kiosks (`Incoming`, and
again after each State a kiosk asks for while the upload runs). A kiosk's Fetch of an incoming
plan is answered from the upload's staging (the store's staging writer's files, NAME.part
included) once the planner's Puts have written those bytes; a Fetch ahead of the upload waits in
that upload's queue and is answered by the Put that writes its last byte, from that Put's own
received buffer when the range lies inside it (no read, no copy, no hash: the hub hashes each
byte once, as the staging writer writes it). No polling, no sleeps.

Nothing is trusted more for it: a kiosk commits an incoming plan only once the hub's State names
it (the hub verified and committed it) and its own verification passes. An upload the hub gives
up (refused at its commit, its planner gone or silent, replaced by a new push of the same plan)
answers every fetch waiting for it, and the room's kiosks, with a Notice: a kiosk then drops
what it prefetched of that plan and asks for the room's state again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from orkiosk.sync import codec
from orkiosk.sync.keys import SyncError
from orkiosk.sync.link import send
from orkiosk.sync.rooms import Upload

log = logging.getLogger("orkiosk.hub")

MAX_WAITING = 16  # fetches of one kiosk that may wait for one upload (its window is 4)


@dataclass
class _Waiting:
    route: bytes
    offset: int
    stop: int  # the end of the range asked for, at most the file's size


class CutThrough:
    """The uploads kiosks may fetch from while they arrive; used on the hub's loop thread only.

    `kiosks(room)` gives the routes of the room's kiosk sessions."""

    def __init__(self, kiosks: Callable[[str], list]):
        self.kiosks = kiosks
        self.by_sha: dict[str, Upload] = {}
        self.by_room: dict[str, Upload] = {}  # the room's newest incoming plan
        self.waiting: dict[str, dict[str, list[_Waiting]]] = {}  # sha -> path -> fetches

    def announce(self, room: str) -> codec.Incoming | None:
        """The Incoming for the room's newest upload under way, if any."""
        up = self.by_room.get(room)
        if up is None:
            return None
        files = tuple(up.files.items())
        return codec.Incoming(up.room, up.sha, up.case_id, up.plan_version, files)

    def begin(self, sock, up: Upload) -> None:
        """A push was accepted: kiosks of its room may fetch from it from now on."""
        old = self.by_sha.get(up.sha)
        if old is not None and old is not up:  # the same plan pushed again (a planner restarted)
            self.abandon(sock, old)
        self.by_sha[up.sha] = up
        self.by_room[up.room] = up
        self.waiting[up.sha] = {}
        incoming = self.announce(up.room)
        for route in self.kiosks(up.room):
            send(sock, incoming, route)

    def fetch(self, sock, route: bytes, msg: codec.Fetch) -> bool:
        """Answer or queue a Fetch of an incoming plan; False when msg.sha is not incoming.
        SyncError (the kiosk is dropped) for a file or offset not in that plan, or too many
        fetches waiting."""
        up = self.by_sha.get(msg.sha)
        if up is None:
            return False
        size = up.files.get(msg.path)
        if size is None or msg.offset > size:
            raise SyncError(f"fetch of {msg.path} at {msg.offset}: not in that plan")
        stop = min(size, msg.offset + msg.length)
        if up.written(msg.path) >= stop:
            self._serve(sock, up, route, msg.path, msg.offset, stop)
            return True
        per = self.waiting[msg.sha]
        if sum(w.route == route for ws in per.values() for w in ws) >= MAX_WAITING:
            raise SyncError(f"more than {MAX_WAITING} fetches waiting for an upload")
        per.setdefault(msg.path, []).append(_Waiting(route, msg.offset, stop))
        return True

    def wrote(self, sock, up: Upload, path: str, offset: int, data, end: int) -> None:
        """A Put wrote `data` at `offset` of `path`, which is now written up to `end`: answer
        the fetches waiting for bytes below `end`."""
        if self.by_sha.get(up.sha) is not up:
            return
        queue = self.waiting[up.sha].get(path)
        if not queue:
            return
        keep = []
        for w in queue:
            if w.stop > end:
                keep.append(w)
            elif offset <= w.offset and w.stop <= offset + len(data):
                view = memoryview(data)[w.offset - offset : w.stop - offset]
                send(sock, codec.Chunk(up.sha, path, w.offset, view), w.route)
            else:
                self._serve(sock, up, w.route, path, w.offset, w.stop)
        self.waiting[up.sha][path] = keep

    def finish(self, up: Upload) -> None:
        """The upload was committed: from now on the committed plan answers its fetches."""
        if self.by_sha.get(up.sha) is up:
            self._forget(up)

    def abandon(self, sock, up: Upload) -> None:
        """The hub gave the upload up: a Notice to each fetch waiting for it and to the room's
        kiosks (they drop what they prefetched of it)."""
        if self.by_sha.get(up.sha) is not up:
            return
        waiting = self.waiting.get(up.sha, {})
        routes = {w.route for ws in waiting.values() for w in ws}
        self._forget(up)
        log.info("upload of %s for %s given up: kiosks told", up.sha[:12], up.room)
        for route in routes | set(self.kiosks(up.room)):
            send(sock, codec.Notice(up.room), route)

    # ------------------------------------------------------------ inside
    def _serve(self, sock, up: Upload, route: bytes, path: str, offset: int, stop: int) -> None:
        try:
            data = up.writer.read(path, offset, stop - offset)
        except OSError as exc:  # its staging went away under it: tell the kiosk to ask again
            log.warning("serving %s of an upload failed: %s", path, exc.strerror or exc)
            send(sock, codec.Notice(up.room), route)
            return
        send(sock, codec.Chunk(up.sha, path, offset, data), route)

    def _forget(self, up: Upload) -> None:
        del self.by_sha[up.sha]
        self.waiting.pop(up.sha, None)
        if self.by_room.get(up.room) is up:
            del self.by_room[up.room]
