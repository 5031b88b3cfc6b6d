"""The orientation marker: axes L-R, A-P, S-I turned like the scene, with letters, on a dark
disc in the bottom-left corner of the view. Drawn into its own small buffer, redrawn only when
the view has turned by about a degree."""

from __future__ import annotations

import math

import moderngl
import numpy as np

from orkiosk.render.glyphs import letter_triangles
from orkiosk.render.markers import along, scaled
from orkiosk.render.programs import (
    NO_CLIP,
    Programs,
    frame_uniforms,
    model_uniforms,
    set_uniform,
)

AXIS_COLORS = ((0.95, 0.3, 0.3), (0.3, 0.85, 0.35), (0.35, 0.55, 1.0))  # L-R, A-P, S-I
AXIS_LETTERS = (("L", "R"), ("P", "A"), ("S", "I"))  # (+axis, -axis) in LPS


class OrientationMarker:
    PIXELS = 160  # resolution of the marker's own buffer

    def __init__(self, ctx: moderngl.Context, gl: Programs, max_samples: int):
        self.ctx, self.gl = ctx, gl
        self.max_samples = max_samples
        self._objects = None
        self._rotation = None

    def _targets(self):
        if self._objects is None:
            ctx, n = self.ctx, self.PIXELS
            samples = min(4, self.max_samples) if self.max_samples > 1 else 0
            objs = []
            tex = ctx.texture((n, n), 4)
            tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
            objs.append(tex)
            objs.append(ctx.framebuffer([tex]))
            if samples:
                rb = ctx.renderbuffer((n, n), 4, samples=samples)
                db = ctx.depth_renderbuffer((n, n), samples=samples)
                objs += [rb, db, ctx.framebuffer([rb], db)]
            else:
                db = ctx.depth_renderbuffer((n, n))
                objs += [db, ctx.framebuffer([tex], db)]
            self._objects = tuple(objs)
        return self._objects

    def release(self) -> None:
        for obj in reversed(self._objects or ()):
            obj.release()
        self._objects = None

    def needs_update(self, rotation: np.ndarray) -> bool:
        """Whether the view turned by about a degree since the marker was drawn (it is small,
        and costs ~7 ms on llvmpipe)."""
        return self._rotation is None or np.abs(self._rotation - rotation).max() > 0.02

    def update(self, rotation: np.ndarray) -> None:
        """Redraw the marker's own buffer when the view has turned (binds that buffer)."""
        if not self.needs_update(rotation):
            return
        objs = self._targets()
        resolved, draw_fbo = objs[1], objs[-1]
        self._render(rotation, draw_fbo)
        if draw_fbo is not resolved:
            self.ctx.copy_framebuffer(resolved, draw_fbo)
        self._rotation = rotation.copy()

    @staticmethod
    def _side(viewport) -> tuple[int, int]:
        side = max(64, min(200, int(min(viewport[2], viewport[3]) * 0.18)))
        return side, max(6, side // 12)

    def box(self, viewport) -> tuple[int, int, int, int]:
        """Where draw() puts the marker in `viewport` (x, y, w, h; a scissor box)."""
        side, margin = self._side(viewport)
        return (viewport[0] + margin, viewport[1] + margin, side, side)

    def draw(self, rotation: np.ndarray, framebuffer, viewport) -> None:
        """Into the bottom-left corner of `viewport` of `framebuffer` (left bound)."""
        ctx, gl = self.ctx, self.gl
        self.update(rotation)
        tex = self._targets()[0]
        framebuffer.use()
        vx, vy, vw, vh = viewport
        ctx.viewport = viewport
        side, margin = self._side(viewport)
        x0 = -1 + 2 * margin / vw
        y0 = -1 + 2 * margin / vh
        x1 = x0 + 2 * side / vw
        y1 = y0 + 2 * side / vh
        ctx.enable_only(moderngl.BLEND)
        ctx.blend_func = (moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA)
        tex.use(0)
        set_uniform(gl.quad, "u_texture", 0)
        set_uniform(gl.quad, "u_rect", (x0, y0, x1, y1))
        gl.quad_vao.render(moderngl.TRIANGLE_STRIP, vertices=4)

    def _render(self, rot: np.ndarray, draw_fbo) -> None:
        """Axes L-R, A-P, S-I turned like the scene, with letters, on a dark disc."""
        ctx, n = self.ctx, self.PIXELS
        draw_fbo.use()
        ctx.viewport = (0, 0, n, n)
        draw_fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
        ctx.enable_only(moderngl.NOTHING)
        draw_overlay(self.gl, [(disc_triangles(0.98, 48), (0.045, 0.05, 0.065, 0.75))])
        ctx.enable_only(moderngl.DEPTH_TEST | moderngl.CULL_FACE)
        self._axes(rot)
        # letters at both ends of each axis, brighter at the end that points at the viewer
        ctx.enable_only(moderngl.NOTHING)
        draw_overlay(self.gl, _letters(rot))

    def _axes(self, rot: np.ndarray) -> None:
        view = np.eye(4)
        view[:3, :3] = rot
        view[2, 3] = -4.0
        proj = np.diag([1 / 1.75, 1 / 1.75, -0.5, 1.0])
        proj[2, 3] = -2.0
        prog = self.gl.mesh["opaque"]
        unit = self.gl.unit
        frame_uniforms(prog, proj, view, NO_CLIP, True)
        set_uniform(prog, "u_alpha", 1.0)
        set_uniform(prog, "u_rim", 0.3)
        for axis in range(3):
            d = np.zeros(3)
            d[axis] = 1.0
            model_uniforms(prog, along(-d * 0.95, d, 0.075, 1.9), rot)
            prog["u_color"].value = AXIS_COLORS[axis]
            unit["cylinder"].render("opaque")
            model_uniforms(prog, along(d * 0.9, d, 0.17, 0.35), rot)
            unit["cone"].render("opaque")
        model_uniforms(prog, scaled(np.zeros(3), 0.16), rot)
        prog["u_color"].value = (0.85, 0.85, 0.85)
        unit["sphere"].render("opaque")


def _letters(rot: np.ndarray) -> list:
    """The axis letters as overlay shapes, far ones first."""
    shapes = []
    for axis in range(3):
        for sign, letter in zip((1.0, -1.0), AXIS_LETTERS[axis], strict=True):
            d = np.zeros(3)
            d[axis] = sign
            v = rot @ d
            lim = 0.8
            x = min(max(v[0] * 1.38 / 1.75, -lim), lim)
            y = min(max(v[1] * 1.38 / 1.75, -lim), lim)
            col = (1.0, 1.0, 1.0, 1.0) if v[2] > -0.2 else (0.55, 0.55, 0.55, 1.0)
            shapes.append((letter_triangles(letter, (x, y), 0.3, 0.075), col, v[2]))
    shapes.sort(key=lambda item: item[2])  # far letters first
    return [(tris, col) for tris, col, _z in shapes]


def draw_overlay(gl: Programs, shapes) -> None:
    """Flat 2D triangles [(vertices (N, 2), premultiplied rgba)] in one draw call."""
    parts = []
    for tris, color in shapes:
        tris = np.asarray(tris, dtype=np.float32).reshape(-1, 2)
        col = np.broadcast_to(np.asarray(color, dtype=np.float32), (len(tris), 4))
        parts.append(np.hstack([tris, col]))
    data = np.ascontiguousarray(np.concatenate(parts), dtype="f4")
    raw = data.tobytes()
    if len(raw) > gl.overlay_buf.size:
        gl.overlay_buf.orphan(len(raw))
    gl.overlay_buf.write(raw)
    gl.overlay_vao.render(moderngl.TRIANGLES, vertices=len(data))


def disc_triangles(radius: float, segments: int) -> np.ndarray:
    a = np.linspace(0, 2 * math.pi, segments + 1)
    ring = np.stack([np.cos(a), np.sin(a)], axis=1) * radius
    tris = np.empty((segments, 3, 2))
    tris[:, 0] = 0.0
    tris[:, 1] = ring[:-1]
    tris[:, 2] = ring[1:]
    return tris.reshape(-1, 2)
