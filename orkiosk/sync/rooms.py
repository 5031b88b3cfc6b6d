"""The hub's plans: one plan store per OR room under STATEDIR/rooms/<room>/, uploads staged there,
and the list of files a committed plan consists of (what kiosks may fetch).

The store itself (orkiosk.store.PlanStore) is a sibling layer: the caller hands in `open_store`,
a function from a folder to a store, so sync never imports it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from orkiosk.plan.package import MANIFEST_NAME
from orkiosk.plan.signing import SIG_NAME
from orkiosk.sync import codec
from orkiosk.sync.keys import SyncError

ROOMS = "rooms"


@dataclass
class Upload:
    """A planner's package arriving: declared files, the store's staging writer they go through
    (PlanStore.stage_writer: it hashes while writing, so the commit need not hash again), which
    files are complete."""

    room: str
    sha: str
    case_id: str
    plan_version: int
    files: dict[str, int]
    writer: object  # orkiosk.store.staging.StagingWriter (injected with the store)
    done: set = field(default_factory=set)
    ends: dict = field(default_factory=dict)  # path -> bytes written from its start (this upload)
    rewritten: bool = False  # a file was started afresh after bytes of it were written

    def written(self, path: str) -> int:
        """How far `path` is written from its start (kiosks may fetch that much, cut-through)."""
        return self.files[path] if path in self.done else self.ends.get(path, 0)

    @property
    def folder(self) -> Path:
        return self.writer.folder

    def write(self, path: str, offset: int, data: bytes) -> int:
        """Append one chunk in order (offset 0 starts the file afresh); returns the new end
        offset. Raises SyncError when the chunk does not fit what was declared."""
        size = self.files.get(path)
        if size is None:
            raise SyncError(f"put for {path}, which the push did not declare")
        if path in self.done:
            return size
        if offset + len(data) > size:
            raise SyncError(f"put for {path} goes past its declared size {size}")
        if offset == 0:
            if self.ends.get(path):  # kiosks may have fetched those bytes (cut-through)
                self.rewritten = True
            self.writer.restart(path, size)
        else:
            have = self.writer.have(path, size)
            if offset != have:
                raise SyncError(f"put for {path} at {offset}, expected {have} (out of order)")
        end = self.ends[path] = self.writer.write(path, offset, data, size)
        if end == size:
            self.done.add(path)
        return end

    def manifest_matches(self) -> bool:
        try:
            digest = hashlib.sha256((self.folder / MANIFEST_NAME).read_bytes()).hexdigest()
        except OSError:
            return False
        return digest == self.sha


class Rooms:
    def __init__(self, state_dir: Path, open_store: Callable[[Path], object]):
        self.root = Path(state_dir) / ROOMS
        self.open_store = open_store
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            names = sorted(p.name for p in self.root.iterdir() if p.is_dir())
        except OSError as exc:
            raise SyncError(f"--state {state_dir}: cannot use it ({exc.strerror})") from None
        self.stores: dict = {}
        for name in names:
            if codec._WORD.fullmatch(name):
                self.store(name)
        self._files: dict[str, tuple] = {}
        self._found: dict[str, tuple] = {}  # sha -> committed_files(sha), until the next commit

    def store(self, room: str):
        if room not in self.stores:
            self.stores[room] = self.open_store(self.root / room)
        return self.stores[room]

    def current(self, room: str):
        return self.store(room).current() if room in self.stores else None

    def highest_version(self, case_id: str) -> int | None:
        """The highest version of this case committed in any room (the hub's own record)."""
        found = [s.highest_version(case_id) for s in self.stores.values()]
        found = [v for v in found if v is not None]
        return max(found) if found else None

    def committed_files(self, sha: str) -> tuple[Path, tuple] | None:
        """(folder, ((path, size), ...)) of a committed plan in any room, or None."""
        found = self._found.get(sha)
        if found is not None:
            return found
        for store in self.stores.values():
            folder = store.find(sha)
            if folder is None:
                continue
            if sha not in self._files:
                self._files[sha] = _list_files(folder)
            self._found[sha] = (folder, self._files[sha])
            return self._found[sha]
        return None

    def read(self, sha: str, path: str, offset: int, length: int) -> bytes | None:
        """`length` bytes at `offset` of a committed plan's file (what a kiosk fetches); None when
        that plan is no longer kept. SyncError for a file or offset not in that plan."""
        found = self.committed_files(sha)
        if found is None:
            return None
        folder, files = found
        size = dict(files).get(path)
        if size is None or offset > size:
            raise SyncError(f"fetch of {path} at {offset}: not in that plan")
        try:
            with open(folder / path, "rb") as f:
                f.seek(offset)
                return f.read(length)
        except OSError:  # pruned under a cached name: look it up again
            self._found.clear()
            return None

    def begin(self, msg: codec.Push) -> Upload:
        store = self.store(msg.room)
        writer = store.stage_writer(msg.sha)
        up = Upload(msg.room, msg.sha, msg.case_id, msg.plan_version, dict(msg.files), writer)
        staged = store.staged_files(msg.sha)
        # plan.sig is not covered by the manifest's hash: never reuse a staged one
        staged.pop(SIG_NAME, None)
        up.done = {p for p, size in msg.files if staged.get(p) == size}
        return up

    def commit(self, up: Upload, trusted):
        """Verify (signature by a --planners key required) and commit; an OrkioskError (SyncError
        or the store's own) says why not."""
        missing = sorted(set(up.files) - up.done)
        if missing:
            raise SyncError(f"upload incomplete: {len(missing)} file(s) missing, e.g. {missing[0]}")
        try:
            if not up.manifest_matches():
                raise SyncError("plan.json does not match the SHA-256 the push announced")
            self._found.clear()  # a commit may prune older plans
            return self.store(up.room).commit(up.folder, trusted=trusted, require_signature=True)
        except Exception:
            up.writer.discard()  # a refused upload is not resumed
            raise


def _list_files(folder: Path) -> tuple:
    doc = json.loads((folder / MANIFEST_NAME).read_text("utf-8"))
    names = [MANIFEST_NAME] + ([SIG_NAME] if (folder / SIG_NAME).is_file() else [])
    names += [entry["path"] for entry in doc["files"]]
    return tuple((n, (folder / n).stat().st_size) for n in names)


def reason_of(exc: Exception) -> str:
    """The decisive reason of a refusal, in one line, without local paths."""
    text = getattr(exc, "headline", None) or str(exc)
    if text.startswith("package ") and " refused: " in text:
        text = text.split(" refused: ", 1)[1]
    return " ".join(text.split())[: codec.MAX_TEXT]
