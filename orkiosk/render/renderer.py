"""The moderngl renderer: one code path for the kiosk, `orkiosk snapshot`, benchmarks and tests.

    renderer = Renderer(ctx)                  # ctx injected: Kivy's, or create_headless_context()
    scene = renderer.create_scene(plan, meshes)
    renderer.render(scene, camera, state, framebuffer=fbo)   # or size=(w, h) for its own target
    image = renderer.read_image()            # (h, w, 3) uint8, top row first
    hit = renderer.pick(scene, camera, x, y, w, h, state)
    scene.release(); renderer.release()

A frame: opaque surfaces (two-sided Blinn-Phong headlight, back faces behind a clipping plane
drawn as the flat cut section) into a multisampled buffer, resolved; transparent surfaces into
weighted blended OIT buffers against that depth; into the caller's framebuffer by a plain copy
(or a scaling pass), silhouette lines, the translucent layer over it; an orientation marker.
Screen coordinates: pixels, origin top-left. This module never imports Kivy.
"""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import dataclass
from importlib import resources

import moderngl
import numpy as np

from orkiosk.plan.mesh import Mesh
from orkiosk.plan.model import Plan
from orkiosk.render import geometry
from orkiosk.render.camera import Camera
from orkiosk.render.context import check_context
from orkiosk.render.errors import RenderError
from orkiosk.render.glyphs import letter_triangles
from orkiosk.render.prepare import DEFAULT_LOD_BUDGET, PreparedScene, prepare_scene
from orkiosk.render.state import FULL, DisplayState, Quality

log = logging.getLogger(__name__)

GL_CLIP_DISTANCE0 = 0x3000
NO_CLIP = np.array([0.0, 0.0, 0.0, 1.0])
OPAQUE_LIMIT = 0.999  # opacity at or above this is drawn as opaque
OIT_BLEND = (moderngl.ONE, moderngl.ONE, moderngl.ZERO, moderngl.ONE_MINUS_SRC_ALPHA)
XRAY_ALPHA = 0.4  # markers behind opaque surfaces

TUBE_COLOR = (0.75, 0.9, 1.0)
EXTENSION_COLOR = (0.45, 0.55, 0.65)
ENTRY_COLOR = (0.15, 0.9, 0.3)
TARGET_COLOR = (1.0, 0.12, 0.45)
LANDMARK_COLOR = (1.0, 0.55, 0.0)
LANDMARK_RADIUS = 2.5  # mm
AXIS_COLORS = ((0.95, 0.3, 0.3), (0.3, 0.85, 0.35), (0.35, 0.55, 1.0))  # L-R, A-P, S-I
AXIS_LETTERS = (("L", "R"), ("P", "A"), ("S", "I"))  # (+axis, -axis) in LPS

_INCLUDE = re.compile(r'^\s*#include\s+"([^"]+)"\s*$', re.MULTILINE)


def load_shader(name: str) -> str:
    """The text of orkiosk/render/shaders/NAME with #include "file" lines expanded."""
    try:
        text = resources.files("orkiosk.render").joinpath("shaders", name).read_text("utf-8")
    except FileNotFoundError:
        raise RenderError(f"shader {name} is missing from the installation") from None
    return _INCLUDE.sub(lambda m: load_shader(m.group(1)), text)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class PickResult:
    kind: str  # "structure", "trajectory" or "landmark"
    id: str
    name: str
    point: tuple[float, float, float]  # LPS mm
    on_cut: bool  # the point lies on the section of a cut structure
    distance: float  # mm from the eye


@dataclass(frozen=True)
class Label:
    """Where the UI may draw a text label: pixel (x, y), origin top-left."""

    kind: str  # "structure", "entry", "target" or "landmark"
    id: str
    text: str
    x: float
    y: float
    depth: float  # mm in front of the eye
    on_screen: bool  # in front of the eye and inside the viewport


@dataclass(frozen=True)
class FrameInfo:
    size: tuple[int, int]  # the target's pixels
    scene_size: tuple[int, int]  # pixels the 3D scene was drawn at
    samples: int
    lod: bool
    triangles: int
    transparent: bool
    cpu_ms: float  # time to issue the frame (not to finish it on the GPU)


# --------------------------------------------------------------------------- GPU objects


class GpuMesh:
    """Vertex/index buffers of one mesh and a vertex array per program."""

    def __init__(self, ctx: moderngl.Context, programs: dict, positions, normals, indices):
        self.triangles = int(len(indices))
        self.vbo_pos = ctx.buffer(np.ascontiguousarray(positions, dtype="f4").tobytes())
        self.vbo_nrm = ctx.buffer(np.ascontiguousarray(normals, dtype="f4").tobytes())
        self.ibo = ctx.buffer(np.ascontiguousarray(indices, dtype="u4").tobytes())
        self.vaos = {}
        for name, prog in programs.items():
            self.vaos[name] = ctx.vertex_array(
                prog,
                [(self.vbo_pos, "3f", "in_position"), (self.vbo_nrm, "3f", "in_normal")],
                index_buffer=self.ibo,
                index_element_size=4,
                skip_errors=True,
            )

    @classmethod
    def from_mesh(cls, ctx, programs, mesh: Mesh) -> GpuMesh:
        return cls(ctx, programs, mesh.positions, mesh.normals, mesh.indices)

    def render(self, program: str) -> None:
        self.vaos[program].render(moderngl.TRIANGLES)

    def release(self) -> None:
        for vao in self.vaos.values():
            vao.release()
        self.vaos = {}
        for buf in (self.vbo_pos, self.vbo_nrm, self.ibo):
            buf.release()


@dataclass
class SceneStructure:
    index: int
    id: str
    name: str
    bounds: tuple[np.ndarray, np.ndarray]
    anchor: np.ndarray  # a surface point near the middle: where its label points
    triangles: int
    gpu: GpuMesh
    lod: GpuMesh | None  # lighter mesh for interactive frames (None: use gpu)
    lod_triangles: int
    closed: bool  # closed and consistently wound: back faces may be culled


@dataclass
class _Draw:
    st: SceneStructure
    mesh: GpuMesh
    color: tuple[float, float, float]
    opacity: float
    cut: bool  # the clipping plane goes through its bounds


