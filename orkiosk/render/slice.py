"""The slice view: the image volume reformatted on a plane (render/slicegeom.py says where and
which way up), with each visible structure's contour (mesh-plane intersection) in its colour,
each trajectory's projected path and its crossing ring, and the patient's direction as a
letter on all four sides.

    slices = SliceRenderer(renderer)          # shares the Renderer's context and programs
    info = slices.render(scene, frame, state, size=(w, h))   # or framebuffer=, viewport=
    pixels = renderer.read_image()

While the slice moves (`lod=True`) the contours are cut from the scene's lighter meshes (the
3D view's interactive ones) and the caller may draw into a smaller viewport; contours are kept
per slice position, so a slice drawn again (a new window, a drag back) is not cut again.

One full-screen pass (slice.frag, trilinear from the 3D texture), then flat 2D overlays. The
picture is radiological (slicegeom's conventions); the caller writes the convention in words
(the kiosk's label, the snapshot's caption). Screen coordinates: top-left origin.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import moderngl
import numpy as np

from orkiosk.plan.colors import srgb
from orkiosk.render.errors import RenderError
from orkiosk.render.glyphs import letter_triangles
from orkiosk.render.orientation import disc_triangles, draw_overlay
from orkiosk.render.present import finish_frame
from orkiosk.render.programs import load_shader, set_uniform
from orkiosk.render.scene import Scene
from orkiosk.render.slicegeom import (
    SliceFrame,
    contour_segments,
    path_in_plane,
    side_letters,
    trajectory_crossing,
)
from orkiosk.render.state import DisplayState

PATH_COLOR = (1.0, 0.86, 0.1)  # trajectories: the markers' yellow
BACKGROUND = (0.03, 0.03, 0.04)
CONTOUR_CACHE = 96  # slice positions x structures whose contours are kept


@dataclass(frozen=True)
class SliceInfo:
    size: tuple[int, int]
    mm_per_pixel: float
    contours: int  # segments drawn
    crossings: dict[str, tuple[float, float]]  # trajectory id -> (x, y) pixel, top-left origin
    letters: dict[str, str]  # side -> letters
    cpu_ms: float


class SliceRenderer:
    """Draws slice views with a Renderer's context (one per Renderer)."""

    def __init__(self, renderer):
        self.renderer = renderer
        self.ctx = renderer.ctx
        self.gl = renderer.gl
        try:
            self.prog = self.ctx.program(
                vertex_shader=load_shader("fullscreen.vert"),
                fragment_shader=load_shader("slice.frag"),
            )
        except moderngl.Error as exc:
            raise RenderError(f"the GPU rejected the slice view's shader: {exc}") from exc
        self.vao = self.ctx.vertex_array(self.prog, [])
        self._cache: dict[tuple, np.ndarray] = {}  # contours (LPS) by mesh and plane
        self._cache_scene = None  # the scene they belong to

    def release(self) -> None:
        self._cache.clear()
        self._cache_scene = None
        self.vao.release()
        self.prog.release()

    def render(
        self,
        scene: Scene,
        frame: SliceFrame,
        state: DisplayState | None = None,
        *,
        framebuffer=None,
        viewport=None,
        size=None,
        lod: bool = False,
        letter_px: float | None = None,
    ) -> SliceInfo:
        """One slice picture into `framebuffer`/`viewport` or the renderer's own target.

        `lod`: contours from the lighter meshes (while the slice moves); `letter_px`: height
        of the side letters (default 6 % of the shorter side)."""
        if scene.released:
            raise RenderError("the scene was released")
        t0 = time.perf_counter()
        if scene is not self._cache_scene:
            self._cache.clear()
            self._cache_scene = scene
        state = state or DisplayState()
        framebuffer, size, viewport = self.renderer._destination(framebuffer, viewport, size)
        framebuffer = framebuffer or self.renderer._targets.output_fbo(size)
        w, h = viewport[2], viewport[3]
        try:
            self._image(scene, frame, state, framebuffer, viewport)
            shapes, ncont = self._contours(scene, frame, state, w, h, lod)
            marks, crossings = self._trajectories(scene, frame, state, w, h)
            letters = side_letters(frame)
            ctx = self.ctx
            ctx.enable_only(moderngl.BLEND)
            ctx.blend_func = (moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA)
            overlay = shapes + marks + _letter_shapes(letters, w, h, letter_px)
            if overlay:
                draw_overlay(self.gl, overlay)
            finish_frame(ctx, framebuffer, viewport, self.renderer._home)
        except moderngl.Error as exc:
            raise RenderError(f"the slice view could not be drawn: {exc}") from exc
        return SliceInfo(
            (w, h),
            frame.width_mm / w,
            ncont,
            crossings,
            letters,
            (time.perf_counter() - t0) * 1000,
        )

    def _image(self, scene, frame, state, framebuffer, viewport) -> None:
        framebuffer.use()
        self.ctx.viewport = viewport
        self.ctx.enable_only(moderngl.NOTHING)
        prog = self.prog
        vol = scene.volume if state.show_image else None
        set_uniform(prog, "u_has_image", vol is not None)
        set_uniform(prog, "u_image", 0)
        set_uniform(prog, "u_background", BACKGROUND)
        set_uniform(prog, "u_center", np.asarray(frame.center))
        set_uniform(prog, "u_right", np.asarray(frame.right) * frame.width_mm)
        set_uniform(prog, "u_up", np.asarray(frame.up) * frame.height_mm)
        if vol is not None:
            vol.texture.use(0)
            window = state.window or (vol.default_window.width, vol.default_window.level)
            set_uniform(prog, "u_lps_to_tex", vol.lps_to_tex)
            set_uniform(prog, "u_window", tuple(float(x) for x in window))
        self.vao.render(moderngl.TRIANGLES, vertices=3)

    def _contours(self, scene, frame, state, w, h, lod=False):
        shapes, total = [], 0
        width = max(2.0, min(w, h) / 400)  # px
        for prep, s in zip(scene.prepared.structures, scene.plan.structures, strict=True):
            if not state.is_visible(s):
                continue
            lo, hi = prep.bounds
            if _box_side(lo, hi, frame) != 0:
                continue  # the plane misses it
            mesh = prep.lod if lod and prep.lod is not None else prep.mesh
            seg = self._cut(mesh, frame)
            if not len(seg):
                continue
            total += len(seg)
            xy = frame.to_screen(seg) * [w, h]  # (n, 2, 2) pixels, top-left
            col = (*srgb(state.color_of(s)), 1.0)
            shapes.append((_thick_lines(xy, width, w, h), col))
        return shapes, total

    def _cut(self, mesh, frame: SliceFrame) -> np.ndarray:
        """The mesh's contour on the slice, cut once per mesh and plane."""
        key = (id(mesh), frame.center.tobytes(), frame.normal.tobytes())
        seg = self._cache.get(key)
        if seg is None:
            if len(self._cache) >= CONTOUR_CACHE:
                self._cache.pop(next(iter(self._cache)))  # the oldest
            seg = contour_segments(mesh.positions, mesh.indices, frame.center, frame.normal)
            self._cache[key] = seg
        return seg

    def _trajectories(self, scene, frame, state, w, h):
        shapes, crossings = [], {}
        if not state.show_trajectories:
            return shapes, crossings
        width = max(1.5, min(w, h) / 500)
        for t in scene.plan.trajectories:
            if t.id in state.hidden_trajectories:
                continue
            ends = frame.to_screen(np.array([t.entry, t.target])) * [w, h]
            if path_in_plane(t, frame.center, frame.normal):  # the whole path is on the slice
                shapes.append((_thick_lines(ends[None], 2 * width, w, h), (*PATH_COLOR, 1.0)))
            else:  # its projection, faint
                faint = tuple(c * 0.55 for c in PATH_COLOR) + (0.55,)
                shapes.append((_thick_lines(ends[None], width, w, h), faint))
            tip = _ndc(ends[1:2], w, h)[0]
            shapes.append((_disc(tip, 3 * width, w, h), (0.9, 0.2, 0.6, 1.0)))
            p = trajectory_crossing(t, frame.center, frame.normal)
            if p is None:
                continue
            c = frame.to_screen(p) * [w, h]
            crossings[t.id] = (float(c[0]), float(c[1]))
            r = max(6.0, (t.diameter / 2 + 1.0) / (frame.width_mm / w))
            ring = _ring(c, r, 2 * width, w, h)
            shapes.append((ring, (*PATH_COLOR, 1.0)))
        return shapes, crossings


