"""GestureRecognizer on synthetic touch sequences (mm, seconds, y up)."""

import math

import numpy as np
import pytest

from orkiosk.touch import (
    DoubleTap,
    Drag,
    DragEnd,
    DragStart,
    GestureRecognizer,
    GestureSettings,
    LongPress,
    Roll,
    Rotate,
    Tap,
    TouchEvent,
    Zoom,
    synth,
)

S = GestureSettings()
J = S.jitter_mm  # the dead band
LAG = J / 2  # in steady motion the filtered point trails the finger by half the dead band
GAIN = S.rotate_deg_per_mm


def run(events, rec=None, *, tail=2.0):
    """Feed every event, then tick ``tail`` s after the last; return all commands."""
    rec = rec if rec is not None else GestureRecognizer()
    out = []
    for event in events:
        out += rec.feed(event)
    out += rec.tick(events[-1].t + tail)
    return out


def of(commands, kind):
    return [c for c in commands if isinstance(c, kind)]


def kinds(commands):
    return {type(c).__name__ for c in commands}


def rng(seed=1):
    return np.random.default_rng(seed)


# --- one finger -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("end", "sign"),
    [((140, 100), (1, 0)), ((60, 100), (-1, 0)), ((100, 140), (0, 1)), ((100, 60), (0, -1))],
)
def test_one_finger_drag_rotates_with_the_finger(end, sign):
    out = run(synth.drag(1, (100, 100), end, 0.0))
    assert kinds(out) == {"Rotate"}
    dx = sum(c.dx_deg for c in out)
    dy = sum(c.dy_deg for c in out)
    # 40 mm at 0.5 deg/mm, less the filter's lag of at most jitter_mm.
    assert dx == pytest.approx(sign[0] * GAIN * (40 - LAG), abs=1e-6)
    assert dy == pytest.approx(sign[1] * GAIN * (40 - LAG), abs=1e-6)


def test_noisy_diagonal_drag_magnitude_and_direction():
    out = run(synth.drag(1, (50, 50), (110, 130), 0.0, steps=60, noise=0.7, rng=rng()))
    assert kinds(out) == {"Rotate"}
    dx = sum(c.dx_deg for c in out)
    dy = sum(c.dy_deg for c in out)
    assert dx == pytest.approx(GAIN * 60, abs=GAIN * 2.0)
    assert dy == pytest.approx(GAIN * 80, abs=GAIN * 2.0)


def test_rotation_gain_comes_from_settings():
    rec = GestureRecognizer(GestureSettings(rotate_deg_per_mm=1.0, jitter_mm=0))
    out = run(synth.drag(1, (0, 0), (30, 0), 0.0), rec)
    assert sum(c.dx_deg for c in of(out, Rotate)) == pytest.approx(30.0)


def test_first_rotate_includes_the_slop_so_totals_are_exact():
    out = run(synth.drag(1, (0, 0), (20, 0), 0.0, duration=1.0, steps=40))
    first = of(out, Rotate)[0]
    assert first.dx_deg * 1 / GAIN > S.tap_slop_mm  # the travel within the slop is not lost


def test_fast_flick_waits_for_settle_then_delivers_everything():
    # The finger passes the slop 10 ms after touching, before settle_s has passed.
    events = synth.drag(1, (0, 0), (30, 0), 0.0, duration=0.1, steps=10)
    rec = GestureRecognizer()
    first = [rec.feed(e) for e in events[:2]]
    assert first == [[], []]
    out = [c for e in events[2:] for c in rec.feed(e)]
    assert sum(c.dx_deg for c in of(out, Rotate)) == pytest.approx(GAIN * (30 - LAG))


def test_resting_jitter_during_a_drag_soon_stops_producing_rotations():
    r = rng(2)
    events = synth.drag(1, (0, 0), (40, 0), 0.0, lift=False)
    t = events[-1].t
    hold = [
        TouchEvent("move", 1, 40 + a, b, t + 0.01 * (i + 1))
        for i, (a, b) in enumerate(r.uniform(-0.4, 0.4, (200, 2)))
    ]
    rec = GestureRecognizer()
    for e in events:
        rec.feed(e)
    outs = [rec.feed(e) for e in hold]
    held = [c for o in outs for c in o]
    assert sum(abs(c.dx_deg) + abs(c.dy_deg) for c in held) < GAIN * 2 * J
    # A few tiny corrections while the filter settles into the noise, not one per sample.
    assert sum(1 for o in outs if o) <= 6, "resting jitter must not stream tiny rotations"


