"""The opaque pass: opaque cut sections, opaque surfaces (two-sided Blinn-Phong headlight) and
the markers, into the scene buffer (multisampled at full quality)."""

from __future__ import annotations

import moderngl

from orkiosk.render.caps import draw_caps
from orkiosk.render.markers import marker_draws
from orkiosk.render.programs import (
    GL_CLIP_DISTANCE0,
    Programs,
    frame_uniforms,
    model_uniforms,
    set_uniform,
)
from orkiosk.render.scene import OPAQUE_LIMIT
from orkiosk.render.work import Draw, Fullscreen, Pass


def opaque_pass(ctx: moderngl.Context, gl: Programs, targets, fv, draws) -> Pass:
    """Clear the scene buffer to the background and draw everything opaque into it."""
    fbo = targets.ms_fbo or targets.fbo

    def clear(band=None):
        fbo.depth_mask = True
        fbo.use()
        fbo.clear(*draws.background, 0.0, depth=1.0, viewport=band)

    def bind():
        fbo.use()
        ctx.viewport = (0, 0, *fv.size)

    def caps(band=None):
        ctx.enable_only(moderngl.DEPTH_TEST)
        ctx.disable_direct(GL_CLIP_DISTANCE0)
        ctx.depth_func = "<"
        fbo.depth_mask = True
        ctx.scissor = band
        draw_caps(gl.caps_opaque, gl.caps_opaque_vao, targets, draws.slots, fv, draws.cap_image)
        ctx.scissor = None

    work = []
    if draws.slots and (
        draws.cap_image is not None or any(i.opacity >= OPAQUE_LIMIT for i in draws.slots)
    ):
        work.append(Fullscreen(caps, banded=True))
    prog = gl.mesh["opaque"]
    work += surface_draws(ctx, prog, fbo, fv, draws.opaque)
    work += marker_draws(ctx, gl, prog, fbo, fv, draws.markers, xray=bool(draws.opaque))
    return Pass("opaque", bind, tuple(work), clear, area=(0, 0, *fv.size))


def surface_draws(ctx: moderngl.Context, prog, fbo, fv, items) -> list[Draw]:
    """Front faces of closed meshes first (their back faces are hidden anyway: culling them
    halves the work; cut sections are drawn as caps), then open meshes two-sided."""

    def surface(item, culled: bool) -> Draw:
        def setup():
            ctx.enable_only(moderngl.DEPTH_TEST | (moderngl.CULL_FACE if culled else 0))
            ctx.enable_direct(GL_CLIP_DISTANCE0)
            ctx.depth_func = "<"
            fbo.depth_mask = True
            frame_uniforms(prog, fv.proj, fv.view, fv.clip_eq, fv.ortho)
            model_uniforms(prog, None, fv.rotation)
            set_uniform(prog, "u_alpha", 1.0)
            set_uniform(prog, "u_rim", 1.0)
            prog["u_color"].value = item.color

        return Draw(setup, item.mesh, "opaque")

    return [
        surface(item, culled)
        for culled in (True, False)
        for item in items
        if item.st.closed == culled
    ]
