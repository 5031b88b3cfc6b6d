"""The gesture state machine: touch events in, camera / mode commands out.

States (``_state``):

- IDLE: no usable finger.
- ONE: one finger down, still within the tap slop (a tap or long press candidate).
- DRAG: one finger dragging: emits Rotate (``one_finger="rotate"``) or DragStart/Drag/DragEnd
  (``one_finger="drag"``, for the cut plane and similar modes; latched when the drag starts).
- TWO: two fingers down; Pan / Zoom / Roll components switch on one by one as each exceeds its
  threshold since the second finger came down, and then follow every change (so the totals of
  the emitted commands equal the fingers' total motion).
- IGNORE: a palm (too many contacts, too large a contact), a long press that was reported, or the
  end of a two-finger gesture: every contact is ignored until all have lifted.

Bad events (unknown kind, non-finite or absurd coordinates, a move or up for an unknown id) are
dropped; a duplicate down cancels the old touch of that id. Every finger position used is the
dead-band filtered one (``GestureSettings.jitter_mm``).
"""

from __future__ import annotations

import math

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
from orkiosk.touch.settings import GestureSettings

IDLE, ONE, DRAG, TWO, IGNORE = "idle", "one", "drag", "two", "ignore"
ONE_FINGER_MODES = ("rotate", "drag")

_COORD_LIMIT = 1.0e5  # mm; anything further is a driver error (and would overflow the maths)
_MAX_TRACKED = 16  # contacts remembered at once; beyond this the stalest is forgotten
_FOLLOW = 0.5  # once out of the dead band, the filtered point closes in to this part of it


class _Touch:
    __slots__ = ("x0", "y0", "fx", "fy", "t_down", "t_last", "far", "outside")

    def __init__(self, x: float, y: float, t: float) -> None:
        self.x0 = self.fx = x
        self.y0 = self.fy = y
        self.t_down = self.t_last = t
        self.far = 0.0  # greatest filtered distance from (x0, y0) so far
        self.outside = False  # the previous sample lay outside the dead band


