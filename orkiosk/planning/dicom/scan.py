"""Finding the images under a folder, grouping them by series, and choosing the series to build."""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from orkiosk.planning.dicom.errors import DicomError, ProgressFn
from orkiosk.planning.dicom.frames import Frame, floats, frames_and_notes, get, num

DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
NO_UID_PREFIX = "no-uid-"  # synthetic series id of files without a Series Instance UID
GROUPED_BY = (
    "Frame of Reference, orientation, pixel spacing, size, series number and description, modality"
)
PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
IMAGE_ELEMENTS = ("Rows", "Columns", "BitsAllocated", "PixelRepresentation")


@dataclass
class SeriesGroup:
    uid: str
    frames: list[Frame] = field(default_factory=list)
    number: str = ""
    description: str = ""
    modality: str = ""
    first_path: str = ""
    problems: list[str] = field(default_factory=list)  # images of this series that cannot be used
    notes: list[str] = field(default_factory=list)  # e.g. which stack of a multi-frame file
    grouped: bool = False  # no Series Instance UID: grouped by acquisition (uid is synthetic)

    @property
    def localizer(self) -> bool:
        return bool(self.frames) and all(f.localizer for f in self.frames)

    def label(self) -> str:
        bits = [f"{self.uid} (no Series Instance UID)" if self.grouped else self.uid]
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
    """(is_part10, maybe_raw): 'DICM' at byte 128, or a raw data set (no preamble) starting with
    group 0008, a command set (group 0000, as some archives store it) or a file meta group 0002.

    OSError (e.g. no permission) propagates: an unreadable file might be a slice.
    """
    with open(path, "rb") as fh:
        head = fh.read(132)
    if len(head) >= 132 and head[128:132] == b"DICM":
        return True, False
    if len(head) < 8:
        return False, False
    group, element = head[0:2], head[2:4]
    if group == b"\x08\x00":
        return False, element in (b"\x05\x00", b"\x08\x00", b"\x16\x00", b"\x18\x00", b"\x00\x00")
    if group == b"\x00\x00":  # command group length (0000,0000) or Affected SOP Class (0000,0002)
        return False, element in (b"\x00\x00", b"\x02\x00")
    if group == b"\x02\x00":  # file meta without preamble: (0002,0000) or (0002,0001)
        return False, element in (b"\x00\x00", b"\x01\x00")
    return False, False


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
            # defer_size: the pixel data is skipped, not read, but its presence is seen (a file
            # cut short before it is told from a whole one)
            ds = pydicom.dcmread(path, defer_size=4096, force=raw)
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
    damage = _damage(ds, sop_class, part10)
    if damage:
        scan.broken.append((path, damage))
        return
    if "Rows" not in ds and "PerFrameFunctionalGroupsSequence" not in ds:
        scan.ignored.append((path, "DICOM object without an image"))
        return
    uid = str(get(ds, "SeriesInstanceUID", "") or "").strip()
    try:
        frames, notes = frames_and_notes(path, ds)
    except DicomError as exc:  # readable, but not a kind of image that can be built
        key = uid or _acquisition_key(ds, None)
        grp = scan.series.setdefault(key, SeriesGroup(uid=key, first_path=path, grouped=not uid))
        grp.problems.append(str(exc))
        return
    key = uid or _acquisition_key(ds, frames[0])
    sop = str(get(ds, "SOPInstanceUID", "") or "").strip()
    if sop:  # without one the image is told by its path: two such files are not duplicates
        if sop in seen_sop:  # the same image copied twice: keep the first
            scan.ignored.append((path, f"duplicate of {seen_sop[sop]} (same SOP Instance UID)"))
            return
        seen_sop[sop] = path
    grp = scan.series.get(key)
    if grp is None:
        grp = scan.series[key] = SeriesGroup(uid=key, first_path=path, grouped=not uid)
    if not grp.description:
        grp.number = str(get(ds, "SeriesNumber", "") or "").strip()
        grp.description = str(get(ds, "SeriesDescription", "") or "").strip()
        grp.modality = str(get(ds, "Modality", "") or "").strip()
    grp.frames.extend(frames)
    grp.notes.extend(n for n in notes if n not in grp.notes)


def _is_image_class(sop_class: str) -> bool:
    from pydicom.uid import UID

    return UID(sop_class).name.endswith("Image Storage") if sop_class else False


def _element_name(tag) -> str:
    from pydicom.datadict import dictionary_description
    from pydicom.tag import Tag

    t = Tag(tag)
    try:
        return f"{dictionary_description(t)} {t}"
    except KeyError:
        return f"private element {t}" if t.is_private else f"element {t}"


def _last_read(ds) -> str:
    tags = list(ds.keys())
    return f"after {_element_name(tags[-1])}" if tags else "before its first element"


