"""Capped cuts: where the clipping plane opens a closed structure, its section is drawn flat.

Each pixel counts, per cut structure ("slot", at most 8), the surface crossings behind the plane
(crossing_pass: additive blending into two RGBA16F textures); an odd count means the plane is
inside that structure there. draw_caps then shades those pixels of the plane: opaque sections
into the opaque buffer (with depth), translucent ones into the OIT buffers.

With an image volume (format 1.1, `CapImage`), every section is painted opaque with the image
under the display window (trilinear, from the 3D texture), each structure's section outlined in
its colour and each trajectory's crossing ringed; without one, the flat hatched cap.
"""

from __future__ import annotations

from dataclasses import dataclass

import moderngl
import numpy as np

from orkiosk.render.programs import (
    GL_CLIP_DISTANCE0,
    Programs,
    frame_uniforms,
    model_uniforms,
    set_uniform,
)
from orkiosk.render.slicegeom import trajectory_crossing
from orkiosk.render.volume import GpuVolume
from orkiosk.render.work import Draw, Pass

MAX_SLOTS = 8
MAX_CROSSINGS = 4
RING_MM = 1.0  # ring around a trajectory's crossing: this far outside its radius


@dataclass
class CapImage:
    volume: GpuVolume
    window: tuple[float, float]  # (width, level) in the image's units
    crossings: list[tuple[np.ndarray, float]]  # LPS point, ring radius mm


def cap_image(scene, state) -> CapImage | None:
    """The image to paint on the cut, when there is a cut, an image and it is wanted."""
    if state.clip is None or not state.show_image or scene.volume is None:
        return None
    vol = scene.volume
    window = state.window or (vol.default_window.width, vol.default_window.level)
    plane = state.clip
    crossings = []
    for t in scene.plan.trajectories:
        if t.id in state.hidden_trajectories or not state.show_trajectories:
            continue
        p = trajectory_crossing(t, np.asarray(plane.point), np.asarray(plane.normal))
        if p is not None:
            crossings.append((p, t.diameter / 2 + RING_MM))
    return CapImage(vol, (float(window[0]), float(window[1])), crossings[:MAX_CROSSINGS])


def cut_slots(items) -> list:
    """Closed structures that the plane goes through, outermost first (at most 8: the
    innermost ones); their sections are drawn from crossing counts."""
    cut = [item for item in items if item.cut and item.st.closed]
    cut.sort(key=lambda item: float(np.prod(item.st.bounds[1] - item.st.bounds[0])))
    return cut[:MAX_SLOTS][::-1]


def crossing_pass(ctx: moderngl.Context, gl: Programs, fbo, slots, fv) -> Pass:
    """Count, per pixel and per cut structure, the surface crossings behind the plane."""
    prog = gl.mesh["parity"]

    def clear(band=None):
        fbo.use()
        fbo.clear(0.0, 0.0, 0.0, 0.0, viewport=band)

    def bind():
        fbo.use()
        ctx.viewport = (0, 0, *fv.size)

    def count(slot: int, item) -> Draw:
        def setup():
            ctx.enable_only(moderngl.BLEND)
            ctx.enable_direct(GL_CLIP_DISTANCE0)
            ctx.blend_equation = moderngl.FUNC_ADD
            ctx.blend_func = (moderngl.ONE, moderngl.ONE)
            frame_uniforms(prog, fv.proj, fv.view, fv.clip_eq, fv.ortho)
            model_uniforms(prog, None, np.eye(3))
            prog["u_slot"].value = slot

        return Draw(setup, item.mesh, "parity")

    work = tuple(count(n, item) for n, item in enumerate(slots))
    return Pass("count", bind, work, clear, area=(0, 0, *fv.size))


def count_crossings(ctx: moderngl.Context, gl: Programs, fbo, slots, fv) -> None:
    """crossing_pass at once (picking)."""
    crossing_pass(ctx, gl, fbo, slots, fv).run()


def draw_caps(prog, vao, targets, slots, fv, image: CapImage | None = None) -> None:
    """The sections on the plane: opaque ones into the opaque buffer (with depth), the
    translucent ones into the OIT buffers; the blend/depth state is set by the caller."""
    _image_uniforms(prog, image, fv)
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


def _image_uniforms(prog, image: CapImage | None, fv) -> None:
    set_uniform(prog, "u_has_image", image is not None)
    set_uniform(prog, "u_image", 3)
    if image is None:
        return
    image.volume.texture.use(3)
    set_uniform(prog, "u_view_to_tex", image.volume.lps_to_tex @ np.linalg.inv(fv.view))
    set_uniform(prog, "u_window", image.window)
    cross = np.zeros((MAX_CROSSINGS, 4), dtype="f4")
    for n, (p, r) in enumerate(image.crossings):
        cross[n, :3] = (fv.view @ np.append(p, 1.0))[:3]
        cross[n, 3] = r
    if "u_cross" in prog:
        prog["u_cross"].write(cross.tobytes())
    set_uniform(prog, "u_ncross", len(image.crossings))
