"""Time to process one touch event (goal: well under 200 µs)."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

import numpy as np

from orkiosk.touch import synth
from orkiosk.touch.recognizer import GestureRecognizer
from orkiosk.touch.settings import GestureSettings


def _scenario(rng: np.random.Generator) -> list:
    """About 3 s of mixed, noisy use: rotate, pinch + twist, pan, taps, a palm."""
    return synth.merge(
        synth.drag(1, (100, 100), (160, 130), 0.0, duration=0.5, steps=30, noise=0.6, rng=rng),
        synth.two_finger(
            (2, 3),
            0.7,
            center0=(150, 120),
            span0=60,
            span1=110,
            angle1_deg=35,
            steps=30,
            noise=0.6,
            rng=rng,
        ),
        synth.two_finger(
            (4, 5),
            1.5,
            center0=(150, 120),
            span0=50,
            center1=(190, 80),
            steps=30,
            noise=0.6,
            rng=rng,
        ),
        synth.tap(6, 120, 90, 2.3, noise=0.8, rng=rng),
        synth.tap(7, 122, 91, 2.5, noise=0.8, rng=rng),
        synth.palm((8, 9, 10), 2.8, (200, 60), area_mm2=None),
    )


@dataclass(frozen=True)
class TouchBench:
    mean_us: float  # per ``feed`` call, a ``tick`` every second event included
    events: int
    commands: Counter  # gesture commands recognised, by class name: what the time was spent on


def bench_touch(n_events: int = 200_000, seed: int = 0) -> TouchBench:
    """Feed a long synthetic stream of gestures through a GestureRecognizer and time it."""
    rng = np.random.default_rng(seed)
    base = _scenario(rng)
    period = base[-1].t + 1.0
    events = []
    k = 0
    while len(events) < n_events:
        events.extend(synth.shifted(base, k * period, id_prefix=f"{k}:"))
        k += 1
    events = events[:n_events]

    rec = GestureRecognizer(GestureSettings())
    feed, tick = rec.feed, rec.tick
    out: list = []
    keep = out.extend
    clock = time.perf_counter
    start = clock()
    for i, event in enumerate(events):
        keep(feed(event))
        if i & 1:
            keep(tick(event.t))
    elapsed = clock() - start
    return TouchBench(
        elapsed / len(events) * 1e6, len(events), Counter(type(c).__name__ for c in out)
    )


if __name__ == "__main__":  # pragma: no cover
    print(f"touch: {bench_touch().mean_us:.2f} µs/event")
