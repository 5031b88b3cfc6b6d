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
    """(height, width, 4) uint8 RGBA, bottom row first (as a Kivy texture takes it)."""
    img = np.zeros((height, width, 4), np.uint8)
    to_eye = camera.eye - positions
    to_eye /= np.linalg.norm(to_eye, axis=1, keepdims=True) + 1e-12
    facing = np.einsum("ij,ij->i", to_eye, normals) > FACING
    idx = np.flatnonzero(facing)
    if idx.size == 0:
        return img
    p = camera.project(positions[idx], width, height)
    keep = (p[:, 2] > 0) & (p[:, 0] >= 0) & (p[:, 0] < width) & (p[:, 1] >= 0) & (p[:, 1] < height)
    idx, p = idx[keep], p[keep]
    # far dots first, so the nearer ones land on top
    order = np.argsort(-p[:, 2])
    idx, p = idx[order], p[order]
    rgb = (np.clip(colors[idx], 0, 1) ** (1 / 2.2) * 255).astype(np.uint8)  # linear -> sRGB
    alpha = np.where(usable[idx], USABLE_ALPHA, UNUSABLE_ALPHA) * 255
    rgba = np.concatenate([rgb, alpha.astype(np.uint8)[:, None]], axis=1)
    x = p[:, 0].astype(np.int64)
    y = (height - 1 - p[:, 1]).astype(np.int64)  # bottom row first
    half = dot_px // 2
    for dy in range(-half, dot_px - half):
        for dx in range(-half, dot_px - half):
            xx, yy = x + dx, y + dy
            ok = (xx >= 0) & (xx < width) & (yy >= 0) & (yy < height)
            img[yy[ok], xx[ok]] = rgba[ok]
    return img
