"""The audit log: what the kiosk showed, when (the clinical record, kept in STATE/audit/).

One JSON object per line in `audit.jsonl`, written with O_APPEND and fsync'd before `record`
returns, so an entry that was written survives a crash or a power cut. The file is rotated when
it would pass `max_bytes` or when the UTC date changes (`audit-YYYYMMDD-HHMMSS-NNNN.jsonl`), and only
the newest `keep` rotated files are kept. Every process and every PlanStore of the same folder
appends to the same file (each entry is one write); rotation takes `audit/.lock`.

Entries carry patient identifiers (ID and name) where the event concerns a plan: this is the
clinical record of what was on screen. The general application log never does (it names a
patient by a hash of the ID). A failure to write an entry is said once in the general log and
never stops the kiosk.

Events: start, stop, plan-committed, plan-shown (after the first frame of it), plan-refused
(with the reason), update-acknowledged (the "what changed" banner dismissed),
patient-change-confirmed, follow-mode (on/off).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import threading
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger("orkiosk.audit")

FILE_NAME = "audit.jsonl"
LOCK_NAME = ".lock"
ROTATED_PREFIX = "audit-"
MAX_BYTES = 4 << 20
KEEP = 30


def plan_fields(plan, sha: str | None = None) -> dict:
    """The plan's identity for an entry: case, version, manifest hash, patient ID and name."""
    out = {
        "case_id": plan.case_id,
        "plan_version": plan.plan_version,
        "patient_id": plan.patient.id,
        "patient_name": plan.patient.name,
    }
    if sha:
        out["manifest_sha256"] = sha
    return out


class AuditLog:
    """Append-only JSON-lines audit log in `folder` (created if missing)."""

    def __init__(self, folder: Path, *, max_bytes: int = MAX_BYTES, keep: int = KEEP):
        self.folder = Path(folder)
        self.path = self.folder / FILE_NAME
        self.max_bytes = max_bytes
        self.keep = keep
        self._lock = threading.Lock()
        self._warned = False

    def record(self, event: str, **fields) -> bool:
        """Write one entry durably; True when it is on disk."""
        now = datetime.now(UTC)
        entry = {
            "time": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "event": event,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            **fields,
        }
        line = (json.dumps(entry, ensure_ascii=False, default=str) + "\n").encode("utf-8")
        with self._lock:
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                self._rotate_if_due(now, len(line))
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
                try:
                    os.write(fd, line)
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except OSError as exc:
                if not self._warned:  # never the entry itself: it may name the patient
                    log.error(
                        "audit log %s: entry %r not written (%s)",
                        self.path,
                        event,
                        exc.strerror or exc,
                    )
                    self._warned = True
                return False
        self._warned = False
        return True

    def _rotate_if_due(self, now: datetime, adding: int) -> None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return
        started = datetime.fromtimestamp(_first_time(self.path, st), UTC)
        if st.st_size + adding <= self.max_bytes and started.date() == now.date():
            return
        lock_fd = os.open(self.folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o640)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            try:  # another process may have rotated it meanwhile
                st2 = self.path.stat()
            except FileNotFoundError:
                return
            if st2.st_ino != st.st_ino:
                return
            stamp = started.strftime("%Y%m%d-%H%M%S")
            same = [p.stem.rsplit("-", 1)[-1] for p in self.folder.glob(f"*{stamp}-*.jsonl")]
            n = 1 + max((int(x) for x in same if x.isdigit()), default=-1)
            target = self.folder / f"{ROTATED_PREFIX}{stamp}-{n:04d}.jsonl"
            os.rename(self.path, target)
            _fsync_dir(self.folder)
            for old in self.rotated()[: -self.keep] if self.keep > 0 else self.rotated():
                old.unlink(missing_ok=True)
        finally:
            os.close(lock_fd)

    def rotated(self) -> list[Path]:
        """Rotated files, oldest first."""
        return sorted(
            p
            for p in self.folder.glob(f"{ROTATED_PREFIX}*.jsonl")
            if p.is_file() and not p.is_symlink()
        )

    def entries(self) -> list[dict]:
        """Every entry still kept, oldest first (a torn last line is skipped)."""
        out = []
        for path in [*self.rotated(), self.path]:
            try:
                text = path.read_text("utf-8")
            except FileNotFoundError:
                continue
            for line in text.splitlines():
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
        return out


def _first_time(path: Path, st: os.stat_result) -> float:
    """When the file's first entry was written (its first line's time), else its mtime."""
    try:
        with open(path, "rb") as f:
            first = f.readline(4096)
        stamp = json.loads(first)["time"]
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except (OSError, ValueError, KeyError, TypeError):
        return st.st_mtime


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def audit_for_state(state_dir: Path | None) -> AuditLog | None:
    """The audit log of a kiosk's state folder (STATE/audit), or None without one."""
    return AuditLog(Path(state_dir) / "audit") if state_dir is not None else None
