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
    """Vertex/index buffers of one mesh and a vertex array per program."""

    def __init__(self, ctx: moderngl.Context, programs: dict, positions, normals, indices):
        self.triangles = int(len(indices))
        self.vbo_pos = ctx.buffer(np.ascontiguousarray(positions, dtype="f4").tobytes())
        self.vbo_nrm = ctx.buffer(np.ascontiguousarray(normals, dtype="f4").tobytes())
        self.ibo = ctx.buffer(np.ascontiguousarray(indices, dtype="u4").tobytes())
        self.vaos = {}
        for name, prog in programs.items():
            self.vaos[name] = ctx.vertex_array(
                prog,
                [(self.vbo_pos, "3f", "in_position"), (self.vbo_nrm, "3f", "in_normal")],
                index_buffer=self.ibo,
                index_element_size=4,
                skip_errors=True,
            )

    @classmethod
    def from_mesh(cls, ctx, programs, mesh: Mesh) -> GpuMesh:
        return cls(ctx, programs, mesh.positions, mesh.normals, mesh.indices)

    def render(self, program: str) -> None:
        self.vaos[program].render(moderngl.TRIANGLES)

    def release(self) -> None:
        for vao in self.vaos.values():
            vao.release()
        self.vaos = {}
        for buf in (self.vbo_pos, self.vbo_nrm, self.ibo):
            buf.release()


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
    """A plan's meshes on the GPU. Made by Renderer.create_scene; release() frees them."""

    def __init__(self, ctx: moderngl.Context, mesh_programs: dict, prepared: PreparedScene):
        self.plan = prepared.plan
        self.structures: list[SceneStructure] = []
        self._released = False
        self._uploaded: list[GpuMesh] = []
        self.volume: GpuVolume | None = None  # the image volume (format 1.1), if any
        self.prepared = prepared  # CPU meshes: slice contours are cut from them

        def upload(m: Mesh) -> GpuMesh:
            g = GpuMesh.from_mesh(ctx, mesh_programs, m)
            self._uploaded.append(g)
            return g

        try:
            for i, p in enumerate(prepared.structures):
                gpu = upload(p.mesh)
                lod = upload(p.lod) if p.lod is not None else None
                self.structures.append(
                    SceneStructure(
                        i,
                        p.id,
                        p.name,
                        p.bounds,
                        p.anchor,
                        p.mesh.triangle_count,
                        gpu,
                        lod,
                        p.lod.triangle_count if p.lod is not None else p.mesh.triangle_count,
                        p.closed,
                    )
                )
            if prepared.image is not None:
                self.volume = GpuVolume(ctx, prepared.image)
        except moderngl.Error as exc:
            self.release()
            raise RenderError(f"could not upload the plan's meshes to the GPU: {exc}") from exc
        except Exception:
            self.release()
            raise
        self.bounds = prepared.bounds

    @property
    def triangle_count(self) -> int:
        return sum(s.triangles for s in self.structures)

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
