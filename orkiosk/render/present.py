"""Into the caller's framebuffer: the scene buffer by a plain copy when the sizes match (else a
scaling pass), and the end of a frame (opaque alpha, GL state left as moderngl's defaults)."""

from __future__ import annotations

import moderngl

from orkiosk.render.programs import Programs, set_uniform
from orkiosk.render.work import reset_state


def present(
    ctx: moderngl.Context, gl: Programs, targets, direct, framebuffer, viewport, band=None
) -> None:
    """The resolved scene colour into `viewport` of `framebuffer` (only within `band`, a
    scissor box, when given), which is left bound. direct: a framebuffer on the caller's colour
    attachment to copy into (TargetCache.direct), or None."""
    if direct is not None:
        direct.use()  # its masks and the scissor (the scene buffers may be bigger) apply
        direct.scissor = band or (0, 0, *targets.used)
        ctx.copy_framebuffer(direct, targets.fbo)
        direct.scissor = None
        framebuffer.use()
        ctx.viewport = viewport
    else:
        framebuffer.use()
        ctx.viewport = viewport
        ctx.enable_only(moderngl.NOTHING)
        ctx.scissor = band
        targets.color.use(0)
        set_uniform(gl.present, "u_scene", 0)
        set_uniform(gl.present, "u_uv_scale", targets.uv_scale)
        gl.present_vao.render(moderngl.TRIANGLES, vertices=3)
        ctx.scissor = None


def make_opaque(framebuffer, box) -> None:
    """Alpha 1 within `box` of `framebuffer` (whoever shows the target, e.g. Kivy, blends it
    by its alpha)."""
    framebuffer.use()
    framebuffer.color_mask = (False, False, False, True)
    framebuffer.clear(0.0, 0.0, 0.0, 1.0, viewport=box)
    framebuffer.color_mask = (True, True, True, True)


def finish_frame(ctx: moderngl.Context, framebuffer, viewport, home) -> None:
    """Make the picture opaque, then hand_back()."""
    make_opaque(framebuffer, viewport)
    hand_back(ctx, home)


def hand_back(ctx: moderngl.Context, home) -> None:
    """Bind `home` (leave no caller's framebuffer bound: the caller may release it) and restore
    moderngl's default enable, blend and depth state (the end of every frame and frame step)."""
    home.use()
    reset_state(ctx)
