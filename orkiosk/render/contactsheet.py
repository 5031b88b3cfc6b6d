"""The contact sheet `orkiosk build` writes beside a package: one picture that shows at a glance
that the right anatomy came out.

Top row: the model from the front (anterior) and from the patient's left, and a legend (patient,
study, series, each structure's colour and name, and what the caller adds, e.g. volumes).
Bottom row: axial, coronal and sagittal slices of the package's image with the structures'
contours, as the kiosk's slice view draws them, through the first trajectory's target (else the
middle of the plan). Everything is drawn by the kiosk's own renderer on one headless context, so
the sheet shows what the OR screen will show, sides included (anterior view and axial/coronal
slices: the patient's left on the image's right).
"""

from __future__ import annotations

import textwrap

import numpy as np
from PIL import Image, ImageDraw

from orkiosk.plan.bounds import plan_bounds
from orkiosk.plan.colors import srgb
from orkiosk.render.slicesnap import render_slice_snapshot
from orkiosk.render.snapshot import SnapshotOptions, _font, render_snapshot

PANEL = (640, 480)
HEADER = 44
BACKGROUND = (16, 18, 22)
TEXT = (225, 228, 235)
DIM = (150, 155, 165)
VIEWS = (
    ("anterior", "FRONT (anterior): patient's LEFT on the RIGHT"),
    ("left", "SIDE (from the patient's left)"),
)
PLANES = ("axial", "coronal", "sagittal")
SOFT_TISSUE = "400/40"  # CT window of the slices: soft tissue, bone and air all told apart


def slice_point(pkg) -> tuple[np.ndarray, str]:
    """Where the three slices cross, and why there: the first trajectory's target, else the
    middle of the first tumour, else of the smallest structure that is not skin or bone (what a
    planner segments by hand is what the sheet should show), else the middle of the plan."""
    plan = pkg.plan
    if plan.trajectories:
        t = plan.trajectories[0]
        return np.asarray(t.target, dtype=np.float64), f"target of {t.name}"
    candidates = [s for s in plan.structures if s.category == "tumour" and s.id in pkg.meshes]
    if not candidates:
        others = [
            s for s in plan.structures if s.category not in ("skin", "bone") and s.id in pkg.meshes
        ]
        candidates = sorted(others, key=lambda s: pkg.meshes[s.id].triangle_count)
    if candidates:
        s = candidates[0]
        lo, hi = pkg.meshes[s.id].bounds()
        return (np.asarray(lo, np.float64) + np.asarray(hi, np.float64)) / 2, f"middle of {s.name}"
    lo, hi = plan_bounds(plan, pkg.meshes)
    return (np.asarray(lo, np.float64) + np.asarray(hi, np.float64)) / 2, "middle of the plan"


def contact_sheet(pkg, extra_lines: list[str] | None = None, ctx=None) -> Image.Image:
    """The sheet of a loaded package (orkiosk.plan.package.Package) as a Pillow RGB image."""
    window = SOFT_TISSUE if pkg.image is not None and pkg.image.entry.modality == "CT" else None
    from orkiosk.render.context import create_headless_context

    w, h = PANEL
    sheet = Image.new("RGB", (3 * w, HEADER + 2 * h), BACKGROUND)
    point, why = slice_point(pkg)
    lines = [f"slices through the {why}:", "  " + ", ".join(f"{v:.1f}" for v in point) + " mm LPS"]
    own = ctx is None
    ctx = ctx or create_headless_context()
    try:
        for col, (view, caption) in enumerate(VIEWS):
            pic = render_snapshot(
                pkg.plan, pkg.meshes, SnapshotOptions(size=PANEL, view=view), ctx=ctx
            )
            _caption(pic, caption)
            sheet.paste(pic, (col * w, HEADER))
        if pkg.image is not None:
            lo, hi = plan_bounds(pkg.plan, pkg.meshes)
            mid = (np.asarray(lo, dtype=np.float64) + np.asarray(hi, dtype=np.float64)) / 2
            offset = point - mid
            for col, plane in enumerate(PLANES):
                axis = {"axial": 2, "sagittal": 0, "coronal": 1}[plane]
                pic, _frame = render_slice_snapshot(
                    pkg, f"{plane}:{offset[axis]:.2f}", size=PANEL, window=window, ctx=ctx
                )
                sheet.paste(pic, (col * w, HEADER + h))
        else:
            _no_image(sheet)
    finally:
        if own:
            ctx.release()
    _legend(sheet, pkg, [*(extra_lines or []), "", *lines])
    _header(sheet, pkg)
    return sheet


def _caption(pic: Image.Image, text: str) -> None:
    draw = ImageDraw.Draw(pic)
    draw.text((10, 8), text, font=_font(17), fill=TEXT, stroke_width=2, stroke_fill=(0, 0, 0))


def _header(sheet: Image.Image, pkg) -> None:
    p = pkg.plan
    text = (
        f"{p.patient.name}   ID {p.patient.id}   {p.study.modality} {p.study.date or ''}   "
        f"case {p.case_id}  plan v{p.plan_version}   laterality {p.laterality}"
    )
    draw = ImageDraw.Draw(sheet)
    draw.text((12, 10), text, font=_font(22), fill=TEXT)


def _legend(sheet: Image.Image, pkg, extra_lines: list[str]) -> None:
    w, h = PANEL
    x0, y = 2 * w + 16, HEADER + 14
    draw = ImageDraw.Draw(sheet)
    font, small = _font(18), _font(15)
    draw.text((x0, y), pkg.plan.study.description or "study", font=font, fill=TEXT)
    y += 30
    for s in pkg.plan.structures:
        rgb = tuple(int(round(255 * c)) for c in srgb(s.color))
        draw.rectangle((x0, y + 2, x0 + 18, y + 20), fill=rgb, outline=DIM)
        hidden = "" if s.visible else "  (hidden)"
        draw.text((x0 + 28, y), f"{s.name}{hidden}", font=font, fill=TEXT)
        y += 26
        if y > HEADER + h - 40:
            break
    y += 8
    wrapped = [
        part
        for line in extra_lines
        for part in (textwrap.wrap(line, 60, subsequent_indent="    ") or [""])
    ]
    for line in wrapped:
        if y > HEADER + h - 22:
            break
        draw.text((x0, y), line, font=small, fill=DIM)
        y += 20


def _no_image(sheet: Image.Image) -> None:
    w, h = PANEL
    draw = ImageDraw.Draw(sheet)
    draw.text(
        (20, HEADER + h + h // 2),
        "no image in this package (built with --no-image): no slices to show",
        font=_font(20),
        fill=DIM,
    )