class GestureRecognizer:
    """Turns TouchEvents into gesture commands.

    ``feed(event)`` for every touch event, ``tick(now)`` from a clock (a few times a second or every
    frame) so long presses, delayed taps and lost touches resolve without further events. Both
    return a list of commands in the order to apply them (within a two-finger event: Pan, Zoom,
    Roll).

    ``one_finger`` selects what a one-finger drag emits: "rotate" (Rotate) or "drag"
    (DragStart / Drag / DragEnd, e.g. in cut mode); a change applies from the next drag.
    ``locked = True`` forgets every touch and drops all input until unlocked.
    """

    def __init__(self, settings: GestureSettings | None = None, *, one_finger: str = "rotate"):
        self.settings = settings if settings is not None else GestureSettings()
        self.one_finger = one_finger
        self._locked = False
        self.reset()

    # --- public -----------------------------------------------------------------------------

    @property
    def one_finger(self) -> str:
        return self._one_finger

    @one_finger.setter
    def one_finger(self, mode: str) -> None:
        if mode not in ONE_FINGER_MODES:
            raise ValueError(f"one_finger must be one of {ONE_FINGER_MODES}, got {mode!r}")
        self._one_finger = mode

    @property
    def locked(self) -> bool:
        return self._locked

    @locked.setter
    def locked(self, value: bool) -> None:
        if value and not self._locked:
            self.reset()
        self._locked = bool(value)

    @property
    def state(self) -> str:
        """One of "idle", "one", "drag", "two", "ignore" (for diagnostics and tests)."""
        return self._state

    @property
    def touch_count(self) -> int:
        """Contacts currently tracked, ignored ones included."""
        return len(self._touches)

    def reset(self) -> None:
        """Forget every touch and pending tap; emits nothing. Fingers still down are ignored."""
        self._touches: dict[int | str, _Touch] = {}
        self._state = IDLE
        self._now = -math.inf
        self._hold_until = -math.inf  # no gesture may start before this (settle_s)
        self._pending_tap: tuple[float, float, float] | None = None  # x, y, t_up
        self._second_tap = False  # the ONE touch may complete a double tap
        self._lp_possible = False
        self._drag_mode = "rotate"
        self._drag_touch: _Touch | None = None
        self._two: _TwoFinger | None = None

    def feed(self, event: TouchEvent) -> list[Command]:
        """Process one touch event (its time also drives the timers); never raises on bad input."""
        out: list[Command] = []
        if self._locked:
            return out
        kind = event.kind
        tid = event.id
        try:
            x = float(event.x)
            y = float(event.y)
            t = float(event.t)
            ok = abs(x) <= _COORD_LIMIT and abs(y) <= _COORD_LIMIT  # False for NaN
            hash(tid)
        except (TypeError, ValueError, OverflowError):
            return out
        if math.isfinite(t):
            if t > self._now:
                self._now = t
        elif kind != "up":
            return out
        now = self._now
        if now == -math.inf:
            return out
        self._advance(now, out)

        if kind == "move":
            touch = self._touches.get(tid)
            if touch is not None:
                if _is_palm(event.area_mm2, self.settings):
                    touch.t_last = now
                    if self._state != IGNORE:
                        self._palm(out)
                elif ok:
                    self._move(touch, x, y, now, out)
        elif kind == "down":
            if ok:
                if tid in self._touches:
                    self._release(tid, now, out, cancelled=True)
                self._down(tid, x, y, now, event.area_mm2, out)
        elif kind == "up":
            touch = self._touches.get(tid)
            if touch is not None:
                if ok:
                    self._move(touch, x, y, now, out, final=True)
                self._release(tid, now, out, cancelled=False)
        return out

    def tick(self, t: float) -> list[Command]:
        """Advance the clock to ``t``: long presses, taps whose double-tap window closed, and
        touches not updated for ``stale_after_s`` (dropped, as if lifted without a tap)."""
        out: list[Command] = []
        if self._locked or not math.isfinite(t):
            return out
        if t > self._now:
            self._now = t
        if self._now != -math.inf:
            self._advance(self._now, out)
        return out

    # --- time ---------------------------------------------------------------------------------

    def _advance(self, now: float, out: list[Command]) -> None:
        s = self.settings
        if self._touches:
            stale = [
                tid for tid, tch in self._touches.items() if now - tch.t_last > s.stale_after_s
            ]
            for tid in stale:
                self._release(tid, now, out, cancelled=True)
        state = self._state
        if state == ONE:
            ((tid, touch),) = self._touches.items()
            if self._lp_possible and now - touch.t_down >= s.long_press_s:
                self._flush_tap(out)
                out.append(LongPress(touch.x0, touch.y0))
                self._state = IGNORE
            elif touch.far > s.tap_slop_mm and now >= self._hold_until:
                self._start_drag(touch, out)
        elif state == TWO and not self._two.started and now >= self._hold_until:
            self._two.update(out)
        # A pending tap waits for a possible second tap, and for settle_s after any other finger
        # lands (so that a palm touching lightly first leaves no Tap behind).
        if (
            self._pending_tap is not None
            and not (state == ONE and self._second_tap)
            and (
                now - self._pending_tap[2] > s.double_tap_s
                or (state in (ONE, TWO) and now >= self._hold_until)
            )
        ):
            self._flush_tap(out)

    # --- contacts -----------------------------------------------------------------------------

    def _down(self, tid, x: float, y: float, now: float, area, out: list[Command]) -> None:
        s = self.settings
        if len(self._touches) >= _MAX_TRACKED:
            oldest = min(self._touches, key=lambda k: self._touches[k].t_last)
            self._release(oldest, now, out, cancelled=True)
        touch = _Touch(x, y, now)
        self._touches[tid] = touch
        self._hold_until = now + s.settle_s
        if _is_palm(area, s) or len(self._touches) > s.max_fingers:
            self._palm(out)
            return
        state = self._state
        if state == IDLE:
            self._state = ONE
            self._lp_possible = True
            pending = self._pending_tap
            self._second_tap = (
                pending is not None
                and now - pending[2] <= s.double_tap_s
                and math.hypot(x - pending[0], y - pending[1]) <= s.double_tap_mm
            )
        elif state in (ONE, DRAG):
            (other,) = (v for k, v in self._touches.items() if k != tid)
            self._second_tap = False
            if state == DRAG:
                self._end_drag(other, out, cancelled=False)
            self._state = TWO
            self._two = _TwoFinger(self, other, touch)
        # TWO cannot get here (a third contact is a palm); IGNORE just tracks the contact.

    def _move(
        self, touch: _Touch, x: float, y: float, now: float, out: list[Command], final: bool = False
    ) -> None:
        """Dead-band filter. The filtered point stays put until the finger lies further than
        jitter_mm from it on two samples in a row (a lone spike moves nothing; the lift's sample
        always counts), then closes in to half that distance: resting jitter within about
        +-jitter_mm/2 stops producing anything, and a moving finger is trailed by jitter_mm/2
        (up to jitter_mm when it moves slower than that per sample)."""
        touch.t_last = now
        dx = x - touch.fx
        dy = y - touch.fy
        d = math.hypot(dx, dy)
        jitter = self.settings.jitter_mm
        if d <= jitter:
            touch.outside = False
            return
        if not (touch.outside or final or jitter == 0):
            touch.outside = True
            return
        k = (d - jitter * _FOLLOW) / d
        px, py = touch.fx, touch.fy
        touch.fx = px + dx * k
        touch.fy = py + dy * k
        far = math.hypot(touch.fx - touch.x0, touch.fy - touch.y0)
        if far > touch.far:
            touch.far = far
        state = self._state
        if state == ONE:
            s = self.settings
            if touch.far > s.long_press_slop_mm:
                self._lp_possible = False
            if touch.far > s.tap_slop_mm and now >= self._hold_until:
                self._start_drag(touch, out)
        elif state == DRAG:
            self._emit_drag(touch, touch.fx - px, touch.fy - py, out)
        elif state == TWO and now >= self._hold_until:
            self._two.update(out)

    def _release(self, tid, now: float, out: list[Command], *, cancelled: bool) -> None:
        touch = self._touches.pop(tid)
        state = self._state
        if state == ONE:
            self._state = IDLE
            if cancelled or touch.far > self.settings.tap_slop_mm:  # lost, or a sub-settle flick
                self._flush_tap(out)
            elif self._second_tap:
                x, y, _ = self._pending_tap
                self._pending_tap = None
                out.append(DoubleTap(x, y))
            else:
                self._flush_tap(out)
                self._pending_tap = (touch.x0, touch.y0, now)
        elif state == DRAG:
            self._end_drag(touch, out, cancelled=cancelled)
            self._state = IDLE
        elif state == TWO:
            self._two = None
            self._state = IGNORE  # the other finger must not start a rotation
        if not self._touches:
            self._state = IDLE

    def _palm(self, out: list[Command]) -> None:
        """Cancel whatever was going on; ignore every contact until all have lifted."""
        if self._state == DRAG:
            self._end_drag(self._drag_touch, out, cancelled=True)
        self._pending_tap = None  # a palm often touches lightly first: that was no tap
        self._two = None
        self._state = IGNORE

    # --- one finger ---------------------------------------------------------------------------

    def _start_drag(self, touch: _Touch, out: list[Command]) -> None:
        self._flush_tap(out)
        self._state = DRAG
        self._drag_touch = touch
        self._drag_mode = self._one_finger
        if self._drag_mode == "drag":
            out.append(DragStart(touch.x0, touch.y0))
        self._emit_drag(touch, touch.fx - touch.x0, touch.fy - touch.y0, out)

    def _emit_drag(self, touch: _Touch, dx: float, dy: float, out: list[Command]) -> None:
        if self._drag_mode == "rotate":
            gain = self.settings.rotate_deg_per_mm
            out.append(Rotate(dx * gain, dy * gain))
        else:
            out.append(Drag(touch.fx, touch.fy, dx, dy))

    def _end_drag(self, touch: _Touch, out: list[Command], *, cancelled: bool) -> None:
        if self._drag_mode == "drag":
            out.append(DragEnd(touch.fx, touch.fy, cancelled))

    def _flush_tap(self, out: list[Command]) -> None:
        if self._pending_tap is not None:
            x, y, _ = self._pending_tap
            out.append(Tap(x, y))
            self._pending_tap = None
            self._second_tap = False


