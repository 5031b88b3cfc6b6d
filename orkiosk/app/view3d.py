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

import moderngl
import numpy as np
from kivy.clock import Clock
from kivy.graphics import Color, Rectangle
from kivy.graphics.texture import Texture
from kivy.metrics import Metrics
from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from orkiosk.app.model import KioskState, Pick, events
from orkiosk.app.touchinput import GestureInput
from orkiosk.render import glstate
from orkiosk.render.camera import Camera
from orkiosk.render.errors import RenderError
from orkiosk.render.prepare import DEFAULT_LOD_BUDGET, prepare_scene
from orkiosk.render.renderer import Renderer
from orkiosk.render.state import DisplayState, InteractionQuality, Quality
from orkiosk.touch import GestureRecognizer

log = logging.getLogger("orkiosk.view")
FULL_TEX_COORDS = (0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0)


class PlanView(GestureInput, Widget):
    """The 3D plan. `state` is the KioskState it shows; call `show(package)` via the state."""

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
        self._target = None  # (Texture, external texture, depth, framebuffer)
        self._staged = None  # (manifest sha256, Scene) uploaded, not yet shown
        self._dirty = True
        self._frame_times: list[float] = []
        self._labels: dict[tuple[str, str], Label] = {}
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
        self._dirty = True
        if self.state is not None:
            self.state.set_viewport(*self._pixel_size(), self._px_per_mm)

    def _pixel_size(self) -> tuple[int, int]:
        return max(1, int(round(self.width))), max(1, int(round(self.height)))

    def _ensure_target(self, size) -> None:
        if self._target is not None and self._target[0].size == size:
            return
        self._release_target()
        tex = Texture.create(size=size, colorfmt="rgba")
        tex.blit_buffer(bytes(size[0] * size[1] * 4), colorfmt="rgba", bufferfmt="ubyte")
        ext = self.ctx.external_texture(tex.id, size, 4, 0, "f1")
        depth = self.ctx.depth_renderbuffer(size)
        fbo = self.ctx.framebuffer([ext], depth)
        self._target = (tex, ext, depth, fbo)
        self._rect.texture = tex
        self._color.a = 1

    def _release_target(self) -> None:
        if self._target is not None:
            _tex, ext, depth, fbo = self._target
            fbo.release()
            depth.release()
            ext.release()  # wraps Kivy's texture id: moderngl does not delete external textures
            self._target = None

    # ------------------------------------------------------------------ plans
    def stage(self, package, prepared=None) -> None:
        """Upload a package's meshes beside the scene on screen (raises if that fails).

        `prepared`: orkiosk.render.prepare.prepare_scene(...) made on a worker thread, so that
        only the buffer uploads happen here on the UI thread."""
        self._ensure_gl()
        saved = glstate.kivy_state()
        try:
            if prepared is None:
                prepared = prepare_scene(package.plan, package.meshes, self.lod_triangles)
            scene = self.renderer.create_scene(prepared)
        finally:
            glstate.unbind_vertex_array()
            glstate.hand_back_to_kivy(saved)
        if self._staged is not None:
            self._staged[1].release()
        self._staged = (package.manifest_sha256, scene)

    def swap_in(self, package) -> None:
        """Show the staged scene of `package` at once and release the old GPU objects."""
        if self._staged is None or self._staged[0] != package.manifest_sha256:
            self.stage(package)
        old, self.scene = self.scene, self._staged[1]
        self._staged = None
        if old is not None:
            old.release()
        self._dirty = True
        self.ready = False

    def release(self) -> None:
        Clock.unschedule(self._clock)
        Clock.unschedule(self._ticker)
        for scene in (self.scene, self._staged[1] if self._staged else None):
            if scene is not None:
                scene.release()
        self.scene = self._staged = None
        self._release_target()
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
        self._dirty = True
        if interactive:
            self.governor.moved()

    def _on_state(self, event) -> None:
        if isinstance(event, events.PlanShown):
            self.swap_in(event.package)
        elif isinstance(event, events.CameraMoved):
            self._moved(event.interactive)
        elif isinstance(event, events.CutChanged):
            self._moved(interactive=True)  # usually a drag: more moves follow
        elif isinstance(event, events.LockChanged):
            self.recognizer.locked = event.locked
        elif isinstance(event, events.ModeChanged):
            self.recognizer.one_finger = "drag" if event.mode == "cut" else "rotate"
        self._dirty = True

    def display_state(self) -> DisplayState:
        if self.state is None or self.scene is None:
            return DisplayState()
        return self.state.display_state()

    # ------------------------------------------------------------------ frames
    def _frame(self, _dt) -> None:
        if self.scene is None or self.camera is None or self.width < 2 or self.height < 2:
            return
        if not self._dirty and not self.governor.needs_full_frame():
            return
        self.draw(interactive=self.governor.moving())
        self._dirty = False

    def draw(self, interactive: bool = False) -> None:
        """Render one frame into the Kivy texture now.

        Interactive frames are drawn directly into the bottom-left part of the texture at the
        governor's scale and shown stretched (no scaling pass); full frames fill it, with MSAA.
        """
        self._ensure_gl()
        w, h = self._pixel_size()
        gov = self.governor
        if interactive:
            q = gov.quality()
            vw, vh = max(1, int(w * q.scale)), max(1, int(h * q.scale))
            quality = Quality(scale=1.0, msaa=0, lod=q.lod, outlines=False)
            tex_coords = (0.0, 0.0, vw / w, 0.0, vw / w, vh / h, 0.0, vh / h)
        else:
            vw, vh, quality, tex_coords = w, h, gov.full, FULL_TEX_COORDS
        saved = glstate.kivy_state()
        t0 = time.perf_counter()
        try:
            self._ensure_target((w, h))
            self.renderer.render(
                self.scene,
                self.camera,
                self.display_state(),
                framebuffer=self._target[3],
                viewport=(0, 0, vw, vh),
                quality=quality,
            )
        except RenderError as exc:
            log.error("render failed: %s", exc)
            if self.state is not None:
                self.state.set_error(f"Display problem: {exc}")
        finally:
            glstate.hand_back_to_kivy(saved)
        glstate.collect_gl_garbage(self.ctx)
        dt = time.perf_counter() - t0
        gov.frame_done(dt * 1000, None if interactive else quality)
        self._rect.tex_coords = tex_coords
        self._frame_times = (self._frame_times + [time.perf_counter()])[-30:]
        if len(self._frame_times) > 1:
            span = self._frame_times[-1] - self._frame_times[0]
            self.fps = (len(self._frame_times) - 1) / span if span > 0 else 0.0
        self.frame_ms = dt * 1000
        self.quality = "interactive" if interactive else "full"
        self.frames += 1
        self.canvas.ask_update()
        self._update_labels()
        self.ready = True

    # ------------------------------------------------------------------ labels
    # Names over the 3D view: capitals >= 5 mm on the configured panel (Roboto Bold capitals are
    # 0.71 em: 7.5 mm type gives 5.3 mm); the measure markers A and B bigger. Placed by
    # orkiosk.app.labelplace so that no two overlap and none covers a marker or a named point.
    LABEL_FONT = "7.5mm"
    MARKER_FONT = "9mm"

    def _update_labels(self) -> None:
        from kivy.graphics import InstructionGroup, Line

        from orkiosk.app.labelplace import Box, Wanted, place_labels

        w, h = self._pixel_size()
        wanted = {}
        for i, p in enumerate(self.state.picks if self.state else []):  # markers first
            ((x, y, depth),) = self.camera.project(np.asarray([p.point]), w, h)
            if depth > 0:
                wanted[("pick", str(i))] = ("AB"[i], float(x), float(y))
        labels = self.renderer.labels(self.scene, self.camera, w, h, self.display_state())
        for kind in ("target", "landmark"):  # then targets, then landmarks
            for lab in labels:
                if lab.kind == kind and lab.on_screen:
                    text = lab.text if kind == "landmark" else f"{lab.text} (target)"
                    wanted[(kind, lab.id)] = (text, lab.x, lab.y)
        for key in list(self._labels):
            if key not in wanted:
                self.remove_widget(self._labels.pop(key))
        for key, (text, _x, _y) in wanted.items():
            lab = self._labels.get(key)
            if lab is None:
                lab = Label(
                    font_size=self.MARKER_FONT if key[0] == "pick" else self.LABEL_FONT,
                    bold=True,
                    color=(1, 0.9, 0.3, 1) if key[0] == "pick" else (0.92, 0.95, 1, 1),
                    outline_width=3,
                    outline_color=(0, 0, 0, 1),
                    size_hint=(None, None),
                )
                self._labels[key] = lab
                self.add_widget(lab)
            if lab.text != text:  # rendering text is slow: only when it changes
                lab.text = text
                lab.texture_update()
                lab.size = lab.texture_size
        keys = list(wanted)
        placed = place_labels(
            [Wanted((x, h - y), tuple(self._labels[k].size)) for k, (_t, x, y) in wanted.items()],
            Box(0, 0, w, h),
            gap=self._px_per_mm * 2,
            margin=self._px_per_mm * 0.5,
            dot=self._px_per_mm * 1.5,
        )
        leaders = getattr(self, "_leaders", None)
        if leaders is None:
            leaders = self._leaders = InstructionGroup()
            self.canvas.after.add(leaders)
        leaders.clear()
        self.label_boxes = {}  # key -> placed box in window pixels (for checks and tests)
        for key, spot in zip(keys, placed, strict=True):
            lab = self._labels[key]
            if spot is None:  # no room without covering another: left out, not piled up
                lab.opacity = 0
                continue
            lab.opacity = 1
            lab.pos = (float(self.x + spot.box.x), float(self.y + spot.box.y))
            self.label_boxes[key] = (lab.x, lab.y, lab.width, lab.height)
            if spot.leader:
                _t, x, y = wanted[key]  # to the nearest point of the box: never over the text
                b = spot.box
                bx, by = min(max(x, b.x), b.x + b.w), min(max(h - y, b.y), b.y + b.h)
                leaders.add(Color(0.92, 0.95, 1, 0.85))
                leaders.add(
                    Line(points=[self.x + x, self.y + h - y, self.x + bx, self.y + by], width=1.5)
                )

    # ------------------------------------------------------------------ touch
    def _tick_gestures(self, _dt) -> None:
        self._apply(self.recognizer.tick(time.monotonic()))

    def _apply(self, commands) -> None:
        if commands and self.state is not None and self.scene is not None:
            self.state.handle_gestures(commands, pick=self.pick_mm)

    def pick_mm(self, x_mm: float, y_mm: float) -> Pick | None:
        """What lies under a point given in mm from the view's bottom-left corner."""
        w, h = self._pixel_size()
        ppm = self._px_per_mm
        saved = glstate.kivy_state()
        try:
            hit = self.renderer.pick(
                self.scene, self.camera, x_mm * ppm, h - y_mm * ppm, w, h, self.display_state()
            )
        finally:
            glstate.hand_back_to_kivy(saved)
        if hit is None:
            return None
        return Pick(hit.id, tuple(float(v) for v in hit.point), hit.name, hit.kind)
