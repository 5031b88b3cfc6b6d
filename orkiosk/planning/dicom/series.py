"""The entry of the DICOM reader: scan a folder, choose the series, check it, load it."""

from __future__ import annotations

from collections.abc import Callable

from orkiosk.planning.dicom.errors import DicomError
from orkiosk.planning.dicom.geometry import check_geometry
from orkiosk.planning.dicom.header import read_info
from orkiosk.planning.dicom.pixels import load_frames
from orkiosk.planning.dicom.regularise import regularise
from orkiosk.planning.dicom.scan import Scan, SeriesGroup, choose_series, scan_folder
from orkiosk.planning.dicom.volume import Volume


def read_series(
    folder,
    series_uid: str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> Volume:
    """Scan `folder`, choose the series, check it and load it as a Volume.

    `progress(stage, done, total)` is called with stage "scan" and then "read".
    """
    scan = scan_folder(folder, (lambda d, t: progress("scan", d, t)) if progress else None)
    grp, notes = choose_series(scan, series_uid)
    _refuse_broken(scan, grp)
    plan = check_geometry(list(grp.frames), grp.uid)
    frames = plan.frames
    notes += plan.notes
    if scan.ignored:
        notes.append(f"ignored {len(scan.ignored)} file(s) that are not DICOM images")
    array = load_frames(frames, (lambda d, t: progress("read", d, t)) if progress else None)
    array = regularise(array, plan)
    info = read_info(frames[0].path, grp.uid)
    files = tuple(dict.fromkeys(f.path for f in frames))
    return Volume(array=array, affine=plan.affine, info=info, files=files, notes=tuple(notes))


def _refuse_broken(scan: Scan, grp: SeriesGroup) -> None:
    """A damaged file of the series, or one that might belong to it, stops the build."""
    mine = {f.path for f in grp.frames} | {grp.first_path}
    for path, reason in scan.broken:
        if path in mine:
            raise DicomError(f"{path}: {reason}")
    unknown = [(p, r) for p, r in scan.broken if p not in mine]
    if unknown:
        path, reason = unknown[0]
        more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
        raise DicomError(
            f"{path}: {reason}{more}; it cannot be told whether this file belongs to the series, "
            "so the series may be incomplete: remove or replace the damaged file"
        )
