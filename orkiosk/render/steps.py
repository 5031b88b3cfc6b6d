"""Stepped frames: one frame as a sequence of bounded steps, so that a host toolkit can draw its
UI between them (the kiosk makes a new plan's first picture one step per UI frame while the old
picture stays on screen). Renderer.render() runs the very same steps at once.

    steps = renderer.frame_steps(scene, camera, state, framebuffer=fbo, budget=60_000)
    for step in steps:          # each next() runs one step: StepInfo(name, triangles, output)
        ...                     # the host draws its UI, changes any GL state
    info = steps.info           # FrameInfo, once the last step ran (None before)

The steps, in order (names as in StepInfo and in render(profile=...)):

    count        with a cut: crossings per cut structure (mesh draws)
    opaque       clear, opaque cut sections (full screen), opaque surfaces, markers (mesh draws)
    resolve      with multisampling: the scene buffer resolved (full screen)
    transparent  translucent surfaces into the OIT buffers (mesh draws)
    caps         translucent cut sections into the OIT buffers (full screen)
    marker       the orientation marker's own buffer, when the view turned (small, fixed)
    output       the ONLY step that touches the caller's framebuffer: the scene copied or
                 scaled into it, silhouette lines, the translucent layer, the orientation
                 marker, opaque alpha; always one step, whatever the budget

budget: at most this many mesh triangles per step (big meshes are drawn in index ranges, in the
same order, so the picture is the same); a clear or a full-screen unit gets a step of its own.
None: one step per pass. `steps.budget` may be changed between steps (to what the host measured
the last ones took); the steps are cut as they come. Every step sets all the GL state it needs (a host may have changed anything) and
ends with the state a whole frame ends with (present.hand_back: the renderer's home framebuffer
bound, nothing enabled, default blending, depth "<"; like render(), it leaves its last vertex
array, program and textures on units 0-3 bound). The scene buffers are the frame's own until it
ends (TargetCache.lend), so frames drawn between its steps do not disturb it. GL failures come
out as RenderError and end the frame; close() abandons it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import moderngl

from orkiosk.render import oit
from orkiosk.render.boxes import clip_box, scissor_box
from orkiosk.render.caps import crossing_pass
from orkiosk.render.errors import RenderError
from orkiosk.render.frame import DrawList, FrameInfo, FrameView, Lap
from orkiosk.render.opaque import opaque_pass
from orkiosk.render.outline import outlines
from orkiosk.render.present import hand_back, make_opaque, present
from orkiosk.render.work import Fullscreen, Pass, cut_steps, reset_state


@dataclass(frozen=True)
class StepInfo:
    name: str  # the pass the step belongs to (see the module's table)
    triangles: int  # mesh triangles drawn (at most the budget)
    output: bool  # drew into the caller's framebuffer (the output steps are the last ones)
    pixels: int = 0  # pixels of full-screen work (at most the pixel budget when banded)
    last: bool = False  # the frame is complete: `info` is set


class FrameSteps:
    """One frame of Renderer.frame_steps(): an iterator of StepInfo; `info` is the FrameInfo
    once the last step ran. Made without GL work; the first step takes the scene buffers."""

    def __init__(
        self, renderer, scene, camera, state, destination, quality, budget, profile, pixels=None
    ):
        if scene.released:
            raise RenderError("the scene was released")
        t0 = time.perf_counter()
        self.budget = budget
        self.pixels = pixels
        self._renderer, self._scene = renderer, scene
        self._framebuffer, self._size, self._viewport = destination
        self._quality = quality
        width, height = self._viewport[2:]
        scale = min(1.0, max(0.1, float(quality.scale)))
        self._ssize = (max(1, round(width * scale)), max(1, round(height * scale)))
        msaa = int(quality.msaa)
        self._samples = min(msaa, renderer.max_samples) if msaa > 1 else 0
        # everything taken from camera and state now: the host may change them between steps
        self._fv = FrameView.of(camera, scene, state, width / height, self._ssize)
        self._draws = DrawList.of(scene, camera, state, quality)
        self._rotation = camera.rotation.copy()
        self._marker = bool(state.orientation_marker)
        draws = self._draws
        self._outline_rect = None
        if quality.outlines and draws.opaque:
            boxes = [e.st.bounds for e in draws.opaque]
            self._outline_rect = scissor_box(boxes, camera, self._viewport)
        self._composite_rect = None
        if draws.transparent:
            boxes = [e.st.bounds for e in draws.transparent]
            self._composite_rect = scissor_box(boxes, camera, self._viewport)
        self._lap = Lap(renderer.ctx, profile)
        self._cpu_s = time.perf_counter() - t0
        self._count = 0
        self.info: FrameInfo | None = None
        self._steps = self._run()

    @property
    def budget(self) -> int | None:
        """Mesh triangles per step (None: one step per pass); may be changed between steps,
        e.g. to what the last steps took: it holds from the next step on."""
        return self._budget

    @budget.setter
    def budget(self, value: int | None) -> None:
        if value is not None and int(value) < 1:
            raise RenderError(f"the triangle budget must be at least 1, not {value}")
        self._budget = None if value is None else int(value)

    @property
    def pixels(self) -> int | None:
        """Pixels per step of full-screen work (clears, resolve, output, caps), in bands; None:
        each in one step. Only with a triangle budget; may be changed between steps."""
        return self._pixels

    @pixels.setter
    def pixels(self, value: int | None) -> None:
        if value is not None and int(value) < 1:
            raise RenderError(f"the pixel budget must be at least 1, not {value}")
        self._pixels = None if value is None else int(value)

    def __iter__(self):
        return self

    def __next__(self) -> StepInfo:
        t0 = time.perf_counter()
        try:
            step = next(self._steps)
        except moderngl.Error as exc:
            raise RenderError(f"the 3D view could not be drawn: {exc}") from exc
        finally:
            self._cpu_s += time.perf_counter() - t0
        if step.last:
            self._steps.close()  # the scene buffers go back now
            self.info = self._frame_info()
        return step

    def run(self) -> FrameInfo:
        """The remaining steps at once."""
        for _ in self:
            pass
        return self.info

    def close(self) -> None:
        """Abandon the frame (its scene buffers go back to the renderer)."""
        self._steps.close()

    def _run(self):
        r = self._renderer
        targets = r._targets.lend(self._ssize, self._samples)
        try:
            passes = self._passes(targets)
            for step in cut_steps(passes, lambda: self._budget, lambda: self._pixels):
                if self._scene.released:
                    raise RenderError("the scene was released")
                reset_state(r.ctx)
                try:
                    step.run()
                finally:
                    hand_back(r.ctx, r._home)
                self._lap(step.name)
                self._count += 1
                last = step.pass_ is passes[-1] and step.ends_pass()
                yield StepInfo(step.name, step.triangles, step.pass_.output, step.pixels, last)
        finally:
            r._targets.take_back(targets)

    def _passes(self, targets) -> list[Pass]:
        r, fv, draws = self._renderer, self._fv, self._draws
        ctx, gl = r.ctx, r.gl
        passes = []
        if draws.slots:  # which closed structure owns each pixel of the plane
            passes.append(crossing_pass(ctx, gl, targets.counts(), draws.slots, fv))
        passes.append(opaque_pass(ctx, gl, targets, fv, draws))
        area = (0, 0, *self._ssize)
        if targets.ms_fbo is not None:
            resolve = Fullscreen(targets.resolve, banded=True)
            passes.append(Pass("resolve", targets.fbo.use, (resolve,), area=area))
        if draws.transparent:
            passes.append(
                oit.accumulate_pass(ctx, gl, targets, fv, draws.transparent, r.edge_enhance)
            )
            caps = oit.caps_pass(ctx, gl, targets, fv, draws.slots, draws.cap_image)
            if caps is not None:
                passes.append(caps)
        if self._marker and r._marker.needs_update(self._rotation):
            passes.append(
                Pass("marker", None, (Fullscreen(lambda: r._marker.update(self._rotation)),))
            )
        output = [Fullscreen(lambda band: self._output(targets, band), banded=True)]
        if self._marker:  # small and fixed: never banded, not counted as full-screen work
            output.append(Fullscreen(self._output_marker, small=True))
        passes.append(Pass("output", None, tuple(output), output=True, area=self._viewport))
        return passes

    def _output(self, targets, band) -> None:
        """Into the caller's framebuffer (within `band` of its viewport, or all of it): the
        scene, its silhouettes, the translucent layer (the last two only where they can be),
        opaque alpha."""
        r = self._renderer
        ctx, gl, viewport = r.ctx, r.gl, self._viewport
        framebuffer = self._framebuffer or r._targets.output_fbo(self._size)
        direct = r._targets.direct(framebuffer, viewport, self._ssize)
        present(ctx, gl, targets, direct, framebuffer, viewport, band)
        outlines(ctx, gl, targets, self._fv, clip_box(self._outline_rect, band))
        oit.composite(ctx, gl, targets, clip_box(self._composite_rect, band))
        ctx.enable_only(moderngl.NOTHING)
        make_opaque(framebuffer, band or viewport)
        hand_back(ctx, r._home)

    def _output_marker(self) -> None:
        """The orientation marker over the finished picture (after every band)."""
        r = self._renderer
        framebuffer = self._framebuffer or r._targets.output_fbo(self._size)
        r._marker.draw(self._rotation, framebuffer, self._viewport)
        make_opaque(framebuffer, r._marker.box(self._viewport))
        hand_back(r.ctx, r._home)

    def _frame_info(self) -> FrameInfo:
        return FrameInfo(
            size=self._viewport[2:],
            scene_size=self._ssize,
            samples=self._samples,
            lod=bool(self._quality.lod),
            triangles=self._draws.triangles,
            transparent=bool(self._draws.transparent),
            cpu_ms=self._cpu_s * 1000,
            steps=self._count,
        )
