"""PlanStore: the kiosk's on-disk plans, committed atomically, with history and rollback refusal.

A commit verifies the package (orkiosk.plan.package.load_package), refuses a plan version that is
not newer than the highest ever committed for its case, lets the caller check it (the kiosk
renders it once off-screen), then puts it into plans/<case_id>/.tmp-<sha>/ (fsync'd, files
read-only; hard links from the store's own staging when every file is still the one verified,
else a copy with every byte compared with what was verified), renames that to
plans/<case_id>/<version>-<sha>/, switches the `current` link in one os.replace and records the
version in versions.json (written whole, then renamed). A crash at any point leaves either the old
plan or the new one current, never a mix; opening the store removes what a crash left behind.
See index.py for the layout, recovery.py for what opening checks.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from orkiosk.plan.package import MANIFEST_NAME, Package, PackageError, load_package
from orkiosk.plan.signing import SIG_NAME, SignatureError, verify_signature
from orkiosk.store.audit import AuditLog, plan_fields
from orkiosk.store.files import (
    StoreError,
    StoreLock,
    copy_hashed,
    fsync_dir,
    link_verified,
    remove_tree,
    replace_symlink,
    stat_files,
)
from orkiosk.store.index import (
    AUDIT,
    CURRENT_NAME,
    LOCK_NAME,
    PLANS,
    QUARANTINE,
    STAGING,
    TMP_PREFIX,
    Committed,
    check_case_id,
    check_sha,
    current_rel,
    entry_from_rel,
    find_entry,
    make_entry,
    read_index,
    to_committed,
    utc_now,
    version_dir_name,
    write_index,
)
from orkiosk.store.recovery import prune, recover
from orkiosk.store.staging import StagingWriter

log = logging.getLogger("orkiosk.store")

CRASH_ENV = "ORKIOSK_STORE_CRASH_AT"  # test hook: os._exit(137) right after the named step
CRASH_STEPS = ("copied", "renamed", "current-switched", "versions-written")
TEMP_SUFFIX = ".part"  # staging: a file still being written ends in .part (or starts with '.')


def _reached(step: str) -> None:
    if os.environ.get(CRASH_ENV) == step:
        os._exit(137)


def is_temp_name(name: str) -> bool:
    return name.startswith(".") or name.endswith(TEMP_SUFFIX)


class PlanStore:
    """The plan store under `state_dir` (created if missing; checked and repaired at open).

    `history`: how many versions of each case are kept (the current one always is).
    `lock_wait`: seconds to wait for another process that holds the store's lock."""

    def __init__(self, state_dir: Path, history: int = 5, *, lock_wait: float = 0.0):
        if not isinstance(history, int) or history < 1:
            raise StoreError(f"history must be a whole number of at least 1, got {history!r}")
        self.root = Path(state_dir).absolute()
        self.history = history
        self.lock_wait = lock_wait
        try:
            for sub in (STAGING, PLANS, QUARANTINE, AUDIT):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"{self.root}: cannot set up a plan store here ({exc.strerror})"
            ) from None
        self.audit = AuditLog(self.root / AUDIT)  # the clinical record (store/audit.py)
        self._writers: dict[str, StagingWriter] = {}  # by staging folder name (the sha)
        self._writers_lock = threading.Lock()
        self._early: tuple | None = None  # (folder name, seen, trusted, signature?, Package)
        with self._locked():
            for line in recover(self.root, history):
                log.warning("plan store %s: %s", self.root, line)
                self.audit.record("store-repaired", message=line)

    def _locked(self) -> StoreLock:
        return StoreLock(self.root / LOCK_NAME, self.lock_wait)

    # ------------------------------------------------------------ staging
    def staging_dir(self, manifest_sha256: str) -> Path:
        """staging/<sha>/, created if missing and kept if present (a transfer resumes there)."""
        path = self.root / STAGING / check_sha(manifest_sha256)
        path.mkdir(exist_ok=True)
        return path

    def stage_writer(self, manifest_sha256: str) -> StagingWriter:
        """The one writer of staging/<sha>/ (store/staging.py): everything sync receives goes
        through it, so the commit knows the digests of the files it wrote and hashed."""
        sha = check_sha(manifest_sha256)
        with self._writers_lock:
            writer = self._writers.get(sha)
            if writer is None or writer.closed or not writer.folder.is_dir():
                if writer is not None:
                    writer.close()
                writer = self._writers[sha] = StagingWriter(self.staging_dir(sha))
            return writer

    def _known_digests(self, staged: Path) -> dict:
        """What this store's writer recorded for `staged`, one of its own staging folders."""
        with self._writers_lock:
            writer = self._writers.get(staged.name)
        if writer is None or writer.closed or not self._own_staging(staged):
            return {}
        if staged.absolute() != writer.folder:
            return {}
        return writer.known_digests()

    def _wait_synced(self, staged: Path, names: list[str]) -> None:
        """The background fsyncs the staging writer started for files now linked (an error
        there is raised here: the commit's own fsync might not be told of it again)."""
        with self._writers_lock:
            writer = self._writers.get(staged.name)
        if writer is not None and staged.absolute() == writer.folder:
            writer.wait_synced(names)

    def staged_files(self, manifest_sha256: str) -> dict[str, int]:
        """Complete files staged so far: relative path -> size. Temporary names are left out."""
        root = self.root / STAGING / check_sha(manifest_sha256)
        out: dict[str, int] = {}
        if not root.is_dir():
            return out
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not is_temp_name(d))
            for name in sorted(filenames):
                p = Path(dirpath, name)
                if is_temp_name(name) or p.is_symlink() or not p.is_file():
                    continue
                out[p.relative_to(root).as_posix()] = p.stat().st_size
        return out

    # ------------------------------------------------------------ commit
    def commit(
        self,
        staged: Path,
        *,
        trusted=None,
        require_signature: bool = False,
        check: Callable[[Package], None] | None = None,
    ) -> Committed:
        """Verify, check and commit the package in `staged`; it becomes the current plan.

        Raises StoreError with the reason for a package that fails verification, an old plan
        version or a store another process is changing; whatever `check` raises passes through
        unchanged, and then nothing is committed. The same manifest committed twice returns the
        existing record."""
        staged = Path(staged)
        with self._locked():
            doc = read_index(self.root)
            own = self._own_staging(staged)
            seen = stat_files(staged) if own else None
            pkg = self._verified_early(staged, seen, trusted, require_signature) if own else None
            if pkg is None:
                # digests the store's own writer computed while writing these very files (never
                # for a folder someone else filled: see store/staging.py for why this is safe)
                known = self._known_digests(staged) if own else None
                pkg = _verify(staged, trusted, require_signature, known)
            sha, plan = pkg.manifest_sha256, pkg.plan
            entry = find_entry(doc, sha=sha)
            if entry is not None and (self.root / entry["dir"]).is_dir():
                self._drop_staging(staged, sha)
                return to_committed(self.root, entry)
            case_id = check_case_id(plan.case_id)
            highest = doc["highest"].get(case_id)
            if highest is not None and plan.plan_version <= highest:
                raise StoreError(
                    f"plan version {plan.plan_version} of case {case_id} is not newer than "
                    f"version {highest} already committed; a plan version never goes back"
                )
            if check is not None:
                check(pkg)
            rel = self._write(staged, pkg, trusted, seen)
            replace_symlink(self.root / CURRENT_NAME, rel)
            _reached("current-switched")
            entry = make_entry(case_id, plan.plan_version, sha, utc_now())
            doc["highest"][case_id] = plan.plan_version
            doc["plans"].append(entry)
            doomed = prune(doc, self.history, rel)
            write_index(self.root, doc)
            _reached("versions-written")
            for gone in doomed:
                remove_tree(self.root / gone)
            self._drop_staging(staged, sha)
            log.info("committed plan %s v%s (%s)", case_id, plan.plan_version, sha[:12])
            self.audit.record("plan-committed", **plan_fields(plan, sha))
            return to_committed(self.root, entry)

    def verify_early(self, staged: Path, *, trusted=None, require_signature: bool = False) -> None:
        """Verify a complete folder of this store's own staging ahead of its commit (a kiosk does
        this while the hub verifies the same plan). The commit of that folder with the same
        `trusted` object and signature rule then takes this result instead of verifying again,
        if every file is still the one verified (same inode, size and mtime: staging files are
        only ever created whole, see `_write`). One result is kept, the latest. A failure is not
        raised here: the commit verifies again and says why."""
        staged = Path(staged).absolute()
        if not self._own_staging(staged) or not staged.is_dir():
            return
        try:
            seen = stat_files(staged)
            pkg = _verify(staged, trusted, require_signature, self._known_digests(staged))
        except (StoreError, OSError):
            return
        with self._writers_lock:
            self._early = (staged.name, seen, trusted, require_signature, pkg)

    def _verified_early(self, staged: Path, seen: dict, trusted, require_signature: bool):
        """The Package verify_early made of `staged`, if still valid for this commit, else None."""
        with self._writers_lock:
            early, self._early = self._early, None
        if early is None:
            return None
        name, was, by, signed, pkg = early
        if name != staged.name or was != seen or by is not trusted or signed != require_signature:
            return None
        return pkg

    def _own_staging(self, staged: Path) -> bool:
        return staged.absolute().parent == self.root / STAGING and not staged.is_symlink()

    def _write(self, staged: Path, pkg: Package, trusted, seen: dict | None) -> str:
        """Put the verified package into its committed folder; returns that folder (relative).

        From the store's own staging (`seen`: the files' identities before verification) the
        files are hard-linked, not copied: no second full write of the bytes. Staging files are
        only ever created whole (a `.part` renamed), never written in place, so a file still of
        the inode, size and mtime seen before verification holds the verified bytes."""
        plan, sha = pkg.plan, pkg.manifest_sha256
        case_dir = self.root / PLANS / plan.case_id
        if not case_dir.is_dir():
            case_dir.mkdir()
            fsync_dir(case_dir.parent)
        tmp = case_dir / f"{TMP_PREFIX}{sha}"
        remove_tree(tmp)
        tmp.mkdir()
        try:
            names = _listed(staged, pkg)
            if seen is None or not link_verified(staged, tmp, names, seen):
                _copy_verified(staged, tmp, pkg, trusted)
            else:
                self._wait_synced(staged, names)
        except OSError as exc:  # e.g. ENOSPC: nothing committed, the current plan stays
            remove_tree(tmp)
            code = errno.errorcode.get(exc.errno or 0, "EIO")
            raise StoreError(
                f"plan {plan.case_id} v{plan.plan_version} could not be written to the store: "
                f"{exc.strerror or exc} ({code}); nothing was committed"
            ) from None
        except BaseException:
            remove_tree(tmp)
            raise
        _reached("copied")
        final = case_dir / version_dir_name(plan.plan_version, sha)
        remove_tree(final)  # only a crashed commit of this very plan can have left it
        os.rename(tmp, final)
        fsync_dir(case_dir)
        _reached("renamed")
        return final.relative_to(self.root).as_posix()

    def _drop_staging(self, staged: Path, sha: str) -> None:
        staging = self.root / STAGING
        for path in {staged.absolute(), staging / sha}:
            if path.parent == staging:
                with self._writers_lock:
                    writer = self._writers.pop(path.name, None)
                    if self._early is not None and self._early[0] == path.name:
                        self._early = None
                if writer is not None:
                    writer.close()
                if path.is_dir():
                    remove_tree(path)

    # ------------------------------------------------------------ queries
    def current(self) -> Committed | None:
        rel = current_rel(self.root)
        if rel is None:
            return None
        return to_committed(self.root, entry_from_rel(self.root, rel, read_index(self.root)))

    def find(self, manifest_sha256: str) -> Path | None:
        """The committed package folder of this manifest (what the hub serves), or None."""
        entry = find_entry(read_index(self.root), sha=check_sha(manifest_sha256))
        if entry is None or not (self.root / entry["dir"]).is_dir():
            return None
        return self.root / entry["dir"]

    def highest_version(self, case_id: str) -> int | None:
        return read_index(self.root)["highest"].get(check_case_id(case_id))

    def status(self) -> dict:
        return read_status(self.root)


