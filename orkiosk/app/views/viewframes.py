"""The 3D view's pictures and how full frames reach them without stalling the UI.

Two Kivy textures, each with a moderngl framebuffer drawing into it: the *front* one is on
screen, the *back* one receives a full-quality frame that orkiosk.render draws in bounded steps
(Renderer.frame_steps), a few milliseconds of GL work per UI frame, so the UI clock keeps ticking
on a software rasteriser too. Only when the frame is complete are the two swapped: the screen
shows either the old picture or the whole new one, never a part of a frame and never parts of
two plans. A new plan's meshes reach the GPU the same way (Renderer.scene_upload, in slices).

On a GPU every step of a frame fits in one UI frame: the picture changes in the frame it is
asked for, as before.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import moderngl

from orkiosk.render.targets import bucket, holds

STEP_MS = 8.0  # GL work per UI frame while a picture or an upload is built in steps
UPLOAD_SLICE = 4 << 20  # bytes written to the GPU per upload step
FIRST_TRIANGLES = 30_000  # per drawing step, until steps were measured
MIN_TRIANGLES, MAX_TRIANGLES = 5_000, 50_000_000
FIRST_PIXELS = 250_000  # of full-screen work per step, until measured
MIN_PIXELS, MAX_PIXELS = 20_000, 100_000_000


class Picture:
    """A Kivy texture with a framebuffer drawing into it (colour only: the renderer draws the
    scene in its own buffers and only copies and composes into this one). Made at the view's
    size rounded up to BUCKET pixels (orkiosk.render.targets): a frame fills its bottom-left
    part, `tex_coords` say which. Never shown before something was drawn into it."""

    def __init__(self, ctx: moderngl.Context, size: tuple[int, int]):
        from kivy.graphics.texture import Texture  # here: the pure parts load without Kivy

        self.size = size
        self.texture = Texture.create(size=size, colorfmt="rgba")
        # Kivy gives the texture its storage with its first pixels (a framebuffer needs it)
        self.texture.blit_buffer(bytes(size[0] * size[1] * 4), colorfmt="rgba", bufferfmt="ubyte")
        self._ext = ctx.external_texture(self.texture.id, size, 4, 0, "f1")
        self.fbo = ctx.framebuffer([self._ext])
        self.tex_coords = (0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0)
        self.scale = 1.0  # drawn at this fraction of the view's pixels (interactive frames)
        self.drawn = False  # holds a picture (a new texture is blank)
        self.scene = None  # the Scene whose frame it holds

    def hold(self, scene, viewport: tuple[int, int], scale: float) -> None:
        """A frame of `viewport` pixels (bottom-left) was drawn into it."""
        u, v = viewport[0] / self.size[0], viewport[1] / self.size[1]
        self.tex_coords = (0.0, 0.0, u, 0.0, u, v, 0.0, v)
        self.scale, self.drawn, self.scene = scale, True, scene

    def release(self) -> None:
        self.fbo.release()
        self._ext.release()  # wraps Kivy's texture id: moderngl does not delete it


class Pictures:
    """The front picture (on screen) and the back one (a full frame being built). When the
    view outgrows them, the last picture stays on screen (`stale`) until the first picture in
    the new ones replaces it: the view never goes blank."""

    def __init__(self):
        self.front: Picture | None = None
        self.back: Picture | None = None
        self.stale: Picture | None = None

    def ensure(self, ctx: moderngl.Context, size: tuple[int, int]) -> bool:
        """Pictures that hold `size`; True when they had to be made again (both blank)."""
        if self.front is not None and holds(self.front.size, size):
            return False
        want = bucket(size)
        keep = self.front if self.front is not None and self.front.drawn else self.stale
        for p in {self.front, self.back, self.stale} - {keep, None}:
            p.release()
        self.stale = keep
        self.front, self.back = Picture(ctx, want), Picture(ctx, want)
        return True

    @property
    def shown(self) -> Picture:
        """What the view shows: the front picture, or the stale one while the front is blank."""
        if self.front.drawn or self.stale is None:
            return self.front
        return self.stale

    def swap(self) -> Picture:
        """The back picture becomes the one on screen; returns it."""
        self.front, self.back = self.back, self.front
        return self.front

    def drop_stale(self) -> None:
        if self.stale is not None and self.front is not None and self.front.drawn:
            self.stale.release()
            self.stale = None

    def release(self) -> None:
        for p in {self.front, self.back, self.stale} - {None}:
            p.release()
        self.front = self.back = self.stale = None


def shown_coords(picture: Picture, view: tuple[int, int]) -> tuple:
    """Texture coordinates that show `picture` in a view of `view` pixels: the frame drawn
    for a view of another size at its own scale, centred (cropped where the view is smaller,
    stretched only where it is larger); a frame drawn for this size exactly as drawn."""
    u0, v0, u1, _, _, v1, _, _ = picture.tex_coords
    w, h = picture.size
    s = picture.scale
    pw, ph = (u1 - u0) * w / s, (v1 - v0) * h / s  # the drawn part, in view pixels
    cw, ch = min(pw, view[0]), min(ph, view[1])
    cu, cv = (u0 + u1) / 2, (v0 + v1) / 2
    du, dv = cw * s / w / 2, ch * s / h / 2
    return (cu - du, cv - dv, cu + du, cv - dv, cu + du, cv + dv, cu - du, cv + dv)


@dataclass
class StepBudget:
    """How much a drawing step may do, adapted so that a step takes about half of STEP_MS
    (measured with the GL work finished: a software rasteriser does it at the flush):
    triangles of mesh drawing, pixels of full-screen work (drawn in bands)."""

    triangles: int = FIRST_TRIANGLES
    pixels: int = FIRST_PIXELS
    step_ms: float = STEP_MS

    def learn(self, ms: float, triangles: int, pixels: int) -> None:
        if ms <= 0:
            return
        share = 0.5 * self.step_ms / ms
        if triangles > 0:
            self.triangles = int(min(MAX_TRIANGLES, max(MIN_TRIANGLES, triangles * share)))
        elif pixels > 0:
            self.pixels = int(min(MAX_PIXELS, max(MIN_PIXELS, pixels * share)))


@dataclass
class StepRun:
    """What one UI frame's share of steps did."""

    done: bool
    steps: int = 0
    ms: float = 0.0
    longest_ms: float = 0.0