def test_drag_mode_emits_start_drag_end():
    rec = GestureRecognizer(one_finger="drag")
    out = run(synth.drag(1, (10, 20), (10, 60), 0.0), rec)
    assert isinstance(out[0], DragStart) and (out[0].x, out[0].y) == (10, 20)
    drags = of(out, Drag)
    assert sum(d.dy_mm for d in drags) == pytest.approx(40 - LAG)
    assert drags[-1].y == pytest.approx(60 - LAG)
    assert out[-1] == DragEnd(drags[-1].x, drags[-1].y, cancelled=False)
    assert not of(out, Rotate)


def test_one_finger_mode_switch_applies_from_the_next_drag():
    rec = GestureRecognizer()
    events = synth.drag(1, (0, 0), (40, 0), 0.0)
    out = [c for e in events[:15] for c in rec.feed(e)]
    rec.one_finger = "drag"
    out += [c for e in events[15:] for c in rec.feed(e)]
    assert kinds(out) == {"Rotate"}
    out = run(synth.drag(2, (0, 0), (40, 0), 5.0), rec)
    assert kinds(out) == {"DragStart", "Drag", "DragEnd"}
    with pytest.raises(ValueError, match="one_finger"):
        rec.one_finger = "spin"


# --- taps and presses -----------------------------------------------------------------------


def test_jittery_tap_is_a_tap_and_never_rotates():
    # Glove noise well above the dead band but below the slop.
    out = run(synth.tap(1, 80, 90, 0.0, hold=0.2, steps=20, noise=2.5, rng=rng(3)))
    assert out == [Tap(80, 90)]


def test_tap_waits_for_the_double_tap_interval():
    rec = GestureRecognizer()
    events = synth.tap(1, 10, 10, 0.0)
    assert [c for e in events for c in rec.feed(e)] == []
    t_up = events[-1].t
    assert rec.tick(t_up + S.double_tap_s * 0.5) == []
    assert rec.tick(t_up + S.double_tap_s + 0.01) == [Tap(10, 10)]
    assert rec.tick(t_up + 5) == []


def test_double_tap_within_interval():
    events = synth.tap(1, 50, 50, 0.0) + synth.tap(2, 53, 49, 0.1 + 0.25)
    assert run(events) == [DoubleTap(50, 50)]


def test_slow_second_tap_gives_two_taps():
    second = 0.1 + S.double_tap_s + 0.1
    events = synth.tap(1, 50, 50, 0.0) + synth.tap(2, 51, 50, second)
    assert run(events) == [Tap(50, 50), Tap(51, 50)]


def test_distant_second_tap_gives_two_taps():
    events = synth.tap(1, 50, 50, 0.0) + synth.tap(2, 50 + S.double_tap_mm + 5, 50, 0.3)
    assert run(events) == [Tap(50, 50), Tap(50 + S.double_tap_mm + 5, 50)]


def test_tap_then_drag_gives_the_tap_before_the_rotation():
    events = synth.tap(1, 50, 50, 0.0) + synth.drag(2, (50, 50), (90, 50), 0.3)
    out = run(events)
    assert out[0] == Tap(50, 50)
    assert kinds(out[1:]) == {"Rotate"}


def test_long_press_driven_by_the_clock():
    rec = GestureRecognizer()
    assert rec.feed(TouchEvent("down", 7, 30, 40, 10.0)) == []
    assert rec.feed(TouchEvent("move", 7, 31.5, 40.5, 10.2)) == []
    assert rec.tick(10.0 + S.long_press_s * 0.9) == []
    assert rec.tick(10.0 + S.long_press_s + 0.01) == [LongPress(30, 40)]
    assert rec.tick(10.0 + S.long_press_s + 0.5) == []
    # Consumed: moving afterwards and lifting give nothing (no drag, no tap).
    assert rec.feed(TouchEvent("move", 7, 60, 40, 11.5)) == []
    assert rec.feed(TouchEvent("up", 7, 60, 40, 11.6)) == []
    assert rec.tick(13.0) == []


def test_long_press_from_events_alone_with_noise():
    out = run(synth.tap(1, 30, 40, 0.0, hold=1.5, steps=60, noise=2.0, rng=rng(4)), tail=0.0)
    assert out == [LongPress(30, 40)]