def read_status(state_dir: Path) -> dict:
    """The store's state as JSON-ready data, read without changing anything (no lock, no repair).

    No patient data: case id, versions, hashes and times only."""
    root = Path(state_dir)
    if not root.is_dir():
        raise StoreError(f"{root}: no plan store here (the folder does not exist)")
    if not os.access(root, os.R_OK | os.X_OK):
        raise StoreError(f"{root}: the plan store cannot be read (permission denied)")
    rel = current_rel(root)
    if rel is None:
        return {"current": None}
    doc = read_index(root)
    entry = entry_from_rel(root, rel, doc)
    kept = sorted(
        (e for e in doc["plans"] if e["case_id"] == entry["case_id"]),
        key=lambda e: -e["plan_version"],
    )
    return {
        "case_id": entry["case_id"],
        "plan_version": entry["plan_version"],
        "manifest_sha256": entry["manifest_sha256"],
        "committed_at": entry["committed_at"],
        "highest_version": doc["highest"].get(entry["case_id"], entry["plan_version"]),
        "history": [
            {k: e[k] for k in ("plan_version", "manifest_sha256", "committed_at")} for e in kept
        ],
    }


def _verify(staged: Path, trusted, require_signature: bool, known=None) -> Package:
    try:
        return load_package(staged, trusted, require_signature, known=known)
    except PackageError as exc:
        raise StoreError(f"package {staged} refused: {exc.headline}", exc.problems) from None


