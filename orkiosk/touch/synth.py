"""Synthetic touch sequences (mm, seconds, y up) for tests, benchmarks and app-level drivers.

Each function returns a list of TouchEvents sorted by time; ``merge`` interleaves several.
``noise`` adds uniform jitter of that many mm to every sample except the first "down" (the first
contact is where the finger aimed), drawn from ``rng`` (a numpy Generator; seeded 0 if omitted).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from orkiosk.touch.events import TouchEvent


def _rng(rng: np.random.Generator | None) -> np.random.Generator:
    return rng if rng is not None else np.random.default_rng(0)


def _jitter(noise: float, rng: np.random.Generator) -> tuple[float, float]:
    if noise <= 0:
        return 0.0, 0.0
    dx, dy = rng.uniform(-noise, noise, 2)
    return float(dx), float(dy)


def tap(
    tid,
    x: float,
    y: float,
    t: float,
    *,
    hold: float = 0.1,
    steps: int = 4,
    noise: float = 0.0,
    rng: np.random.Generator | None = None,
) -> list[TouchEvent]:
    """A finger that comes down at (x, y), wobbles ``noise`` mm for ``hold`` s and lifts."""
    return drag(tid, (x, y), (x, y), t, duration=hold, steps=steps, noise=noise, rng=rng)


def drag(
    tid,
    start: tuple[float, float],
    end: tuple[float, float],
    t: float,
    *,
    duration: float = 0.5,
    steps: int = 30,
    noise: float = 0.0,
    rng: np.random.Generator | None = None,
    lift: bool = True,
) -> list[TouchEvent]:
    """One finger: down at ``start``, ``steps`` moves evenly to ``end``, then up (if ``lift``)."""
    rng = _rng(rng)
    (x0, y0), (x1, y1) = start, end
    events = [TouchEvent("down", tid, x0, y0, t)]
    for i in range(1, steps + 1):
        f = i / steps
        jx, jy = _jitter(noise, rng)
        events.append(
            TouchEvent(
                "move", tid, x0 + (x1 - x0) * f + jx, y0 + (y1 - y0) * f + jy, t + duration * f
            )
        )
    if lift:
        last = events[-1]
        events.append(TouchEvent("up", tid, last.x, last.y, t + duration + 1e-3))
    return events


def two_finger(
    ids: tuple,
    t: float,
    *,
    center0: tuple[float, float],
    span0: float,
    angle0_deg: float = 0.0,
    center1: tuple[float, float] | None = None,
    span1: float | None = None,
    angle1_deg: float | None = None,
    duration: float = 0.6,
    steps: int = 30,
    stagger: float = 0.02,
    noise: float = 0.0,
    rng: np.random.Generator | None = None,
) -> list[TouchEvent]:
    """Two fingers placed symmetrically about a centre: the centre, the distance between them and
    the direction of the line from the first to the second finger (degrees, counter-clockwise)
    move linearly from the ``*0`` to the ``*1`` values. The second finger lands ``stagger`` s after
    the first; each step moves both fingers (two events)."""
    rng = _rng(rng)
    center1 = center0 if center1 is None else center1
    span1 = span0 if span1 is None else span1
    angle1_deg = angle0_deg if angle1_deg is None else angle1_deg

    def points(f: float) -> tuple[tuple[float, float], tuple[float, float]]:
        cx = center0[0] + (center1[0] - center0[0]) * f
        cy = center0[1] + (center1[1] - center0[1]) * f
        half = 0.5 * (span0 + (span1 - span0) * f)
        a = math.radians(angle0_deg + (angle1_deg - angle0_deg) * f)
        ux, uy = math.cos(a) * half, math.sin(a) * half
        return (cx - ux, cy - uy), (cx + ux, cy + uy)

    ia, ib = ids
    (ax, ay), (bx, by) = points(0.0)
    events = [TouchEvent("down", ia, ax, ay, t), TouchEvent("down", ib, bx, by, t + stagger)]
    t1 = t + stagger
    for i in range(1, steps + 1):
        f = i / steps
        (ax, ay), (bx, by) = points(f)
        ts = t1 + duration * f
        for tid, px, py in ((ia, ax, ay), (ib, bx, by)):
            jx, jy = _jitter(noise, rng)
            events.append(TouchEvent("move", tid, px + jx, py + jy, ts))
    end = t1 + duration
    events.append(TouchEvent("up", ia, events[-2].x, events[-2].y, end + 1e-3))
    events.append(TouchEvent("up", ib, events[-2].x, events[-2].y, end + 2e-3))
    return events


def palm(
    ids: tuple,
    t: float,
    center: tuple[float, float],
    *,
    spacing: float = 25.0,
    stagger: float = 0.01,
    duration: float = 0.4,
    steps: int = 20,
    shift: tuple[float, float] = (30.0, 0.0),
    area_mm2: float | None = None,
) -> list[TouchEvent]:
    """Several contacts (one per id) landing ``stagger`` s apart in a row around ``center``, all
    sliding by ``shift``, then lifting: a resting palm or forearm."""
    streams = []
    n = len(ids)
    for k, tid in enumerate(ids):
        x = center[0] + (k - (n - 1) / 2) * spacing
        start = (x, center[1])
        end = (x + shift[0], center[1] + shift[1])
        seq = drag(tid, start, end, t + k * stagger, duration=duration, steps=steps)
        if area_mm2 is not None:
            seq = [TouchEvent(e.kind, e.id, e.x, e.y, e.t, area_mm2) for e in seq]
        streams.append(seq)
    return merge(*streams)


def merge(*sequences: Iterable[TouchEvent]) -> list[TouchEvent]:
    """Interleave sequences by time (stable for equal times)."""
    events = [e for seq in sequences for e in seq]
    events.sort(key=lambda e: e.t)
    return events


def shifted(events: Iterable[TouchEvent], dt: float, id_prefix: str = "") -> list[TouchEvent]:
    """The same events ``dt`` s later (ids prefixed, so repeated copies do not collide)."""
    return [
        TouchEvent(
            e.kind, f"{id_prefix}{e.id}" if id_prefix else e.id, e.x, e.y, e.t + dt, e.area_mm2
        )
        for e in events
    ]
