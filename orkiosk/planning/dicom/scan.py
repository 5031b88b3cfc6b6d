"""Finding the images under a folder, grouping them by series, and choosing the series to build."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from orkiosk.planning.dicom.errors import DicomError, ProgressFn
from orkiosk.planning.dicom.frames import Frame, frames_of, get

DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"


@dataclass
class SeriesGroup:
    uid: str
    frames: list[Frame] = field(default_factory=list)
    number: str = ""
    description: str = ""
    modality: str = ""
    first_path: str = ""
    problems: list[str] = field(default_factory=list)  # images of this series that cannot be used

    @property
    def localizer(self) -> bool:
        return bool(self.frames) and all(f.localizer for f in self.frames)

    def label(self) -> str:
        bits = [self.uid]
        if self.number:
            bits.append(f"#{self.number}")
        if self.description:
            bits.append(repr(self.description))
        if self.modality:
            bits.append(self.modality)
        n = len(self.frames)
        bits.append(f"{n} image{'s' if n != 1 else ''}")
        if self.localizer:
            bits.append("localizer")
        return " ".join(bits)


@dataclass
class Scan:
    """What a folder holds: image series, and the files that were ignored or are broken."""

    folder: str
    series: dict[str, SeriesGroup] = field(default_factory=dict)
    ignored: list[tuple[str, str]] = field(default_factory=list)  # (path, why) not DICOM images
    broken: list[tuple[str, str]] = field(default_factory=list)  # (path, why) DICOM, unreadable
    file_count: int = 0


def _looks_like_dicom(path: str) -> tuple[bool, bool]:
    """(is_part10, maybe_raw): 'DICM' at byte 128, or a raw data set starting with group 0008.

    OSError (e.g. no permission) propagates: an unreadable file might be a slice.
    """
    with open(path, "rb") as fh:
        head = fh.read(132)
    if len(head) >= 132 and head[128:132] == b"DICM":
        return True, False
    return False, len(head) >= 8 and head[0:2] == b"\x08\x00" and head[2:4] in (
        b"\x05\x00",
        b"\x08\x00",
        b"\x16\x00",
        b"\x18\x00",
        b"\x00\x00",
    )


def _list_files(root: Path) -> list[str]:
    paths = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            paths.append(os.path.join(dirpath, name))
    return paths


def scan_folder(folder, progress: ProgressFn | None = None) -> Scan:
    """Find every DICOM image under `folder`, grouped by series. Reads headers only."""
    root = Path(folder)
    if not root.exists():
        raise DicomError(f"{root}: no such folder")
    if not root.is_dir():
        raise DicomError(f"{root}: not a folder (give the folder that holds the DICOM series)")
    paths = _list_files(root)
    scan = Scan(folder=str(root), file_count=len(paths))
    seen_sop: dict[str, str] = {}
    for n, path in enumerate(paths):
        if progress:
            progress(n, len(paths))
        header = _read_header(scan, path)
        if header is not None:
            _add_image(scan, seen_sop, path, *header)
    if progress:
        progress(len(paths), len(paths))
    return scan


def _read_header(scan: Scan, path: str):
    """(data set without pixels, is_part10) of a DICOM file; None (and the file noted in `scan`
    as ignored or broken) for anything else."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        part10, raw = _looks_like_dicom(path)
    except OSError as exc:
        scan.broken.append((path, f"cannot be opened ({exc.strerror or exc})"))
        return None
    if not part10 and not raw:
        scan.ignored.append((path, "not a DICOM file"))
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, stop_before_pixels=True, force=raw)
    except (InvalidDicomError, EOFError) as exc:
        if part10:
            scan.broken.append((path, f"cannot be read ({exc})"))
        else:
            scan.ignored.append((path, "not a DICOM file"))
        return None
    except Exception as exc:  # pydicom raises many kinds on damaged files
        if part10:
            scan.broken.append((path, f"damaged ({type(exc).__name__}: {exc})"))
        else:
            scan.ignored.append((path, "not a DICOM file"))
        return None
    return ds, part10


def _add_image(scan: Scan, seen_sop: dict[str, str], path: str, ds, part10: bool) -> None:
    """File one DICOM data set under its series (or note why it is not an image to build)."""
    meta = getattr(ds, "file_meta", None)
    sop_class = str(get(meta, "MediaStorageSOPClassUID", "")) if meta is not None else ""
    if sop_class == DICOMDIR_SOP_CLASS or "DirectoryRecordSequence" in ds:
        scan.ignored.append((path, "DICOMDIR index"))
        return
    uid = str(get(ds, "SeriesInstanceUID", "")).strip()
    if not uid:
        if part10:
            scan.broken.append(
                (path, "truncated or damaged: the header ends before the Series Instance UID")
            )
        else:
            scan.ignored.append((path, "not a DICOM image"))
        return
    if "Rows" not in ds and "PerFrameFunctionalGroupsSequence" not in ds:
        scan.ignored.append((path, "DICOM object without an image"))
        return
    try:
        frames = frames_of(path, ds)
    except DicomError as exc:  # readable, but not a kind of image that can be built
        grp = scan.series.setdefault(uid, SeriesGroup(uid=uid, first_path=path))
        grp.problems.append(str(exc))
        return
    sop = frames[0].sop_uid
    if sop in seen_sop:  # the same image copied twice: keep the first
        scan.ignored.append((path, f"duplicate of {seen_sop[sop]} (same SOP Instance UID)"))
        return
    seen_sop[sop] = path
    grp = scan.series.get(uid)
    if grp is None:
        grp = scan.series[uid] = SeriesGroup(uid=uid, first_path=path)
    if not grp.description:
        grp.number = str(get(ds, "SeriesNumber", "") or "")
        grp.description = str(get(ds, "SeriesDescription", "") or "")
        grp.modality = str(get(ds, "Modality", "") or "")
    grp.frames.extend(frames)


def choose_series(scan: Scan, series_uid: str | None = None) -> tuple[SeriesGroup, list[str]]:
    """The series to build and notes saying which was chosen and which others exist."""
    usable = {uid: g for uid, g in scan.series.items() if g.frames or g.problems}
    if not usable:
        why = f"no DICOM image found in {scan.folder} ({scan.file_count} files looked at"
        if scan.broken:
            path, reason = scan.broken[0]
            why += f"; {len(scan.broken)} damaged DICOM file(s), e.g. {path}: {reason}"
        raise DicomError(why + ")")
    if series_uid:
        grp = usable.get(series_uid.strip())
        if grp is None:
            listing = "; ".join(g.label() for g in _ordered(usable))
            raise DicomError(
                f"series {series_uid} is not in {scan.folder}; series found: {listing}"
            )
        how = "as asked"
    else:
        candidates = [g for g in _ordered(usable) if not g.localizer] or _ordered(usable)
        grp = candidates[0]
        how = "the largest"
    if grp.problems:
        raise DicomError(grp.problems[0])
    notes = [f"series {grp.label()} ({how})"]
    others = [g for g in _ordered(usable) if g.uid != grp.uid]
    if others:
        notes.append(
            "other series (use --series UID to choose): " + "; ".join(g.label() for g in others)
        )
    return grp, notes


def _ordered(groups: dict[str, SeriesGroup]) -> list[SeriesGroup]:
    return sorted(groups.values(), key=lambda g: (-len(g.frames), g.number, g.uid))
