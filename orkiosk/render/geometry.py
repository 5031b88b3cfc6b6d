"""Procedural meshes (numpy only): marker primitives, test shapes, LOD and closedness.

Unit primitives (sphere, cylinder, torus, cone) are drawn with a model matrix; uv_sphere builds
a Mesh in LPS mm for tests. Spheres come from orkiosk.plan.synthetic.sphere_grid, the one
latitude/longitude generator (the synthetic plan's surfaces use it too). Triangles wind
counter-clockwise seen from outside.
"""

from __future__ import annotations

import numpy as np

from orkiosk.plan.mesh import Mesh, column_range, vertex_normals
from orkiosk.plan.synthetic import sphere_grid


def sphere_arrays(rings: int = 24, segments: int = 48):
    """Unit sphere: positions (= normals) and faces; one vertex at each pole (closed surface)."""
    dirs, faces = sphere_grid(rings, segments)
    pos = dirs.astype(np.float32)
    return pos, pos.copy(), faces


def uv_sphere(center=(0.0, 0.0, 0.0), radius=1.0, rings: int = 24, segments: int = 48) -> Mesh:
    """A sphere (or an ellipsoid when radius is a 3-tuple) in LPS mm with exact normals."""
    pos, nrm, faces = sphere_arrays(rings, segments)
    radii = np.broadcast_to(np.asarray(radius, dtype=np.float64), (3,))
    p = pos * radii + np.asarray(center, dtype=np.float64)
    n = nrm / radii
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    return Mesh.from_triangles(p, faces, n.astype(np.float32))


def cylinder_arrays(segments: int = 24, caps: bool = True):
    """Unit cylinder: radius 1 around +z, from z=0 to z=1, with flat end caps."""
    phi = np.linspace(0.0, 2.0 * np.pi, segments, endpoint=False)
    ring = np.stack([np.cos(phi), np.sin(phi), np.zeros_like(phi)], axis=-1)
    side_pos = np.concatenate([ring, ring + [0.0, 0.0, 1.0]])
    side_nrm = np.concatenate([ring, ring])
    idx = np.arange(segments)
    nxt = (idx + 1) % segments
    top = idx + segments
    side = np.concatenate(
        [np.stack([idx, nxt, nxt + segments], 1), np.stack([idx, nxt + segments, top], 1)]
    )
    pos, nrm, faces = [side_pos], [side_nrm], [side]
    if caps:
        base = len(side_pos)
        # bottom cap (normal -z): centre then ring
        pos.append(np.concatenate([[[0.0, 0.0, 0.0]], ring]))
        nrm.append(np.tile([0.0, 0.0, -1.0], (segments + 1, 1)))
        faces.append(np.stack([np.full(segments, base), base + 1 + nxt, base + 1 + idx], 1))
        base += segments + 1
        pos.append(np.concatenate([[[0.0, 0.0, 1.0]], ring + [0.0, 0.0, 1.0]]))
        nrm.append(np.tile([0.0, 0.0, 1.0], (segments + 1, 1)))
        faces.append(np.stack([np.full(segments, base), base + 1 + idx, base + 1 + nxt], 1))
    return (
        np.concatenate(pos).astype(np.float32),
        np.concatenate(nrm).astype(np.float32),
        np.concatenate(faces).astype(np.uint32),
    )


def cone_arrays(segments: int = 24):
    """Unit cone: base radius 1 at z=0 (capped), apex at z=1."""
    phi = np.linspace(0.0, 2.0 * np.pi, segments, endpoint=False)
    ring = np.stack([np.cos(phi), np.sin(phi), np.zeros_like(phi)], axis=-1)
    slope = np.stack([np.cos(phi), np.sin(phi), np.ones_like(phi)], axis=-1) / np.sqrt(2.0)
    idx = np.arange(segments)
    nxt = (idx + 1) % segments
    pos = np.concatenate([ring, np.tile([0.0, 0.0, 1.0], (segments, 1)), [[0, 0, 0]], ring])
    nrm = np.concatenate([slope, slope, [[0, 0, -1.0]], np.tile([0.0, 0.0, -1.0], (segments, 1))])
    apex = segments + idx
    centre = 2 * segments
    faces = np.concatenate(
        [
            np.stack([idx, nxt, apex], 1),
            np.stack([np.full(segments, centre), centre + 1 + nxt, centre + 1 + idx], 1),
        ]
    )
    return pos.astype(np.float32), nrm.astype(np.float32), faces.astype(np.uint32)


