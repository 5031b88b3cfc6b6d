"""A plan's meshes on the GPU: GpuMesh (buffers + a vertex array per program), Scene, and the
DrawItem a frame's passes draw (a structure with this frame's mesh, colour and opacity)."""

from __future__ import annotations

from dataclasses import dataclass

import moderngl
import numpy as np

from orkiosk.plan.mesh import Mesh
from orkiosk.render.errors import RenderError
from orkiosk.render.prepare import PreparedScene
from orkiosk.render.volume import GpuVolume

OPAQUE_LIMIT = 0.999  # opacity at or above this is drawn as opaque


class GpuMesh:
    """Vertex/index buffers of one mesh and a vertex array per program.

    GpuMesh(ctx, mesh) reserves the buffers at the sizes of the mesh's arrays and writes
    nothing (`buffers`: positions, normals, indices; a SceneUpload fills them in slices);
    bind(programs) then makes the vertex arrays. of_arrays() does it all at once. Scenes of
    plans with the same mesh share its GpuMesh: share() counts one more owner, release() frees
    the GL objects when the last owner releases it."""

    def __init__(self, ctx: moderngl.Context, mesh: Mesh):
        self.ctx = ctx
        self.triangles = mesh.triangle_count
        self.vaos = {}
        self._owners = 1
        self.buffers: list[moderngl.Buffer] = []
        try:
            for array in (mesh.positions, mesh.normals, mesh.indices):
                self.buffers.append(ctx.buffer(reserve=array.nbytes))
        except BaseException:
            self.release()
            raise

    @classmethod
    def of_arrays(cls, ctx, programs: dict, positions, normals, indices) -> GpuMesh:
        """A small mesh uploaded at once (the markers' unit meshes)."""
        mesh = Mesh(
            np.ascontiguousarray(positions, dtype="f4").reshape(-1, 3),
            np.ascontiguousarray(normals, dtype="f4").reshape(-1, 3),
            np.ascontiguousarray(indices, dtype="u4").reshape(-1, 3),
        )
        g = cls(ctx, mesh)
        for buf, array in zip(g.buffers, (mesh.positions, mesh.normals, mesh.indices), strict=True):
            buf.write(array)
        g.bind(programs)
        return g

    def bind(self, programs: dict) -> None:
        """The vertex arrays, once the buffers hold their data."""
        pos, nrm, ibo = self.buffers
        for name, prog in programs.items():
            self.vaos[name] = self.ctx.vertex_array(
                prog,
                [(pos, "3f", "in_position"), (nrm, "3f", "in_normal")],
                index_buffer=ibo,
                index_element_size=4,
                skip_errors=True,
            )

    def render(self, program: str, first: int = 0, count: int | None = None) -> None:
        """Triangles first .. first + count (default: to the end) with `program`'s array."""
        n = self.triangles - first if count is None else count
        self.vaos[program].render(moderngl.TRIANGLES, vertices=3 * n, first=3 * first)

    def share(self) -> GpuMesh:
        """One more owner (a scene of another plan with the same mesh)."""
        self._owners += 1
        return self

    def release(self) -> None:
        self._owners -= 1
        if self._owners > 0:
            return
        for vao in self.vaos.values():
            vao.release()
        self.vaos = {}
        for buf in self.buffers:
            buf.release()
        self.buffers = []


@dataclass
class SceneStructure:
    index: int
    id: str
    name: str
    bounds: tuple[np.ndarray, np.ndarray]
    anchor: np.ndarray  # a surface point near the middle: where its label points
    triangles: int
    gpu: GpuMesh
    lod: GpuMesh | None  # lighter mesh for interactive frames (None: use gpu)
    lod_triangles: int
    closed: bool  # closed and consistently wound: back faces may be culled


@dataclass
class DrawItem:
    st: SceneStructure
    mesh: GpuMesh
    color: tuple[float, float, float]
    opacity: float
    cut: bool  # the clipping plane goes through its bounds


class Scene:
    """A plan's meshes on the GPU, made by a SceneUpload (Renderer.create_scene or
    Renderer.scene_upload) from a PreparedScene; release() frees them."""

    def __init__(self, prepared: PreparedScene, meshes: list, volume: GpuVolume | None):
        """meshes: (GpuMesh, lighter GpuMesh or None) per prepared structure, bound."""
        self.plan = prepared.plan
        self.prepared = prepared  # CPU meshes: slice contours are cut from them
        self.bounds = prepared.bounds
        self.volume = volume  # the image volume (format 1.1), if any
        self._released = False
        self._uploaded = [g for pair in meshes for g in pair if g is not None]
        self.structures: list[SceneStructure] = [
            SceneStructure(
                i,
                p.id,
                p.name,
                p.bounds,
                p.anchor,
                p.mesh.triangle_count,
                gpu,
                lod,
                lod.triangles if lod is not None else gpu.triangles,
                p.closed,
            )
            for i, (p, (gpu, lod)) in enumerate(zip(prepared.structures, meshes, strict=True))
        ]

    @property
    def triangle_count(self) -> int:
        return sum(s.triangles for s in self.structures)

    def replan(self, plan) -> None:
        """Show an edited version of this scene's plan on the same meshes (the workbench):
        trajectories, landmarks, names, colours and opacities are read from `plan` every frame.
        The structures must be the very same, with the very same mesh files."""
        old = [(s.id, s.mesh) for s in self.plan.structures]
        if [(s.id, s.mesh) for s in plan.structures] != old:
            raise RenderError("an edited plan must keep the scene's structures and meshes")
        self.plan = plan

    @property
    def released(self) -> bool:
        return self._released

    def structure(self, sid: str) -> SceneStructure:
        for s in self.structures:
            if s.id == sid:
                return s
        raise KeyError(sid)

    def release(self) -> None:
        for g in self._uploaded:
            g.release()
        self._uploaded = []
        if self.volume is not None:
            self.volume.release()
            self.volume = None
        self.structures = []
        self._released = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()
