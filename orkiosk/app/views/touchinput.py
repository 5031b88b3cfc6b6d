"""Kivy touches -> the gesture recogniser, for the kiosk's picture widgets (3D view, slice view).

A widget mixes GestureInput in before Widget, sets `recognizer` (orkiosk.touch) and
`_px_per_mm`, and defines `_apply(commands)`. Touches become TouchEvents in millimetres from the
widget's bottom-left corner, with the contact area when the driver reports a shape (so a palm
or forearm is recognised as one); the widget grabs what it accepts, so the gesture stays its own
when a finger slides off it.
"""

from __future__ import annotations

import math
import time

from orkiosk.touch import TouchEvent


class GestureInput:
    def accepts_touches(self) -> bool:
        """Whether the widget takes touches now (e.g. it shows something)."""
        return True

    def _event(self, kind: str, touch) -> TouchEvent:
        ppm = self._px_per_mm
        x, y = (touch.x - self.x) / ppm, (touch.y - self.y) / ppm
        area = None
        shape = getattr(touch, "shape", None)
        if shape is not None and hasattr(shape, "width"):
            area = math.pi / 4 * (shape.width / ppm) * (shape.height / ppm)
        return TouchEvent(kind, touch.uid, x, y, time.monotonic(), area)

    def on_touch_down(self, touch):
        if (
            not self.collide_point(*touch.pos)
            or getattr(touch, "is_mouse_scrolling", False)
            or not self.accepts_touches()
        ):
            return super().on_touch_down(touch)
        touch.grab(self)
        self._apply(self.recognizer.feed(self._event("down", touch)))
        return True

    def on_touch_move(self, touch):
        if touch.grab_current is not self:
            return super().on_touch_move(touch)
        self._apply(self.recognizer.feed(self._event("move", touch)))
        return True

    def on_touch_up(self, touch):
        if touch.grab_current is not self:
            return super().on_touch_up(touch)
        touch.ungrab(self)
        self._apply(self.recognizer.feed(self._event("up", touch)))
        return True
