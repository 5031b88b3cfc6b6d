"""Picking: what is drawn at one pixel, by a 1x1-pixel render of the structures whose bounds
the pixel's ray meets (the pick program writes the LPS point and an object code), with the
crossing counts of cut structures deciding when a tap lands on a section."""

from __future__ import annotations

from dataclasses import dataclass

import moderngl
import numpy as np

from orkiosk.render.boxes import clip_cut, ray_hits_box
from orkiosk.render.camera import Camera
from orkiosk.render.caps import count_crossings, cut_slots
from orkiosk.render.frame import FrameView
from orkiosk.render.markers import marker_items
from orkiosk.render.programs import (
    GL_CLIP_DISTANCE0,
    NO_CLIP,
    Programs,
    frame_uniforms,
    model_uniforms,
    set_uniform,
)
from orkiosk.render.scene import OPAQUE_LIMIT, DrawItem, Scene
from orkiosk.render.state import DisplayState


@dataclass(frozen=True)
class PickResult:
    kind: str  # "structure", "trajectory" or "landmark"
    id: str
    name: str
    point: tuple[float, float, float]  # LPS mm
    on_cut: bool  # the point lies on the section of a cut structure
    distance: float  # mm from the eye


class Picker:
    """The 1x1 buffers of picking (made on first use) and the pick itself."""

    def __init__(self, ctx: moderngl.Context, gl: Programs):
        self.ctx, self.gl = ctx, gl
        self._objects = None

    def _targets(self):
        if self._objects is None:
            ctx = self.ctx
            tex = ctx.texture((1, 1), 4, dtype="f4")
            depth = ctx.depth_renderbuffer((1, 1))
            c0 = ctx.texture((1, 1), 4, dtype="f4")
            c1 = ctx.texture((1, 1), 4, dtype="f4")
            self._objects = (
                tex,
                depth,
                ctx.framebuffer([tex], depth),
                c0,
                c1,
                ctx.framebuffer([c0, c1]),
            )
        return self._objects

    def release(self) -> None:
        for obj in reversed(self._objects or ()):
            obj.release()
        self._objects = None

    def pick(
        self,
        scene: Scene,
        camera: Camera,
        x: float,
        y: float,
        width: int,
        height: int,
        state: DisplayState | None = None,
    ) -> PickResult | None:
        state = state or DisplayState()
        origin, direction = camera.ray(x, y, width, height)
        fv = FrameView.of(camera, scene, state, width / height, (1, 1))
        cx = 2 * x / width - 1
        cy = 1 - 2 * y / height
        zoom = np.eye(4)  # the pixel's frustum fills the 1x1 target
        zoom[0, 0], zoom[0, 3] = width, -width * cx
        zoom[1, 1], zoom[1, 3] = height, -height * cy
        fv.proj = zoom @ fv.proj
        candidates = _candidates(scene, state, origin, direction)
        slots = cut_slots(candidates) if state.clip is not None else []
        self._draw(scene, state, fv, candidates, slots)
        hit = self._read_hit()
        if slots:
            section = self._section_hit(scene, state, slots, hit, origin, direction)
            if section is not None:
                return _result(scene, section[0], section[1], True, camera)
        if hit is None:
            return None
        return _result(scene, hit[0], hit[1], False, camera)

    def _draw(self, scene, state, fv: FrameView, candidates, slots) -> None:
        """Structures, then markers (opaque, unclipped) with their codes; crossing counts of
        the cut structures."""
        ctx = self.ctx
        _tex, _depth, fbo, _c0, _c1, count_fbo = self._targets()
        ctx.enable_direct(GL_CLIP_DISTANCE0)
        try:
            fbo.use()
            ctx.viewport = (0, 0, 1, 1)
            fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
            ctx.enable_only(moderngl.DEPTH_TEST)
            ctx.depth_func = "<"
            prog = self.gl.mesh["pick"]
            frame_uniforms(prog, fv.proj, fv.view, fv.clip_eq, fv.ortho)
            model_uniforms(prog, None, fv.rotation)
            for item in candidates:
                prog["u_code"].value = float(item.st.index + 1)
                prog["u_transparent"].value = item.opacity < OPAQUE_LIMIT
                item.mesh.render("pick")
            set_uniform(prog, "u_clip", NO_CLIP)
            prog["u_transparent"].value = False
            for unit, model, _color, code in marker_items(scene, state):
                model_uniforms(prog, model, fv.rotation)
                prog["u_code"].value = float(code)
                self.gl.unit[unit].render("pick")
            if slots:
                count_crossings(ctx, self.gl, count_fbo, slots, fv)
        finally:
            ctx.disable_direct(GL_CLIP_DISTANCE0)
            ctx.enable_only(moderngl.NOTHING)

    def _read_hit(self):
        """(object code, LPS point) of the surface drawn at the pixel, or None."""
        fbo = self._targets()[2]
        px, py, pz, code = np.frombuffer(fbo.read(components=4, dtype="f4"), dtype=np.float32)
        icode = int(round(abs(float(code))))
        if icode:
            return (icode, np.array([px, py, pz], dtype=np.float64))
        return None

    def _section_hit(self, scene, state, slots, hit, origin, direction):
        """(code, point on the plane) when the tap lands on a cut section, else None."""
        c0, c1 = self._targets()[3:5]
        counts = np.concatenate([np.frombuffer(t.read(), dtype=np.float32)[:4] for t in (c0, c1)])
        owner = None
        for k in range(len(slots)):
            if int(round(counts[k])) % 2 == 1:
                owner = slots[k]
        if owner is None:
            return None
        clip = state.clip
        n = np.asarray(clip.normal)
        denom = float(np.dot(direction, n))
        if abs(denom) <= 1e-12:
            return None
        t = float(np.dot(np.asarray(clip.point) - origin, n)) / denom
        on_plane = origin + direction * t
        hit_t = np.inf if hit is None else float(np.dot(hit[1] - origin, direction))
        hit_opaque = hit is not None and (
            hit[0] > len(scene.structures)
            or state.opacity_of(scene.plan.structures[hit[0] - 1]) >= OPAQUE_LIMIT
        )
        # the section wins unless something lies in front of the plane, or it is
        # translucent and an opaque surface shows through it
        if t > 0 and hit_t >= t - 1e-3 and (owner.opacity >= OPAQUE_LIMIT or not hit_opaque):
            return (owner.st.index + 1, on_plane)
        return None


