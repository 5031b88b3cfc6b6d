"""`orkiosk snapshot --slice`: a slice view as the kiosk draws it, headless, with its caption
(plane and position, the radiological convention in words, the window)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from orkiosk.plan.bounds import plan_bounds
from orkiosk.plan.image import ImageVolume
from orkiosk.render.errors import RenderError
from orkiosk.render.slicegeom import SliceFrame, parse_slice, slice_frame
from orkiosk.render.snapshot import _font
from orkiosk.render.state import DisplayState

CONVENTION = {
    "axial": "radiological: patient's LEFT on the image's RIGHT, seen from the feet",
    "coronal": "radiological: patient's LEFT on the image's RIGHT, seen from the front",
    "sagittal": "seen from the patient's left: anterior on the image's LEFT",
    "perp": "across the trajectory, seen from the entry",
    "along": "along the trajectory, entry at the top",
}


def slice_caption(frame: SliceFrame, window_text: str) -> str:
    """What the picture is, in words: plane and position, convention, window."""
    if frame.kind in ("axial", "sagittal", "coronal"):
        axis = {"axial": 2, "sagittal": 0, "coronal": 1}[frame.kind]
        where = f"{frame.kind.upper()} {'xyz'[axis]} = {frame.center[axis]:.1f} mm (LPS)"
    elif frame.kind == "perp":
        where = f"ACROSS {frame.trajectory_id}, {frame.offset:.1f} mm to target"
    else:
        where = f"ALONG {frame.trajectory_id}, {frame.offset:+.1f} mm off the path"
    return f"{where}   {CONVENTION[frame.kind]}   {window_text}"


def parse_window(text: str | None, image: ImageVolume | None) -> tuple[tuple | None, str]:
    """--window NAME (a preset of the image) or WIDTH/LEVEL -> ((width, level) or None, text)."""
    if image is None:
        return None, "no image in this package"
    presets = image.entry.presets or (image.default_preset(),)
    if text is None:
        p = presets[0]
        return (p.window, p.level), f"{p.name} W{p.window:g} L{p.level:g}"
    for p in presets:
        if p.name.lower().replace(" ", "") == text.lower().replace(" ", ""):
            return (p.window, p.level), f"{p.name} W{p.window:g} L{p.level:g}"
    try:
        w, lv = (float(v) for v in text.split("/"))
    except ValueError:
        names = ", ".join(p.name for p in presets)
        raise RenderError(f"--window {text!r}: a preset ({names}) or WIDTH/LEVEL") from None
    if not (np.isfinite(w) and np.isfinite(lv) and w > 0):
        raise RenderError(f"--window {text!r}: width must be > 0")
    return (w, lv), f"W{w:g} L{lv:g}"


def render_slice_snapshot(
    pkg, spec: str, size=(1280, 960), window: str | None = None, ctx=None
) -> tuple[Image.Image, SliceFrame]:
    """The slice `spec` (PLANE:MM, see slicegeom.parse_slice) of a loaded package."""
    from orkiosk.render.context import create_headless_context
    from orkiosk.render.renderer import Renderer
    from orkiosk.render.slice import SliceRenderer

    w, h = size
    kind, offset, traj = parse_slice(spec, pkg.plan)
    win, win_text = parse_window(window, pkg.image)
    bounds = plan_bounds(pkg.plan, pkg.meshes)
    frame = slice_frame(kind, offset, bounds, w / h, traj)
    state = DisplayState(window=win)
    own = ctx is None
    ctx = ctx or create_headless_context()
    try:
        with (
            Renderer(ctx) as renderer,
            renderer.create_scene(pkg.plan, pkg.meshes, lod_budget=0, image=pkg.image) as sc,
        ):
            slices = SliceRenderer(renderer)
            try:
                slices.render(sc, frame, state, size=(w, h))
                pixels = renderer.read_image()
            finally:
                slices.release()
    finally:
        if own:
            ctx.release()
    image = Image.fromarray(pixels, "RGB")
    _caption(image, slice_caption(frame, win_text))
    return image, frame


def _caption(image: Image.Image, text: str) -> None:
    """Top-left, one line per part (the letters sit at the middle of each side)."""
    draw = ImageDraw.Draw(image)
    w, h = image.size
    font = _font(max(10, min(w, h) // 55))
    y = 6
    for line in (part for part in text.split("   ") if part):
        draw.text(
            (8, y), line, font=font, fill=(235, 235, 235), stroke_width=2, stroke_fill=(0, 0, 0)
        )
        box = draw.textbbox((8, y), line, font=font)
        y = box[3] + 4
