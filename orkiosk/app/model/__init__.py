"""The kiosk's model: what it shows, as plain objects that announce typed changes (no Kivy).

    state = KioskState()
    state.subscribe(handler)          # handler(event) for each real change (events.py)
    state.offer(package, prepare)     # the display rules (plans.py)
    state.set_view(TrajectoryView("t1"))
    state.changes                     # a newer version of the case: what changed (changes.py)
    state.handle_gestures(commands, pick=renderer_pick)

Widgets (app/views/view3d.py, app/kiosk/app.py) copy values out and call methods; readouts.py turns the
model into text.
"""

from orkiosk.app.model import events
from orkiosk.app.model.changes import ChangeTracker
from orkiosk.app.model.plans import Offer, judge, patient_key
from orkiosk.app.model.state import KioskState
from orkiosk.app.model.values import (
    CUT_PLANES,
    DEFAULT_VIEW,
    MODES,
    OPACITY_STEPS,
    TRAJECTORY_CUTS,
    ActiveView,
    Cut,
    NamedView,
    Pick,
    PlanViewRef,
    TrajectoryView,
)
from orkiosk.app.model.viewing import apply_gesture, camera_for_view

__all__ = [
    "CUT_PLANES",
    "DEFAULT_VIEW",
    "MODES",
    "OPACITY_STEPS",
    "TRAJECTORY_CUTS",
    "ActiveView",
    "ChangeTracker",
    "Cut",
    "KioskState",
    "NamedView",
    "Offer",
    "Pick",
    "PlanViewRef",
    "TrajectoryView",
    "apply_gesture",
    "camera_for_view",
    "events",
    "judge",
    "patient_key",
]
