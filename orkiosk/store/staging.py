"""The one writer for a package arriving in the plan store's staging folder (staging/<sha>/): the
hub's uploads from a planner and a kiosk's fetches from the hub both write through it.

Each file is written as NAME.part, kept open while it fills, and renamed to NAME when its last
byte is written, so a file appears under its final name only when complete and a transfer
resumes from the .part after a restart. Bytes written in order are hashed (SHA-256) as they are
written, from the very buffer written (hashlib releases the GIL: the hashing runs beside the
transfer's other threads); chunks that arrive ahead of the written prefix are written where they
belong and hashed (read back) once the prefix reaches them. When a file is complete the writer
records its size, digest and identity (`file_identity`, taken after the rename) and starts an
fsync of it on a background thread, so the commit's own fsync later finds its data already on
the disk.

The store's commit passes the recorded digests of its own staging folder (never any other
folder) to load_package, which then reads, checks and decodes the files as always but does not
hash a file again when it is still, before and after being read, the file of the recorded
identity; the digest is compared with plan.json like a computed one. That is safe because:
- this process hashed exactly the bytes it wrote: the very buffer it handed to pwrite, in the
  same call;
- the file was created whole under a temporary name and renamed, never written in place: every
  file in the store's staging is written only by this writer (one per staging folder, handed out
  by PlanStore.stage_writer), and a complete file is never opened for writing again;
- its identity (device, inode, size, mtime, ctime), taken after the rename, is unchanged: nothing
  wrote, truncated, replaced, touched or chmod-ed it since (`file_identity` says how far times
  tell; the store's hard-link commit rests on the same facts and the same invariant).
A digest is unknown, and the file is hashed at verification as before, when any byte of it was
not hashed by this writer as it wrote it: a .part resumed from an earlier process (or after the
writer closed its files), or a chunk written over bytes already hashed. Nothing trusts the sender
more for this: the hub and every kiosk still verify every package themselves; only the re-hash of
bytes they hashed themselves while writing them is skipped.

A background fsync's error is kept (`wait_synced`): Linux may report a writeback error to the
first fsync only, and the commit, which hard-links these very inodes, must not miss it.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import stat
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from orkiosk.plan.package import KnownDigest, file_identity

PART = ".part"


@dataclass
class _Filling:
    """One file being written: its open .part, the bytes [0, end) written and hashed so far."""

    fd: int
    size: int  # declared size
    end: int  # [0, end) is written (contiguous)
    sha: object | None  # hashlib SHA-256 over [0, end) as written; None: not known
    ahead: dict[int, int] = field(default_factory=dict)  # offset -> length written beyond end


@cache
def _syncer() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="orkiosk-fsync")


def _sync_and_close(fd: int) -> None:
    """fsync in the background. An error stays in the future: Linux may report a writeback
    error once, so the commit's own fsync of the same file might not see it (`wait_synced`)."""
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class StagingWriter:
    """Writes the files of one staged package; see the module docstring.

    Used from one thread at a time (the hub's loop, or a kiosk's receiver); `known_digests` may
    be called from any thread."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._filling: dict[str, _Filling] = {}
        self._known: dict[str, KnownDigest] = {}
        self._syncs: dict[str, Future] = {}  # background fsyncs of completed files
        self._lock = threading.Lock()
        self.closed = False

    # ------------------------------------------------------------ queries
    def known_digests(self) -> dict[str, KnownDigest]:
        """Relative path -> the digest and identity recorded when this writer completed it."""
        with self._lock:
            return dict(self._known)

    def wait_synced(self, names) -> None:
        """Wait for the background fsyncs of these files (those this writer completed); raises
        the OSError one of them got. The commit calls this before it trusts a hard-linked file
        to be on the disk."""
        with self._lock:
            pending = [self._syncs[n] for n in names if n in self._syncs]
        for future in pending:
            future.result()

    def have(self, rel: str, size: int) -> int:
        """Bytes of `rel` written from its start into its .part (0 if none): where a transfer of
        it resumes. A .part longer than `size` is removed (0). The final name is not looked at:
        whether a file is complete is PlanStore.staged_files' business."""
        fill = self._filling.get(rel)
        if fill is not None and self._still_part(rel, fill):
            return fill.end
        self._forget(rel)
        part = self._part(rel)
        try:
            st = os.lstat(part)
        except FileNotFoundError:
            return 0
        if not stat.S_ISREG(st.st_mode) or st.st_size > size:
            part.unlink()
            return 0
        return st.st_size

    def read(self, rel: str, offset: int, length: int) -> bytes:
        """Up to `length` bytes of `rel` from `offset` as written so far: from the open .part
        while it fills (the caller knows how far it is written: `write` returned it), from the
        file under its final name once complete. No hashing, one copy out of the page cache
        (the hub serves an upload's bytes to kiosks this way while it arrives, cut-through)."""
        fill = self._filling.get(rel)
        if fill is not None:
            length = max(0, min(length, fill.end - offset))
            return _pread_all(fill.fd, length, offset)
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(self.folder / rel, flags)
        except FileNotFoundError:  # not complete, its .part closed (close_files): read that
            fd = os.open(self._part(rel), flags)
        try:
            return os.pread(fd, length, offset)
        finally:
            os.close(fd)

    # ------------------------------------------------------------ writing
    def restart(self, rel: str, size: int) -> None:
        """Start `rel` afresh: an empty .part (a planner's push always sends a file whole)."""
        self._check_open()
        self._forget(rel)
        self._open(rel, size, fresh=True)

    def write(self, rel: str, offset: int, data, size: int) -> int:
        """Write one chunk of `rel` (declared `size` bytes) at `offset`. Returns how far the file
        is written from its start; `size` means complete, under its final name. ValueError for a
        chunk that does not fit `size` (callers check what they receive first); OSError when
        the disk fails (full, read-only)."""
        self._check_open()
        n = len(data)
        if offset < 0 or offset + n > size:
            raise ValueError(f"{rel}: {n} bytes at {offset} do not fit its {size} bytes")
        fill = self._filling.get(rel)
        if fill is None or not self._still_part(rel, fill):
            fill = self._open(rel, size, fresh=False)
        if n:
            _pwrite_all(fill.fd, data, offset)
        if offset == fill.end:
            if fill.sha is not None:
                fill.sha.update(data)
            fill.end += n
        elif offset < fill.end:
            fill.sha = None  # bytes already hashed were written again: digest unknown
            fill.end = max(fill.end, offset + n)
        else:
            fill.ahead[offset] = max(fill.ahead.get(offset, 0), n)
        self._absorb(fill)
        if fill.end == size:
            self._complete(rel, fill)
        return fill.end

    def close_files(self) -> None:
        """Close the files still being written (a partial one resumes from its .part; its
        digest is then unknown). Recorded digests of complete files stay."""
        for rel in list(self._filling):
            self._forget(rel)

    def close(self) -> None:
        self.close_files()
        self.closed = True

    def discard(self) -> None:
        """Close and remove the staging folder (a refused or failed package is not resumed)."""
        self.close()
        with self._lock:
            self._known.clear()
        shutil.rmtree(self.folder, ignore_errors=True)

    # ------------------------------------------------------------ inside
    def _check_open(self) -> None:
        if self.closed:
            raise ValueError(f"staging writer for {self.folder.name} is closed")

    def _part(self, rel: str) -> Path:
        final = self.folder / rel
        return final.with_name(final.name + PART)

    def _open(self, rel: str, size: int, *, fresh: bool) -> _Filling:
        part = self._part(rel)
        part.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._known.pop(rel, None)
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC  # read: see _absorb
        have = 0 if fresh else self.have(rel, size)
        fd = os.open(part, flags | (os.O_TRUNC if have == 0 else 0), 0o644)
        # a .part left by an earlier process: its bytes were not hashed here
        fill = _Filling(fd, size, have, hashlib.sha256() if have == 0 else None)
        self._filling[rel] = fill
        return fill

    def _still_part(self, rel: str, fill: _Filling) -> bool:
        """Is the open file still NAME.part (not removed or replaced by someone)?"""
        try:
            on_disk = os.lstat(self._part(rel))
        except FileNotFoundError:
            return False
        st = os.fstat(fill.fd)
        return (on_disk.st_dev, on_disk.st_ino) == (st.st_dev, st.st_ino)

    def _forget(self, rel: str) -> None:
        fill = self._filling.pop(rel, None)
        if fill is not None:
            os.close(fill.fd)

    def _absorb(self, fill: _Filling) -> None:
        """Move `end` over chunks written ahead of it that it now reaches, hashing their bytes
        as they are on the disk (nothing wrote them since: a write below `end` drops the hash)."""
        while True:
            reached = [off for off in fill.ahead if off <= fill.end]
            if not reached:
                return
            for off in reached:
                stop = off + fill.ahead.pop(off)
                if stop > fill.end:
                    if fill.sha is not None:
                        fill.sha.update(_pread_all(fill.fd, stop - fill.end, fill.end))
                    fill.end = stop

    def _complete(self, rel: str, fill: _Filling) -> None:
        del self._filling[rel]
        try:
            os.replace(self._part(rel), self.folder / rel)
            ident = file_identity(os.fstat(fill.fd))  # after the rename (it changes ctime)
        except BaseException:
            os.close(fill.fd)
            raise
        if fill.sha is not None:
            with self._lock:
                self._known[rel] = KnownDigest(fill.size, fill.sha.hexdigest(), ident)
        future = _syncer().submit(_sync_and_close, fill.fd)
        with self._lock:
            self._syncs[rel] = future


def _pwrite_all(fd: int, data, offset: int) -> None:
    view = memoryview(data).cast("B")
    while view:
        n = os.pwrite(fd, view, offset)
        if n <= 0:
            raise OSError(errno.EIO, "short write")
        view, offset = view[n:], offset + n


def _pread_all(fd: int, length: int, offset: int) -> bytes:
    first = os.pread(fd, length, offset)
    if len(first) == length:  # the usual case: one read, no further copy
        return first
    out = bytearray(first)
    while len(out) < length:
        got = os.pread(fd, length - len(out), offset + len(out))
        if not got:
            raise OSError(errno.EIO, "a staged file is shorter than what was written to it")
        out += got
    return bytes(out)


with contextlib.suppress(AttributeError):  # fork safety: a child starts without the pool
    os.register_at_fork(after_in_child=_syncer.cache_clear)
