"""Names over the 3D view: trajectory targets, landmarks and the measure markers A and B, as
Kivy labels over the picture, placed by orkiosk.app.views.labelplace so that no two overlap and none
covers a marker or a named point.

Capitals >= 5 mm on the configured panel (Roboto Bold capitals are 0.71 em: 7.5 mm type gives
5.3 mm); the markers bigger.
"""

from __future__ import annotations

import numpy as np
from kivy.graphics import Color, InstructionGroup, Line
from kivy.uix.label import Label

from orkiosk.app.views.labelplace import Box, Wanted, place_labels

LABEL_FONT = "7.5mm"
MARKER_FONT = "9mm"


class ViewLabels:
    """The label widgets of one view (added to it as children) and their leader lines."""

    def __init__(self, view):
        self.view = view
        self.labels: dict[tuple[str, str], Label] = {}
        self.boxes: dict = {}  # key -> placed box in window pixels (for checks and tests)
        self._leaders: InstructionGroup | None = None

    def update(self, scene_labels, picks, camera, size, px_per_mm: float) -> None:
        """Place the labels for a picture of `size` just shown. scene_labels: the renderer's
        Labels (top-left origin); picks: the measure points (LPS mm)."""
        view = self.view
        w, h = size
        wanted = {}
        for i, p in enumerate(picks):  # markers first
            ((x, y, depth),) = camera.project(np.asarray([p.point]), w, h)
            if depth > 0:
                wanted[("pick", str(i))] = ("AB"[i], float(x), float(y))
        for kind in ("target", "landmark"):  # then targets, then landmarks
            for lab in scene_labels:
                if lab.kind == kind and lab.on_screen:
                    text = lab.text if kind == "landmark" else f"{lab.text} (target)"
                    wanted[(kind, lab.id)] = (text, lab.x, lab.y)
        for key in list(self.labels):
            if key not in wanted:
                view.remove_widget(self.labels.pop(key))
        for key, (text, _x, _y) in wanted.items():
            lab = self.labels.get(key)
            if lab is None:
                lab = Label(
                    font_size=MARKER_FONT if key[0] == "pick" else LABEL_FONT,
                    bold=True,
                    color=(1, 0.9, 0.3, 1) if key[0] == "pick" else (0.92, 0.95, 1, 1),
                    outline_width=3,
                    outline_color=(0, 0, 0, 1),
                    size_hint=(None, None),
                )
                self.labels[key] = lab
                view.add_widget(lab)
            if lab.text != text:  # rendering text is slow: only when it changes
                lab.text = text
                lab.texture_update()
                lab.size = lab.texture_size
        keys = list(wanted)
        placed = place_labels(
            [Wanted((x, h - y), tuple(self.labels[k].size)) for k, (_t, x, y) in wanted.items()],
            Box(0, 0, w, h),
            gap=px_per_mm * 2,
            margin=px_per_mm * 0.5,
            dot=px_per_mm * 1.5,
        )
        if self._leaders is None:
            self._leaders = InstructionGroup()
            view.canvas.after.add(self._leaders)
        leaders = self._leaders
        leaders.clear()
        self.boxes = {}
        for key, spot in zip(keys, placed, strict=True):
            lab = self.labels[key]
            if spot is None:  # no room without covering another: left out, not piled up
                lab.opacity = 0
                continue
            lab.opacity = 1
            lab.pos = (float(view.x + spot.box.x), float(view.y + spot.box.y))
            self.boxes[key] = (lab.x, lab.y, lab.width, lab.height)
            if spot.leader:
                _t, x, y = wanted[key]  # to the nearest point of the box: never over the text
                b = spot.box
                bx, by = min(max(x, b.x), b.x + b.w), min(max(h - y, b.y), b.y + b.h)
                leaders.add(Color(0.92, 0.95, 1, 0.85))
                leaders.add(
                    Line(points=[view.x + x, view.y + h - y, view.x + bx, view.y + by], width=1.5)
                )
