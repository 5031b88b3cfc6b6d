"""Stroke letters for the orientation marker (no font files, no text rendering in GL).

Each letter is a few polylines in a 0.6 x 1.0 box; letter_triangles() turns them into thick
strokes (two triangles per segment, square ends) centred on a point.
"""

from __future__ import annotations

import numpy as np

_R_BOWL = [(0.0, 1.0), (0.42, 1.0), (0.58, 0.9), (0.6, 0.75), (0.58, 0.6), (0.42, 0.5), (0.0, 0.5)]

STROKES: dict[str, list[list[tuple[float, float]]]] = {
    "L": [[(0.0, 1.0), (0.0, 0.0), (0.58, 0.0)]],
    "R": [[(0.0, 0.0), *_R_BOWL], [(0.3, 0.5), (0.6, 0.0)]],
    "A": [[(0.0, 0.0), (0.3, 1.0), (0.6, 0.0)], [(0.11, 0.36), (0.49, 0.36)]],
    "P": [[(0.0, 0.0), *_R_BOWL]],
    "S": [
        [
            (0.58, 0.86),
            (0.45, 1.0),
            (0.15, 1.0),
            (0.02, 0.87),
            (0.02, 0.65),
            (0.15, 0.53),
            (0.45, 0.47),
            (0.58, 0.35),
            (0.58, 0.13),
            (0.45, 0.0),
            (0.15, 0.0),
            (0.02, 0.14),
        ]
    ],
    "I": [[(0.3, 0.0), (0.3, 1.0)], [(0.1, 1.0), (0.5, 1.0)], [(0.1, 0.0), (0.5, 0.0)]],
}


def letter_triangles(letter: str, center, height: float, width: float) -> np.ndarray:
    """(N*3, 2) triangle vertices of `letter`, `height` tall, strokes `width` wide."""
    cx, cy = center
    tris = []
    half = width / 2
    for line in STROKES[letter]:
        pts = (np.asarray(line, dtype=np.float64) - [0.3, 0.5]) * height + [cx, cy]
        for p, q in zip(pts[:-1], pts[1:], strict=True):
            d = q - p
            length = float(np.hypot(*d))
            if length == 0:
                continue
            d /= length
            n = np.array([-d[1], d[0]]) * half
            a, b = p - d * half, q + d * half
            tris += [a + n, a - n, b - n, a + n, b - n, b + n]
    return np.asarray(tris, dtype=np.float32).reshape(-1, 2)
