"""The opaque pass: opaque cut sections, opaque surfaces (two-sided Blinn-Phong headlight) and
the markers, into the scene buffer (multisampled at full quality)."""

from __future__ import annotations

import moderngl

from orkiosk.render.caps import draw_caps
from orkiosk.render.markers import draw_markers
from orkiosk.render.programs import Programs, frame_uniforms, model_uniforms, set_uniform
from orkiosk.render.scene import OPAQUE_LIMIT


def opaque_pass(ctx: moderngl.Context, gl: Programs, targets, fv, draws) -> None:
    """Clear the scene buffer to the background and draw everything opaque into it."""
    fbo = targets.ms_fbo or targets.fbo
    fbo.depth_mask = True
    fbo.use()
    ctx.viewport = (0, 0, *fv.size)
    fbo.clear(*draws.background, 0.0, depth=1.0)
    ctx.depth_func = "<"
    if draws.slots and (
        draws.cap_image is not None or any(i.opacity >= OPAQUE_LIMIT for i in draws.slots)
    ):
        ctx.enable_only(moderngl.DEPTH_TEST)
        draw_caps(gl.caps_opaque, gl.caps_opaque_vao, targets, draws.slots, fv, draws.cap_image)
    prog = gl.mesh["opaque"]
    frame_uniforms(prog, fv.proj, fv.view, fv.clip_eq, fv.ortho)
    model_uniforms(prog, None, fv.rotation)
    set_uniform(prog, "u_alpha", 1.0)
    set_uniform(prog, "u_rim", 1.0)
    draw_surfaces(ctx, prog, draws.opaque)
    draw_markers(ctx, gl, prog, fbo, draws.markers, fv.rotation, xray=bool(draws.opaque))


def draw_surfaces(ctx: moderngl.Context, prog, items) -> None:
    """Front faces of closed meshes (their back faces are hidden anyway: culling them halves
    the work; cut sections are drawn as caps); open meshes two-sided."""
    for culled in (True, False):
        ctx.enable_only(moderngl.DEPTH_TEST | (moderngl.CULL_FACE if culled else 0))
        for item in items:
            if item.st.closed == culled:
                prog["u_color"].value = item.color
                item.mesh.render("opaque")
