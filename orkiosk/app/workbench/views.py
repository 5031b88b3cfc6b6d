"""The kiosk's views with the workbench's hands on them: a press near a path end grabs it, a
press with NEW PATH active places a point, anything else goes to the kiosk's own gestures
(rotate, zoom, scroll the slice). Mouse and touch arrive alike (Kivy touches).

- Slices: an end is dragged in the slice's plane; the across view ("perp") pivots the entry about
  the target at constant length when dragged anywhere; the ends of the selected path are drawn
  over the picture (filled when they lie on the slice, rings when in front or behind).
- 3D: the entry is dragged over the skin (it stays on the surface: each step is a pick on the
  skin), the target in the plane facing the viewer through it.
"""

from __future__ import annotations

import numpy as np
from kivy.graphics import Color, Ellipse, InstructionGroup, Line, Rectangle
from kivy.graphics.texture import Texture
from kivy.properties import ObjectProperty

from orkiosk.app.model import events
from orkiosk.app.model.values import Pick
from orkiosk.app.views.sliceview import SliceView
from orkiosk.app.views.view3d import PlanView
from orkiosk.app.workbench.entrypaint import paint_entries
from orkiosk.app.workbench.model import ON_SLICE_MM
from orkiosk.render.markers import ENTRY_COLOR, LANDMARK_COLOR, TARGET_COLOR

END_COLORS = {"entry": ENTRY_COLOR, "target": TARGET_COLOR, "landmark": LANDMARK_COLOR}
END_MM = 2.6  # drawn radius of a path end on a slice, screen mm


