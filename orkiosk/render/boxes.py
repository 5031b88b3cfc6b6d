"""Axis-aligned bounding boxes (lo, hi) in LPS mm against planes, rays and the screen (numpy)."""

from __future__ import annotations

import math

import numpy as np

from orkiosk.render.camera import Camera


def corners(bounds) -> np.ndarray:
    lo, hi = bounds
    return np.array(
        [[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
    )


def box_distance(bounds, p) -> float:
    lo, hi = bounds
    return float(np.linalg.norm(np.maximum(np.maximum(lo - p, p - hi), 0.0)))


def clip_cut(clip, bounds) -> bool | None:
    """How the clipping plane (a ClipPlane or None) meets the box: None when the box lies
    entirely on the removed side, True when the plane goes through it, else False."""
    if clip is None:
        return False
    d = clip.signed_distance(corners(bounds))
    if d.min() > 0:
        return None
    return bool(d.max() > 0)


def ray_hits_box(origin, direction, bounds, pad: float = 1.0) -> bool:
    lo, hi = bounds[0] - pad, bounds[1] + pad
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / direction
        t1 = (lo - origin) * inv
        t2 = (hi - origin) * inv
    t1 = np.nan_to_num(t1, nan=-np.inf)
    t2 = np.nan_to_num(t2, nan=np.inf)
    tmin = np.max(np.minimum(t1, t2))
    tmax = np.min(np.maximum(t1, t2))
    return bool(tmax >= max(tmin, 0.0))


def screen_rect(boxes, camera: Camera, width: int, height: int):
    """GL pixel rectangle (x, y from bottom-left, w, h) covering the boxes on screen; the whole
    viewport when a box reaches behind the eye; None when they are all off screen."""
    pts = np.concatenate([corners(b) for b in boxes])
    proj = camera.project(pts, width, height)
    if np.any(proj[:, 2] <= 1e-3):
        return (0, 0, width, height)
    x0 = max(0, int(math.floor(proj[:, 0].min())) - 2)
    x1 = min(width, int(math.ceil(proj[:, 0].max())) + 2)
    top = max(0, int(math.floor(proj[:, 1].min())) - 2)
    bottom = min(height, int(math.ceil(proj[:, 1].max())) + 2)
    if x1 <= x0 or bottom <= top:
        return None
    return (x0, height - bottom, x1 - x0, bottom - top)


def scissor_box(boxes, camera: Camera, viewport) -> tuple[int, int, int, int] | None:
    """screen_rect of the boxes inside `viewport` (x, y, w, h), as a GL scissor box."""
    rect = screen_rect(boxes, camera, viewport[2], viewport[3])
    if rect is None:
        return None
    return (viewport[0] + rect[0], viewport[1] + rect[1], rect[2], rect[3])


def clip_box(box, band):
    """The part of scissor box `box` inside `band` (both (x, y, w, h); band None: all of
    `box`); None when nothing is left or there is no box."""
    if box is None or band is None:
        return box
    x0, y0 = max(box[0], band[0]), max(box[1], band[1])
    x1 = min(box[0] + box[2], band[0] + band[2])
    y1 = min(box[1] + box[3], band[1] + band[3])
    if x1 <= x0 or y1 <= y0:
        return None
    return (x0, y0, x1 - x0, y1 - y0)
