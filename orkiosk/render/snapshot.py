"""Headless pictures of a plan: the same Renderer as the kiosk, on a standalone EGL context.

render_snapshot() returns a Pillow image (top row first, as an image should be: GL reads rows
bottom-up and read_image() flips them). Labels for trajectories and landmarks are drawn with
Pillow at the positions the renderer exports for the UI.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from orkiosk.plan.mesh import Mesh
from orkiosk.plan.model import Plan
from orkiosk.plan.views import NAMED_VIEWS
from orkiosk.render.camera import Camera
from orkiosk.render.errors import RenderError
from orkiosk.render.state import FULL, DisplayState, Quality

MAX_SIZE = 8192


@dataclass
class SnapshotOptions:
    size: tuple[int, int] = (1280, 960)
    view: str | None = None  # a named view or a plan view id (default: anterior)
    trajectory: str | None = None  # probe's-eye view along this trajectory
    side: bool = False  # with trajectory: the perpendicular view instead
    state: DisplayState = field(default_factory=DisplayState)
    labels: bool = True
    quality: Quality = FULL


def choose_camera(plan: Plan, bounds, options: SnapshotOptions) -> tuple[Camera, str]:
    """The camera for the options, and a short name of the view for the caption."""
    aspect = options.size[0] / options.size[1]
    if options.trajectory is not None:
        try:
            t = plan.trajectory(options.trajectory)
        except KeyError:
            known = ", ".join(x.id for x in plan.trajectories) or "none"
            raise RenderError(
                f"no trajectory {options.trajectory!r} in the plan (known: {known})"
            ) from None
        if options.side:
            return Camera.perpendicular(t.entry, t.target, bounds, aspect), f"side of {t.id}"
        return Camera.probe(t.entry, t.target, bounds, aspect), f"along {t.id}"
    name = options.view or "anterior"
    if name.lower() in NAMED_VIEWS:
        return Camera.named(name, bounds, aspect), name.lower()
    for v in plan.views:
        if v.id == name:
            return Camera.from_view(v, bounds, aspect), v.name
    known = list(dict.fromkeys([*NAMED_VIEWS, *(v.id for v in plan.views)]))
    raise RenderError(f"unknown view {name!r}; known: {', '.join(known)}")


def check_ids(plan: Plan, state: DisplayState) -> None:
    """Refuse overrides that name structures the plan does not have (a typo hides nothing)."""
    known = {s.id for s in plan.structures}
    for what, ids in (
        ("hide/show", state.visible),
        ("opacity", state.opacity),
        ("colour", state.color),
    ):
        bad = sorted(set(ids) - known)
        if bad:
            raise RenderError(
                f"{what}: no structure {', '.join(map(repr, bad))} in the plan "
                f"(known: {', '.join(sorted(known)) or 'none'})"
            )
    for sid, value in state.opacity.items():
        if not (0.0 <= float(value) <= 1.0):
            raise RenderError(f"opacity of {sid!r} must be between 0 and 1, got {value}")


def render_snapshot(
    plan: Plan,
    meshes: dict[str, Mesh],
    options: SnapshotOptions | None = None,
    ctx=None,
    image=None,
) -> Image.Image:
    """Render a plan headless; ctx: a moderngl context to use (default: a new EGL one);
    image: the package's ImageVolume (painted on cut sections)."""
    from orkiosk.render.context import create_headless_context
    from orkiosk.render.renderer import Renderer

    options = options or SnapshotOptions()
    w, h = (int(v) for v in options.size)
    if not (1 <= w <= MAX_SIZE and 1 <= h <= MAX_SIZE):
        raise RenderError(f"image size {w}x{h} is out of range (1..{MAX_SIZE} per side)")
    check_ids(plan, options.state)
    state = options.state
    own = ctx is None
    ctx = ctx or create_headless_context()
    try:
        with (
            Renderer(ctx) as renderer,
            renderer.create_scene(plan, meshes, lod_budget=0, image=image) as scene,
        ):
            camera, view_name = choose_camera(plan, scene.bounds, options)
            if options.trajectory is not None and not options.side:
                state.probe_trajectory = options.trajectory
            renderer.render(scene, camera, state, size=(w, h), quality=options.quality)
            pixels = renderer.read_image()
            labels = renderer.labels(scene, camera, w, h, state) if options.labels else []
    finally:
        if own:
            ctx.release()
    image = Image.fromarray(pixels, "RGB")
    if options.labels:
        _draw_labels(image, labels, f"{plan.case_id} v{plan.plan_version} - {view_name}")
    return image


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType sizes
        return ImageFont.load_default()


def _draw_labels(image: Image.Image, labels, caption: str) -> None:
    draw = ImageDraw.Draw(image)
    w, h = image.size
    font = _font(max(11, min(w, h) // 50))
    for lab in labels:
        if not lab.on_screen or lab.kind not in ("entry", "landmark"):
            continue
        x, y = lab.x + 8, lab.y - 8
        text = lab.text
        box = draw.textbbox((x, y), text, font=font)
        if box[2] > w:  # keep it inside the picture
            x -= box[2] - w + 4
        draw.text(
            (x, y), text, font=font, fill=(235, 235, 235), stroke_width=2, stroke_fill=(0, 0, 0)
        )
    cap_font = _font(max(10, min(w, h) // 60))
    box = draw.textbbox((0, 0), caption, font=cap_font)
    draw.text(
        (w - (box[2] - box[0]) - 8, h - (box[3] - box[1]) - 10),
        caption,
        font=cap_font,
        fill=(170, 175, 185),
    )


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise RenderError(f"size {text!r}: expected WIDTHxHEIGHT, e.g. 1280x960") from None
    if not (1 <= w <= MAX_SIZE and 1 <= h <= MAX_SIZE):
        raise RenderError(f"size {text!r} is out of range (1..{MAX_SIZE} per side)")
    return w, h


def parse_opacity(items) -> dict[str, float]:
    out = {}
    for item in items or ():
        sid, sep, value = item.partition("=")
        if not sep or not sid:
            raise RenderError(f"opacity {item!r}: expected ID=VALUE, e.g. skin=0.3")
        try:
            v = float(value)
        except ValueError:
            raise RenderError(f"opacity {item!r}: {value!r} is not a number") from None
        if not np.isfinite(v) or not 0.0 <= v <= 1.0:
            raise RenderError(f"opacity {item!r}: must be between 0 and 1")
        out[sid] = v
    return out