class _TwoFinger:
    """Pan / Zoom / Roll of two filtered fingers, each with its own start threshold.

    Each component compares against the reference taken when the second finger came down; once
    it exceeds its threshold it switches on (for the rest of the gesture) and emits everything
    since the reference, then every further change.
    """

    __slots__ = (
        "s",
        "a",
        "b",
        "cx0",
        "cy0",
        "span0",
        "pan_x",
        "pan_y",
        "zoom_span",
        "raw_angle",
        "last_span",
        "turn",
        "rolled",
        "pan",
        "zoom",
        "roll",
        "started",
    )

    def __init__(self, rec: GestureRecognizer, a: _Touch, b: _Touch) -> None:
        self.s = rec.settings
        self.a, self.b = a, b
        cx, cy, span, raw_angle = self._measure()
        self.cx0, self.cy0, self.span0 = cx, cy, span  # reference
        self.pan_x, self.pan_y, self.zoom_span = cx, cy, span  # last emitted
        self.raw_angle, self.last_span = raw_angle, span
        self.turn = self.rolled = 0.0  # radians since the reference, and of it emitted
        self.pan = self.zoom = self.roll = self.started = False

    def _measure(self) -> tuple[float, float, float, float]:
        a, b = self.a, self.b
        dx = b.fx - a.fx
        dy = b.fy - a.fy
        return (a.fx + b.fx) * 0.5, (a.fy + b.fy) * 0.5, math.hypot(dx, dy), math.atan2(dy, dx)

    def update(self, out: list[Command]) -> None:
        s = self.s
        cx, cy, span, raw_angle = self._measure()
        if span >= s.min_span_mm and self.last_span >= s.min_span_mm:
            turn = raw_angle - self.raw_angle
            if turn > math.pi:
                turn -= 2.0 * math.pi
            elif turn < -math.pi:
                turn += 2.0 * math.pi
            self.turn += turn
        # else: too close together to trust the direction; resume from the next direction.
        self.raw_angle, self.last_span = raw_angle, span

        if not self.pan and math.hypot(cx - self.cx0, cy - self.cy0) >= s.pan_start_mm:
            self.pan = True
        if not self.zoom and abs(span - self.span0) >= s.pinch_start_mm:
            self.zoom = True
        if not self.roll and abs(math.degrees(self.turn)) >= s.twist_start_deg:
            self.roll = True
        self.started = self.pan or self.zoom or self.roll

        if self.pan and (cx != self.pan_x or cy != self.pan_y):
            out.append(Pan(cx - self.pan_x, cy - self.pan_y))
            self.pan_x, self.pan_y = cx, cy
        if self.zoom and span != self.zoom_span:
            m = s.min_span_mm
            out.append(Zoom(max(span, m) / max(self.zoom_span, m), cx, cy))
            self.zoom_span = span
        if self.roll and self.turn != self.rolled:
            out.append(Roll(math.degrees(self.turn - self.rolled)))
            self.rolled = self.turn


def _is_palm(area, s: GestureSettings) -> bool:
    # None (unknown), NaN and non-numbers give False; +inf is a palm.
    try:
        return area is not None and bool(area > s.max_contact_area_mm2)
    except (TypeError, ValueError):
        return False