def torus_arrays(minor: float = 0.3, segments: int = 32, sides: int = 12):
    """Torus around +z, major radius 1, tube radius `minor`."""
    u = np.linspace(0.0, 2.0 * np.pi, segments, endpoint=False)
    v = np.linspace(0.0, 2.0 * np.pi, sides, endpoint=False)
    uu, vv = np.meshgrid(u, v, indexing="ij")
    centre = np.stack([np.cos(uu), np.sin(uu), np.zeros_like(uu)], axis=-1)
    nrm = np.stack([np.cos(vv) * np.cos(uu), np.cos(vv) * np.sin(uu), np.sin(vv)], axis=-1)
    pos = centre + minor * nrm
    # grid over (segment, side), both wrapping
    s, t = np.meshgrid(np.arange(segments), np.arange(sides), indexing="ij")
    s1, t1 = (s + 1) % segments, (t + 1) % sides
    a, b, c, d = s * sides + t, s1 * sides + t, s1 * sides + t1, s * sides + t1
    faces = np.concatenate(
        [np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)]
    )
    return (
        pos.reshape(-1, 3).astype(np.float32),
        nrm.reshape(-1, 3).astype(np.float32),
        faces.astype(np.uint32),
    )


def cluster_decimate(mesh: Mesh, target_triangles: int) -> Mesh:
    """A lighter level of detail by vertex clustering on a uniform grid (fast, numpy only).

    Good enough for drawing while the view moves; not for measuring. Returns `mesh` itself when
    it is already small enough.
    """
    if mesh.triangle_count <= target_triangles:
        return mesh
    pos = mesh.positions.astype(np.float64)
    idx = mesh.indices.astype(np.int64)
    # the surface area (float32 is plenty for a grid size): two edge vectors per triangle
    p32 = np.ascontiguousarray(mesh.positions, dtype=np.float32)
    a, b, c = (p32[idx[:, k]] for k in range(3))
    b -= a
    c -= a
    cx = b[:, 1] * c[:, 2] - b[:, 2] * c[:, 1]
    cy = b[:, 2] * c[:, 0] - b[:, 0] * c[:, 2]
    cz = b[:, 0] * c[:, 1] - b[:, 1] * c[:, 0]
    area = 0.5 * float(np.sqrt(cx * cx + cy * cy + cz * cz).sum(dtype=np.float64))
    cell = np.sqrt(2.0 * area / max(target_triangles, 1)) if area > 0 else 1.0
    lo = column_range(pos)[0]
    best = mesh
    for _ in range(3):
        out = _cluster(pos, idx, cell, lo)
        if out is not None:
            best = out
            ratio = out.triangle_count / target_triangles
            if 0.7 <= ratio <= 1.3:
                break
            cell *= np.sqrt(ratio)
        else:
            cell *= 0.7
    return best


def _cluster(pos: np.ndarray, idx: np.ndarray, cell: float, lo: np.ndarray) -> Mesh | None:
    q = np.floor((pos - lo) / cell).astype(np.int64)
    dims = column_range(q)[1] + 1
    key = q[:, 0] + dims[0] * (q[:, 1] + dims[1] * q[:, 2])
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    new_pos = np.empty((len(counts), 3))
    for k in range(3):
        new_pos[:, k] = np.bincount(inverse, weights=pos[:, k]) / counts
    f = inverse[idx]
    keep = (f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])
    f = f[keep]
    if len(f) == 0:
        return None
    # duplicates stay: removing one of a pair would break the even edge count that the
    # crossing-count (cut section) logic relies on
    p = new_pos.astype(np.float32)
    return Mesh.from_triangles(p, f.astype(np.uint32), vertex_normals(p, f))


def is_closed(indices: np.ndarray) -> bool:
    """Whether triangles form closed, consistently oriented surfaces: every directed edge
    (a, b) is matched by as many reversed ones (b, a). Such meshes can be drawn with back faces
    culled (nothing can look at their inside unless a clipping plane opens them), and their
    inside is well defined for cut sections. A few non-manifold edges (marching cubes pinches,
    decimation) are allowed as long as the orientation stays consistent."""
    f = np.asarray(indices, dtype=np.int64).reshape(-1, 3)
    if len(f) == 0:
        return False
    n = int(f.max()) + 1
    a = f.ravel()
    b = f[:, [1, 2, 0]].ravel()
    fwd = np.sort(a * n + b)
    rev = np.sort(b * n + a)
    return bool(np.array_equal(fwd, rev))