class WorkbenchSliceView(SliceView):
    workbench = ObjectProperty(None, allownone=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._overlay = InstructionGroup()
        self.canvas.after.add(self._overlay)
        self.bind(frames=lambda *_: self.draw_overlay())

    # ------------------------------------------------------------ geometry
    def _picture_xy(self, touch) -> tuple[float, float] | None:
        """The touch in 0..1 of the picture (top-left origin); None off the picture."""
        x = (touch.x - self.x) / max(1.0, self.width)
        y = 1.0 - (touch.y - self.y - self._strip) / self.picture_height
        return (x, y) if 0 <= x <= 1 and 0 <= y <= 1 else None

    def _mm_per_unit(self) -> tuple[float, float]:
        ppm = self._px_per_mm
        return self.width / ppm, self.picture_height / ppm

    def _lps(self, xy):
        return tuple(float(v) for v in self.frame.to_lps(xy))

    # ------------------------------------------------------------ touches
    def on_touch_down(self, touch):
        wb = self.workbench
        if wb is None or self.frame is None or not self.collide_point(*touch.pos):
            return super().on_touch_down(touch)
        xy = self._picture_xy(touch)
        if xy is None:
            return super().on_touch_down(touch)
        hit = wb.nearest_end(self.frame, *xy, self._mm_per_unit())
        if wb.tool != "view":
            mode = "place"  # placing wins over grabbing an end nearby
        elif hit is not None:
            wb.grab(*hit)
            mode = "drag"
            # the end keeps its place under the finger (and its depth): no jump at the press
            end = np.asarray(getattr(wb.plan.trajectory(hit[0]), hit[1]))
            touch.ud[(self, "offset")] = end - np.asarray(self._lps(xy))
        elif self.slicing.slice.plane == "perp" and wb.selected is not None:
            mode = "pivot"
        else:
            return super().on_touch_down(touch)
        touch.grab(self)
        touch.ud[self] = mode
        return True

    def on_touch_move(self, touch):
        mode = touch.ud.get(self) if touch.grab_current is self else None
        if mode is None:
            return super().on_touch_move(touch)
        wb, xy = self.workbench, self._picture_xy(touch)
        if mode == "drag" and xy is not None:
            p = np.asarray(self._lps(xy)) + touch.ud[(self, "offset")]
            wb.drag_to(tuple(float(v) for v in p))
        elif mode == "pivot":
            per_px = self.picture_mm_per_screen_mm() / self._px_per_mm
            wb.pivot_entry(self.frame.right, self.frame.up, touch.dx * per_px, touch.dy * per_px)
        return True

    def on_touch_up(self, touch):
        mode = touch.ud.get(self) if touch.grab_current is self else None
        if mode is None:
            return super().on_touch_up(touch)
        touch.ungrab(self)
        xy = self._picture_xy(touch)
        if mode == "place" and xy is not None:
            self.workbench.place(self._lps(xy))
        else:
            self.workbench.release()
        return True

    # ------------------------------------------------------------ the ends over the picture
    def draw_overlay(self) -> None:
        """The selected path's ends and every landmark near this slice: filled on it, a ring."""
        g = self._overlay
        g.clear()
        wb, frame = self.workbench, self.frame
        if wb is None or frame is None:
            return
        points = [(m.position, "landmark") for m in wb.plan.landmarks]
        if wb.selected is not None:
            t = wb.plan.trajectory(wb.selected)
            points += [(t.entry, "entry"), (t.target, "target")]
        r = END_MM * self._px_per_mm
        for p, what in points:
            depth = abs(float(frame.depth(p)))
            sx, sy = frame.to_screen(p)
            if not (0 <= sx <= 1 and 0 <= sy <= 1) or (what == "landmark" and depth > 10.0):
                continue
            x = self.x + sx * self.width
            y = self.y + self._strip + (1 - sy) * self.picture_height
            g.add(Color(*END_COLORS[what], 1))
            if depth <= ON_SLICE_MM:
                g.add(Ellipse(pos=(x - r, y - r), size=(2 * r, 2 * r)))
            g.add(Line(circle=(x, y, r * 1.5), width=max(1.5, 0.4 * self._px_per_mm)))


class WorkbenchPlanView(PlanView):
    workbench = ObjectProperty(None, allownone=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._scores = None
        self._colors = None
        self._entry_tex = None
        with self.canvas:  # over the picture, under the names
            Color(1, 1, 1, 1)
            self._entry_rect = Rectangle(pos=self.pos, size=(0, 0))
        self.bind(pos=lambda *_: self._paint_entries(), size=lambda *_: self._paint_entries())

    # ------------------------------------------------------------ where to enter
    def show_entries(self, scores) -> None:
        """The entry map's scores to paint over the skin (None: hide the map)."""
        self._scores = scores
        self._colors = scores.colors() if scores is not None else None
        self._paint_entries()

    def _on_state(self, event) -> None:
        super()._on_state(event)
        if self._scores is not None and isinstance(event, events.CameraMoved):
            self._paint_entries()

    def _paint_entries(self) -> None:
        wb, scores = self.workbench, self._scores
        if scores is None or wb is None or wb.skin is None or self.camera is None:
            self._entry_rect.size = (0, 0)
            return
        w, h = self._pixel_size()
        img = paint_entries(
            self._colors,
            scores.usable,
            wb.skin.positions,
            wb.skin.normals,
            self.camera,
            w,
            h,
            dot_px=int(np.clip(1.3 * wb.skin.spacing / self.camera.mm_per_pixel(h), 2, 16)),
        )
        size = (img.shape[1], img.shape[0])
        if self._entry_tex is None or tuple(self._entry_tex.size) != size:
            self._entry_tex = Texture.create(size=size, colorfmt="rgba")
            self._entry_tex.mag_filter = "linear"
        self._entry_tex.blit_buffer(img.tobytes(), colorfmt="rgba", bufferfmt="ubyte")
        self._entry_rect.texture = self._entry_tex
        self._entry_rect.pos, self._entry_rect.size = self.pos, self.size

    def pick_mm(self, x_mm: float, y_mm: float):
        """While the workbench wants the skin (placing an entry, dragging one, the entry map
        shown), the skin under the finger, however translucent it is drawn; else the kiosk's
        pick (what is drawn there)."""
        wb = self.workbench
        wants_skin = (
            wb is not None
            and wb.skin is not None
            and (
                wb.tool == "place-entry"
                or wb.entry_scores is not None
                or (wb.grabbed is not None and wb.grabbed[1] == "entry")
            )
        )
        if wants_skin and self.camera is not None:
            w, h = self._pixel_size()
            ppm = self._px_per_mm
            origin, direction = self.camera.ray(x_mm * ppm, h - y_mm * ppm, w, h)
            hit = wb.skin.first_hit(origin, direction)
            if hit is not None:
                return Pick(wb.skin_id, tuple(float(v) for v in hit), "Skin")
        return super().pick_mm(x_mm, y_mm)

    def _ends_on_screen(self):
        """(trajectory id, end, pixel x, pixel y from the top) of every path end in front."""
        cam, (w, h) = self.camera, self._pixel_size()
        out = []
        for t in self.workbench.plan.trajectories:
            pts = cam.project(np.array([t.entry, t.target]), w, h)
            for end, (x, y, depth) in zip(("entry", "target"), pts, strict=True):
                if depth > 0:
                    out.append((t.id, end, float(x), float(y)))
        return out

    def on_touch_down(self, touch):
        wb = self.workbench
        if wb is None or self.camera is None or not self.collide_point(*touch.pos):
            return super().on_touch_down(touch)
        tx, ty = touch.x - self.x, self.top - touch.y  # pixels, top-left origin
        best, grab = 6.0 * self._px_per_mm, None
        for tid, end, x, y in self._ends_on_screen():
            d = float(np.hypot(x - tx, y - ty))
            if d < best:
                best, grab = d, (tid, end)
        if grab is None:
            return super().on_touch_down(touch)
        wb.grab(*grab)
        touch.grab(self)
        touch.ud[self] = "drag"
        return True

    def on_touch_move(self, touch):
        if touch.grab_current is not self or touch.ud.get(self) != "drag":
            return super().on_touch_move(touch)
        wb = self.workbench
        tid, end = wb.grabbed or (None, None)
        if tid is None:
            return True
        ppm = self._px_per_mm
        if end == "entry" and wb.skin_id is not None:
            pick = self.pick_mm((touch.x - self.x) / ppm, (touch.y - self.y) / ppm)
            if pick is not None and pick.kind == "structure" and pick.id == wb.skin_id:
                wb.drag_to(pick.point)  # stays on the skin
            return True
        w, h = self._pixel_size()
        origin, direction = self.camera.ray(touch.x - self.x, self.top - touch.y, w, h)
        p0 = np.asarray(getattr(wb.plan.trajectory(tid), end))
        n = self.camera.forward
        denom = float(np.dot(direction, n))
        if abs(denom) > 1e-9:
            s = float(np.dot(p0 - origin, n)) / denom
            wb.drag_to(tuple(float(v) for v in origin + s * direction))
        return True

    def on_touch_up(self, touch):
        if touch.grab_current is not self or touch.ud.get(self) != "drag":
            return super().on_touch_up(touch)
        touch.ungrab(self)
        self.workbench.release()
        return True