def _damage(ds, sop_class: str, part10: bool) -> str:
    """Why an image file cannot be an image: which element is missing or wrong ("" if none)."""
    from pydicom.uid import UID

    sop_class = str(get(ds, "SOPClassUID", "") or sop_class).strip()
    if not UID(sop_class).is_valid:  # garbage where the UID should be
        sop_class = ""
    has_pixels = any(k in ds for k in PIXEL_KEYWORDS)
    missing = [k for k in IMAGE_ELEMENTS if k not in ds]
    if part10 and not sop_class and (missing or not has_pixels):
        return (
            "truncated or damaged: neither the file meta nor the data set names the SOP Class "
            f"UID (0008,0016) and the data set ends {_last_read(ds)}"
        )
    if not _is_image_class(sop_class) and (missing or not has_pixels):
        return ""  # a structured report, presentation state...: not an image, not damaged
    if not has_pixels:
        last = _last_read(ds)
        what = [_element_name(ds_tag(k)) for k in missing] + ["Pixel Data (7FE0,0010)"]
        return f"truncated or damaged: the data set ends {last}; missing: {', '.join(what)}"
    if missing:
        return "damaged: missing " + ", ".join(_element_name(ds_tag(k)) for k in missing)
    for k in ("Rows", "Columns"):
        if num(ds, k, 0) < 1:
            return f"damaged: {_element_name(ds_tag(k))} is {get(ds, k, '')!r}, not a size"
    return ""


def ds_tag(keyword: str):
    from pydicom.datadict import tag_for_keyword

    return tag_for_keyword(keyword)


def _acquisition_key(ds, frame: Frame | None) -> str:
    """A stable series id for files without a Series Instance UID: what identifies an acquisition."""

    def text(name):
        return str(get(ds, name, "") or "").strip()

    orientation = frame.orientation if frame else floats(get(ds, "ImageOrientationPatient"), 6)
    spacing = frame.pixel_spacing if frame else floats(get(ds, "PixelSpacing"), 2)
    parts = (
        text("StudyInstanceUID"),
        text("FrameOfReferenceUID"),
        tuple(round(v, 3) + 0.0 for v in orientation) if orientation else None,
        tuple(round(v, 4) + 0.0 for v in spacing) if spacing else None,
        int(num(ds, "Rows", 0)),
        int(num(ds, "Columns", 0)),
        text("SeriesNumber"),
        text("SeriesDescription"),
        text("Modality"),
    )
    return NO_UID_PREFIX + hashlib.sha256(repr(parts).encode()).hexdigest()[:12]


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
        grp = _asked(scan, usable, series_uid.strip())
        how = "as asked"
    else:
        candidates = [g for g in _ordered(usable) if not g.localizer] or _ordered(usable)
        grp = candidates[0]
        how = "the largest"
    if grp.problems:
        raise DicomError(grp.problems[0])
    notes = [f"series {grp.label()} ({how})"]
    if grp.grouped:
        n = len({f.path for f in grp.frames})
        notes.append(
            f"the {n} file(s) of this series carry no Series Instance UID (anonymised?): they "
            f"were grouped as one acquisition by {GROUPED_BY}"
        )
    notes += grp.notes
    others = [g for g in _ordered(usable) if g.uid != grp.uid]
    if others:
        notes.append(
            "other series (use --series with a UID, series number or description to choose): "
            + "; ".join(g.label() for g in others)
        )
    return grp, notes


def _asked(scan: Scan, usable: dict[str, SeriesGroup], asked: str) -> SeriesGroup:
    """The series named by `asked`: its UID (or synthetic id), series number or description
    (exact, case-insensitive)."""
    if asked in usable:
        return usable[asked]
    wanted = asked.casefold()
    matches = [
        g
        for g in _ordered(usable)
        if _same_number(g.number, asked) or (g.description and g.description.casefold() == wanted)
    ]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise DicomError(
            f"--series {asked!r} is ambiguous in {scan.folder}: it names {len(matches)} series: "
            + "; ".join(g.label() for g in matches)
            + ". Give the Series Instance UID (or the id shown) of the one to build"
        )
    listing = "; ".join(g.label() for g in _ordered(usable))
    raise DicomError(
        f"series {asked!r} is not in {scan.folder} (no series has that UID, number or "
        f"description); series found: {listing}"
    )


def _same_number(number: str, asked: str) -> bool:
    if not number:
        return False
    try:
        return int(number) == int(asked)
    except ValueError:
        return number == asked


def _ordered(groups: dict[str, SeriesGroup]) -> list[SeriesGroup]:
    return sorted(groups.values(), key=lambda g: (-len(g.frames), g.number, g.uid))
