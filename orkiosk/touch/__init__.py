"""Gestures from raw touches: pure maths, no Kivy (stdlib, plus numpy for synthetic input).

    rec = GestureRecognizer(GestureSettings.from_mapping(config.get("gestures", {})))
    for command in rec.feed(TouchEvent("down", touch.uid, x_mm, y_mm, time.monotonic())):
        ...  # Rotate / Zoom / Pan / Roll / Tap / DoubleTap / LongPress / DragStart / Drag / DragEnd
    rec.tick(time.monotonic())  # from a clock: long press, delayed Tap, lost touches

See events.py for the units and the meaning of every command, settings.py for the thresholds.
"""

from orkiosk.touch.events import (
    Command,
    DoubleTap,
    Drag,
    DragEnd,
    DragStart,
    LongPress,
    Pan,
    Roll,
    Rotate,
    Tap,
    TouchEvent,
    Zoom,
)
from orkiosk.touch.recognizer import GestureRecognizer
from orkiosk.touch.settings import GestureSettings, GestureSettingsError

__all__ = [
    "Command",
    "DoubleTap",
    "Drag",
    "DragEnd",
    "DragStart",
    "GestureRecognizer",
    "GestureSettings",
    "GestureSettingsError",
    "LongPress",
    "Pan",
    "Roll",
    "Rotate",
    "Tap",
    "TouchEvent",
    "Zoom",
]
