"""Cameras for the kiosk's views and the gesture-to-camera maths: pure functions, no Kivy.

The touch recogniser (orkiosk.touch) speaks millimetres on the screen with y up; the camera
(orkiosk.render.camera) speaks pixels with y down. This module is where the two meet (render
and touch may not import each other), so the widget only converts Kivy touches to TouchEvents.
"""

from __future__ import annotations

import numpy as np

from orkiosk.app.model.values import ActiveView, NamedView, PlanViewRef, TrajectoryView
from orkiosk.plan.model import Plan
from orkiosk.render.camera import Camera
from orkiosk.touch import Command, Pan, Roll, Rotate, Zoom

CAMERA_GESTURES = (Rotate, Zoom, Pan, Roll)


def camera_for_view(view: ActiveView, plan: Plan, bounds, aspect: float) -> Camera:
    """The fitted camera of a view of `plan`; KeyError for a view or trajectory it lacks."""
    if isinstance(view, NamedView):
        return Camera.named(view.name, bounds, aspect)
    if isinstance(view, PlanViewRef):
        for v in plan.views:
            if v.id == view.view_id:
                return Camera.from_view(v, bounds, aspect)
        raise KeyError(f"the plan has no view {view.view_id!r}")
    if isinstance(view, TrajectoryView):
        t = plan.trajectory(view.trajectory_id)
        make = Camera.perpendicular if view.side else Camera.probe
        return make(t.entry, t.target, bounds, aspect)
    raise TypeError(f"not a view: {view!r}")


def probe_trajectory(view: ActiveView) -> str | None:
    """The trajectory whose probe's eye the view is (its tube is then hidden)."""
    if isinstance(view, TrajectoryView) and not view.side:
        return view.trajectory_id
    return None


def apply_gesture(
    camera: Camera, command: Command, viewport_px: tuple[int, int], px_per_mm: float
) -> Camera:
    """The camera after a recogniser command (a new object; other commands change nothing).

    Rotate turns the scene with the finger, Zoom magnifies about the fingers' centroid (which
    stays put), Pan moves the scene with the fingers, Roll turns the picture with a
    counter-clockwise twist counter-clockwise."""
    w, h = viewport_px
    cam = camera.copy()
    if isinstance(command, Rotate):
        cam.turn(command.dx_deg, command.dy_deg)
    elif isinstance(command, Zoom):
        anchor = (command.cx * px_per_mm, h - command.cy * px_per_mm)  # y up -> y down
        cam.zoom(command.factor, anchor=anchor, width=w, height=h)
    elif isinstance(command, Pan):
        cam.pan(command.dx_mm * px_per_mm, -command.dy_mm * px_per_mm, w, h)
    elif isinstance(command, Roll):
        cam.roll(-command.angle_deg)  # Camera.roll turns clockwise
    return cam


def same_camera(a: Camera | None, b: Camera | None) -> bool:
    if a is None or b is None:
        return a is b
    return (
        a.distance == b.distance
        and a.fov_y == b.fov_y
        and a.orthographic == b.orthographic
        and np.array_equal(a.center, b.center)
        and np.array_equal(a.rotation, b.rotation)
    )


def screen_mm_to_world_mm(camera: Camera, mm: float, viewport_px, px_per_mm: float) -> float:
    """Millimetres in the scene (at the orbit centre) that `mm` of finger travel covers."""
    return mm * px_per_mm * camera.mm_per_pixel(viewport_px[1])