def test_finger_that_wanders_past_long_press_slop_is_no_long_press():
    events = synth.drag(1, (0, 0), (S.long_press_slop_mm + 1 + J, 0), 0.0, duration=0.3)
    rec = GestureRecognizer()
    out = [c for e in events[:-1] for c in rec.feed(e)]
    out += rec.tick(2.0)
    assert not of(out, LongPress)


# --- two fingers ----------------------------------------------------------------------------


@pytest.mark.parametrize(("span0", "span1"), [(50.0, 100.0), (100.0, 40.0)])
def test_pinch_zooms_by_the_ratio_of_finger_distances(span0, span1):
    out = run(synth.two_finger((1, 2), 0.0, center0=(150, 100), span0=span0, span1=span1))
    assert kinds(out) == {"Zoom"}  # a symmetric pinch neither pans nor rolls
    factor = math.prod(c.factor for c in out)
    lag = 2 * LAG if span1 > span0 else -2 * LAG  # both fingers lag by the dead band
    assert factor == pytest.approx((span1 - lag) / span0, rel=1e-9)
    assert (factor > 1) == (span1 > span0)  # spreading brings the model closer
    for c in out:  # the fingers move one after the other, each lagging by the dead band
        assert (c.cx, c.cy) == pytest.approx((150, 100), abs=J)


def test_noisy_pinch_factor():
    out = run(
        synth.two_finger(
            (1, 2), 0.0, center0=(150, 100), span0=60, span1=120, noise=0.6, rng=rng(5)
        )
    )
    assert math.prod(c.factor for c in of(out, Zoom)) == pytest.approx(2.0, rel=0.04)
    assert not of(out, Roll)


def test_two_finger_drag_pans_without_zoom_or_roll_jitter():
    out = run(
        synth.two_finger(
            (1, 2), 0.0, center0=(100, 100), span0=50, center1=(130, 80), noise=0.6, rng=rng(6)
        )
    )
    assert kinds(out) == {"Pan"}
    assert sum(c.dx_mm for c in out) == pytest.approx(30, abs=1.5)
    assert sum(c.dy_mm for c in out) == pytest.approx(-20, abs=1.5)


@pytest.mark.parametrize("turn", [45.0, -60.0, 200.0])
def test_twist_rolls_counter_clockwise_positive(turn):
    out = run(
        synth.two_finger(
            (1, 2),
            0.0,
            center0=(100, 100),
            span0=60,
            angle0_deg=170,
            angle1_deg=170 + turn,
            steps=60,
        )
    )
    assert kinds(out) == {"Roll"}
    # Each finger moves less than the dead band per sample here, so it may trail by all of it.
    lag = math.degrees(2 * math.asin(J / 2 / 30))
    assert sum(c.angle_deg for c in out) == pytest.approx(turn, abs=lag * 1.05)


def test_pinch_while_twisting_gives_both():
    out = run(
        synth.two_finger(
            (1, 2),
            0.0,
            center0=(100, 100),
            span0=50,
            span1=90,
            angle1_deg=-40,
            noise=0.5,
            rng=rng(7),
        )
    )
    assert kinds(out) == {"Zoom", "Roll"}
    assert math.prod(c.factor for c in of(out, Zoom)) == pytest.approx(90 / 50, rel=0.05)
    assert sum(c.angle_deg for c in of(out, Roll)) == pytest.approx(-40, abs=2.0)


def test_small_two_finger_wobble_emits_nothing():
    out = run(
        synth.two_finger(
            (1, 2),
            0.0,
            center0=(100, 100),
            span0=50,
            span1=54,
            center1=(104, 102),
            angle1_deg=6,
            noise=0.8,
            rng=rng(8),
        )
    )
    assert out == []


def test_finger_left_after_a_pinch_does_not_rotate():
    events = synth.two_finger((1, 2), 0.0, center0=(100, 100), span0=50, span1=90)
    events = [e for e in events if not (e.kind == "up" and e.id == 2)]
    t = events[-1].t
    rec = GestureRecognizer()
    for e in events:
        rec.feed(e)
    later = synth.drag(2, (145, 100), (185, 100), t + 0.05)[1:]  # finger 2 drags on, lifts
    assert [c for e in later for c in rec.feed(e)] == []
    assert rec.state == "idle"


