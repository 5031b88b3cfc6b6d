"""The node's inbox: received instances on disk, by study and series, and when a series is
complete.

    INBOX/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm

An instance is written to a part file, flushed and fsynced, renamed into place and its folder
fsynced before the sender is told it was stored: a power cut loses nothing that was answered.
The same SOP Instance UID again is stored once (the first copy stays; a resend after an
aborted push is harmless). A UID that is not a plain DICOM UID is never used as a file name: a
hash of it is.

DICOM has no "series complete" signal. A series counts as complete once nothing has arrived for
`quiet_s` seconds and, where the archive is known (`--pacs`), once it holds as many instances
as the archive says the series has (C-FIND NumberOfSeriesRelatedInstances): until then it is
"arriving" or "incomplete" (a push aborted half-way) and must not be built. `status()` reports studies and series without names.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

UID_RE = re.compile(r"[0-9]+(\.[0-9]+)*")
DEFAULT_QUIET_S = 20.0
PART = ".part-"


def safe_uid(uid: str) -> str:
    """A UID as a file name: itself when it is a plain UID, else a hash of it."""
    u = str(uid or "").strip().rstrip("\0")
    if UID_RE.fullmatch(u) and len(u) <= 64:
        return u
    return "x" + hashlib.sha256(u.encode("utf-8", "replace")).hexdigest()[:40]


@dataclass(frozen=True)
class Stored:
    path: Path
    duplicate: bool  # the instance was there already (nothing written)
    size: int


class Inbox:
    def __init__(self, root: Path):
        self.root = Path(root)
        self._lock = threading.Lock()  # folder creation and renames from several associations
        self._described: dict[Path, dict] = {}  # series folder -> its header facts (read once)

    def check_writable(self) -> None:
        """Raise OSError now (at start) rather than at the first instance."""
        self.root.mkdir(parents=True, exist_ok=True)
        probe = self.root / f"{PART}probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()

    def path_for(self, study: str, series: str, sop: str) -> Path:
        return self.root / safe_uid(study) / safe_uid(series) / f"{safe_uid(sop)}.dcm"

    def store(self, study: str, series: str, sop: str, data: bytes) -> Stored:
        """Write one encoded instance (a DICOM file: preamble, meta, dataset) durably."""
        final = self.path_for(study, series, sop)
        if final.exists():
            return Stored(final, True, final.stat().st_size)
        with self._lock:
            final.parent.mkdir(parents=True, exist_ok=True)
        part = final.with_name(f"{PART}{final.name}-{threading.get_ident()}")
        try:
            with open(part, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            with self._lock:
                if final.exists():  # the same instance from another association
                    part.unlink()
                    return Stored(final, True, final.stat().st_size)
                os.rename(part, final)
            _fsync_dir(final.parent)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        return Stored(final, False, len(data))

    # ------------------------------------------------------------ what has arrived
    def series(
        self,
        quiet_s: float = DEFAULT_QUIET_S,
        now: float | None = None,
        expected: Callable[[str, str], int | None] | None = None,
    ) -> list[dict]:
        """Every series in the inbox: ids, instance count and state: "arriving" (something came
        in the last `quiet_s` seconds), "incomplete" (quiet, but the archive holds more:
        `expected(study, series)` is its count, None when it does not know), or "complete"."""
        now = time.time() if now is None else now
        out = []
        for study in (
            sorted(p for p in self.root.iterdir() if p.is_dir()) if self.root.is_dir() else []
        ):
            for series in sorted(p for p in study.iterdir() if p.is_dir()):
                files = [p for p in series.iterdir() if p.suffix == ".dcm"]
                if not files:
                    continue
                newest = max(p.stat().st_mtime for p in files)
                quiet = now - newest
                state = "complete" if quiet >= quiet_s else "arriving"
                want = (
                    expected(study.name, series.name) if expected and state == "complete" else None
                )
                if want is not None and len(files) < want:
                    state = "incomplete"
                out.append(
                    {
                        "study": study.name,
                        "series": series.name,
                        "instances": len(files),
                        "state": state,
                        "quiet_s": round(quiet, 1),
                        **({"archive_instances": want} if want is not None else {}),
                        **self._describe(series, files),
                    }
                )
        return out

    def _describe(self, folder: Path, files: list[Path]) -> dict:
        if folder not in self._described:
            self._described[folder] = _describe(min(files))
        return self._described[folder]


def _describe(path: Path) -> dict:
    """Modality, series number and description of a series (never a patient's name)."""
    import pydicom

    try:
        ds = pydicom.dcmread(
            path,
            stop_before_pixels=True,
            specific_tags=["Modality", "SeriesNumber", "SeriesDescription", "BodyPartExamined"],
        )
    except Exception:  # a damaged file: the build will say what is wrong with it
        return {"modality": "", "series_number": None, "description": "", "body_part": ""}
    number = ds.get("SeriesNumber")
    return {
        "modality": str(ds.get("Modality", "")),
        "series_number": int(number) if number not in (None, "") else None,
        "description": str(ds.get("SeriesDescription", "")),
        "body_part": str(ds.get("BodyPartExamined", "")),
    }


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
