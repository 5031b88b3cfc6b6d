"""Silhouette lines: a full-screen pass darkening pixels where the scene depth jumps."""

from __future__ import annotations

import moderngl

from orkiosk.render.programs import Programs, set_uniform


def outlines(ctx: moderngl.Context, gl: Programs, targets, fv, scissor) -> None:
    """Darken the picture in the bound framebuffer at depth edges of the scene, within `scissor`."""
    if scissor is None:
        return
    ctx.scissor = scissor
    ctx.enable_only(moderngl.BLEND)
    ctx.blend_func = (moderngl.ZERO, moderngl.ONE_MINUS_SRC_ALPHA)
    targets.depth.use(0)
    set_uniform(gl.outline, "u_depth", 0)
    set_uniform(gl.outline, "u_near_far", (fv.near, fv.far))
    set_uniform(gl.outline, "u_ortho", bool(fv.ortho))
    set_uniform(gl.outline, "u_scene_size", tuple(int(n) for n in targets.used))
    gl.outline_vao.render(moderngl.TRIANGLES, vertices=3)
    ctx.enable_only(moderngl.NOTHING)
    ctx.scissor = None
