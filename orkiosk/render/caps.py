"""Capped cuts: where the clipping plane opens a closed structure, its section is drawn flat.

Each pixel counts, per cut structure ("slot", at most 8), the surface crossings behind the plane
(count_crossings: additive blending into two RGBA16F textures); an odd count means the plane is
inside that structure there. draw_caps then shades those pixels of the plane: opaque sections
into the opaque buffer (with depth), translucent ones into the OIT buffers.
"""

from __future__ import annotations

import moderngl
import numpy as np

from orkiosk.render.programs import Programs, frame_uniforms, model_uniforms, set_uniform

MAX_SLOTS = 8


def cut_slots(items) -> list:
    """Closed structures that the plane goes through, outermost first (at most 8: the
    innermost ones); their sections are drawn from crossing counts."""
    cut = [item for item in items if item.cut and item.st.closed]
    cut.sort(key=lambda item: float(np.prod(item.st.bounds[1] - item.st.bounds[0])))
    return cut[:MAX_SLOTS][::-1]


def count_crossings(ctx: moderngl.Context, gl: Programs, fbo, slots, fv) -> None:
    """Count, per pixel and per cut structure, the surface crossings behind the plane."""
    fbo.use()
    ctx.viewport = (0, 0, *fv.size)
    fbo.clear(0.0, 0.0, 0.0, 0.0)
    ctx.enable_only(moderngl.BLEND)
    ctx.blend_func = (moderngl.ONE, moderngl.ONE)
    prog = gl.mesh["parity"]
    frame_uniforms(prog, fv.proj, fv.view, fv.clip_eq, fv.ortho)
    model_uniforms(prog, None, np.eye(3))
    for slot, item in enumerate(slots):
        prog["u_slot"].value = slot
        item.mesh.render("parity")
    ctx.enable_only(moderngl.NOTHING)


def draw_caps(prog, vao, targets, slots, fv) -> None:
    """The sections on the plane: opaque ones into the opaque buffer (with depth), the
    translucent ones into the OIT buffers; the blend/depth state is set by the caller."""
    c0, c1 = targets.count_textures
    c0.use(0)
    c1.use(1)
    targets.depth.use(2)
    set_uniform(prog, "u_count0", 0)
    set_uniform(prog, "u_count1", 1)
    set_uniform(prog, "u_depth", 2)
    set_uniform(prog, "u_slots", len(slots))
    pad = MAX_SLOTS - len(slots)
    colors = [tuple(x.color) for x in slots] + [(0.0, 0.0, 0.0)] * pad
    opac = [float(x.opacity) for x in slots] + [1.0] * pad
    prog["u_colors"].write(np.array(colors, dtype="f4").tobytes())
    prog["u_opacities"].write(np.array(opac, dtype="f4").tobytes())
    set_uniform(prog, "u_proj", fv.proj)
    set_uniform(prog, "u_inv_proj", np.linalg.inv(fv.proj))
    set_uniform(prog, "u_plane", fv.clip_eq @ np.linalg.inv(fv.view))
    set_uniform(prog, "u_near_far", (fv.near, fv.far))
    set_uniform(prog, "u_depth_range", (fv.near, fv.far))
    set_uniform(prog, "u_ortho", bool(fv.ortho))
    vao.render(moderngl.TRIANGLES, vertices=3)
