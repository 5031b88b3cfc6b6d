"""The "where to enter" map as a picture over the 3D view: every skin vertex that faces the
camera, painted in its entry colour (green good, amber fair, red poor; unusable entries a dim
grey), as a small square dot. Pure numpy: the 3D view blits the result into a texture laid over
its picture, so the map follows the camera at the cost of one projection (a few milliseconds for
25,000 vertices) and costs the renderer nothing.

Facing the camera stands in for visibility: right for a skin seen from outside (it is the
outermost surface), conservative in folds (an ear hides a little skin behind it).
"""

from __future__ import annotations

import numpy as np

from orkiosk.plan.colors import linear_to_srgb_array
from orkiosk.render.camera import Camera

USABLE_ALPHA = 0.9
UNUSABLE_ALPHA = 0.45
FACING = 0.15  # cosine between the normal and the direction to the eye


def paint_entries(
    colors: np.ndarray,
    usable: np.ndarray,
    positions: np.ndarray,
    normals: np.ndarray,
    camera: Camera,
    width: int,
    height: int,
    dot_px: int = 3,
) -> np.ndarray:
    """The map over a width x height view, as RGBA uint8, bottom row first (as a Kivy texture
    takes it), to be stretched over the whole view.

    Dots wider than 3 pixels are painted 3 pixels wide into a picture that many times smaller
    (ceil(height / s), ceil(width / s), s = dot_px // 3), which the texture scales up: the same
    coverage for 1/s^2 of the work (demo skin, 8-pixel dots: 43 -> 7 ms)."""
    s = max(1, dot_px // 3)
    w, h, dot = -(-width // s), -(-height // s), (3 if s > 1 else dot_px)
    img = np.zeros((h, w, 4), np.uint8)
    to_eye = camera.eye - positions
    to_eye /= np.linalg.norm(to_eye, axis=1, keepdims=True) + 1e-12
    idx = np.flatnonzero(np.einsum("ij,ij->i", to_eye, normals) > FACING)
    if idx.size == 0:
        return img
    p = camera.project(positions[idx], w, h)
    keep = (p[:, 2] > 0) & (p[:, 0] >= 0) & (p[:, 0] < w) & (p[:, 1] >= 0) & (p[:, 1] < h)
    idx, p = idx[keep], p[keep]
    order = np.argsort(-p[:, 2])  # far dots first, so the nearer ones land on top
    idx, p = idx[order], p[order]
    rgb = (linear_to_srgb_array(colors[idx]) * 255 + 0.5).astype(np.uint8)
    alpha = (np.where(usable[idx], USABLE_ALPHA, UNUSABLE_ALPHA) * 255).astype(np.uint8)
    rgba = np.concatenate([rgb, alpha[:, None]], axis=1)
    x = p[:, 0].astype(np.int64)
    y = (h - 1 - p[:, 1]).astype(np.int64)  # bottom row first
    half = dot // 2
    for dy in range(-half, dot - half):
        for dx in range(-half, dot - half):
            xx, yy = x + dx, y + dy
            ok = (xx >= 0) & (xx < w) & (yy >= 0) & (yy < h)
            img[yy[ok], xx[ok]] = rgba[ok]
    return img
