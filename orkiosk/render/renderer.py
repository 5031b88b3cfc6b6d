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
marker (orientation). The passes are data (work.Pass) run as steps (steps.FrameSteps):
render() runs them at once, frame_steps() one bounded step per next(), so that a host can draw
its UI between them; scene_upload() sends a plan to the GPU in slices the same way (upload),
create_scene() at once. Screen coordinates: pixels, origin top-left. This module never imports
Kivy.
"""

from __future__ import annotations

import moderngl
import numpy as np

from orkiosk.plan.mesh import Mesh
from orkiosk.plan.model import Plan
from orkiosk.render.camera import Camera
from orkiosk.render.context import check_context
from orkiosk.render.errors import RenderError
from orkiosk.render.frame import FrameInfo
from orkiosk.render.labels import Label, scene_labels
from orkiosk.render.orientation import OrientationMarker
from orkiosk.render.picking import Picker, PickResult
from orkiosk.render.prepare import DEFAULT_LOD_BUDGET, PreparedScene, prepare_scene
from orkiosk.render.programs import Programs
from orkiosk.render.scene import Scene
from orkiosk.render.state import FULL, DisplayState, Quality
from orkiosk.render.steps import FrameSteps, StepInfo
from orkiosk.render.targets import TargetCache
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

    def scene_upload(
        self, prepared: PreparedScene, chunk_bytes: int | None = None, reuse: tuple = ()
    ) -> SceneUpload:
        """A prepared scene onto the GPU in steps of at most chunk_bytes (upload.SceneUpload):
        everything is reserved now (RenderError if the GPU has no room), then each step()
        writes a slice and returns True once `upload.scene` is ready; release() abandons it.
        reuse: scenes of this renderer whose meshes the new scene shares where they are the
        same prepared meshes (not uploaded again)."""
        return SceneUpload(self.ctx, self.gl.mesh, prepared, chunk_bytes, reuse)

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
        INTERACTIVE or any Quality), profile (a dict that receives each step's ms by name;
        costs a glFinish per step). The picture fills the viewport; the camera's aspect is the
        viewport's. Returns FrameInfo. GL failures come out as RenderError. The steps of
        frame_steps(budget=None), run at once.
        """
        steps = self.frame_steps(
            scene,
            camera,
            state,
            framebuffer=framebuffer,
            viewport=viewport,
            size=size,
            quality=quality,
            profile=profile,
        )
        return steps.run()

    def frame_steps(
        self,
        scene: Scene,
        camera: Camera,
        state: DisplayState | None = None,
        *,
        framebuffer: moderngl.Framebuffer | None = None,
        viewport: tuple[int, int, int, int] | None = None,
        size: tuple[int, int] | None = None,
        quality: Quality = FULL,
        budget: int | None = None,
        profile: dict | None = None,
        pixels: int | None = None,
    ) -> FrameSteps:
        """The frame render() draws, as an iterator of bounded steps (steps.FrameSteps): each
        next() runs one and returns its StepInfo; at most `budget` mesh triangles per step
        (None: one step per pass); with `pixels` too, full-screen work in bands of at most that
        many pixels. Only the last steps ("output") touch `framebuffer`; `.info` is the
        FrameInfo after the last (StepInfo.last). Camera and state are read now."""
        destination = self._destination(framebuffer, viewport, size)
        return FrameSteps(
            self,
            scene,
            camera,
            state or DisplayState(),
            destination,
            quality,
            budget,
            profile,
            pixels,
        )

    def _destination(self, framebuffer, viewport, size):
        """(framebuffer or None for the renderer's own target, its size, the viewport as
        integers); the own target is made in the frame's last step."""
        if framebuffer is None:
            if size is None:
                raise RenderError("render needs a framebuffer or a size")
            size = (int(size[0]), int(size[1]))
        else:
            size = tuple(framebuffer.size)
        if viewport is None:
            viewport = (0, 0, *size)
        viewport = tuple(int(v) for v in viewport)
        if viewport[2] < 1 or viewport[3] < 1:
            raise RenderError(f"cannot draw into {viewport[2]}x{viewport[3]} pixels")
        return framebuffer, size, viewport

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


__all__ = [
    "FrameInfo",
    "FrameSteps",
    "Label",
    "PickResult",
    "Renderer",
    "Scene",
    "SceneUpload",
    "StepInfo",
]
