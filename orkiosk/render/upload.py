"""A prepared scene onto the GPU in slices, so that a host toolkit can draw its UI between them.

    upload = renderer.scene_upload(prepared, chunk_bytes=4 << 20)  # reserves everything
    while not upload.step():   # one call per UI frame: at most chunk_bytes written
        ...
    scene = upload.scene        # or upload.release() to abandon it

Made: every buffer and the image's 3D texture are reserved at their full size first, so a GPU
without the room says so here (RenderError; nothing is kept) and never half-way through. Each
step() writes the next bytes of the arrays in order (buffers in byte slices, the texture in
whole rows); the step that writes the last ones also makes the vertex arrays and the Scene.
Renderer.create_scene runs one upload to the end at once (chunk_bytes None: one step).

Reused: a mesh that is the very same prepared array object as one of a scene already on the GPU
(`reuse`; prepare_scene keeps the meshes of files it has seen, see PreparedMeshes) is not
uploaded again: the new scene shares that GpuMesh. A plan update that moves a trajectory then
costs no GPU memory and no upload for its meshes.

The arrays are prepare_scene's (contiguous float32/uint32, the image as float16): a step hands
slices of their memory to glBufferSubData/glTexSubImage3D without converting or copying. Like
create_scene, a step leaves moderngl's last buffer (and in the last step vertex array) bound.
"""

from __future__ import annotations

import logging

import moderngl
import numpy as np

from orkiosk.render.errors import RenderError
from orkiosk.render.prepare import PreparedScene
from orkiosk.render.scene import GpuMesh, Scene
from orkiosk.render.volume import GpuVolume

log = logging.getLogger(__name__)


class _BufferFill:
    """The bytes of one array into a buffer reserved at its size."""

    granule = 1

    def __init__(self, buffer: moderngl.Buffer, array: np.ndarray):
        self.buffer, self.array = buffer, array
        self.nbytes, self.done = array.nbytes, 0

    def write(self, n: int) -> None:
        data = memoryview(self.array).cast("B")[self.done : self.done + n]
        self.buffer.write(data, offset=self.done)
        self.done += n


