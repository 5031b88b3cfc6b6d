"""SliceView: the plan's image on one slice (orkiosk.render.slice), beside or instead of the 3D
view, drawn the same way as the 3D view (app/views/view3d.py): from a Clock callback into a
framebuffer that wraps a Kivy texture, with the 3D view's GL context, renderer and scene, and
Kivy's GL state handed back afterwards (render/glstate.py).

What it shows lives in the model (app/model/slicing.SliceModel); a one-finger drag moves the
slice through it (the finger's travel in the picture's millimetres). While the slice moves it
is drawn at half the pixels with contours of the lighter meshes, then once at full quality.
The caption says the plane, the window and the convention in words (radiological: the
patient's LEFT on the image's RIGHT in axial and coronal slices).
"""

from __future__ import annotations

import logging
import time

from kivy.clock import Clock
from kivy.graphics import Color, Rectangle
from kivy.graphics.texture import Texture
from kivy.metrics import Metrics
from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from orkiosk.app.model.slicing import LayoutChanged, SliceChanged, SliceModel
from orkiosk.app.readouts import CUT_LABELS
from orkiosk.app.views.touchinput import GestureInput
from orkiosk.render import glstate
from orkiosk.render.errors import RenderError
from orkiosk.render.slicegeom import SliceFrame, slice_frame
from orkiosk.render.slicesnap import CONVENTION
from orkiosk.touch import Drag, GestureRecognizer

log = logging.getLogger("orkiosk.slice")
DRAG_SCALE = 0.5  # share of the pixels (each way) while the slice moves
REST_S = 0.2  # no move for this long: the full-quality frame
LETTER_MM = 7.0  # side letters (their ink is about 5.5 mm tall: >= 5 mm from 2 m)
CAPTION_FONT = "7.5mm"  # Roboto Bold capitals 0.71 em: 5.3 mm
# compact (the workbench, read at a desk): one caption line and smaller letters
COMPACT_CAPTION_FONT = "3.6mm"
COMPACT_LETTER_MM = 4.0


