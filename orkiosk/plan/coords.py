"""Coordinate frames: patient LPS mm (memory, plan.json) <-> glTF (metres, +Y up, +Z front).

glTF (X, Y, Z) = (L, S, A) / 1000 = (x, z, -y)_LPS / 1000, so a glTF viewer shows the patient
upright, facing the viewer's default camera. RAS (3D Slicer's default) -> LPS negates x and y.
"""

from __future__ import annotations

import numpy as np

# Row-vector transforms: gltf = lps @ LPS_TO_GLTF, lps = gltf @ GLTF_TO_LPS.
LPS_TO_GLTF = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=np.float64) / 1000.0
GLTF_TO_LPS = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], dtype=np.float64) * 1000.0


def lps_to_gltf(points) -> np.ndarray:
    """LPS mm (..., 3) -> glTF metres (..., 3), float32."""
    p = np.asarray(points, dtype=np.float64)
    return (p @ LPS_TO_GLTF).astype(np.float32)


def gltf_to_lps(points) -> np.ndarray:
    """glTF metres (..., 3) -> LPS mm (..., 3), float32."""
    p = np.asarray(points, dtype=np.float32)
    out = np.empty(p.shape, dtype=np.float32)
    np.multiply(p, np.float32(1000.0), out=out)  # one contiguous (vectorised) pass
    _swap_yz_negating_y(out)
    return out


def gltf_dir_to_lps(vectors) -> np.ndarray:
    """Directions (normals) from glTF to LPS: the same axis swap, no scale."""
    out = np.array(vectors, dtype=np.float32, order="C", copy=True)
    _swap_yz_negating_y(out)
    return out


def _swap_yz_negating_y(a: np.ndarray) -> None:
    """(x, y, z) -> (x, -z, y) in place: the glTF -> LPS axis change. Exact (a sign flip is
    exact, so -(1000 z) == -1000 z bit for bit, signed zeros included)."""
    y = a[..., 1]
    new_y = np.negative(a[..., 2])
    a[..., 2] = y
    a[..., 1] = new_y


def lps_dir_to_gltf(vectors) -> np.ndarray:
    v = np.asarray(vectors, dtype=np.float32)
    out = np.empty(v.shape, dtype=np.float32)
    out[..., 0] = v[..., 0]
    out[..., 1] = v[..., 2]
    out[..., 2] = -v[..., 1]
    return out


def ras_to_lps(points) -> np.ndarray:
    """3D Slicer RAS -> LPS: negate x and y."""
    p = np.array(points, dtype=np.float64)
    p[..., 0] *= -1.0
    p[..., 1] *= -1.0
    return p
