"""PlanView: the 3D view of the kiosk, drawn by orkiosk.render inside Kivy's GL context.

As docs/architecture.md explains, moderngl renders from a Clock callback (never inside a canvas
instruction) into a framebuffer whose colour attachment wraps a Kivy texture, with a depth
renderbuffer; the canvas holds only Rectangle(texture=...). Frames are drawn only when something changed: at
interactive quality while the view moves, then once at full quality when it rests.

Touches go to the pure gesture recogniser (orkiosk.touch) in millimetres; its commands go to the
model (orkiosk.app.model.KioskState), which moves the camera or the cut and decides what a pick
means. This widget only translates, draws what the model holds, and asks the renderer what lies
under a finger (GL picking).
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

import moderngl
from kivy.clock import Clock
from kivy.graphics import Color, Rectangle
from kivy.metrics import Metrics
from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.widget import Widget

from orkiosk.app.model import KioskState, Pick, events
from orkiosk.app.views.touchinput import GestureInput
from orkiosk.app.views.viewframes import (
    STEP_MS,
    UPLOAD_SLICE,
    FrameJob,
    Incoming,
    Pictures,
    StepBudget,
    run_steps,
    shown_coords,
)
from orkiosk.app.views.viewlabels import ViewLabels
from orkiosk.render import glstate
from orkiosk.render.camera import Camera
from orkiosk.render.errors import RenderError
from orkiosk.render.prepare import DEFAULT_LOD_BUDGET, prepare_scene
from orkiosk.render.renderer import Renderer
from orkiosk.render.state import DisplayState, InteractionQuality, Quality
from orkiosk.touch import GestureRecognizer

log = logging.getLogger("orkiosk.view")
FULL_TEX_COORDS = (0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0)


# model events that change nothing in the 3D picture (they must not restart a frame in steps)
_NOT_DRAWN = (
    events.PendingChanged,
    events.ChangesChanged,
    events.ErrorChanged,
    events.ModeChanged,
    events.LockChanged,
)


class PlanView(GestureInput, Widget):
    """The 3D plan. `state` is the KioskState it shows; call `show(package)` via the state."""

    __events__ = ("on_handover",)
    fps = NumericProperty(0.0)
    frame_ms = NumericProperty(0.0)
    quality = StringProperty("full")
    ready = BooleanProperty(False)  # the first frame of a plan has been drawn
    frames = NumericProperty(0)  # frames drawn so far

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.state: KioskState | None = None
        self.ctx: moderngl.Context | None = None
        self.renderer: Renderer | None = None
        self.scene = None
        self.recognizer = GestureRecognizer()
        self.governor = InteractionQuality()
        self.lod_triangles = DEFAULT_LOD_BUDGET
        self._pictures = Pictures()  # front (on screen) and back (a full frame being built)
        self._staged = None  # (manifest sha256, scene upload) of a plan about to be shown
        self._incoming: Incoming | None = None  # a plan being handed over
        self._job = None  # a full frame being drawn in steps into the back picture
        self._budget = StepBudget()
        self._dirty = True  # the picture on screen is not the model's latest full frame
        self.last_steps = None  # the last UI frame's StepRun (benchmarks, tests)
        self._frame_times: list[float] = []
        self._view_labels = ViewLabels(self)
        self._px_per_mm = Metrics.dpi / 25.4
        with self.canvas:
            self._color = Color(1, 1, 1, 0)  # invisible until a picture exists (not a white glare)
            self._rect = Rectangle(pos=self.pos, size=self.size)
        self.bind(pos=self._on_geometry, size=self._on_geometry)
        self._clock = Clock.schedule_interval(self._frame, 0)
        self._ticker = Clock.schedule_interval(self._tick_gestures, 0.05)

    # ------------------------------------------------------------------ setup
    def attach(self, state: KioskState, governor: InteractionQuality | None = None) -> None:
        self.state = state
        if governor is not None:
            self.governor = governor
        state.subscribe(self._on_state)
        self._on_geometry()

    @property
    def camera(self) -> Camera | None:
        """The model's camera (the model owns it; gestures and view buttons change it)."""
        return self.state.camera if self.state is not None else None

    def set_gesture_settings(self, settings) -> None:
        self.recognizer = GestureRecognizer(settings)

    def _ensure_gl(self) -> bool:
        if self.renderer is not None:
            return True
        self.ctx = moderngl.create_context()
        self.ctx.gc_mode = "context_gc"
        saved = glstate.kivy_state()
        try:
            self.renderer = Renderer(self.ctx)
        finally:
            glstate.hand_back_to_kivy(saved)
        log.info("GL %s on %s", self.ctx.version_code, self.ctx.info.get("GL_RENDERER"))
        return True

    def _on_geometry(self, *_):
        self._rect.pos = self.pos
        self._rect.size = self.size
        self._invalidate()
        if self.state is not None:
            self.state.set_viewport(*self._pixel_size(), self._px_per_mm)

    def _pixel_size(self) -> tuple[int, int]:
        return max(1, int(round(self.width))), max(1, int(round(self.height)))

    def _invalidate(self) -> None:
        """The picture must be drawn again; a full frame half built is dropped (the picture on
        screen stays until a complete one replaces it)."""
        self._dirty = True
        self._drop_job()

    def _drop_job(self) -> None:
        if self._job is not None:
            self._job.steps.close()  # its scene buffers go back to the renderer
            self._job = None

    def _ensure_pictures(self, size) -> None:
        if self._pictures.ensure(self.ctx, size):
            self._drop_job()
            self._show()

    def _show(self) -> None:
        """Put what the pictures hold on screen (an old size's picture cropped, not blank)."""
        pictures = self._pictures
        pictures.drop_stale()
        shown = pictures.shown
        self._rect.texture = shown.texture
        self._rect.tex_coords = shown_coords(shown, self._pixel_size())
        self._color.a = 1 if shown.drawn else 0  # no white glare before a first picture

    # ------------------------------------------------------------------ plans
    @property
    def handing_over(self) -> bool:
        """A new plan is shown in the model but its picture is not on screen yet."""
        return self._incoming is not None

    def on_handover(self, package) -> None:
        """Event: the first picture of `package` is on screen (the screen's other widgets
        follow in this frame)."""

    def stage(self, package, prepared=None) -> None:
        """Start uploading a package's meshes beside the scene on screen. Raises if the GPU
        cannot hold them (every buffer is allocated here); the data follows in slices, a few
        milliseconds per UI frame, once the model shows the plan.

        `prepared`: orkiosk.render.prepare.prepare_scene(...) made on a worker thread."""
        self._ensure_gl()
        saved = glstate.kivy_state()
        try:
            if prepared is None:
                prepared = prepare_scene(
                    package.plan, package.meshes, self.lod_triangles, package.image
                )
            on_gpu = (self.scene, self._incoming.scene if self._incoming else None)
            upload = self.renderer.scene_upload(prepared, UPLOAD_SLICE, reuse=on_gpu)
        finally:
            glstate.unbind_vertex_array()
            glstate.hand_back_to_kivy(saved)
        if self._staged is not None:
            self._staged[1].release()
        self._staged = (package.manifest_sha256, upload)

    def swap_in(self, package) -> None:
        """The model shows `package`: hand it over (upload, first frame) behind the picture
        on screen; the old scene stays until the new picture replaces it."""
        if self._staged is None or self._staged[0] != package.manifest_sha256:
            self.stage(package)
        if self._incoming is not None:  # superseded before its picture was shown
            self._incoming.release()
        self._incoming = Incoming(package, self._staged[1])
        self._staged = None
        self._invalidate()
        self.ready = False

    def release(self) -> None:
        Clock.unschedule(self._clock)
        Clock.unschedule(self._ticker)
        self._drop_job()
        if self._staged is not None:
            self._staged[1].release()
        if self._incoming is not None:
            self._incoming.release()
        if self.scene is not None:
            self.scene.release()
        self.scene = self._staged = self._incoming = None
        self._pictures.release()
        if self.renderer is not None:
            self.renderer.release()
            self.renderer = None

    # ------------------------------------------------------------------ model -> view
    def _aspect(self) -> float:
        w, h = self._pixel_size()
        return w / h

    def reset(self) -> None:
        if self.state is not None:
            self.state.reset_view()

    def _moved(self, interactive: bool) -> None:
        """Redraw; while the view keeps moving, at interactive quality."""
        self._invalidate()
        if interactive:
            self.governor.moved()

    def _on_state(self, event) -> None:
        if isinstance(event, events.PlanShown):
            self.swap_in(event.package)
        elif isinstance(event, events.PlanEdited):
            scene = self._drawn_scene()
            if scene is not None:
                scene.replan(event.plan)
            self._moved(interactive=True)  # usually a drag: more edits follow
        elif isinstance(event, events.CameraMoved):
            self._moved(event.interactive)
        elif isinstance(event, events.CutChanged):
            self._moved(interactive=True)  # usually a drag: more moves follow
        elif isinstance(event, events.LockChanged):
            self.recognizer.locked = event.locked
        elif isinstance(event, events.ModeChanged):
            self.recognizer.one_finger = "drag" if event.mode == "cut" else "rotate"
        if not isinstance(event, _NOT_DRAWN):
            self._invalidate()

    def display_state(self) -> DisplayState:
        if self.state is None or self._drawn_scene() is None:
            return DisplayState()
        return self.state.display_state()

    def _drawn_scene(self):
        """The scene the model's state belongs to: the incoming one during a handover."""
        if self._incoming is not None:
            return self._incoming.scene  # None while it uploads
        return self.scene

    # ------------------------------------------------------------------ frames
    def _frame(self, _dt) -> None:
        if self.camera is None or self.width < 2 or self.height < 2:
            return
        inc = self._incoming
        if inc is not None and inc.scene is None:
            self._upload_steps(inc)
            return
        scene = self._drawn_scene()
        if scene is None:
            self._dirty = False  # nothing to draw until a plan is handed over (swap_in)
            return
        if not self._dirty and not self.governor.needs_full_frame():
            return
        self._ensure_gl()
        self._ensure_pictures(self._pixel_size())
        moving = self.governor.moving()
        if inc is None and (moving or not self._pictures.shown.drawn):
            self.draw(interactive=True)  # at once, into the picture on screen
            self._dirty = not moving  # a blank view: the full frame follows at once
            return
        self._frame_steps(scene, interactive=moving)

    def _upload_steps(self, inc: Incoming) -> None:
        saved = glstate.kivy_state()
        try:
            run = run_steps(self.ctx, lambda: (inc.upload.step(), 0, 0))
        except RenderError as exc:
            self._handover_failed(inc, exc)
            return
        finally:
            glstate.unbind_vertex_array()
            glstate.hand_back_to_kivy(saved)
        self.last_steps = run
        if run.done:
            inc.scene = inc.upload.scene

    def _handover_failed(self, inc: Incoming, exc: Exception) -> None:
        """The GPU could not take or draw the new plan. The model shows it already and the rest
        of the screen waits for its picture, so the old picture goes too: the view shows no
        plan, the error says why, and the screen follows now (on_handover). Never the new plan's
        banner over the old plan's picture, never a screen that stops following the model."""
        log.error("could not hand the new plan to the GPU: %s", exc)
        self._drop_job()
        inc.release()
        self._incoming = None
        if self.scene is not None:
            self.scene.release()
            self.scene = None
        self._pictures.release()
        self._color.a = 0
        if self.camera is not None:  # the old plan's labels go with its picture
            self._view_labels.update([], [], self.camera, self._pixel_size(), self._px_per_mm)
        if self.state is not None:
            self.state.set_error(f"Display problem: the new plan cannot be drawn ({exc})")
        self.dispatch("on_handover", inc.package)

    def draw(self, interactive: bool = False) -> None:
        """Render one frame now, all at once. Interactive: into the picture on screen, in its
        bottom-left part at the governor's scale, shown stretched (no scaling pass). Full:
        into the back picture, then shown (tests and `snapshot`-like uses)."""
        if not interactive:
            inc = self._incoming
            while inc is not None and inc.scene is None and self._incoming is inc:
                self._upload_steps(inc)
            self._drop_job()
            if self._drawn_scene() is not None:
                self._start_job(self._drawn_scene(), interactive=False)
                self._frame_job_steps(float("inf"))
            return
        self._ensure_gl()
        w, h = self._pixel_size()
        self._ensure_pictures((w, h))
        q = self._interactive_quality()
        vw, vh = max(1, int(w * q.scale)), max(1, int(h * q.scale))
        quality = replace(q, scale=1.0)
        front = self._pictures.front
        self._drop_job()
        saved = glstate.kivy_state()
        t0 = time.perf_counter()
        try:
            self.renderer.render(
                self._drawn_scene(),
                self.camera,
                self.display_state(),
                framebuffer=front.fbo,
                viewport=(0, 0, vw, vh),
                quality=quality,
            )
        except RenderError as exc:
            self._render_failed(exc)
        finally:
            glstate.hand_back_to_kivy(saved)
        front.hold(self._drawn_scene(), (vw, vh), q.scale)
        self._shown((time.perf_counter() - t0) * 1000, None, "interactive")

    def _interactive_quality(self) -> Quality:
        """The governor's interactive preset at its current scale (drawn at that fraction of
        the view's pixels into the bottom-left of a picture, shown stretched)."""
        gov = self.governor
        return replace(gov.interactive, scale=gov.scale, msaa=0, outlines=False)

    def _frame_steps(self, scene, interactive: bool) -> None:
        """This UI frame's share of a frame drawn in steps into the back picture."""
        if self._job is None:
            self._start_job(scene, interactive)
        self._frame_job_steps(STEP_MS)

    def _frame_job_steps(self, budget_ms: float) -> None:
        saved = glstate.kivy_state()
        try:
            self.last_steps = run_steps(self.ctx, self._step_job, budget_ms, self._budget)
        finally:
            glstate.hand_back_to_kivy(saved)

    def _start_job(self, scene, interactive: bool) -> None:
        w, h = self._pixel_size()
        self._ensure_pictures((w, h))
        q = self._interactive_quality() if interactive else self.governor.full
        scale = q.scale if interactive else 1.0
        vw, vh = max(1, int(w * scale)), max(1, int(h * scale))
        if interactive:
            q = replace(q, scale=1.0)
        back = self._pictures.back
        steps = self.renderer.frame_steps(
            scene,
            self.camera,
            self.display_state(),
            framebuffer=back.fbo,
            viewport=(0, 0, vw, vh),
            quality=q,
            budget=self._budget.triangles,
            pixels=self._budget.pixels,
        )
        self._job = FrameJob(steps, scene, q, interactive, (vw, vh), scale, time.perf_counter())

    def _step_job(self) -> tuple[bool, int, int]:
        """One step of the frame being built: (done, triangles, pixels drawn)."""
        job = self._job
        job.steps.budget = self._budget.triangles  # what the last steps measured
        job.steps.pixels = self._budget.pixels
        try:
            step = next(job.steps)
        except RenderError as exc:
            inc = self._incoming
            if inc is not None and job.scene is inc.scene:  # the new plan's first frame
                self._handover_failed(inc, exc)
                return True, 0, 0
            self._drop_job()
            self._dirty = False
            self._render_failed(exc)
            return True, 0, 0
        if step.last:
            self._finish_job(job)
        return step.last, step.triangles, step.pixels

    def _finish_job(self, job) -> None:
        """The frame is complete in the back picture: show it (and a plan handed over)."""
        self._job = None
        front = self._pictures.swap()
        front.hold(job.scene, job.viewport, job.scale)
        inc, self._incoming = self._incoming, None
        if inc is not None:
            old, self.scene = self.scene, inc.scene
            if old is not None:
                old.release()
        self._dirty = False
        ms = (time.perf_counter() - job.started) * 1000
        self._shown(ms, None if job.interactive else job.quality, job.label)
        if inc is not None:
            self.dispatch("on_handover", inc.package)

    def _render_failed(self, exc: RenderError) -> None:
        log.error("render failed: %s", exc)
        if self.state is not None:
            self.state.set_error(f"Display problem: {exc}")

    def _shown(self, ms: float, full_quality, label: str) -> None:
        """A picture is on screen: show it, count it, place the labels."""
        glstate.collect_gl_garbage(self.ctx)
        self._show()
        self.governor.frame_done(ms, full_quality)
        self._frame_times = (self._frame_times + [time.perf_counter()])[-30:]
        if len(self._frame_times) > 1:
            span = self._frame_times[-1] - self._frame_times[0]
            self.fps = (len(self._frame_times) - 1) / span if span > 0 else 0.0
        self.frame_ms = ms
        self.quality = label
        self.frames += 1
        self.canvas.ask_update()
        self._update_labels()
        self.ready = True

    # ------------------------------------------------------------------ labels
    @property
    def label_boxes(self) -> dict:
        """key -> placed label box in window pixels (for checks and tests)."""
        return self._view_labels.boxes

    @property
    def _labels(self) -> dict:
        return self._view_labels.labels

    def _update_labels(self) -> None:
        w, h = self._pixel_size()
        labels = self.renderer.labels(self.scene, self.camera, w, h, self.display_state())
        picks = self.state.picks if self.state else []
        self._view_labels.update(labels, picks, self.camera, (w, h), self._px_per_mm)

    # ------------------------------------------------------------------ touch
    def _tick_gestures(self, _dt) -> None:
        self._apply(self.recognizer.tick(time.monotonic()))

    def _apply(self, commands) -> None:
        if commands and self.state is not None and self._drawn_scene() is not None:
            self.state.handle_gestures(commands, pick=self.pick_mm)

    def pick_mm(self, x_mm: float, y_mm: float) -> Pick | None:
        """What lies under a point given in mm from the view's bottom-left corner."""
        w, h = self._pixel_size()
        ppm = self._px_per_mm
        scene = self._drawn_scene()
        if scene is None:
            return None
        saved = glstate.kivy_state()
        try:
            hit = self.renderer.pick(
                scene, self.camera, x_mm * ppm, h - y_mm * ppm, w, h, self.display_state()
            )
        finally:
            glstate.hand_back_to_kivy(saved)
        if hit is None:
            return None
        return Pick(hit.id, tuple(float(v) for v in hit.point), hit.name, hit.kind)