class SliceView(GestureInput, Widget):
    """The slice of SliceModel `slicing`, drawn with PlanView `plan_view`'s renderer and scene."""

    frames = NumericProperty(0)
    quality = StringProperty("full")
    caption = StringProperty("")
    compact = BooleanProperty(False)  # the workbench's small panes: a one-line caption

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.slicing: SliceModel | None = None
        self.plan_view = None
        self.recognizer = GestureRecognizer()
        self.recognizer.one_finger = "drag"
        self.info = None  # the last SliceInfo (for checks and tests)
        self.frame: SliceFrame | None = None
        self._slices = None  # SliceRenderer, made with the 3D view's renderer
        self._target = None
        self._dirty = True
        self._moved_at = 0.0
        self._full_drawn = False
        self._px_per_mm = Metrics.dpi / 25.4
        self._strip = 0.0  # pixels under the picture that hold the caption
        with self.canvas:
            self._color = Color(1, 1, 1, 0)
            self._rect = Rectangle(pos=self.pos, size=self.size)
        self._caption = Label(
            font_size=CAPTION_FONT,
            bold=True,
            color=(0.95, 0.97, 1, 1),
            outline_width=3,
            outline_color=(0, 0, 0, 1),
            halign="left",
            valign="bottom",
            size_hint=(None, None),
        )
        self.add_widget(self._caption)
        self.bind(pos=self._on_geometry, size=self._on_geometry, caption=self._on_geometry)
        self.bind(compact=self._on_compact)
        self._clock = Clock.schedule_interval(self._frame, 0)

    def attach(self, slicing: SliceModel, plan_view) -> None:
        self.slicing, self.plan_view = slicing, plan_view
        slicing.subscribe(self._on_slice)
        slicing.state.subscribe(self._on_state)

    # ------------------------------------------------------------ model -> view
    def _on_slice(self, event) -> None:
        if isinstance(event, SliceChanged) and event.interactive:
            self._moved_at = time.monotonic()
        if isinstance(event, LayoutChanged):
            self._release_target() if event.layout == "3d" else None
        self._dirty = True

    def _on_state(self, _event) -> None:
        self._dirty = True  # structures, selection, a new plan: all change the picture

    def _on_compact(self, *_):
        self._caption.font_size = COMPACT_CAPTION_FONT if self.compact else CAPTION_FONT
        self._on_geometry()

    def _on_geometry(self, *_):
        # The caption has a strip of its own under the picture: over the image it would hide
        # the lower orientation letter or the anatomy on a narrow pane.
        cap = self._caption
        margin = 2 * self._px_per_mm
        cap.text_size = (max(1.0, self.width - 2 * margin), None)
        cap.text = self.caption
        cap.texture_update()
        cap.size = cap.texture_size
        cap.pos = (self.x + margin, self.y + margin)
        cap.opacity = 1 if self.width > 2 and self.caption else 0
        self._strip = min(self.height / 3, cap.height + 2 * margin) if self.caption else 0.0
        self._rect.pos = (self.x, self.y + self._strip)
        self._rect.size = (self.width, max(1.0, self.height - self._strip))
        self._dirty = True

    @property
    def picture_height(self) -> float:
        """Pixels of the widget's height that show the picture (the caption strip excluded)."""
        return max(1.0, self.height - self._strip)

    def _caption_text(self, frame: SliceFrame) -> str:
        win = self.slicing.window
        head = CUT_LABELS.get(frame.kind, frame.kind.upper())
        if self.compact:
            return f"{head}  {win.text if win else ''}"
        return f"{head}  {win.text if win else ''}\n{CONVENTION[frame.kind]}"

    # ------------------------------------------------------------ frames
    def _ready(self) -> bool:
        pv, sl = self.plan_view, self.slicing
        return (
            sl is not None
            and sl.slice_shown
            and pv is not None
            and pv.scene is not None
            and pv.scene.volume is not None
            and sl.state.bounds is not None
            and self.width >= 2
            and self.height >= 2
        )

    def _frame(self, _dt) -> None:
        if not self._ready():
            return
        moving = time.monotonic() - self._moved_at < REST_S
        if self._dirty or (not moving and not self._full_drawn):
            self._dirty = False  # before drawing: a caption changed by the draw asks again
            self.draw(interactive=moving)

    def slice_frame(self) -> SliceFrame:
        sl, st = self.slicing.slice, self.slicing.state
        traj = st.package.plan.trajectory(sl.trajectory_id) if sl.trajectory_id else None
        kind = sl.plane if (traj is not None or not sl.follows_trajectory) else "axial"
        return slice_frame(kind, sl.offset, st.bounds, self.width / self.picture_height, traj)

    def draw(self, interactive: bool = False) -> None:
        """Draw the slice into the Kivy texture now (the whole of it at rest)."""
        from orkiosk.render.slice import SliceRenderer

        pv = self.plan_view
        pv._ensure_gl()
        w, h = max(1, int(round(self.width))), max(1, int(round(self.picture_height)))
        scale = DRAG_SCALE if interactive else 1.0
        vw, vh = max(1, int(w * scale)), max(1, int(h * scale))
        frame = self.slice_frame()
        ds = self.slicing.state.display_state()
        ds.clip = None
        win = self.slicing.window
        ds.window = (win.width, win.level) if win else None
        saved = glstate.kivy_state()
        try:
            if self._slices is None or self._slices.renderer is not pv.renderer:
                self._slices = SliceRenderer(pv.renderer)
            self._ensure_target((w, h))
            self.info = self._slices.render(
                pv.scene,
                frame,
                ds,
                framebuffer=self._target[2],
                viewport=(0, 0, vw, vh),
                lod=interactive,
                letter_px=max(
                    (COMPACT_LETTER_MM if self.compact else LETTER_MM) * self._px_per_mm,
                    0.06 * min(w, h),
                )
                * scale,
            )
        except RenderError as exc:
            log.error("slice view failed: %s", exc)
            self.slicing.state.set_error(f"Display problem (slice view): {exc}")
        finally:
            glstate.hand_back_to_kivy(saved)
        self.frame = frame
        self._rect.tex_coords = (0.0, 0.0, vw / w, 0.0, vw / w, vh / h, 0.0, vh / h)
        self._full_drawn = not interactive
        self.quality = "interactive" if interactive else "full"
        self.frames += 1
        self.caption = self._caption_text(frame)
        self.canvas.ask_update()

    def _ensure_target(self, size) -> None:
        if self._target is not None and self._target[0].size == size:
            return
        self._release_target()
        ctx = self.plan_view.ctx
        tex = Texture.create(size=size, colorfmt="rgba")
        tex.blit_buffer(bytes(size[0] * size[1] * 4), colorfmt="rgba", bufferfmt="ubyte")
        ext = ctx.external_texture(tex.id, size, 4, 0, "f1")
        fbo = ctx.framebuffer([ext])
        self._target = (tex, ext, fbo)
        self._rect.texture = tex
        self._color.a = 1

    def _release_target(self) -> None:
        if self._target is not None:
            _tex, ext, fbo = self._target
            fbo.release()
            ext.release()  # wraps Kivy's texture id: moderngl does not delete it
            self._target = None
            self._color.a = 0

    def release(self) -> None:
        Clock.unschedule(self._clock)
        self._release_target()
        if self._slices is not None:
            self._slices.release()
            self._slices = None

    # ------------------------------------------------------------ touch
    def accepts_touches(self) -> bool:
        return self._ready()

    def picture_mm_per_screen_mm(self) -> float:
        """Millimetres of the patient that one millimetre of the screen shows on this slice."""
        frame = self.frame or self.slice_frame()
        return frame.height_mm / self.picture_height * self._px_per_mm

    def _apply(self, commands) -> None:
        for c in commands:
            if isinstance(c, Drag):  # up the screen: + offset, as far as the finger went
                self.slicing.drag(c.dy_mm * self.picture_mm_per_screen_mm())


def fill_presets(bar, slicing: SliceModel, choose) -> None:
    """The window bar: one big button a preset of the image; `choose(name)` on a tap."""
    from kivy.factory import Factory

    bar.clear_widgets()
    current = slicing.window
    for p in slicing.presets:
        btn = Factory.SliceToggle(text=p.name.upper(), chosen=p == current)
        btn.bind(on_release=lambda b, name=p.name: choose(name))
        bar.add_widget(btn)
