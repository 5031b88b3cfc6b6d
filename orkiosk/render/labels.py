"""Where the UI may draw text labels: structures (at their anchor), trajectory entry and target
points, landmarks; projected to screen pixels, origin top-left (no GL)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orkiosk.render.camera import Camera
from orkiosk.render.state import DisplayState


@dataclass(frozen=True)
class Label:
    """Where the UI may draw a text label: pixel (x, y), origin top-left."""

    kind: str  # "structure", "entry", "target" or "landmark"
    id: str
    text: str
    x: float
    y: float
    depth: float  # mm in front of the eye
    on_screen: bool  # in front of the eye and inside the viewport


def scene_labels(scene, camera: Camera, width: int, height: int, state: DisplayState) -> list:
    """Labels of what `state` shows, in a width x height view."""
    items: list[tuple[str, str, str, np.ndarray]] = []
    for st, s in zip(scene.structures, scene.plan.structures, strict=True):
        if state.is_visible(s):
            items.append(("structure", s.id, s.name, st.anchor))
    if state.show_trajectories:
        for t in scene.plan.trajectories:
            if t.id in state.hidden_trajectories:
                continue
            items.append(("entry", t.id, t.name, np.asarray(t.entry, dtype=np.float64)))
            items.append(("target", t.id, t.name, np.asarray(t.target, dtype=np.float64)))
    if state.show_landmarks:
        for m in scene.plan.landmarks:
            items.append(("landmark", m.id, m.name, np.asarray(m.position, dtype=np.float64)))
    if not items:
        return []
    pts = camera.project(np.array([i[3] for i in items]), width, height)
    out = []
    for (kind, oid, text, _p), (px, py, depth) in zip(items, pts, strict=True):
        on = bool(depth > 0 and 0 <= px <= width and 0 <= py <= height)
        out.append(Label(kind, oid, text, float(px), float(py), float(depth), on))
    return out