def test_second_finger_ends_a_drag_and_starts_a_pinch():
    rec = GestureRecognizer(one_finger="drag")
    drag = synth.drag(1, (100, 100), (100, 140), 0.0, lift=False)
    out = [c for e in drag for c in rec.feed(e)]
    assert kinds(out) == {"DragStart", "Drag"}
    t = drag[-1].t
    x1, y1 = drag[-1].x, drag[-1].y
    out = rec.feed(TouchEvent("down", 2, x1 + 40, y1, t + 0.05))
    assert out == [DragEnd(x1, y1 - LAG, cancelled=False)]
    out = []
    for i in range(1, 21):
        out += rec.feed(TouchEvent("move", 2, x1 + 40 + 2 * i, y1, t + 0.05 + 0.02 * i))
    assert kinds(out) == {"Zoom", "Pan"}  # one finger still, the other moves: centroid moves


# --- rejection ------------------------------------------------------------------------------


def test_palm_of_three_contacts_emits_nothing():
    out = run(synth.palm((1, 2, 3), 0.0, (100, 100)))
    assert out == []


def test_palm_then_a_normal_gesture_works_again():
    rec = GestureRecognizer()
    events = synth.palm((1, 2, 3), 0.0, (100, 100))
    assert run(events, rec) == []
    assert rec.state == "idle"
    assert kinds(run(synth.drag(4, (0, 0), (40, 0), 5.0), rec)) == {"Rotate"}


def test_large_contact_area_emits_nothing():
    big = S.max_contact_area_mm2 * 2
    events = [
        TouchEvent(e.kind, e.id, e.x, e.y, e.t, big) for e in synth.drag(1, (0, 0), (60, 0), 0.0)
    ]
    assert run(events) == []
    tap = [TouchEvent(e.kind, e.id, e.x, e.y, e.t, big) for e in synth.tap(1, 5, 5, 0.0)]
    assert run(tap) == []


def test_small_reported_area_is_a_finger():
    events = [
        TouchEvent(e.kind, e.id, e.x, e.y, e.t, 80.0) for e in synth.drag(1, (0, 0), (60, 0), 0.0)
    ]
    assert kinds(run(events)) == {"Rotate"}


def test_palm_landing_mid_drag_cancels_it():
    rec = GestureRecognizer(one_finger="drag")
    drag = synth.drag(1, (100, 100), (100, 140), 0.0, lift=False)
    for e in drag:
        rec.feed(e)
    t = drag[-1].t
    out = rec.feed(TouchEvent("move", 1, 100, 141, t + 0.01, area_mm2=3000.0))
    assert out == [DragEnd(drag[-1].x, 140 - LAG, cancelled=True)]
    more = synth.drag(1, (100, 141), (100, 200), t + 0.02)[1:]
    assert [c for e in more for c in rec.feed(e)] == []


def test_palm_after_a_light_touch_swallows_the_pending_tap():
    events = synth.tap(1, 100, 100, 0.0, hold=0.05) + synth.palm((2, 3, 4), 0.1, (100, 100))
    assert run(events) == []


def test_third_finger_cancels_a_pinch():
    events = synth.two_finger((1, 2), 0.0, center0=(100, 100), span0=50, span1=120, steps=40)
    mid = len(events) // 2
    rec = GestureRecognizer()
    out = [c for e in events[:mid] for c in rec.feed(e)]
    assert of(out, Zoom)
    t = events[mid].t
    out = rec.feed(TouchEvent("down", 3, 10, 10, t))
    out += [c for e in events[mid:] for c in rec.feed(e)]
    assert out == []


def test_max_fingers_one_disables_two_finger_gestures():
    rec = GestureRecognizer(GestureSettings(max_fingers=1))
    assert run(synth.two_finger((1, 2), 0.0, center0=(100, 100), span0=50, span1=100), rec) == []
    assert kinds(run(synth.drag(3, (0, 0), (40, 0), 5.0), rec)) == {"Rotate"}


# --- lost touches, locking, bad input -------------------------------------------------------


