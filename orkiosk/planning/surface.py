"""Segmentation field -> triangle mesh in patient LPS mm: marching cubes, smoothing, decimation.

- Marching cubes (scikit-image) runs in voxel index space on the padded field at level 0 (the field
  already holds the half-unit shift, see segment.py), then the vertices go through the affine into LPS
  mm. scikit-image winds triangles counter-clockwise seen from outside in its (k, j, i) index order;
  reordering to (i, j, k) mirrors that once, and an affine with a negative determinant (e.g. a
  labelmap in RAS-ordered voxels) mirrors it again. Faces are flipped so that they are always
  counter-clockwise seen from outside: outward normals, as the renderer's lighting expects.
- When a structure would give far more triangles than its budget (4x, and over 600k), the field is
  first averaged over 2x2x2 blocks (repeatedly if needed): the triangles that decimation would
  throw away would cost seconds.
- Thick slices (slice spacing >= 1.5 x the pixel spacing): the field is first resampled along the
  slice axis to near-isotropic with a monotone cubic (isotropic.py), which removes the terraces
  that marching cubes makes one per slice; the field reduction then averages 2x2 blocks in-plane
  only (the slices are already the coarse axis).
- Smoothing: Taubin lambda/mu (lambda 0.5, mu -0.53), a low-pass filter that does not shrink the
  surface the way plain Laplacian smoothing does.
- Decimation: fast-simplification (quadric edge collapse) to the structure's triangle budget.
- Normals: area-weighted vertex normals from orkiosk.plan.mesh.Mesh.from_triangles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orkiosk.errors import OrkioskError
from orkiosk.plan.mesh import Mesh
from orkiosk.planning import isotropic
from orkiosk.planning.segment import Segmentation

TAUBIN_LAMBDA = 0.5
TAUBIN_MU = -0.53
OVERSHOOT = 4  # reduce the field resolution while the surface would exceed budget x this
MIN_REDUCE = 600_000  # ... and this many triangles (decimation from here costs about 1 s)


class SurfaceError(OrkioskError):
    pass


@dataclass
class SurfaceStats:
    triangles_raw: int = 0
    triangles: int = 0
    reduced: int = 1  # 1, 2, 4: block size of the field averaging
    upsampled: int = 1  # sub-slices per slice of a thick-slice field
    seconds: dict | None = None


def _downsample(field: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average 2x2x2 blocks; the new voxel (0,0,0) sits at the centre of old voxels 0..1."""
    f = field
    pads = [(0, s % 2) for s in f.shape]
    if any(p[1] for p in pads):
        f = np.pad(f, pads, mode="edge")
    k, j, i = (s // 2 for s in f.shape)
    f = f.reshape(k, 2, j, 2, i, 2).mean(axis=(1, 3, 5), dtype=np.float32)
    scale = np.eye(4)
    scale[:3, :3] *= 2.0
    scale[:3, 3] = 0.5
    return pad_outside(f, affine @ scale, (0, 1, 2))


def pad_outside(field: np.ndarray, affine: np.ndarray, axes) -> tuple[np.ndarray, np.ndarray]:
    """One voxel of outside around `axes` again: averaging blends the padding with the structure
    where it touches the edge of the volume, and marching cubes would leave it open there. The new
    voxels mirror their neighbour's value as outside (-|f|): a cut face lands half a voxel beyond
    the last voxel centre, on the edge of the data (a constant -1 would put it a voxel out)."""
    pads = [(1, 1) if a in axes else (0, 0) for a in range(3)]
    shift = np.eye(4)
    for a in axes:
        shift[2 - a, 3] = -1.0  # field axis k, j, i = affine column 2, 1, 0
    out = np.pad(np.asarray(field, dtype=np.float32), pads, mode="edge")
    for a in axes:
        for side in (0, -1):
            face = [slice(None)] * 3
            face[a] = side
            f = out[tuple(face)]
            np.negative(np.abs(f), out=f)
            f[f == 0] = -1.0
    return np.ascontiguousarray(out), affine @ shift


def _thick_grid(field, affine, limit) -> tuple[np.ndarray, np.ndarray, int, int]:
    """In-plane reduction of a thick-slice field until its upsampled surface fits `limit`."""
    reduced = 1
    while True:
        n = isotropic.upsample_factor(affine)
        ck, cj, ci = isotropic.crossings(field)
        if min(field.shape[1:]) <= 16 or 2 * (ck + max(n, 1) * (cj + ci)) <= limit:
            return field, affine, reduced, max(n, 1)
        field, affine = pad_outside(*isotropic.downsample_inplane(field, affine), (1, 2))
        reduced *= 2


def estimate_triangles(field: np.ndarray) -> int:
    """Marching cubes makes about two triangles per vertex, one vertex per crossing edge."""
    inside = field > 0
    crossings = sum(int(np.count_nonzero(np.diff(inside, axis=a))) for a in range(3))
    return 2 * crossings


def marching_cubes(field: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (LPS mm, float64) and faces (int) of the 0-isosurface, outward winding."""
    from skimage.measure import marching_cubes as _mc

    if field.size == 0 or min(field.shape) < 2:
        raise SurfaceError("the structure is too small to make a surface")
    try:
        verts, faces, _normals, _values = _mc(field, level=0.0, allow_degenerate=False)
    except (ValueError, RuntimeError) as exc:
        raise SurfaceError(f"marching cubes failed: {exc}") from exc
    ijk = verts[:, ::-1].astype(np.float64)  # (k, j, i) -> (i, j, k)
    lps = ijk @ affine[:3, :3].T + affine[:3, 3]
    faces = faces.astype(np.int64)
    # (k, j, i) winding is clockwise from outside; the axis swap mirrors it to counter-clockwise;
    # a mirroring affine mirrors it back.
    if np.linalg.det(affine[:3, :3]) < 0:
        faces = faces[:, ::-1]
    return lps, np.ascontiguousarray(faces)


def taubin(vertices: np.ndarray, faces: np.ndarray, iterations: int = 10) -> np.ndarray:
    """Taubin lambda/mu smoothing with uniform weights; returns new vertices."""
    from scipy import sparse

    n = vertices.shape[0]
    if iterations <= 0 or n == 0:
        return vertices
    f = faces
    rows = np.concatenate([f[:, 0], f[:, 1], f[:, 2], f[:, 1], f[:, 2], f[:, 0]])
    cols = np.concatenate([f[:, 1], f[:, 2], f[:, 0], f[:, 0], f[:, 1], f[:, 2]])
    adj = sparse.csr_matrix((np.ones(rows.size, dtype=np.float64), (rows, cols)), shape=(n, n))
    adj.data[:] = 1.0  # duplicates summed by the constructor: count each neighbour once
    deg = np.asarray(adj.sum(axis=1)).ravel()
    deg[deg == 0] = 1.0
    walk = sparse.diags(1.0 / deg) @ adj
    v = vertices.astype(np.float64, copy=True)
    for _ in range(iterations):
        v += TAUBIN_LAMBDA * (walk @ v - v)
        v += TAUBIN_MU * (walk @ v - v)
    return v


def decimate(vertices: np.ndarray, faces: np.ndarray, budget: int) -> tuple[np.ndarray, np.ndarray]:
    """Quadric decimation to at most `budget` triangles (no-op when already below)."""
    import fast_simplification

    if faces.shape[0] <= budget:
        return vertices, faces
    pts, tris = fast_simplification.simplify(
        vertices.astype(np.float32), faces.astype(np.int32), target_count=int(budget)
    )
    return np.asarray(pts, dtype=np.float64), np.asarray(tris, dtype=np.int64)


def _drop_unused(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    used = np.zeros(vertices.shape[0], dtype=bool)
    used[faces.ravel()] = True
    if used.all():
        return vertices, faces
    remap = np.cumsum(used) - 1
    return vertices[used], remap[faces]


def build_mesh(
    seg: Segmentation,
    budget: int | None = None,
    smooth_iterations: int = 10,
    timer=None,
    resample_thick: bool = True,
) -> tuple[Mesh, SurfaceStats]:
    """Segmentation -> Mesh (LPS mm). `timer(stage)` is a context manager that adds up seconds.

    `resample_thick=False` meshes thick slices as they are (terraces; for comparisons)."""
    import contextlib

    def stage(name):
        return timer(name) if timer else contextlib.nullcontext()

    budget = int(budget or seg.spec.triangles)
    stats = SurfaceStats()
    field = seg.field
    affine = seg.field_affine()
    with stage("surface"):
        limit = max(OVERSHOOT * budget, MIN_REDUCE)
        n = isotropic.upsample_factor(affine) if resample_thick else 1
        if n > 1:
            field, affine, stats.reduced, n = _thick_grid(field, affine, limit)
            field, affine = isotropic.resample_thick(field, affine, n)
            stats.upsampled = n
        else:
            while min(field.shape) > 16 and estimate_triangles(field) > limit:
                field, affine = _downsample(field, affine)
                stats.reduced *= 2
        verts, faces = marching_cubes(field, affine)
    stats.triangles_raw = int(faces.shape[0])
    if faces.shape[0] == 0:
        raise SurfaceError(f"structure {seg.spec.name!r} gives no surface")
    with stage("smooth"):
        verts = taubin(verts, faces, smooth_iterations)
    with stage("decimate"):
        verts, faces = decimate(verts, faces, budget)
        verts, faces = _drop_unused(verts, faces)
    if faces.shape[0] == 0:
        raise SurfaceError(f"structure {seg.spec.name!r}: decimation left no triangle")
    with stage("normals"):
        mesh = Mesh.from_triangles(verts.astype(np.float32), faces.astype(np.uint32))
    stats.triangles = mesh.triangle_count
    return mesh, stats


def signed_volume_mm3(mesh: Mesh) -> float:
    """Signed volume of a closed mesh: positive when the faces wind outward."""
    p = mesh.positions.astype(np.float64)
    i = mesh.indices.astype(np.int64)
    a, b, c = p[i[:, 0]], p[i[:, 1]], p[i[:, 2]]
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)
