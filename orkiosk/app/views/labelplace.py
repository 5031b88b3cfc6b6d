"""Where the names drawn over the 3D view go: boxes that never overlap (pure; no Kivy).

Each label has an anchor (the projected point it names) and a text box size. Labels are placed
in order (the caller puts the most important first, e.g. the measure markers A and B); each
takes the first candidate position, nearest its anchor, that overlaps no box placed before it,
no fixed obstacle and no other label's anchor dot, and lies inside the view. Far from the anchor
it gets a leader (the caller draws a line). A label that finds no place is left out rather than
drawn over another: an unreadable pile helps nobody at the table.

Coordinates: pixels, any consistent orientation (the kiosk uses Kivy's: origin bottom-left).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Box:
    x: float  # left
    y: float  # bottom
    w: float
    h: float

    def overlaps(self, other: Box, gap: float = 0.0) -> bool:
        return (
            self.x < other.x + other.w + gap
            and other.x < self.x + self.w + gap
            and self.y < other.y + other.h + gap
            and other.y < self.y + self.h + gap
        )

    def inside(self, bounds: Box) -> bool:
        return (
            self.x >= bounds.x
            and self.y >= bounds.y
            and self.x + self.w <= bounds.x + bounds.w
            and self.y + self.h <= bounds.y + bounds.h
        )

    @property
    def center(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2


@dataclass(frozen=True)
class Wanted:
    anchor: tuple[float, float]
    size: tuple[float, float]  # text box width, height


@dataclass(frozen=True)
class Placed:
    box: Box
    leader: bool  # far from its anchor: draw a line from the anchor to the box


def _candidates(ax: float, ay: float, w: float, h: float, gap: float, rings: int, step: float):
    """Positions around the anchor, nearest first: right, left, above, below, the diagonals,
    then the same directions further out (with a leader)."""
    yield Box(ax + gap, ay - h / 2, w, h), False  # right of the point, centred: the usual place
    yield Box(ax - gap - w, ay - h / 2, w, h), False
    yield Box(ax - w / 2, ay + gap, w, h), False
    yield Box(ax - w / 2, ay - gap - h, w, h), False
    yield Box(ax + gap, ay + gap, w, h), False
    yield Box(ax + gap, ay - gap - h, w, h), False
    yield Box(ax - gap - w, ay + gap, w, h), False
    yield Box(ax - gap - w, ay - gap - h, w, h), False
    for ring in range(1, rings + 1):
        r = gap + ring * step
        for k in range(16):
            a = 2 * math.pi * k / 16
            cx, cy = ax + math.cos(a) * (r + w / 2), ay + math.sin(a) * (r + h / 2)
            yield Box(cx - w / 2, cy - h / 2, w, h), True


def place_labels(
    wanted: Sequence[Wanted],
    bounds: Box,
    obstacles: Sequence[Box] = (),
    gap: float = 8.0,
    margin: float = 2.0,
    dot: float = 4.0,
    rings: int = 6,
) -> list[Placed | None]:
    """Non-overlapping boxes for `wanted`, in its order of importance (one per entry; None
    where there is no room). Boxes keep `margin` pixels from each other and from obstacles, stay
    inside `bounds`, and do not cover any label's anchor (a square of `dot` pixels around it)."""
    step = max(gap, 1.0) * 3
    dots = [Box(a.anchor[0] - dot, a.anchor[1] - dot, 2 * dot, 2 * dot) for a in wanted]
    taken: list[Box] = list(obstacles)
    out: list[Placed | None] = []
    for i, item in enumerate(wanted):
        ax, ay = item.anchor
        w, h = item.size
        found = None
        for box, leader in _candidates(ax, ay, w, h, gap, rings, step + max(w, h) / 4):
            if not box.inside(bounds):
                continue
            if any(box.overlaps(t, margin) for t in taken):
                continue
            if any(box.overlaps(d) for j, d in enumerate(dots) if j != i):
                continue
            found = Placed(box, leader)
            break
        out.append(found)
        if found is not None:
            taken.append(found.box)
    return out


def any_overlap(boxes: Sequence[Box]) -> bool:
    """Whether any two boxes overlap (for tests and checks)."""
    return any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
