"""The moderngl renderer: one code path for the kiosk, `orkiosk snapshot`, benchmarks and tests.

    renderer = Renderer(ctx)                  # ctx injected: Kivy's, or create_headless_context()
    scene = renderer.create_scene(plan, meshes)
    renderer.render(scene, camera, state, framebuffer=fbo)   # or size=(w, h) for its own target
    image = renderer.read_image()            # (h, w, 3) uint8, top row first
    hit = renderer.pick(scene, camera, x, y, w, h, state)
    scene.release(); renderer.release()

A frame is a sequence of passes (each in its own module): with a cut, crossing counts (caps);
opaque surfaces (two-sided Blinn-Phong headlight, cut sections capped flat) and markers into a
multisampled buffer, resolved (opaque); translucent surfaces into weighted blended OIT buffers
against that depth (oit); into the caller's framebuffer by a plain copy or a scaling pass
(present), silhouette lines (outline), the translucent layer over it (oit); the orientation
marker (orientation). Screen coordinates: pixels, origin top-left. This module never imports
Kivy.
"""

from __future__ import annotations

import time

import moderngl
import numpy as np

from orkiosk.plan.mesh import Mesh
from orkiosk.plan.model import Plan
from orkiosk.render import oit
from orkiosk.render.boxes import scissor_box
from orkiosk.render.camera import Camera
from orkiosk.render.caps import count_crossings
from orkiosk.render.context import check_context
from orkiosk.render.errors import RenderError
from orkiosk.render.frame import DrawList, FrameInfo, FrameView, Lap
from orkiosk.render.labels import Label, scene_labels
from orkiosk.render.opaque import opaque_pass
from orkiosk.render.orientation import OrientationMarker
from orkiosk.render.outline import outlines
from orkiosk.render.picking import Picker, PickResult
from orkiosk.render.prepare import DEFAULT_LOD_BUDGET, PreparedScene, prepare_scene
from orkiosk.render.present import finish_frame, present
from orkiosk.render.programs import GL_CLIP_DISTANCE0, Programs
from orkiosk.render.scene import Scene
from orkiosk.render.state import FULL, DisplayState, Quality
from orkiosk.render.targets import SceneTargets, TargetCache
from orkiosk.render.upload import SceneUpload


