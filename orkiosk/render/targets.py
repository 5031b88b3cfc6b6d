"""Render targets: the scene buffers of one frame size, the renderer's own output target, and
colour-only framebuffers on a caller's colour texture (so the scene buffer can be copied)."""

from __future__ import annotations

import moderngl

BUCKET = 128  # scene buffers are made in steps of this many pixels: a view that shrinks or
# grows a little (a banner above it comes or goes) keeps its buffers (new ones cost a software
# rasteriser tens of milliseconds on first use)


def bucket(size: tuple[int, int]) -> tuple[int, int]:
    return tuple(-(-int(n) // BUCKET) * BUCKET for n in size)


def holds(made: tuple[int, int], size: tuple[int, int]) -> bool:
    """Buffers made at `made` serve `size`: big enough, and not more than twice the pixels
    a fresh set would have."""
    want = bucket(size)
    big_enough = made[0] >= size[0] and made[1] >= size[1]
    return big_enough and made[0] * made[1] <= 2 * want[0] * want[1]


class SceneTargets:
    """Offscreen buffers for one scene size: multisampled opaque, resolved, OIT accumulation.
    `size` is what they were made for, `used` the part (bottom-left) the current frame uses."""

    def __init__(self, ctx: moderngl.Context, size: tuple[int, int], samples: int):
        self.size = size
        self.used = size
        self.samples = samples
        self.objects = []

        def keep(obj):
            self.objects.append(obj)
            return obj

        self.color = keep(ctx.texture(size, 4))
        self.color.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self.color.repeat_x = self.color.repeat_y = False
        self.depth = keep(ctx.depth_texture(size))
        self.depth.compare_func = ""
        self.depth.filter = (moderngl.NEAREST, moderngl.NEAREST)
        self.depth.repeat_x = self.depth.repeat_y = False
        self.fbo = keep(ctx.framebuffer([self.color], self.depth))
        self.ms_fbo = None
        if samples > 1:
            ms_color = keep(ctx.renderbuffer(size, 4, samples=samples))
            ms_depth = keep(ctx.depth_renderbuffer(size, samples=samples))
            self.ms_fbo = keep(ctx.framebuffer([ms_color], ms_depth))
        self.accum = keep(ctx.texture(size, 4, dtype="f2"))
        self.weight = keep(ctx.texture(size, 1, dtype="f2"))
        for t in (self.accum, self.weight):
            t.filter = (moderngl.LINEAR, moderngl.LINEAR)
            t.repeat_x = t.repeat_y = False
        self.oit_fbo = keep(ctx.framebuffer([self.accum, self.weight], self.depth))
        self.oit_clear = keep(ctx.framebuffer([self.accum, self.weight]))
        self._ctx = ctx
        self.count_fbo = None
        self.lent = False  # to a frame that has not finished (TargetCache.lend)

    @property
    def uv_scale(self) -> tuple[float, float]:
        """Texture coordinates of the used part's top-right corner."""
        return (self.used[0] / self.size[0], self.used[1] / self.size[1])

    def counts(self):
        """Crossing counters for translucent caps (made on first use)."""
        if self.count_fbo is None:
            c0 = self._ctx.texture(self.size, 4, dtype="f2")
            c1 = self._ctx.texture(self.size, 4, dtype="f2")
            for t in (c0, c1):
                t.filter = (moderngl.NEAREST, moderngl.NEAREST)
                self.objects.append(t)
            self.count_textures = (c0, c1)
            self.count_fbo = self._ctx.framebuffer([c0, c1])
            self.objects.append(self.count_fbo)
        return self.count_fbo

    def resolve(self, band=None) -> None:
        """The multisampled colour and depth into the plain buffers (within `band`, a scissor
        box; the blit honours it)."""
        self.fbo.use()
        self.fbo.scissor = band
        self._ctx.copy_framebuffer(self.fbo, self.ms_fbo)
        self.fbo.scissor = None

    def release(self) -> None:
        for obj in reversed(self.objects):
            obj.release()
        self.objects = []


class TargetCache:
    """The renderer's size-dependent buffers, remade when the size changes."""

    def __init__(self, ctx: moderngl.Context):
        self.ctx = ctx
        self._scenes: list[SceneTargets] = []
        self._output = None  # (texture, fbo) when drawing into our own target
        self._direct: dict = {}

    def lend(self, size: tuple[int, int], samples: int) -> SceneTargets:
        """Scene buffers for one frame until take_back(): a stepped frame keeps its own while
        other frames are drawn between its steps (then a second set is made). A free set of
        another size is remade, so there are only as many sets as frames in progress. A set is
        made at the size rounded up to BUCKET pixels and used for any size it holds (holds())."""
        free = [t for t in self._scenes if not t.lent]
        fits = [t for t in free if t.samples == samples and holds(t.size, size)]
        t = min(fits, key=lambda t: t.size[0] * t.size[1], default=None)
        if t is None:
            want = bucket(size)
            if free:
                free[0].release()
                self._scenes.remove(free[0])
            t = SceneTargets(self.ctx, want, samples)
            self._scenes.append(t)
        t.lent = True
        t.used = tuple(size)
        return t

    @staticmethod
    def take_back(targets: SceneTargets) -> None:
        targets.lent = False

    def output_fbo(self, size: tuple[int, int]) -> moderngl.Framebuffer:
        if self._output is None or self._output[1].size != size:
            for obj in reversed(self._output or ()):
                obj.release()
            tex = self.ctx.texture(size, 4)
            self._output = (tex, self.ctx.framebuffer([tex]))
        return self._output[1]

    @property
    def output_framebuffer(self) -> moderngl.Framebuffer | None:
        return None if self._output is None else self._output[1]

    def direct(self, framebuffer, viewport, ssize):
        """A colour-only framebuffer on the caller's colour attachment when the scene buffer can
        simply be copied into it (RGBA8, viewport at the origin and as big as the scene buffer:
        the copy lands in the bottom-left corner); else None."""
        if tuple(viewport) != (0, 0, *ssize):
            return None
        fw, fh = framebuffer.size
        if ssize[0] > fw or ssize[1] > fh:
            return None
        try:
            attachments = framebuffer.color_attachments
        except Exception:
            return None
        if not attachments or len(attachments) != 1:
            return None
        att = attachments[0]
        if getattr(att, "samples", 0) or getattr(att, "components", 4) != 4:
            return None
        if getattr(att, "dtype", "f1") != "f1":
            return None
        key = (att.glo, tuple(framebuffer.size))
        cached = self._direct.get(key)
        if cached is None:
            for old in self._direct.values():
                old.release()
            self._direct = {key: self.ctx.framebuffer([att])}
            cached = self._direct[key]
        return cached

    def release(self) -> None:
        for t in self._scenes:
            t.release()
        self._scenes = []
        for group in (self._output, tuple(self._direct.values())):
            for obj in reversed(group or ()):
                obj.release()
        self._output = None
        self._direct = {}