def run_steps(
    ctx: moderngl.Context, step, budget_ms: float = STEP_MS, learn: StepBudget | None = None
) -> StepRun:
    """Call `step()` (returns (done, triangles, pixels drawn)) until done or `budget_ms` of GL
    work was spent in this UI frame; each step's work is finished (ctx.finish) and timed, and
    `learn` adapts the triangles per step to what was measured."""
    start = time.perf_counter()
    run = StepRun(False)
    while True:
        t = time.perf_counter()
        done, triangles, pixels = step()
        ctx.finish()
        ms = (time.perf_counter() - t) * 1000
        if learn is not None:
            learn.learn(ms, triangles, pixels)
        run.steps += 1
        run.longest_ms = max(run.longest_ms, ms)
        if done:
            run.done = True
            break
        if (time.perf_counter() - start) * 1000 + ms > budget_ms:
            break  # the next step would likely not fit this frame
    run.ms = (time.perf_counter() - start) * 1000
    return run


@dataclass
class FrameJob:
    """A frame being drawn in steps (orkiosk.render's frame_steps) into the back picture."""

    steps: object  # orkiosk.render.steps.FrameSteps: each next() draws one step
    scene: object  # the Scene it draws
    quality: object  # orkiosk.render.state.Quality
    interactive: bool
    viewport: tuple  # (w, h) drawn into the bottom-left of the back picture
    scale: float  # of the view's pixels
    started: float

    @property
    def label(self) -> str:
        return "interactive" if self.interactive else "full"


class Incoming:
    """A plan being handed over: its meshes uploading in slices, then its first frame drawn
    in steps behind the picture on screen."""

    def __init__(self, package, upload):
        self.package = package
        self.upload = upload
        self.scene = None  # once uploaded

    def release(self) -> None:
        if self.scene is not None:
            self.scene.release()
        else:
            self.upload.release()
