"""A package's image volume on the GPU: one 3D texture (R16F: HU are integers, exact to 2048
and within 2 HU up to 4096), sampled trilinearly by the cut caps and the slice views.

`lps_to_tex` maps LPS mm to texture coordinates (voxel centres at (i + 0.5) / ni). Window and
level are in the image's own units (HU for CT); `grey()` is the one display mapping, used by the
shaders' twin in caps_common.glsl/slice.frag and by tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import moderngl
import numpy as np

from orkiosk.plan.image import ImageVolume, WindowPreset
from orkiosk.render.errors import RenderError


def lps_to_texture_matrix(affine: np.ndarray, dims_ijk) -> np.ndarray:
    """4x4: LPS mm -> texture coordinates (s, t, r) in 0..1 of a volume of dims (i, j, k)."""
    scale = np.eye(4)
    n = np.asarray(dims_ijk, dtype=np.float64)
    scale[:3, :3] = np.diag(1.0 / n)
    scale[:3, 3] = 0.5 / n
    return scale @ np.linalg.inv(np.asarray(affine, dtype=np.float64))


def grey(values, window: float, level: float) -> np.ndarray:
    """Display grey 0..1 of image values under a window/level (linear ramp, clamped)."""
    v = np.asarray(values, dtype=np.float64)
    return np.clip((v - (level - window / 2)) / window, 0.0, 1.0)


@dataclass(frozen=True)
class Window:
    width: float
    level: float

    @classmethod
    def of(cls, preset: WindowPreset) -> Window:
        return cls(float(preset.window), float(preset.level))


class GpuVolume:
    """The image as a 3D texture, reserved (not written: a SceneUpload fills it with
    prepare.texture_voxels(image) in slices). Made on the GL thread; release() frees it."""

    def __init__(self, ctx: moderngl.Context, image: ImageVolume):
        self.image = image
        k, j, i = image.array.shape
        self.dims = (i, j, k)
        try:
            self.texture = ctx.texture3d(self.dims, 1, dtype="f2")
        except moderngl.Error as exc:
            raise RenderError(f"no room for the image volume on the GPU: {exc}") from exc
        self.texture.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self.texture.repeat_x = self.texture.repeat_y = self.texture.repeat_z = False
        self.lps_to_tex = lps_to_texture_matrix(image.affine, self.dims)
        self.default_window = Window.of(image.default_preset())

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.dims)) * 2

    def release(self) -> None:
        self.texture.release()