class Scene:
    """A plan's meshes on the GPU. Made by Renderer.create_scene; release() frees them."""

    def __init__(self, renderer: Renderer, prepared: PreparedScene):
        self.plan = prepared.plan
        self.structures: list[SceneStructure] = []
        self._released = False
        self._uploaded: list[GpuMesh] = []

        def upload(m: Mesh) -> GpuMesh:
            g = GpuMesh.from_mesh(renderer.ctx, renderer.mesh_programs, m)
            self._uploaded.append(g)
            return g

        try:
            for i, p in enumerate(prepared.structures):
                gpu = upload(p.mesh)
                lod = upload(p.lod) if p.lod is not None else None
                self.structures.append(
                    SceneStructure(
                        i,
                        p.id,
                        p.name,
                        p.bounds,
                        p.anchor,
                        p.mesh.triangle_count,
                        gpu,
                        lod,
                        p.lod.triangle_count if p.lod is not None else p.mesh.triangle_count,
                        p.closed,
                    )
                )
        except moderngl.Error as exc:
            self.release()
            raise RenderError(f"could not upload the plan's meshes to the GPU: {exc}") from exc
        except Exception:
            self.release()
            raise
        self.bounds = prepared.bounds

    @property
    def triangle_count(self) -> int:
        return sum(s.triangles for s in self.structures)

    @property
    def released(self) -> bool:
        return self._released

    def structure(self, sid: str) -> SceneStructure:
        for s in self.structures:
            if s.id == sid:
                return s
        raise KeyError(sid)

    def release(self) -> None:
        for g in self._uploaded:
            g.release()
        self._uploaded = []
        self.structures = []
        self._released = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


class _Targets:
    """Offscreen buffers for one scene size: multisampled opaque, resolved, OIT accumulation."""

    def __init__(self, ctx: moderngl.Context, size: tuple[int, int], samples: int):
        self.size = size
        self.samples = samples
        self.objects = []

        def keep(obj):
            self.objects.append(obj)
            return obj

        self.color = keep(ctx.texture(size, 4))
        self.color.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self.color.repeat_x = self.color.repeat_y = False
        self.depth = keep(ctx.depth_texture(size))
        self.depth.compare_func = ""
        self.depth.filter = (moderngl.NEAREST, moderngl.NEAREST)
        self.depth.repeat_x = self.depth.repeat_y = False
        self.fbo = keep(ctx.framebuffer([self.color], self.depth))
        self.ms_fbo = None
        if samples > 1:
            ms_color = keep(ctx.renderbuffer(size, 4, samples=samples))
            ms_depth = keep(ctx.depth_renderbuffer(size, samples=samples))
            self.ms_fbo = keep(ctx.framebuffer([ms_color], ms_depth))
        self.accum = keep(ctx.texture(size, 4, dtype="f2"))
        self.weight = keep(ctx.texture(size, 1, dtype="f2"))
        for t in (self.accum, self.weight):
            t.filter = (moderngl.LINEAR, moderngl.LINEAR)
            t.repeat_x = t.repeat_y = False
        self.oit_fbo = keep(ctx.framebuffer([self.accum, self.weight], self.depth))
        self.oit_clear = keep(ctx.framebuffer([self.accum, self.weight]))
        self._ctx = ctx
        self.count_fbo = None

    def counts(self):
        """Crossing counters for translucent caps (made on first use)."""
        if self.count_fbo is None:
            c0 = self._ctx.texture(self.size, 4, dtype="f2")
            c1 = self._ctx.texture(self.size, 4, dtype="f2")
            for t in (c0, c1):
                t.filter = (moderngl.NEAREST, moderngl.NEAREST)
                self.objects.append(t)
            self.count_textures = (c0, c1)
            self.count_fbo = self._ctx.framebuffer([c0, c1])
            self.objects.append(self.count_fbo)
        return self.count_fbo

    def release(self) -> None:
        for obj in reversed(self.objects):
            obj.release()
        self.objects = []


# --------------------------------------------------------------------------- renderer


