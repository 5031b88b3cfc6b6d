"""Random and malformed touch streams never raise, never emit NaN, and never leak state."""

import dataclasses
import math
import tracemalloc

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orkiosk.touch import (
    Drag,
    DragEnd,
    DragStart,
    GestureRecognizer,
    GestureSettings,
    TouchEvent,
    Zoom,
)

SETTINGS = [
    GestureSettings(),
    GestureSettings(jitter_mm=0, settle_s=0),
    GestureSettings(max_fingers=1, tap_slop_mm=2.0, long_press_s=0.2, stale_after_s=0.5),
]

coordinate = st.one_of(
    st.floats(-50, 400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e300, 0.0]),
    st.integers(-(10**20), 10**20),
)
event = st.builds(
    lambda kind, tid, x, y, dt, area: (kind, tid, x, y, dt, area),
    st.sampled_from(["down", "move", "move", "move", "up", "tick", "hover"]),
    st.one_of(st.integers(0, 4), st.sampled_from(["a", "b", ""])),
    coordinate,
    coordinate,
    st.one_of(
        st.floats(0, 0.2),
        st.floats(0, 10),
        st.sampled_from([-1.0, float("nan"), float("inf"), 0.0]),
    ),
    st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
)


def check(commands):
    for c in commands:
        for f in dataclasses.fields(c):
            v = getattr(c, f.name)
            if isinstance(v, float):
                assert math.isfinite(v), c
        if isinstance(c, Zoom):
            assert c.factor > 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(event, max_size=120),
    which=st.integers(0, len(SETTINGS) - 1),
    mode=st.sampled_from(["rotate", "drag"]),
)
def test_random_streams_never_raise_nor_emit_nan(steps, which, mode):
    rec = GestureRecognizer(SETTINGS[which], one_finger=mode)
    t = 0.0
    emitted = []
    for kind, tid, x, y, dt, area in steps:
        stamp = t + dt  # may be NaN, inf or earlier than before: the recogniser copes
        if math.isfinite(stamp):
            t = stamp
        if kind == "tick":
            out = rec.tick(stamp)
        else:
            out = rec.feed(TouchEvent(kind, tid, x, y, stamp, area))
        check(out)
        emitted += out
        assert rec.touch_count <= 16
        assert rec.state in ("idle", "one", "drag", "two", "ignore")
    # Drag commands are well bracketed.
    dragging = False
    for c in emitted:
        if isinstance(c, DragStart):
            assert not dragging
            dragging = True
        elif isinstance(c, Drag):
            assert dragging
        elif isinstance(c, DragEnd):
            assert dragging
            dragging = False
    # Every touch expires in the end, whatever came before.
    check(rec.tick(t + 1e4))
    assert rec.touch_count == 0 and rec.state == "idle"


def test_soak_10000_random_events_flat_memory():
    r = np.random.default_rng(11)
    rec = GestureRecognizer()
    n = 10_000

    def burst(offset):
        t = offset
        for _ in range(n):
            t += float(r.uniform(0, 0.03))
            kind = ("down", "move", "move", "move", "move", "up")[int(r.integers(0, 6))]
            tid = int(r.integers(0, 5))
            x, y = (float(v) for v in r.uniform(0, 300, 2))
            area = None if r.random() < 0.9 else float(r.uniform(10, 2000))
            check(rec.feed(TouchEvent(kind, tid, x, y, t, area)))
            if r.random() < 0.2:
                check(rec.tick(t))
        return t

    t = burst(0.0)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    t = burst(t)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert after - before < 64 * 1024
    rec.tick(t + 100)
    assert rec.touch_count == 0