class _TextureFill:
    """The voxels (k, j, i) into a reserved 3D texture, whole rows of i at a time."""

    def __init__(self, texture, voxels: np.ndarray):
        self.texture = texture
        self.depth, self.height, self.width = voxels.shape
        self.rows = voxels.reshape(-1, self.width)
        self.granule = self.width * voxels.itemsize
        self.nbytes, self.done = voxels.nbytes, 0

    def write(self, n: int) -> None:
        row, left = self.done // self.granule, n // self.granule
        while left:
            z, y = divmod(row, self.height)
            if y == 0 and left >= self.height:  # whole slices
                rows = left - left % self.height
                box = (0, 0, z, self.width, self.height, rows // self.height)
            else:  # the rest of one slice
                rows = min(left, self.height - y)
                box = (0, y, z, self.width, rows, 1)
            self.texture.write(self.rows[row : row + rows], viewport=box)
            row += rows
            left -= rows
        self.done += n


class SceneUpload:
    """A PreparedScene going onto the GPU in steps of at most chunk_bytes (None: all at once).

    step() -> True once done; then `scene` is the Scene, which owns the GL objects from then
    on. release() abandons an unfinished upload and frees what it made (after done: nothing).
    total_bytes: what the upload writes in all. GL failures come out as RenderError."""

    def __init__(
        self,
        ctx: moderngl.Context,
        mesh_programs: dict,
        prepared: PreparedScene,
        chunk_bytes: int | None = None,
        reuse: tuple[Scene, ...] = (),
    ):
        if chunk_bytes is not None and int(chunk_bytes) < 1:
            raise RenderError(f"chunk_bytes must be at least 1, not {chunk_bytes}")
        self._ctx, self._programs, self._prepared = ctx, mesh_programs, prepared
        self._chunk = None if chunk_bytes is None else int(chunk_bytes)
        self._made: list[GpuMesh] = []  # every mesh reserved so far
        self._shared: list[GpuMesh] = []  # meshes of `reuse` this scene owns too
        self._known = _on_gpu(reuse)  # id(CPU mesh) -> (CPU mesh, its GpuMesh)
        self._pairs: list[tuple[GpuMesh, GpuMesh | None]] = []  # (mesh, lighter) per structure
        self._volume: GpuVolume | None = None
        self._fills: list = []
        self._next = 0  # the fill being written
        self._scene: Scene | None = None
        self._released = False
        self.total_bytes = 0
        _clear_errors(ctx)
        try:
            for p in prepared.structures:
                self._pairs.append((self._reserve(p.mesh), self._reserve(p.lod)))
            if prepared.image is not None:
                self._volume = GpuVolume(ctx, prepared.image)
                self._fills.append(_TextureFill(self._volume.texture, prepared.voxels))
            self.total_bytes = sum(f.nbytes for f in self._fills)
            error = ctx.error  # moderngl does not check allocations: GL_OUT_OF_MEMORY shows here
            if error != "GL_NO_ERROR":
                raise RenderError(
                    f"the GPU has no room for the plan ({self.total_bytes / 2**20:.0f} MiB of "
                    f"meshes and image): {error}"
                )
        except moderngl.Error as exc:
            self.release()
            raise RenderError(f"could not upload the plan's meshes to the GPU: {exc}") from exc
        except BaseException:
            self.release()
            raise

    def _reserve(self, mesh) -> GpuMesh | None:
        if mesh is None:
            return None
        known = self._known.get(id(mesh))
        if known is not None and known[0] is mesh and known[1].buffers:
            g = known[1].share()
            self._shared.append(g)
            return g
        g = GpuMesh(self._ctx, mesh)
        self._made.append(g)
        for buf, array in zip(g.buffers, (mesh.positions, mesh.normals, mesh.indices), strict=True):
            self._fills.append(_BufferFill(buf, array))
        return g

    @property
    def done(self) -> bool:
        return self._scene is not None

    @property
    def scene(self) -> Scene:
        if self._scene is None:
            raise RenderError("the plan's upload is not finished")
        return self._scene

    def step(self) -> bool:
        """Write the next slice (at most chunk_bytes); True when the scene is ready."""
        if self._scene is not None:
            return True
        if self._released:
            raise RenderError("the plan's upload was abandoned")
        try:
            room = self._chunk
            while self._next < len(self._fills) and room != 0:
                fill = self._fills[self._next]
                left = fill.nbytes - fill.done
                n = left if room is None or room >= left else room - room % fill.granule
                if n == 0:
                    if room != self._chunk:
                        break  # not one row fits in what is left of this step
                    n = fill.granule  # a texture row larger than a whole step
                fill.write(n)
                room = None if room is None else max(0, room - n)
                if fill.done == fill.nbytes:
                    self._next += 1
            if self._next < len(self._fills):
                return False
            for g in self._made:
                g.bind(self._programs)
            self._scene = Scene(self._prepared, self._pairs, self._volume)
            self._fills, self._known = [], {}
            return True
        except moderngl.Error as exc:
            self.release()
            raise RenderError(f"could not upload the plan's meshes to the GPU: {exc}") from exc

    def release(self) -> None:
        """Abandon the upload: free every GL object it made, unless the scene is finished."""
        if self._scene is not None or self._released:
            return
        self._released = True
        for g in self._made + self._shared:
            g.release()
        self._made, self._shared, self._pairs, self._known = [], [], [], {}
        if self._volume is not None:
            self._volume.release()
            self._volume = None
        self._fills = []


def _on_gpu(scenes) -> dict:
    """id(CPU mesh) -> (CPU mesh, GpuMesh) of every mesh and lighter mesh of `scenes`."""
    out = {}
    for scene in scenes:
        if scene is None or scene.released:
            continue
        for p, st in zip(scene.prepared.structures, scene.structures, strict=True):
            out[id(p.mesh)] = (p.mesh, st.gpu)
            if p.lod is not None and st.lod is not None:
                out[id(p.lod)] = (p.lod, st.lod)
    return out


def _clear_errors(ctx: moderngl.Context) -> None:
    """Take GL errors raised before the upload (a host's) off the queue, logged, so that the
    check after the reservations sees only ours."""
    for _ in range(16):
        error = ctx.error
        if error == "GL_NO_ERROR":
            return
        log.warning("a GL error was pending before the plan's upload: %s", error)