def _box_side(lo, hi, frame: SliceFrame) -> int:
    """-1 or +1 when the box lies wholly on one side of the slice, 0 when the slice crosses it."""
    corners = np.array(
        [[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
    )
    d = frame.depth(corners)
    return 0 if d.min() <= 0 <= d.max() else (1 if d.min() > 0 else -1)


def _ndc(xy, w, h) -> np.ndarray:
    """Pixels (top-left origin) -> normalised device coordinates."""
    xy = np.asarray(xy, dtype=np.float64)
    return np.stack([xy[..., 0] / w * 2 - 1, 1 - xy[..., 1] / h * 2], axis=-1)


def _thick_lines(seg_px, width, w, h) -> np.ndarray:
    """(n, 2, 2) pixel segments -> triangles (NDC) of lines `width` px wide."""
    p, q = seg_px[:, 0], seg_px[:, 1]
    d = q - p
    length = np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)
    n = np.stack([-d[:, 1], d[:, 0]], axis=1) / length * (width / 2)
    ext = d / length * (width / 2)
    a, b = p - ext, q + ext
    tris = np.stack([a + n, a - n, b - n, a + n, b - n, b + n], axis=1)
    return _ndc(tris.reshape(-1, 2), w, h)


def _ring(center_px, radius, width, w, h, segments=48) -> np.ndarray:
    a = np.linspace(0, 2 * np.pi, segments + 1)
    pts = center_px + np.stack([np.cos(a), np.sin(a)], axis=1) * radius
    return _thick_lines(np.stack([pts[:-1], pts[1:]], axis=1), width, w, h)


def _disc(center_ndc, radius_px, w, h) -> np.ndarray:
    tri = disc_triangles(1.0, 16)
    return tri * [2 * radius_px / w, 2 * radius_px / h] + center_ndc


def _letter_shapes(letters: dict[str, str], w, h, letter_px: float | None = None) -> list:
    """The side letters, white on a dark outline, 6 % of the shorter side tall by default."""
    hpx = letter_px or max(14.0, 0.06 * min(w, h))
    out = []
    for side, text in letters.items():
        n = len(text)
        pitch = 0.8 * hpx
        cx = {"left": 0.9 * hpx, "right": w - 0.9 * hpx - (n - 1) * pitch}.get(side, w / 2)
        cy = {"top": 0.9 * hpx, "bottom": h - 0.9 * hpx}.get(side, h / 2)
        if side in ("top", "bottom"):
            cx -= (n - 1) * pitch / 2
        for k, letter in enumerate(text):
            centre = _ndc(np.array([cx + k * pitch, cy]), w, h)
            scale = (2 * hpx / h, 2 * hpx / w)
            for stroke, col in ((0.28, (0.0, 0.0, 0.0, 0.9)), (0.13, (1.0, 1.0, 1.0, 1.0))):
                tris = letter_triangles(letter, (0.0, 0.0), 1.0, stroke)
                out.append((tris * [scale[1], scale[0]] + centre, col))
    return out
