"""CPU-side scene preparation (numpy, no GL): may run on a worker thread.

prepare_scene() does the slow part of showing a plan (level-of-detail meshes, closedness tests,
label anchors, bounds) and leaves every array as the GPU takes it (contiguous float32 positions
and normals, uint32 indices, the image as float16), so that Renderer.create_scene() or a
SceneUpload only copies bytes on the GL thread.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from orkiosk.plan.bounds import plan_bounds
from orkiosk.plan.image import ImageVolume
from orkiosk.plan.mesh import Mesh, column_mean
from orkiosk.plan.model import Plan
from orkiosk.render import geometry
from orkiosk.render.errors import RenderError

# triangles of the whole plan drawn while the view moves (llvmpipe: ~2x faster than 60k)
DEFAULT_LOD_BUDGET = 30_000
F16_MAX = 65504.0


@dataclass(frozen=True, eq=False)
class PreparedStructure:
    id: str
    name: str
    mesh: Mesh
    lod: Mesh | None  # lighter mesh for interactive frames (None: draw `mesh`)
    bounds: tuple[np.ndarray, np.ndarray]
    anchor: np.ndarray  # a surface point near the middle: where its label points
    closed: bool  # closed, consistently wound: back faces may be culled, sections capped


@dataclass(frozen=True, eq=False)
class PreparedScene:
    plan: Plan
    structures: tuple[PreparedStructure, ...]
    bounds: tuple[np.ndarray, np.ndarray]
    image: ImageVolume | None = None  # format 1.1: painted on cuts, shown in slice views
    voxels: np.ndarray | None = None  # the image as its texture holds it (made from image)

    def __post_init__(self):
        if self.image is not None and self.voxels is None:
            object.__setattr__(self, "voxels", texture_voxels(self.image))


def prepare_scene(
    plan: Plan,
    meshes: dict[str, Mesh],
    lod_budget: int = DEFAULT_LOD_BUDGET,
    image: ImageVolume | None = None,
    known: PreparedMeshes | None = None,
) -> PreparedScene:
    """Everything a Scene needs besides the GPU. lod_budget: 0 for no lighter meshes.
    `known`: what earlier calls made of the same mesh files, reused (see PreparedMeshes)."""
    missing = [s.id for s in plan.structures if s.id not in meshes]
    if missing:
        raise RenderError(f"no mesh for structure(s): {', '.join(missing)}")
    total = sum(meshes[s.id].triangle_count for s in plan.structures)
    digests = {f.path: f.sha256 for f in plan.files}
    out = []
    for s in plan.structures:
        share = 0
        if lod_budget and total > lod_budget:
            share = max(1500, int(lod_budget * meshes[s.id].triangle_count / total))
        key = (digests.get(s.mesh), meshes[s.id].triangle_count, share)
        made = known.get(key) if known is not None and key[0] else None
        if made is None:
            made = _prepare_mesh(meshes[s.id], share)
            if known is not None and key[0]:
                known.put(key, made)
        out.append(PreparedStructure(s.id, s.name, *made))
    if known is not None:
        known.keep_only(len(out))
    return PreparedScene(plan, tuple(out), plan_bounds(plan, meshes), image)


def _prepare_mesh(mesh: Mesh, share: int) -> tuple:
    """(mesh, lod, bounds, anchor, closed) of a PreparedStructure; share: LOD triangles (0:
    none)."""
    mesh = gpu_ready(mesh)
    lo, hi = mesh.bounds()
    centre = column_mean(mesh.positions).astype(np.float32)
    d = mesh.positions - centre
    k = int(np.argmin(np.einsum("ij,ij->i", d, d)))  # 3-wide rows: einsum, not sum(axis=1)
    lod = None
    if share and mesh.triangle_count > share * 1.5:
        light = geometry.cluster_decimate(mesh, share)
        lod = None if light is mesh else gpu_ready(light)
    bounds = (lo.astype(np.float64), hi.astype(np.float64))
    return mesh, lod, bounds, mesh.positions[k].astype(np.float64), geometry.is_closed(mesh.indices)


class PreparedMeshes:
    """What prepare_scene made of each mesh file (LOD, closedness, bounds, label anchor), by the
    file's SHA-256 as its verified manifest lists it, its triangle count and its LOD share. A
    plan that arrives with meshes already shown (most updates during a case move a trajectory
    or a landmark) then reuses them instead of making them again: on a kiosk that is most of
    the CPU a new plan costs. Holds the meshes of the latest scenes only; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._made: dict[tuple, tuple] = {}  # oldest first

    def get(self, key: tuple) -> tuple | None:
        with self._lock:
            made = self._made.pop(key, None)
            if made is not None:
                self._made[key] = made  # now the newest
            return made

    def put(self, key: tuple, made: tuple) -> None:
        with self._lock:
            self._made.pop(key, None)
            self._made[key] = made

    def keep_only(self, newest: int) -> None:
        """Forget all but the `newest` entries touched last, and those of one scene before."""
        with self._lock:
            for key in list(self._made)[: max(0, len(self._made) - 2 * newest)]:
                del self._made[key]


def gpu_ready(mesh: Mesh) -> Mesh:
    """The mesh with contiguous float32/uint32 arrays (itself when they are already)."""
    arrays = (
        np.ascontiguousarray(mesh.positions, dtype=np.float32),
        np.ascontiguousarray(mesh.normals, dtype=np.float32),
        np.ascontiguousarray(mesh.indices, dtype=np.uint32),
    )
    if all(
        a is b for a, b in zip(arrays, (mesh.positions, mesh.normals, mesh.indices), strict=True)
    ):
        return mesh
    return Mesh(*arrays)


def texture_voxels(image: ImageVolume) -> np.ndarray:
    """The image as its 3D texture holds it: float16 (k, j, i), contiguous (R16F: integers exact
    to 2048, within 2 up to 4096; values beyond float16 clamped)."""
    data = np.clip(image.array.astype(np.float32), -F16_MAX, F16_MAX).astype(np.float16)
    return np.ascontiguousarray(data)
