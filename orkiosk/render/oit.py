"""Translucent surfaces by weighted blended order-independent transparency (McGuire & Bavoil):
accumulate against the opaque depth, translucent cut sections on top, then composite the layer
over the picture in the caller's framebuffer."""

from __future__ import annotations

import moderngl

from orkiosk.render.caps import draw_caps
from orkiosk.render.programs import (
    GL_CLIP_DISTANCE0,
    Programs,
    frame_uniforms,
    model_uniforms,
    set_uniform,
)
from orkiosk.render.scene import OPAQUE_LIMIT
from orkiosk.render.work import Draw, Fullscreen, Pass

OIT_BLEND = (moderngl.ONE, moderngl.ONE, moderngl.ZERO, moderngl.ONE_MINUS_SRC_ALPHA)


def _bind(ctx: moderngl.Context, targets, fv):
    def bind():  # depth test against the opaque depth, no depth writes
        targets.oit_fbo.depth_mask = False
        targets.oit_fbo.use()
        ctx.viewport = (0, 0, *fv.size)

    return bind


def _blend(ctx: moderngl.Context) -> None:
    ctx.blend_equation = moderngl.FUNC_ADD
    ctx.blend_func = OIT_BLEND


def accumulate_pass(
    ctx: moderngl.Context, gl: Programs, targets, fv, items, edge_enhance: bool
) -> Pass:
    """The translucent surfaces into the accumulation and weight buffers."""
    prog = gl.mesh["oit"]

    def clear(band=None):
        targets.oit_clear.use()
        targets.oit_clear.clear(0.0, 0.0, 0.0, 1.0, viewport=band)

    def surface(item) -> Draw:
        def setup():
            ctx.enable_only(moderngl.DEPTH_TEST | moderngl.BLEND | moderngl.CULL_FACE)
            ctx.enable_direct(GL_CLIP_DISTANCE0)
            ctx.depth_func = "<"
            _blend(ctx)
            frame_uniforms(prog, fv.proj, fv.view, fv.clip_eq, fv.ortho)
            model_uniforms(prog, None, fv.rotation)
            set_uniform(prog, "u_depth_range", (fv.near, fv.far))
            set_uniform(prog, "u_edge_enhance", bool(edge_enhance))
            set_uniform(prog, "u_rim", 1.0)
            prog["u_color"].value = item.color
            prog["u_opacity"].value = item.opacity

        return Draw(setup, item.mesh, "oit")

    work = tuple(map(surface, items))
    return Pass("transparent", _bind(ctx, targets, fv), work, clear, area=(0, 0, *fv.size))


def caps_pass(ctx: moderngl.Context, gl: Programs, targets, fv, slots, image=None) -> Pass | None:
    """Translucent sections into the OIT buffers (after accumulate); None when there are none.
    Where the image covers the plane, the opaque pass painted it already."""
    if not any(item.opacity < OPAQUE_LIMIT for item in slots):
        return None

    def caps(band=None):
        ctx.enable_only(moderngl.BLEND)
        ctx.disable_direct(GL_CLIP_DISTANCE0)
        _blend(ctx)
        ctx.scissor = band
        draw_caps(gl.caps, gl.caps_vao, targets, slots, fv, image)
        ctx.scissor = None

    work = (Fullscreen(caps, banded=True),)
    return Pass("caps", _bind(ctx, targets, fv), work, area=(0, 0, *fv.size))


def composite(ctx: moderngl.Context, gl: Programs, targets, scissor) -> None:
    """The translucent layer over the picture in the bound framebuffer, within `scissor`."""
    if scissor is None:
        return
    ctx.scissor = scissor
    ctx.enable_only(moderngl.BLEND)
    ctx.blend_func = (moderngl.ONE, moderngl.SRC_ALPHA, moderngl.ZERO, moderngl.ONE)
    targets.accum.use(0)
    targets.weight.use(1)
    set_uniform(gl.oit_resolve, "u_accum", 0)
    set_uniform(gl.oit_resolve, "u_weight", 1)
    set_uniform(gl.oit_resolve, "u_uv_scale", targets.uv_scale)
    gl.oit_resolve_vao.render(moderngl.TRIANGLES, vertices=3)
    ctx.scissor = None
