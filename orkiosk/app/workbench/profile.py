"""The clearance profile beside the views: distance from the selected path to the nearest critical
structure against depth (entry on the left, target on the right), the safety margin as a red
line, the minimum marked. A tap moves the across view to that depth (on the minimum's marker: to
the minimum exactly)."""

from __future__ import annotations

import numpy as np
from kivy.graphics import Color, Ellipse, InstructionGroup, Line, Rectangle
from kivy.metrics import mm
from kivy.properties import ObjectProperty
from kivy.uix.widget import Widget

MIN_TOP_MM = 15.0  # the graph shows at least 0..15 mm of clearance
SNAP_MM = 5.0  # screen mm around the minimum's marker that snap to it


class ClearanceProfile(Widget):
    workbench = ObjectProperty(None, allownone=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._g = InstructionGroup()
        self.canvas.add(self._g)
        self.bind(pos=self.redraw, size=self.redraw)

    def _scale(self):
        r = self.workbench.readout if self.workbench is not None else None
        if r is None or r.length <= 0:
            return None
        prof = r.clearance
        finite = prof.distances[np.isfinite(prof.distances)]
        top = max(MIN_TOP_MM, 2.5 * r.margin, float(finite.max()) if finite.size else 0.0)
        pad = mm(3)
        x0, y0 = self.x + pad, self.y + pad
        w, h = max(1.0, self.width - 2 * pad), max(1.0, self.height - 2 * pad)
        return r, top, x0, y0, w, h

    def redraw(self, *_):
        g = self._g
        g.clear()
        g.add(Color(0.09, 0.1, 0.12, 1))
        g.add(Rectangle(pos=self.pos, size=self.size))
        s = self._scale()
        if s is None:
            return
        r, top, x0, y0, w, h = s
        prof = r.clearance

        def xy(depth, dist):
            return x0 + depth / r.length * w, y0 + min(dist, top) / top * h

        g.add(Color(0.35, 0.38, 0.42, 1))
        g.add(Line(points=[x0, y0, x0 + w, y0], width=1))
        my = xy(0, r.margin)[1]
        g.add(Color(0.95, 0.2, 0.2, 0.25))
        g.add(Rectangle(pos=(x0, y0), size=(w, my - y0)))
        g.add(Color(0.95, 0.25, 0.25, 1))
        g.add(Line(points=[x0, my, x0 + w, my], width=1.5, dash_length=6, dash_offset=4))
        pts = []
        for d, c in zip(prof.depths, prof.distances, strict=True):
            if np.isfinite(c):
                pts += xy(float(d), float(c))
        if len(pts) >= 4:
            g.add(Color(0.55, 0.85, 1.0, 1))
            g.add(Line(points=pts, width=2))
        c = r.closest
        if c is not None:
            cx, cy = xy(c.depth, c.distance)
            rad = mm(1.6)
            g.add(Color(1, 0.3, 0.3, 1) if c.distance < r.margin else Color(1, 0.85, 0.2, 1))
            g.add(Ellipse(pos=(cx - rad, cy - rad), size=(2 * rad, 2 * rad)))
        depth = self.workbench.depth
        if depth is not None:
            g.add(Color(1, 1, 1, 0.8))
            dx = xy(depth, 0)[0]
            g.add(Line(points=[dx, y0, dx, y0 + h], width=1.2))

    def on_touch_down(self, touch):
        s = self._scale() if self.collide_point(*touch.pos) else None
        if s is None:
            return super().on_touch_down(touch)
        r, _top, x0, _y0, w, _h = s
        depth = (touch.x - x0) / w * r.length
        c = r.closest
        if c is not None and abs(touch.x - (x0 + c.depth / r.length * w)) < mm(SNAP_MM):
            depth = c.depth
        self.workbench.set_depth(depth)
        self.redraw()
        return True