class Renderer:
    """Draws Scenes with a Camera and a DisplayState into a framebuffer. One per GL context."""

    def __init__(self, ctx: moderngl.Context):
        self.ctx = check_context(ctx)
        self._home = ctx.detect_framebuffer()  # bound when the renderer was made (0 headless)
        self.max_samples = int(getattr(ctx, "max_samples", 0) or 0)
        self.edge_enhance = True  # translucent surfaces more opaque at their silhouettes
        try:
            self.gl = Programs(ctx)
        except moderngl.Error as exc:
            raise RenderError(f"the GPU rejected the renderer's shaders: {exc}") from exc
        self._targets = TargetCache(ctx)
        self._picker = Picker(ctx, self.gl)
        self._marker = OrientationMarker(ctx, self.gl, self.max_samples)

    def release(self) -> None:
        """Free every GL object the renderer made (scenes are released on their own)."""
        self.gl.release_meshes()
        self._targets.release()
        self._picker.release()
        self._marker.release()
        self.gl.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()

    def create_scene(
        self,
        plan: Plan | PreparedScene,
        meshes: dict[str, Mesh] | None = None,
        *,
        lod_budget: int = DEFAULT_LOD_BUDGET,
        image=None,
    ) -> Scene:
        """Upload a plan's meshes: create_scene(plan, meshes), or create_scene(prepared) with
        the result of prepare_scene() made beforehand (e.g. on a worker thread), which leaves
        only the buffer uploads for the GL thread. lod_budget: triangles drawn while the view
        moves (0: no lighter meshes). image: the package's ImageVolume (format 1.1), painted
        on cut sections. A scene_upload() run to the end at once."""
        if isinstance(plan, PreparedScene):
            prepared = plan
        else:
            if meshes is None:
                raise RenderError("create_scene needs the plan's meshes")
            prepared = prepare_scene(plan, meshes, lod_budget, image)
        upload = self.scene_upload(prepared)
        while not upload.step():
            pass
        return upload.scene

    def scene_upload(self, prepared: PreparedScene, chunk_bytes: int | None = None) -> SceneUpload:
        """A prepared scene onto the GPU in steps of at most chunk_bytes (upload.SceneUpload):
        everything is reserved now (RenderError if the GPU has no room), then each step()
        writes a slice and returns True once `upload.scene` is ready; release() abandons it."""
        return SceneUpload(self.ctx, self.gl.mesh, prepared, chunk_bytes)

    @property
    def output_framebuffer(self) -> moderngl.Framebuffer | None:
        return self._targets.output_framebuffer

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
            return self._render(scene, camera, state, framebuffer, viewport, size, quality, profile)
        except moderngl.Error as exc:
            raise RenderError(f"the 3D view could not be drawn: {exc}") from exc

    def _render(self, scene, camera, state, framebuffer, viewport, size, quality, profile):
        if scene.released:
            raise RenderError("the scene was released")
        t0 = time.perf_counter()
        lap = Lap(self.ctx, profile)
        state = state or DisplayState()
        framebuffer, viewport = self._destination(framebuffer, viewport, size)
        width, height = viewport[2], viewport[3]
        scale = min(1.0, max(0.1, float(quality.scale)))
        ssize = (max(1, round(width * scale)), max(1, round(height * scale)))
        samples = min(int(quality.msaa), self.max_samples) if quality.msaa > 1 else 0
        targets = self._targets.scene(ssize, samples)
        fv = FrameView.of(camera, scene, state, width / height, ssize)
        draws = DrawList.of(scene, camera, state, quality)
        self._draw_scene(targets, fv, draws, lap)
        self._present(targets, fv, draws, camera, framebuffer, viewport, quality)
        lap("present")
        if state.orientation_marker:
            self._marker.draw(camera, framebuffer, viewport)
            lap("marker")
        finish_frame(self.ctx, framebuffer, viewport, self._home)
        return FrameInfo(
            size=(width, height),
            scene_size=ssize,
            samples=samples,
            lod=bool(quality.lod),
            triangles=draws.triangles,
            transparent=bool(draws.transparent),
            cpu_ms=(time.perf_counter() - t0) * 1000,
        )

    def _destination(self, framebuffer, viewport, size):
        """The framebuffer to draw into (the renderer's own one of `size` if None) and the
        viewport as integers."""
        if framebuffer is None:
            if size is None:
                raise RenderError("render needs a framebuffer or a size")
            framebuffer = self._targets.output_fbo((int(size[0]), int(size[1])))
        if viewport is None:
            viewport = (0, 0, *framebuffer.size)
        viewport = tuple(int(v) for v in viewport)
        if viewport[2] < 1 or viewport[3] < 1:
            raise RenderError(f"cannot draw into {viewport[2]}x{viewport[3]} pixels")
        return framebuffer, viewport

    def _draw_scene(self, targets: SceneTargets, fv: FrameView, draws: DrawList, lap) -> None:
        """The passes into the scene buffers: crossing counts, opaque, translucent."""
        ctx = self.ctx
        ctx.enable_direct(GL_CLIP_DISTANCE0)
        try:
            if draws.slots:  # which closed structure owns each pixel of the plane
                count_crossings(ctx, self.gl, targets.counts(), draws.slots, fv)
                lap("count")
            opaque_pass(ctx, self.gl, targets, fv, draws)
            lap("opaque")
            if targets.ms_fbo is not None:
                targets.resolve()
                lap("resolve")
            if draws.transparent:
                oit.accumulate(ctx, self.gl, targets, fv, draws.transparent, self.edge_enhance)
                lap("transparent")
                if oit.translucent_caps(ctx, self.gl, targets, fv, draws.slots, draws.cap_image):
                    lap("caps")
                targets.oit_fbo.depth_mask = True
        finally:
            ctx.disable_direct(GL_CLIP_DISTANCE0)
            ctx.enable_only(moderngl.NOTHING)

    def _present(self, targets, fv, draws, camera, framebuffer, viewport, quality) -> None:
        """Into the caller's framebuffer: the scene, its silhouettes and the translucent layer
        (the last two only where they can be)."""
        ctx = self.ctx
        direct = self._targets.direct(framebuffer, viewport, fv.size)
        present(ctx, self.gl, targets, direct, framebuffer, viewport)
        if quality.outlines and draws.opaque:
            rect = scissor_box([e.st.bounds for e in draws.opaque], camera, viewport)
            if rect is not None:
                outlines(ctx, self.gl, targets, fv, rect)
        if draws.transparent:
            rect = scissor_box([e.st.bounds for e in draws.transparent], camera, viewport)
            if rect is not None:
                oit.composite(ctx, self.gl, targets, rect)
        ctx.enable_only(moderngl.NOTHING)

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
            return self._picker.pick(scene, camera, x, y, width, height, state)
        except moderngl.Error as exc:
            raise RenderError(f"picking failed: {exc}") from exc

    def labels(
        self,
        scene: Scene,
        camera: Camera,
        width: int,
        height: int,
        state: DisplayState | None = None,
    ) -> list[Label]:
        """Screen positions (top-left origin) for the UI's text labels."""
        return scene_labels(scene, camera, width, height, state or DisplayState())


__all__ = ["FrameInfo", "Label", "PickResult", "Renderer", "Scene", "SceneUpload"]