def test_stale_touch_expires_on_tick():
    rec = GestureRecognizer(one_finger="drag")
    drag = synth.drag(1, (0, 0), (40, 0), 0.0, lift=False)  # the "up" never comes
    for e in drag:
        rec.feed(e)
    t = drag[-1].t
    assert rec.tick(t + S.stale_after_s * 0.9) == []
    assert rec.touch_count == 1
    assert rec.tick(t + S.stale_after_s + 0.01) == [DragEnd(40 - LAG, 0, cancelled=True)]
    assert rec.touch_count == 0 and rec.state == "idle"
    # The ghost is gone: a new single finger drags instead of pinching with it.
    rec.one_finger = "rotate"
    assert kinds(run(synth.drag(2, (0, 0), (40, 0), t + 10), rec)) == {"Rotate"}


def test_up_with_nan_coordinates_and_time_still_releases():
    rec = GestureRecognizer()
    rec.feed(TouchEvent("down", "a", 200, 200, 0.0))
    rec.feed(TouchEvent("up", "a", float("nan"), 200, float("nan")))
    assert rec.touch_count == 0
    assert rec.tick(1.0) == [Tap(200, 200)]


def test_stale_touches_also_expire_on_other_fingers_events():
    rec = GestureRecognizer()
    rec.feed(TouchEvent("down", "ghost", 200, 200, 0.0))
    out = run(synth.drag(1, (0, 0), (40, 0), S.stale_after_s + 1), rec)
    assert kinds(out) == {"Rotate"}


def test_lock_drops_everything_and_forgets_fingers_down():
    rec = GestureRecognizer()
    events = synth.drag(1, (0, 0), (40, 0), 0.0)
    for e in events[:10]:
        rec.feed(e)
    rec.locked = True
    assert rec.locked and rec.touch_count == 0
    assert [c for e in events[10:] for c in rec.feed(e)] == []
    assert run(synth.drag(2, (0, 0), (40, 0), 1.0), rec) == []
    rec.locked = False
    assert kinds(run(synth.drag(3, (0, 0), (40, 0), 3.0), rec)) == {"Rotate"}


@pytest.mark.parametrize(
    "event",
    [
        TouchEvent("up", 9, 0, 0, 0.5),  # up without down
        TouchEvent("move", 9, 0, 0, 0.5),  # move without down
        TouchEvent("hover", 1, 0, 0, 0.5),  # unknown kind
        TouchEvent("move", 1, float("nan"), 0, 0.5),
        TouchEvent("move", 1, 0, float("inf"), 0.5),
        TouchEvent("move", 1, 1e300, 0, 0.5),
        TouchEvent("move", 1, 0, 0, float("nan")),
        TouchEvent("down", [1], 0, 0, 0.5),  # unhashable id
        TouchEvent("move", 1, "x", 0, 0.5),  # not a number
        TouchEvent("move", 1, 0, 0, 0.5, area_mm2=float("nan")),
        TouchEvent("move", 1, 0, 0, 0.5, area_mm2="big"),
    ],
)
def test_bad_events_are_ignored(event):
    rec = GestureRecognizer()
    rec.feed(TouchEvent("down", 1, 0, 0, 0.0))
    assert rec.feed(event) == []
    assert rec.state == "one"
    # The real finger still works afterwards.
    out = [c for i in range(1, 21) for c in rec.feed(TouchEvent("move", 1, 2 * i, 0, 0.5 + i / 50))]
    assert kinds(out) == {"Rotate"}


def test_duplicate_down_restarts_the_touch():
    rec = GestureRecognizer()
    rec.feed(TouchEvent("down", 1, 0, 0, 0.0))
    rec.feed(TouchEvent("down", 1, 100, 100, 0.3))  # the driver lost the up
    assert rec.touch_count == 1 and rec.state == "one"
    assert run([TouchEvent("up", 1, 100, 100, 0.4)], rec) == [Tap(100, 100)]


def test_time_going_backwards_does_not_break_anything():
    rec = GestureRecognizer()
    events = synth.drag(1, (0, 0), (40, 0), 10.0)
    events = [
        TouchEvent(e.kind, e.id, e.x, e.y, e.t - (0.2 if i % 3 == 0 else 0))
        for i, e in enumerate(events)
    ]
    assert kinds(run(events, rec)) == {"Rotate"}
    assert rec.tick(-100.0) == []


def test_reset_forgets_everything():
    rec = GestureRecognizer()
    run(synth.tap(1, 0, 0, 0.0), rec, tail=0.0)  # a tap pending
    rec.reset()
    assert rec.tick(10.0) == [] and rec.state == "idle"