class Renderer:
    """Draws Scenes with a Camera and a DisplayState into a framebuffer. One per GL context."""

    MARKER_PIXELS = 160  # resolution of the orientation marker's own buffer

    def __init__(self, ctx: moderngl.Context):
        self.ctx = check_context(ctx)
        self._home = ctx.detect_framebuffer()  # bound when the renderer was made (0 headless)
        self._objects: list = []
        self._targets: _Targets | None = None
        self._output = None  # (texture, fbo) when drawing into our own target
        self._pick = None
        self._marker = None
        self._marker_rotation = None
        self._direct: dict = {}
        self.max_samples = int(getattr(ctx, "max_samples", 0) or 0)
        self.edge_enhance = True  # translucent surfaces more opaque at their silhouettes
        try:
            self._build()
        except moderngl.Error as exc:
            self.release()
            raise RenderError(f"the GPU rejected the renderer's shaders: {exc}") from exc

    def _keep(self, obj):
        self._objects.append(obj)
        return obj

    def _program(self, vert: str, frag: str) -> moderngl.Program:
        return self._keep(
            self.ctx.program(vertex_shader=load_shader(vert), fragment_shader=load_shader(frag))
        )

    def _build(self) -> None:
        ctx = self.ctx
        self.programs = {
            "opaque": self._program("mesh.vert", "opaque.frag"),
            "oit": self._program("mesh.vert", "oit.frag"),
            "pick": self._program("mesh.vert", "pick.frag"),
            "parity": self._program("mesh.vert", "parity.frag"),
        }
        self.mesh_programs = self.programs
        self.present = self._program("fullscreen.vert", "present.frag")
        self.oit_resolve = self._program("fullscreen.vert", "oit_resolve.frag")
        self.outline = self._program("fullscreen.vert", "outline.frag")
        self.caps = self._program("fullscreen.vert", "caps.frag")
        self.caps_opaque = self._program("fullscreen.vert", "caps_opaque.frag")
        self.overlay = self._program("overlay.vert", "overlay.frag")
        self.quad = self._program("quad.vert", "quad.frag")
        self.present_vao = self._keep(ctx.vertex_array(self.present, []))
        self.oit_resolve_vao = self._keep(ctx.vertex_array(self.oit_resolve, []))
        self.outline_vao = self._keep(ctx.vertex_array(self.outline, []))
        self.caps_vao = self._keep(ctx.vertex_array(self.caps, []))
        self.caps_opaque_vao = self._keep(ctx.vertex_array(self.caps_opaque, []))
        self.quad_vao = self._keep(ctx.vertex_array(self.quad, []))
        self.overlay_buf = self._keep(ctx.buffer(reserve=64 * 1024, dynamic=True))
        self.overlay_vao = self._keep(
            ctx.vertex_array(self.overlay, [(self.overlay_buf, "2f 4f", "in_position", "in_color")])
        )
        progs = self.programs
        self.unit = {
            "sphere": GpuMesh(ctx, progs, *geometry.sphere_arrays(16, 32)),
            "cylinder": GpuMesh(ctx, progs, *geometry.cylinder_arrays(24)),
            "torus": GpuMesh(ctx, progs, *geometry.torus_arrays(0.3, 32, 12)),
            "cone": GpuMesh(ctx, progs, *geometry.cone_arrays(24)),
        }

    def release(self) -> None:
        """Free every GL object the renderer made (scenes are released on their own)."""
        for m in getattr(self, "unit", {}).values():
            m.release()
        self.unit = {}
        if self._targets is not None:
            self._targets.release()
            self._targets = None
        for group in (self._output, self._pick, self._marker, tuple(self._direct.values())):
            for obj in reversed(group or ()):
                obj.release()
        self._output = self._pick = self._marker = None
        self._direct = {}
        for obj in reversed(self._objects):
            obj.release()
        self._objects = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()

    # ------------------------------------------------------------------ scenes
    def create_scene(
        self,
        plan: Plan | PreparedScene,
        meshes: dict[str, Mesh] | None = None,
        *,
        lod_budget: int = DEFAULT_LOD_BUDGET,
    ) -> Scene:
        """Upload a plan's meshes: create_scene(plan, meshes), or create_scene(prepared) with
        the result of prepare_scene() made beforehand (e.g. on a worker thread), which leaves
        only the buffer uploads for the GL thread. lod_budget: triangles drawn while the view
        moves (0: no lighter meshes)."""
        if isinstance(plan, PreparedScene):
            prepared = plan
        else:
            if meshes is None:
                raise RenderError("create_scene needs the plan's meshes")
            prepared = prepare_scene(plan, meshes, lod_budget)
        return Scene(self, prepared)

    # ------------------------------------------------------------------ targets
    def _ensure_targets(self, size: tuple[int, int], samples: int) -> _Targets:
        t = self._targets
        if t is None or t.size != size or t.samples != samples:
            if t is not None:
                t.release()
            self._targets = _Targets(self.ctx, size, samples)
        return self._targets

    def _output_fbo(self, size: tuple[int, int]) -> moderngl.Framebuffer:
        if self._output is None or self._output[1].size != size:
            for obj in reversed(self._output or ()):
                obj.release()
            tex = self.ctx.texture(size, 4)
            self._output = (tex, self.ctx.framebuffer([tex]))
        return self._output[1]

    @property
    def output_framebuffer(self) -> moderngl.Framebuffer | None:
        return None if self._output is None else self._output[1]

    # ------------------------------------------------------------------ uniforms
    @staticmethod
    def _set(prog: moderngl.Program, name: str, value) -> None:
        if name not in prog:
            return
        member = prog[name]
        if isinstance(value, np.ndarray):
            if value.ndim == 2:  # matrices: GL wants column-major
                member.write(np.ascontiguousarray(value.T, dtype="f4").tobytes())
            else:
                member.value = tuple(float(v) for v in value)
        else:
            member.value = value

    def _frame_uniforms(self, prog, proj, view, clip_eq, ortho):
        self._set(prog, "u_proj", proj)
        self._set(prog, "u_view", view)
        self._set(prog, "u_clip", clip_eq)
        self._set(prog, "u_ortho", bool(ortho))

    def _model_uniforms(self, prog, model: np.ndarray | None, view_rot: np.ndarray):
        if model is None:
            self._set(prog, "u_model", np.eye(4))
            self._set(prog, "u_normal_matrix", view_rot)
        else:
            self._set(prog, "u_model", model)
            self._set(prog, "u_normal_matrix", view_rot @ np.linalg.inv(model[:3, :3]).T)

    # ------------------------------------------------------------------ markers
    def _marker_items(self, scene: Scene, state: DisplayState):
        """(unit mesh, model matrix, colour, code) for trajectories and landmarks."""
        items = []
        plan = scene.plan
        base = len(scene.structures)
        if state.show_trajectories:
            for j, t in enumerate(plan.trajectories):
                if t.id in state.hidden_trajectories:
                    continue
                code = base + 1 + j
                entry = np.asarray(t.entry, dtype=np.float64)
                target = np.asarray(t.target, dtype=np.float64)
                length = float(np.linalg.norm(target - entry))
                if length < 1e-6:
                    continue
                f = (target - entry) / length
                r = max(float(t.diameter), 0.2) / 2
                probe = state.probe_trajectory == t.id
                if not probe:
                    items.append(("cylinder", _along(entry, f, r, length), TUBE_COLOR, code))
                    ring = max(r * 3.2, 3.0)
                    items.append(("torus", _along(entry, f, ring, ring), ENTRY_COLOR, code))
                if state.trajectory_extension > 0:
                    ext = float(state.trajectory_extension)
                    items.append(
                        ("cylinder", _along(target, f, r * 0.6, ext), EXTENSION_COLOR, code)
                    )
                tr = max(r * 2.2, 2.5)
                items.append(("sphere", _scaled(target, tr), TARGET_COLOR, code))
        if state.show_landmarks:
            for k, m in enumerate(plan.landmarks):
                code = base + 1 + len(plan.trajectories) + k
                pos = np.asarray(m.position, dtype=np.float64)
                items.append(("sphere", _scaled(pos, LANDMARK_RADIUS), LANDMARK_COLOR, code))
        return items

    # ------------------------------------------------------------------ frame
    def render(
        self,
        scene: Scene,
        camera: Camera,
        state: DisplayState | None = None,
        *,
        framebuffer: moderngl.Framebuffer | None = None,
        viewport: tuple[int, int, int, int] | None = None,
        size: tuple[int, int] | None = None,
        quality: Quality = FULL,
        profile: dict | None = None,
    ) -> FrameInfo:
        """Draw one frame into `framebuffer` (within `viewport`, default all of it) or into the
        renderer's own target of `size` (read it with read_image()).

        Keywords: framebuffer, viewport (x, y, w, h in GL pixels), size, quality (FULL,
        INTERACTIVE or any Quality), profile (a dict that receives each pass's ms; costs a
        glFinish per pass). The picture fills the viewport; the camera's aspect is the
        viewport's. Returns FrameInfo. GL failures come out as RenderError.
        """
        try:
            return self._render(
                scene,
                camera,
                state,
                framebuffer=framebuffer,
                viewport=viewport,
                size=size,
                quality=quality,
                profile=profile,
            )
        except moderngl.Error as exc:
            raise RenderError(f"the 3D view could not be drawn: {exc}") from exc

    def _render(
        self,
        scene: Scene,
        camera: Camera,
        state: DisplayState | None = None,
        *,
        framebuffer: moderngl.Framebuffer | None = None,
        viewport: tuple[int, int, int, int] | None = None,
        size: tuple[int, int] | None = None,
        quality: Quality = FULL,
        profile: dict | None = None,
    ) -> FrameInfo:
        if scene.released:
            raise RenderError("the scene was released")
        t0 = time.perf_counter()
        lap = _Lap(self.ctx, profile)
        state = state or DisplayState()
        ctx = self.ctx
        if framebuffer is None:
            if size is None:
                raise RenderError("render needs a framebuffer or a size")
            framebuffer = self._output_fbo((int(size[0]), int(size[1])))
        if viewport is None:
            viewport = (0, 0, *framebuffer.size)
        viewport = tuple(int(v) for v in viewport)
        width, height = viewport[2], viewport[3]
        if width < 1 or height < 1:
            raise RenderError(f"cannot draw into {width}x{height} pixels")
        scale = min(1.0, max(0.1, float(quality.scale)))
        ssize = (max(1, round(width * scale)), max(1, round(height * scale)))
        samples = min(int(quality.msaa), self.max_samples) if quality.msaa > 1 else 0
        targets = self._ensure_targets(ssize, samples)

        # camera
        near, far = camera.clip_range(scene.bounds)
        proj = camera.projection_matrix(width / height, near, far)
        view = camera.view_matrix()
        view_rot = camera.rotation
        clip = state.clip
        clip_eq = clip.equation() if clip is not None else NO_CLIP

        # what to draw
        opaque, transparent = [], []
        for st, s in zip(scene.structures, scene.plan.structures, strict=True):
            if not state.is_visible(s):
                continue
            cut = False
            if clip is not None:
                d = clip.signed_distance(_corners(st.bounds))
                if d.min() > 0:
                    continue  # entirely on the removed side
                cut = d.max() > 0
            a = state.opacity_of(s)
            mesh = st.lod if (quality.lod and st.lod is not None) else st.gpu
            item = _Draw(st, mesh, state.color_of(s), a, cut)
            (opaque if a >= OPAQUE_LIMIT else transparent).append(item)
        eye = camera.eye
        opaque.sort(key=lambda e: _box_distance(e.st.bounds, eye))  # front to back: early z
        triangles = sum(e.mesh.triangles for e in opaque + transparent)
        markers = self._marker_items(scene, state)
        bg = tuple(float(c) for c in state.background)
        slots = _cut_slots(opaque + transparent) if clip is not None else []

        ctx.enable_direct(GL_CLIP_DISTANCE0)
        try:
            # 0. with a cut: which closed structure owns each pixel of the plane
            if slots:
                self._count_crossings(
                    targets.counts(), slots, proj, view, clip_eq, camera.orthographic, ssize
                )
                lap("count")
            # 1. opaque sections and surfaces, then markers (multisampled at full quality)
            fbo = targets.ms_fbo or targets.fbo
            fbo.depth_mask = True
            fbo.use()
            ctx.viewport = (0, 0, *ssize)
            fbo.clear(*bg, 0.0, depth=1.0)
            ctx.depth_func = "<"
            if any(item.opacity >= OPAQUE_LIMIT for item in slots):
                ctx.enable_only(moderngl.DEPTH_TEST)
                self._draw_caps(
                    self.caps_opaque,
                    self.caps_opaque_vao,
                    targets,
                    slots,
                    proj,
                    view,
                    clip_eq,
                    near,
                    far,
                    camera.orthographic,
                )
            prog = self.programs["opaque"]
            self._frame_uniforms(prog, proj, view, clip_eq, camera.orthographic)
            self._model_uniforms(prog, None, view_rot)
            self._set(prog, "u_alpha", 1.0)
            self._set(prog, "u_rim", 1.0)
            self._draw_opaque(prog, opaque)
            self._set(prog, "u_clip", NO_CLIP)
            self._set(prog, "u_rim", 0.3)
            ctx.enable_only(moderngl.DEPTH_TEST | moderngl.CULL_FACE)
            for unit, model, color, _code in markers:
                self._model_uniforms(prog, model, view_rot)
                prog["u_color"].value = color
                self.unit[unit].render("opaque")
            if markers and opaque:
                # markers hidden behind opaque surfaces show through faintly ("x-ray")
                fbo.depth_mask = False
                ctx.enable_only(moderngl.DEPTH_TEST | moderngl.BLEND | moderngl.CULL_FACE)
                ctx.depth_func = ">"
                ctx.blend_func = (moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA)
                self._set(prog, "u_alpha", XRAY_ALPHA)
                for unit, model, color, _code in markers:
                    self._model_uniforms(prog, model, view_rot)
                    prog["u_color"].value = color
                    self.unit[unit].render("opaque")
                self._set(prog, "u_alpha", 1.0)
                fbo.depth_mask = True
                ctx.depth_func = "<"
            lap("opaque")
            if targets.ms_fbo is not None:
                ctx.copy_framebuffer(targets.fbo, targets.ms_fbo)  # resolve colour and depth
                lap("resolve")

            # 2. translucent surfaces: weighted blended OIT against the opaque depth
            if transparent:
                targets.oit_clear.use()
                targets.oit_clear.clear(0.0, 0.0, 0.0, 1.0)
                targets.oit_fbo.depth_mask = False
                targets.oit_fbo.use()
                ctx.viewport = (0, 0, *ssize)
                ctx.enable_only(moderngl.DEPTH_TEST | moderngl.BLEND | moderngl.CULL_FACE)
                ctx.blend_equation = moderngl.FUNC_ADD
                ctx.blend_func = OIT_BLEND
                prog = self.programs["oit"]
                self._frame_uniforms(prog, proj, view, clip_eq, camera.orthographic)
                self._model_uniforms(prog, None, view_rot)
                self._set(prog, "u_depth_range", (near, far))
                self._set(prog, "u_edge_enhance", bool(self.edge_enhance))
                self._set(prog, "u_rim", 1.0)
                for item in transparent:
                    prog["u_color"].value = item.color
                    prog["u_opacity"].value = item.opacity
                    item.mesh.render("oit")
                lap("transparent")
                if any(item.opacity < OPAQUE_LIMIT for item in slots):
                    ctx.enable_only(moderngl.BLEND)
                    self._draw_caps(
                        self.caps,
                        self.caps_vao,
                        targets,
                        slots,
                        proj,
                        view,
                        clip_eq,
                        near,
                        far,
                        camera.orthographic,
                    )
                    lap("caps")
                targets.oit_fbo.depth_mask = True
        finally:
            ctx.disable_direct(GL_CLIP_DISTANCE0)
            ctx.enable_only(moderngl.NOTHING)

        # 3. into the caller's framebuffer: a plain copy when the sizes match, else a scaling
        #    pass; then silhouettes and the translucent layer (only where it can be)
        direct = self._direct_target(framebuffer, viewport, ssize)
        if direct is not None:
            ctx.copy_framebuffer(direct, targets.fbo)
            framebuffer.use()
            ctx.viewport = viewport
        else:
            framebuffer.use()
            ctx.viewport = viewport
            ctx.enable_only(moderngl.NOTHING)
            targets.color.use(0)
            self._set(self.present, "u_scene", 0)
            self.present_vao.render(moderngl.TRIANGLES, vertices=3)
        if quality.outlines and opaque:
            rect = _screen_rect([e.st.bounds for e in opaque], camera, width, height)
            if rect is not None:
                ctx.scissor = (viewport[0] + rect[0], viewport[1] + rect[1], rect[2], rect[3])
                self._outlines(targets, near, far, camera.orthographic)
                ctx.scissor = None
        if transparent:
            rect = _screen_rect([e.st.bounds for e in transparent], camera, width, height)
            if rect is not None:
                ctx.scissor = (viewport[0] + rect[0], viewport[1] + rect[1], rect[2], rect[3])
                ctx.enable_only(moderngl.BLEND)
                ctx.blend_func = (moderngl.ONE, moderngl.SRC_ALPHA, moderngl.ZERO, moderngl.ONE)
                targets.accum.use(0)
                targets.weight.use(1)
                self._set(self.oit_resolve, "u_accum", 0)
                self._set(self.oit_resolve, "u_weight", 1)
                self.oit_resolve_vao.render(moderngl.TRIANGLES, vertices=3)
                ctx.scissor = None
        ctx.enable_only(moderngl.NOTHING)
        lap("present")

        # 4. orientation marker
        if state.orientation_marker:
            self._draw_orientation_marker(camera, framebuffer, viewport)
            lap("marker")
        # 5. the picture is opaque: whoever shows the target (Kivy) blends it by its alpha
        framebuffer.use()
        framebuffer.color_mask = (False, False, False, True)
        framebuffer.clear(0.0, 0.0, 0.0, 1.0, viewport=viewport)
        framebuffer.color_mask = (True, True, True, True)
        self._home.use()  # leave no caller's framebuffer bound: the caller may release it
        ctx.enable_only(moderngl.NOTHING)
        ctx.blend_func = moderngl.DEFAULT_BLENDING
        ctx.depth_func = "<"
        return FrameInfo(
            size=(width, height),
            scene_size=ssize,
            samples=samples,
            lod=bool(quality.lod),
            triangles=triangles,
            transparent=bool(transparent),
            cpu_ms=(time.perf_counter() - t0) * 1000,
        )

    def _draw_opaque(self, prog, items) -> None:
        """Front faces of closed meshes (their back faces are hidden anyway: culling them halves
        the work; cut sections are drawn as caps); open meshes two-sided."""
        ctx = self.ctx
        for culled in (True, False):
            ctx.enable_only(moderngl.DEPTH_TEST | (moderngl.CULL_FACE if culled else 0))
            for item in items:
                if item.st.closed == culled:
                    prog["u_color"].value = item.color
                    item.mesh.render("opaque")

    def _direct_target(self, framebuffer, viewport, ssize):
        """A colour-only framebuffer on the caller's colour attachment when the scene buffer can
        simply be copied into it (RGBA8, viewport at the origin and as big as the scene buffer:
        the copy lands in the bottom-left corner); else None."""
        if tuple(viewport) != (0, 0, *ssize):
            return None
        fw, fh = framebuffer.size
        if ssize[0] > fw or ssize[1] > fh:
            return None
        try:
            attachments = framebuffer.color_attachments
        except Exception:
            return None
        if not attachments or len(attachments) != 1:
            return None
        att = attachments[0]
        if getattr(att, "samples", 0) or getattr(att, "components", 4) != 4:
            return None
        if getattr(att, "dtype", "f1") != "f1":
            return None
        key = (att.glo, tuple(framebuffer.size))
        cached = self._direct.get(key)
        if cached is None:
            for old in self._direct.values():
                old.release()
            self._direct = {key: self.ctx.framebuffer([att])}
            cached = self._direct[key]
        return cached

    def _outlines(self, targets, near, far, ortho) -> None:
        ctx = self.ctx
        ctx.enable_only(moderngl.BLEND)
        ctx.blend_func = (moderngl.ZERO, moderngl.ONE_MINUS_SRC_ALPHA)
        targets.depth.use(0)
        self._set(self.outline, "u_depth", 0)
        self._set(self.outline, "u_near_far", (near, far))
        self._set(self.outline, "u_ortho", bool(ortho))
        self.outline_vao.render(moderngl.TRIANGLES, vertices=3)
        ctx.enable_only(moderngl.NOTHING)

    def _count_crossings(self, fbo, slots, proj, view, clip_eq, ortho, size) -> None:
        """Count, per pixel and per cut structure, the surface crossings behind the plane."""
        ctx = self.ctx
        fbo.use()
        ctx.viewport = (0, 0, *size)
        fbo.clear(0.0, 0.0, 0.0, 0.0)
        ctx.enable_only(moderngl.BLEND)
        ctx.blend_func = (moderngl.ONE, moderngl.ONE)
        prog = self.programs["parity"]
        self._frame_uniforms(prog, proj, view, clip_eq, ortho)
        self._model_uniforms(prog, None, np.eye(3))
        for slot, item in enumerate(slots):
            prog["u_slot"].value = slot
            item.mesh.render("parity")
        ctx.enable_only(moderngl.NOTHING)

    def _draw_caps(self, prog, vao, targets, slots, proj, view, clip_eq, near, far, ortho):
        """The sections on the plane: opaque ones into the opaque buffer (with depth), the
        translucent ones into the OIT buffers; the blend/depth state is set by the caller."""
        c0, c1 = targets.count_textures
        c0.use(0)
        c1.use(1)
        targets.depth.use(2)
        self._set(prog, "u_count0", 0)
        self._set(prog, "u_count1", 1)
        self._set(prog, "u_depth", 2)
        self._set(prog, "u_slots", len(slots))
        colors = [tuple(x.color) for x in slots] + [(0.0, 0.0, 0.0)] * (8 - len(slots))
        opac = [float(x.opacity) for x in slots] + [1.0] * (8 - len(slots))
        prog["u_colors"].write(np.array(colors, dtype="f4").tobytes())
        prog["u_opacities"].write(np.array(opac, dtype="f4").tobytes())
        self._set(prog, "u_proj", proj)
        self._set(prog, "u_inv_proj", np.linalg.inv(proj))
        self._set(prog, "u_plane", clip_eq @ np.linalg.inv(view))
        self._set(prog, "u_near_far", (near, far))
        self._set(prog, "u_depth_range", (near, far))
        self._set(prog, "u_ortho", bool(ortho))
        vao.render(moderngl.TRIANGLES, vertices=3)

    # ------------------------------------------------------------------ orientation marker
    def _marker_targets(self):
        if self._marker is None:
            n = self.MARKER_PIXELS
            samples = min(4, self.max_samples) if self.max_samples > 1 else 0
            objs = []
            tex = self.ctx.texture((n, n), 4)
            tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
            objs.append(tex)
            objs.append(self.ctx.framebuffer([tex]))
            if samples:
                rb = self.ctx.renderbuffer((n, n), 4, samples=samples)
                db = self.ctx.depth_renderbuffer((n, n), samples=samples)
                objs += [rb, db, self.ctx.framebuffer([rb], db)]
            else:
                db = self.ctx.depth_renderbuffer((n, n))
                objs += [db, self.ctx.framebuffer([tex], db)]
            self._marker = tuple(objs)
        return self._marker

    def _draw_orientation_marker(self, camera: Camera, framebuffer, viewport) -> None:
        ctx = self.ctx
        objs = self._marker_targets()
        tex, resolved, draw_fbo = objs[0], objs[1], objs[-1]
        rot = camera.rotation
        # redrawn only once the view turned by about a degree: it is small, and costs ~7 ms
        if self._marker_rotation is None or np.abs(self._marker_rotation - rot).max() > 0.02:
            self._render_marker(rot, draw_fbo)
            if draw_fbo is not resolved:
                ctx.copy_framebuffer(resolved, draw_fbo)
            self._marker_rotation = rot.copy()
        # into the bottom-left corner of the caller's viewport
        framebuffer.use()
        vx, vy, vw, vh = viewport
        ctx.viewport = viewport
        side = max(64, min(200, int(min(vw, vh) * 0.18)))
        margin = max(6, side // 12)
        x0 = -1 + 2 * margin / vw
        y0 = -1 + 2 * margin / vh
        x1 = x0 + 2 * side / vw
        y1 = y0 + 2 * side / vh
        ctx.enable_only(moderngl.BLEND)
        ctx.blend_func = (moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA)
        tex.use(0)
        self._set(self.quad, "u_texture", 0)
        self._set(self.quad, "u_rect", (x0, y0, x1, y1))
        self.quad_vao.render(moderngl.TRIANGLE_STRIP, vertices=4)

    def _render_marker(self, rot: np.ndarray, draw_fbo) -> None:
        """Axes L-R, A-P, S-I turned like the scene, with letters, on a dark disc."""
        ctx = self.ctx
        n = self.MARKER_PIXELS
        draw_fbo.use()
        ctx.viewport = (0, 0, n, n)
        draw_fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
        ctx.enable_only(moderngl.NOTHING)
        self._draw_overlay([(_disc_triangles(0.98, 48), (0.045, 0.05, 0.065, 0.75))])
        ctx.enable_only(moderngl.DEPTH_TEST | moderngl.CULL_FACE)
        view = np.eye(4)
        view[:3, :3] = rot
        view[2, 3] = -4.0
        proj = np.diag([1 / 1.75, 1 / 1.75, -0.5, 1.0])
        proj[2, 3] = -2.0
        prog = self.programs["opaque"]
        self._frame_uniforms(prog, proj, view, NO_CLIP, True)
        self._set(prog, "u_alpha", 1.0)
        self._set(prog, "u_rim", 0.3)
        for axis in range(3):
            d = np.zeros(3)
            d[axis] = 1.0
            self._model_uniforms(prog, _along(-d * 0.95, d, 0.075, 1.9), rot)
            prog["u_color"].value = AXIS_COLORS[axis]
            self.unit["cylinder"].render("opaque")
            self._model_uniforms(prog, _along(d * 0.9, d, 0.17, 0.35), rot)
            self.unit["cone"].render("opaque")
        self._model_uniforms(prog, _scaled(np.zeros(3), 0.16), rot)
        prog["u_color"].value = (0.85, 0.85, 0.85)
        self.unit["sphere"].render("opaque")
        # letters at both ends of each axis, brighter at the end that points at the viewer
        ctx.enable_only(moderngl.NOTHING)
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
        self._draw_overlay([(tris, col) for tris, col, _z in shapes])

    def _draw_overlay(self, shapes) -> None:
        """Flat 2D triangles [(vertices (N, 2), premultiplied rgba)] in one draw call."""
        parts = []
        for tris, color in shapes:
            tris = np.asarray(tris, dtype=np.float32).reshape(-1, 2)
            col = np.broadcast_to(np.asarray(color, dtype=np.float32), (len(tris), 4))
            parts.append(np.hstack([tris, col]))
        data = np.ascontiguousarray(np.concatenate(parts), dtype="f4")
        raw = data.tobytes()
        if len(raw) > self.overlay_buf.size:
            self.overlay_buf.orphan(len(raw))
        self.overlay_buf.write(raw)
        self.overlay_vao.render(moderngl.TRIANGLES, vertices=len(data))

    # ------------------------------------------------------------------ read back
    def read_image(self, framebuffer: moderngl.Framebuffer | None = None) -> np.ndarray:
        """The picture as (height, width, 3) uint8 with the TOP row first (GL reads bottom-up)."""
        fbo = framebuffer or self.output_framebuffer
        if fbo is None:
            raise RenderError("nothing was rendered yet")
        w, h = fbo.size
        data = fbo.read(components=3, alignment=1)
        img = np.frombuffer(data, dtype=np.uint8).reshape(h, w, 3)
        return np.ascontiguousarray(img[::-1])

    # ------------------------------------------------------------------ picking
    def _pick_targets(self):
        if self._pick is None:
            ctx = self.ctx
            tex = ctx.texture((1, 1), 4, dtype="f4")
            depth = ctx.depth_renderbuffer((1, 1))
            c0 = ctx.texture((1, 1), 4, dtype="f4")
            c1 = ctx.texture((1, 1), 4, dtype="f4")
            self._pick = (
                tex,
                depth,
                ctx.framebuffer([tex], depth),
                c0,
                c1,
                ctx.framebuffer([c0, c1]),
            )
        return self._pick

    def pick(self, scene: Scene, camera: Camera, x, y, width, height, state=None):
        """What is drawn at pixel (x, y) (top-left origin) of a width x height view.

        Opaque surfaces and markers win over translucent ones in front of them (a tap on a
        tumour seen through translucent skin gives the tumour); a tap on a cut section gives
        the structure that owns it and the point on the plane. None for the background.
        One 1x1-pixel render of the structures whose bounds the ray meets.
        """
        if scene.released:
            raise RenderError("the scene was released")
        try:
            return self._pick_at(scene, camera, x, y, width, height, state)
        except moderngl.Error as exc:
            raise RenderError(f"picking failed: {exc}") from exc

    def _pick_at(
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
        ctx = self.ctx
        origin, direction = camera.ray(x, y, width, height)
        near, far = camera.clip_range(scene.bounds)
        proj = camera.projection_matrix(width / height, near, far)
        cx = 2 * x / width - 1
        cy = 1 - 2 * y / height
        zoom = np.eye(4)  # the pixel's frustum fills the 1x1 target
        zoom[0, 0], zoom[0, 3] = width, -width * cx
        zoom[1, 1], zoom[1, 3] = height, -height * cy
        proj = zoom @ proj
        view = camera.view_matrix()
        clip = state.clip
        clip_eq = clip.equation() if clip is not None else NO_CLIP
        _tex, _depth, fbo, c0, c1, count_fbo = self._pick_targets()
        candidates = []
        for st, s in zip(scene.structures, scene.plan.structures, strict=True):
            if not state.is_visible(s) or not _ray_hits_box(origin, direction, st.bounds):
                continue
            cut = False
            if clip is not None:
                d = clip.signed_distance(_corners(st.bounds))
                if d.min() > 0:
                    continue
                cut = d.max() > 0
            candidates.append(_Draw(st, st.gpu, state.color_of(s), state.opacity_of(s), cut))
        ctx.enable_direct(GL_CLIP_DISTANCE0)
        try:
            fbo.use()
            ctx.viewport = (0, 0, 1, 1)
            fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
            ctx.enable_only(moderngl.DEPTH_TEST)
            ctx.depth_func = "<"
            prog = self.programs["pick"]
            self._frame_uniforms(prog, proj, view, clip_eq, camera.orthographic)
            self._model_uniforms(prog, None, camera.rotation)
            for item in candidates:
                prog["u_code"].value = float(item.st.index + 1)
                prog["u_transparent"].value = item.opacity < OPAQUE_LIMIT
                item.mesh.render("pick")
            self._set(prog, "u_clip", NO_CLIP)
            prog["u_transparent"].value = False
            for unit, model, _color, code in self._marker_items(scene, state):
                self._model_uniforms(prog, model, camera.rotation)
                prog["u_code"].value = float(code)
                self.unit[unit].render("pick")
            slots = _cut_slots(candidates) if clip is not None else []
            if slots:
                self._count_crossings(
                    count_fbo, slots, proj, view, clip_eq, camera.orthographic, (1, 1)
                )
        finally:
            ctx.disable_direct(GL_CLIP_DISTANCE0)
            ctx.enable_only(moderngl.NOTHING)
        px, py, pz, code = np.frombuffer(fbo.read(components=4, dtype="f4"), dtype=np.float32)
        hit = None
        icode = int(round(abs(float(code))))
        if icode:
            hit = (icode, np.array([px, py, pz], dtype=np.float64))
        if slots:
            counts = np.concatenate(
                [np.frombuffer(t.read(), dtype=np.float32)[:4] for t in (c0, c1)]
            )
            owner = None
            for k in range(len(slots)):
                if int(round(counts[k])) % 2 == 1:
                    owner = slots[k]
            if owner is not None:
                n = np.asarray(clip.normal)
                denom = float(np.dot(direction, n))
                if abs(denom) > 1e-12:
                    t = float(np.dot(np.asarray(clip.point) - origin, n)) / denom
                    on_plane = origin + direction * t
                    hit_t = np.inf if hit is None else float(np.dot(hit[1] - origin, direction))
                    hit_opaque = hit is not None and (
                        hit[0] > len(scene.structures)
                        or state.opacity_of(scene.plan.structures[hit[0] - 1]) >= OPAQUE_LIMIT
                    )
                    # the section wins unless something lies in front of the plane, or it is
                    # translucent and an opaque surface shows through it
                    if (
                        t > 0
                        and hit_t >= t - 1e-3
                        and (owner.opacity >= OPAQUE_LIMIT or not hit_opaque)
                    ):
                        return self._pick_result(scene, owner.st.index + 1, on_plane, True, camera)
        if hit is None:
            return None
        return self._pick_result(scene, hit[0], hit[1], False, camera)

    def _pick_result(self, scene, icode, point, on_cut, camera) -> PickResult:
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

    # ------------------------------------------------------------------ labels
    def labels(
        self,
        scene: Scene,
        camera: Camera,
        width: int,
        height: int,
        state: DisplayState | None = None,
    ) -> list[Label]:
        """Screen positions (top-left origin) for the UI's text labels."""
        state = state or DisplayState()
        items: list[tuple[str, str, str, np.ndarray]] = []
        for st, s in zip(scene.structures, scene.plan.structures, strict=True):
            if state.is_visible(s):
                items.append(("structure", s.id, s.name, st.anchor))
        if state.show_trajectories:
            for t in scene.plan.trajectories:
                if t.id in state.hidden_trajectories:
                    continue
                items.append(("entry", t.id, t.name, np.asarray(t.entry, dtype=np.float64)))
                items.append(("target", t.id, t.name, np.asarray(t.target, dtype=np.float64)))
        if state.show_landmarks:
            for m in scene.plan.landmarks:
                items.append(("landmark", m.id, m.name, np.asarray(m.position, dtype=np.float64)))
        if not items:
            return []
        pts = camera.project(np.array([i[3] for i in items]), width, height)
        out = []
        for (kind, oid, text, _p), (px, py, depth) in zip(items, pts, strict=True):
            on = bool(depth > 0 and 0 <= px <= width and 0 <= py <= height)
            out.append(Label(kind, oid, text, float(px), float(py), float(depth), on))
        return out


# --------------------------------------------------------------------------- helpers


class _Lap:
    """Per-pass timing for render(profile=...): glFinish, then note the time since the last."""

    def __init__(self, ctx, out: dict | None):
        self.ctx, self.out = ctx, out
        self.t = time.perf_counter()

    def __call__(self, name: str) -> None:
        if self.out is None:
            return
        self.ctx.finish()
        now = time.perf_counter()
        self.out[name] = self.out.get(name, 0.0) + (now - self.t) * 1000
        self.t = now


def _basis(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.array([1.0, 0.0, 0.0]) if abs(f[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = np.cross(f, a)
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(f, e1)


def _along(origin, direction, radius: float, length: float) -> np.ndarray:
    """Model matrix taking the unit +z primitives to `origin` + [0, length] * direction."""
    f = np.asarray(direction, dtype=np.float64)
    f = f / np.linalg.norm(f)
    e1, e2 = _basis(f)
    m = np.eye(4)
    m[:3, 0] = e1 * radius
    m[:3, 1] = e2 * radius
    m[:3, 2] = f * length
    m[:3, 3] = origin
    return m


def _scaled(origin, s: float) -> np.ndarray:
    m = np.diag([s, s, s, 1.0])
    m[:3, 3] = origin
    return m


def _corners(bounds) -> np.ndarray:
    lo, hi = bounds
    return np.array(
        [[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
    )


def _box_distance(bounds, p) -> float:
    lo, hi = bounds
    return float(np.linalg.norm(np.maximum(np.maximum(lo - p, p - hi), 0.0)))


def _ray_hits_box(origin, direction, bounds, pad: float = 1.0) -> bool:
    lo, hi = bounds[0] - pad, bounds[1] + pad
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / direction
        t1 = (lo - origin) * inv
        t2 = (hi - origin) * inv
    t1 = np.nan_to_num(t1, nan=-np.inf)
    t2 = np.nan_to_num(t2, nan=np.inf)
    tmin = np.max(np.minimum(t1, t2))
    tmax = np.min(np.maximum(t1, t2))
    return bool(tmax >= max(tmin, 0.0))


def _cut_slots(items) -> list:
    """Closed structures that the plane goes through, outermost first (at most 8: the
    innermost ones); their sections are drawn from crossing counts."""
    cut = [item for item in items if item.cut and item.st.closed]
    cut.sort(key=lambda item: float(np.prod(item.st.bounds[1] - item.st.bounds[0])))
    return cut[:8][::-1]


def _screen_rect(boxes, camera: Camera, width: int, height: int):
    """GL pixel rectangle (x, y from bottom-left, w, h) covering the boxes on screen; the whole
    viewport when a box reaches behind the eye; None when they are all off screen."""
    pts = np.concatenate([_corners(b) for b in boxes])
    proj = camera.project(pts, width, height)
    if np.any(proj[:, 2] <= 1e-3):
        return (0, 0, width, height)
    x0 = max(0, int(math.floor(proj[:, 0].min())) - 2)
    x1 = min(width, int(math.ceil(proj[:, 0].max())) + 2)
    top = max(0, int(math.floor(proj[:, 1].min())) - 2)
    bottom = min(height, int(math.ceil(proj[:, 1].max())) + 2)
    if x1 <= x0 or bottom <= top:
        return None
    return (x0, height - bottom, x1 - x0, bottom - top)


def _disc_triangles(radius: float, segments: int) -> np.ndarray:
    a = np.linspace(0, 2 * math.pi, segments + 1)
    ring = np.stack([np.cos(a), np.sin(a)], axis=1) * radius
    tris = np.empty((segments, 3, 2))
    tris[:, 0] = 0.0
    tris[:, 1] = ring[:-1]
    tris[:, 2] = ring[1:]
    return tris.reshape(-1, 2)
