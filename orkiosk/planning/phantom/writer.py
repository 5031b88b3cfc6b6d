"""`orkiosk phantom`: the synthetic head written into a new folder as a DICOM series, with the
markups and labelmap beside it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from orkiosk.errors import OrkioskError
from orkiosk.planning.phantom.anatomy import phantom_plan
from orkiosk.planning.phantom.extras import markups_json, write_labelmap
from orkiosk.planning.phantom.head import head_affine, head_ct, head_labels
from orkiosk.planning.phantom.series import write_series


class PhantomError(OrkioskError):
    pass


SIZES = {
    # name: (slices, rows, columns), (column, row, slice) spacing mm
    "standard": ((200, 256, 256), (0.9, 0.9, 1.0)),
    "small": ((96, 128, 128), (1.8, 1.8, 2.1)),
    "tiny": ((48, 64, 64), (3.6, 3.6, 4.2)),
}


def write_phantom(
    out_dir,
    size: str = "standard",
    extras: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Write the phantom series into out_dir; return a summary dict (paths, sizes)."""
    if size not in SIZES:
        raise PhantomError(f"unknown phantom size {size!r}; choose one of {', '.join(SIZES)}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise PhantomError(f"{out}: exists and is not a folder")
    if out.exists() and any(out.iterdir()):
        raise PhantomError(f"{out}: folder is not empty; give a new or empty folder")
    shape, spacing = SIZES[size]
    affine = head_affine(shape, spacing)
    labels, hu = head_labels(shape, affine)
    ct = head_ct(hu, spacing)
    try:
        return _write_all(out, ct, labels, affine, shape, spacing, extras, progress)
    except OSError as exc:
        raise PhantomError(f"{out}: cannot write the phantom ({exc.strerror or exc})") from exc


def _write_all(out, ct, labels, affine, shape, spacing, extras, progress) -> dict:
    files = write_series(ct, affine, out, progress=progress)
    summary = {"folder": str(out), "files": len(files), "shape_kji": shape, "spacing": spacing}
    if extras:
        plan = phantom_plan()
        mrk = out / "phantom.mrk.json"
        mrk.write_text(json.dumps(markups_json(plan), indent=2) + "\n")
        summary["markups"] = str(mrk)
        summary["labels"] = str(write_labelmap(labels, affine, out / "phantom-labels.nrrd"))
    return summary
