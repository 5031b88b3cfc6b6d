"""Durable file operations for the plan store: fsync'd writes, atomic replace, the store lock.

Everything the store changes on disk goes through here, so the order "data, then the name that
points at it" holds everywhere: a file is written and fsync'd under a temporary name, renamed,
and the directory holding the name is fsync'd.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import shutil
import stat
import time
from pathlib import Path

from orkiosk.errors import OrkioskError

COPY_CHUNK = 1 << 20
READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH


class StoreError(OrkioskError):
    """The plan store refused something, or cannot be used (the message names what and why)."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = list(problems or [])  # a refused package's full list, for the log


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write `path` as a whole or not at all: temp file, fsync, rename, fsync the directory."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def write_json_atomic(path: Path, doc: dict) -> None:
    write_atomic(path, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8"))


def replace_symlink(link: Path, target: str) -> None:
    """Point `link` at `target` in one step (a new link under a temp name, then os.replace)."""
    tmp = link.with_name(f".{link.name}.tmp-{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    os.symlink(target, tmp)
    os.replace(tmp, link)
    fsync_dir(link.parent)


def copy_hashed(src: Path, dst: Path) -> tuple[int, str]:
    """Copy a regular file (no links followed), fsync it and make it read-only.

    Returns its size and SHA-256 as copied, so the caller can compare them with what it verified:
    what lands in the store is exactly the bytes that were checked."""
    digest = hashlib.sha256()
    size = 0
    fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as fin, open(dst, "xb") as fout:
        if not stat.S_ISREG(os.fstat(fin.fileno()).st_mode):
            raise StoreError(f"{src}: not a regular file")
        while chunk := fin.read(COPY_CHUNK):
            digest.update(chunk)
            fout.write(chunk)
            size += len(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    os.chmod(dst, READ_ONLY)
    return size, digest.hexdigest()


def stat_files(root: Path) -> dict[str, tuple]:
    """Relative path -> (inode, size, mtime_ns) of every regular file under `root` (no links)."""
    out = {}
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            st = os.lstat(os.path.join(dirpath, name))
            if stat.S_ISREG(st.st_mode):
                rel = os.path.relpath(os.path.join(dirpath, name), root)
                out[rel] = (st.st_ino, st.st_size, st.st_mtime_ns)
    return out


def link_verified(src: Path, dst: Path, names: list[str], seen: dict[str, tuple]) -> bool:
    """Hard-link `names` from `src` into the empty folder `dst`, fsync them and make them
    read-only, if each is still the file `seen` before verification (same inode, size, mtime).
    False (and `dst` emptied again) when one is not, or links are impossible (another file
    system): the caller then copies."""
    made = {dst}
    try:
        for rel in names:
            target = dst / rel
            if target.parent not in made:
                target.parent.mkdir(parents=True, exist_ok=True)
                made.add(target.parent)
            os.link(src / rel, target, follow_symlinks=False)
            st = os.lstat(target)
            if seen.get(rel) != (st.st_ino, st.st_size, st.st_mtime_ns):
                raise _Changed(rel)
    except (_Changed, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
            raise
        for child in list(dst.iterdir()):
            remove_tree(child)
        return False
    for rel in names:
        fd = os.open(dst / rel, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            os.fsync(fd)
            os.fchmod(fd, READ_ONLY)
        finally:
            os.close(fd)
    for d in sorted(made, key=lambda p: -len(p.parts)):
        fsync_dir(d)
    return True


class _Changed(Exception):
    """A staged file is not the one that was verified."""


def remove_tree(path: Path) -> None:
    """Remove a directory tree (or a file or link) that the store owns; missing is fine."""
    if path.is_symlink() or path.is_file():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return

    def onerror(func, p, exc_info):
        # read-only files sit in writable folders, but a folder may have been made read-only
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(p), 0o755)
            func(p)

    shutil.rmtree(path, onerror=onerror)


def newest_mtime(path: Path) -> float:
    """The newest modification time of a folder and everything in it (links not followed)."""
    newest = os.lstat(path).st_mtime
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            with contextlib.suppress(OSError):
                newest = max(newest, os.lstat(os.path.join(dirpath, name)).st_mtime)
    return newest


class StoreLock:
    """An exclusive fcntl.flock on state_dir/.lock, held while the store changes anything.

    The holder writes its pid into the file, so a refused process can say who holds it."""

    def __init__(self, path: Path, wait: float = 0.0):
        self.path, self.wait, self._fd = Path(path), wait, None

    def __enter__(self) -> StoreLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    os.close(fd)
                    raise
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
                    os.close(fd)
                    who = f"process {holder}" if holder.isdigit() else "another process"
                    raise StoreError(
                        f"the plan store {self.path.parent} is busy: {who} is changing it "
                        f"(lock {self.path}); try again when it has finished"
                    ) from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