def _listed(src: Path, pkg: Package) -> list[str]:
    names = [MANIFEST_NAME, *(f.path for f in pkg.plan.files)]
    sig = src / SIG_NAME
    return names + ([SIG_NAME] if sig.is_file() and not sig.is_symlink() else [])


def _copy_verified(src: Path, dst: Path, pkg: Package, trusted) -> None:
    """Copy plan.json, the listed files and plan.sig, checking that each copy has the size and
    SHA-256 that verification saw (a file changed in between is refused, not committed)."""
    wanted = {f.path: (f.size, f.sha256) for f in pkg.plan.files}
    manifest = src / MANIFEST_NAME
    _, digest = copy_hashed(manifest, dst / MANIFEST_NAME)
    mismatched = [MANIFEST_NAME] if digest != pkg.manifest_sha256 else []
    made = {dst}
    for rel, expected in wanted.items():
        target = dst / rel
        if target.parent not in made:
            target.parent.mkdir(parents=True, exist_ok=True)
            made.add(target.parent)
        if copy_hashed(src / rel, target) != expected:
            mismatched.append(rel)
    if (src / SIG_NAME).is_file() and not (src / SIG_NAME).is_symlink():
        copy_hashed(src / SIG_NAME, dst / SIG_NAME)
        if pkg.signed_by is not None:
            try:
                verify_signature(
                    (dst / MANIFEST_NAME).read_bytes(), (dst / SIG_NAME).read_bytes(), trusted
                )
            except SignatureError:
                mismatched.append(SIG_NAME)
    if mismatched:
        raise StoreError(
            f"package {src} changed while being committed ({', '.join(mismatched)}); "
            "nothing was committed"
        )
    for d in sorted(made, key=lambda p: -len(p.parts)):
        fsync_dir(d)