def _candidates(scene: Scene, state: DisplayState, origin, direction) -> list[DrawItem]:
    """Visible structures, not clipped away, whose bounds the ray meets (full meshes)."""
    out = []
    for st, s in zip(scene.structures, scene.plan.structures, strict=True):
        if not state.is_visible(s) or not ray_hits_box(origin, direction, st.bounds):
            continue
        cut = clip_cut(state.clip, st.bounds)
        if cut is None:
            continue
        out.append(DrawItem(st, st.gpu, state.color_of(s), state.opacity_of(s), cut))
    return out


def _result(scene: Scene, icode: int, point, on_cut: bool, camera: Camera) -> PickResult:
    ns = len(scene.structures)
    nt = len(scene.plan.trajectories)
    if icode <= ns:
        st = scene.structures[icode - 1]
        kind, oid, name = "structure", st.id, st.name
    elif icode <= ns + nt:
        t = scene.plan.trajectories[icode - ns - 1]
        kind, oid, name = "trajectory", t.id, t.name
    else:
        m = scene.plan.landmarks[icode - ns - nt - 1]
        kind, oid, name = "landmark", m.id, m.name
    return PickResult(
        kind=kind,
        id=oid,
        name=name,
        point=tuple(float(v) for v in point),
        on_cut=on_cut,
        distance=float(np.linalg.norm(np.asarray(point) - camera.eye)),
    )
