"""Plain-data touch input and the commands the recogniser emits.

Coordinates are millimetres on the screen, origin bottom-left, y up (Kivy's convention); the app
converts from pixels with the screen's DPI so that every threshold is physical. Times are seconds
on one monotonic clock shared by ``feed`` and ``tick`` (Kivy stamps touches with ``time.time()``
but its Clock with a monotonic clock: stamp both yourself, e.g. with ``time.monotonic()``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TouchKind = Literal["down", "move", "up"]


@dataclass(frozen=True, slots=True)
class TouchEvent:
    """One touch sample. ``area_mm2`` is the contact area when the device reports it."""

    kind: TouchKind
    id: int | str
    x: float
    y: float
    t: float
    area_mm2: float | None = None


# --- Commands -------------------------------------------------------------------------------
# Small frozen values; the app maps them onto the camera or the current mode.


@dataclass(frozen=True, slots=True)
class Rotate:
    """One-finger drag in ``one_finger="rotate"`` mode (trackball style).

    The model turns so that the surface under the finger follows it: ``dx_deg`` towards the
    screen's right, ``dy_deg`` towards the screen's top (the same signs as the finger's motion,
    scaled by ``GestureSettings.rotate_deg_per_mm``). Yaw is about the screen's vertical axis,
    pitch about its horizontal axis.
    """

    dx_deg: float
    dy_deg: float


@dataclass(frozen=True, slots=True)
class Zoom:
    """Two-finger pinch: multiply the magnification by ``factor`` (> 1: fingers spread, closer)
    about the fingers' centroid ``(cx, cy)`` in mm."""

    factor: float
    cx: float
    cy: float


@dataclass(frozen=True, slots=True)
class Pan:
    """Two-finger drag: the centroid moved by ``(dx_mm, dy_mm)`` (y up)."""

    dx_mm: float
    dy_mm: float


@dataclass(frozen=True, slots=True)
class Roll:
    """Two-finger twist about the screen normal, counter-clockwise positive (y up)."""

    angle_deg: float


@dataclass(frozen=True, slots=True)
class Tap:
    """A short touch that stayed within the tap slop, at the point it first touched.

    Emitted only once the double-tap interval has passed without a second tap, so a double tap
    never also gives Taps."""

    x: float
    y: float


@dataclass(frozen=True, slots=True)
class DoubleTap:
    """Two taps close in time and place (fit and reset), at the first tap's point."""

    x: float
    y: float


@dataclass(frozen=True, slots=True)
class LongPress:
    """A finger held still for ``long_press_s``, at the point it first touched. The touch is then
    consumed: nothing more comes from it (or from fingers added) until every finger has lifted."""

    x: float
    y: float


@dataclass(frozen=True, slots=True)
class DragStart:
    """``one_finger="drag"`` mode: a one-finger drag began at ``(x, y)`` (its first touch)."""

    x: float
    y: float


@dataclass(frozen=True, slots=True)
class Drag:
    """``one_finger="drag"`` mode: the finger is now at ``(x, y)``, moved ``(dx_mm, dy_mm)``."""

    x: float
    y: float
    dx_mm: float
    dy_mm: float


@dataclass(frozen=True, slots=True)
class DragEnd:
    """``one_finger="drag"`` mode: the drag ended at ``(x, y)``, by lifting or by a second finger
    coming down. ``cancelled`` is True when a palm or a lost touch ended it: the app may undo it.
    (``reset()`` and ``locked`` emit nothing: the app asked for them.)"""

    x: float
    y: float
    cancelled: bool = False


Command = Rotate | Zoom | Pan | Roll | Tap | DoubleTap | LongPress | DragStart | Drag | DragEnd
