"""What one frame draws: the camera's matrices (FrameView), the sorted draw lists (DrawList),
the FrameInfo that render() returns, and Lap, the per-pass timer of render(profile=...)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from orkiosk.render.boxes import box_distance, clip_cut
from orkiosk.render.camera import Camera
from orkiosk.render.caps import CapImage, cap_image, cut_slots
from orkiosk.render.markers import marker_items
from orkiosk.render.programs import NO_CLIP
from orkiosk.render.scene import OPAQUE_LIMIT, DrawItem, Scene
from orkiosk.render.state import DisplayState, Quality


@dataclass(frozen=True)
class FrameInfo:
    size: tuple[int, int]  # the target's pixels
    scene_size: tuple[int, int]  # pixels the 3D scene was drawn at
    samples: int
    lod: bool
    triangles: int
    transparent: bool
    cpu_ms: float  # time to issue the frame (not to finish it on the GPU), its steps together
    steps: int = 1  # steps the frame was drawn in (Renderer.frame_steps)


@dataclass
class FrameView:
    """The camera and clipping plane as the shaders take them, for a buffer of `size` pixels."""

    proj: np.ndarray
    view: np.ndarray
    rotation: np.ndarray  # the view's rotation (normal matrix of unscaled meshes)
    clip_eq: np.ndarray  # NO_CLIP without a clipping plane
    near: float
    far: float
    ortho: bool
    size: tuple[int, int]

    @classmethod
    def of(cls, camera: Camera, scene: Scene, state: DisplayState, aspect, size) -> FrameView:
        near, far = camera.clip_range(scene.bounds)
        clip = state.clip
        return cls(
            proj=camera.projection_matrix(aspect, near, far),
            view=camera.view_matrix(),
            rotation=camera.rotation,
            clip_eq=clip.equation() if clip is not None else NO_CLIP,
            near=near,
            far=far,
            ortho=camera.orthographic,
            size=size,
        )


@dataclass
class DrawList:
    opaque: list[DrawItem]  # front to back (early z)
    transparent: list[DrawItem]
    slots: list[DrawItem]  # cut closed structures whose sections are drawn (see caps)
    markers: list  # (unit mesh, model matrix, colour, pick code)
    background: tuple[float, ...]
    cap_image: CapImage | None = None  # the image painted on the cut sections

    @property
    def triangles(self) -> int:
        return sum(e.mesh.triangles for e in self.opaque + self.transparent)

    @classmethod
    def of(cls, scene: Scene, camera: Camera, state: DisplayState, quality: Quality) -> DrawList:
        """The visible structures not entirely clipped away, split by opacity."""
        opaque, transparent = [], []
        for st, s in zip(scene.structures, scene.plan.structures, strict=True):
            if not state.is_visible(s):
                continue
            cut = clip_cut(state.clip, st.bounds)
            if cut is None:
                continue  # entirely on the removed side
            a = state.opacity_of(s)
            mesh = st.lod if (quality.lod and st.lod is not None) else st.gpu
            item = DrawItem(st, mesh, state.color_of(s), a, cut)
            (opaque if a >= OPAQUE_LIMIT else transparent).append(item)
        eye = camera.eye
        opaque.sort(key=lambda e: box_distance(e.st.bounds, eye))
        return cls(
            opaque=opaque,
            transparent=transparent,
            slots=cut_slots(opaque + transparent) if state.clip is not None else [],
            markers=marker_items(scene, state),
            background=tuple(float(c) for c in state.background),
            cap_image=cap_image(scene, state),
        )


class Lap:
    """Per-pass timing for render(profile=...): glFinish, then note the time since the last."""

    def __init__(self, ctx, out: dict | None):
        self.ctx, self.out = ctx, out
        self.t = time.perf_counter()

    def __call__(self, name: str) -> None:
        if self.out is None:
            return
        self.ctx.finish()
        now = time.perf_counter()
        self.out[name] = self.out.get(name, 0.0) + (now - self.t) * 1000
        self.t = now
