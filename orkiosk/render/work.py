"""The work of a frame as data: passes of full-screen work and mesh draws, cut into steps.

A Pass binds one framebuffer (`bind`, at the start of each of its steps), clears it once
(`clear`, in its first step) and does its `work` in order: Fullscreen units (a full-screen pass
or other fixed work) and Draws (one mesh with one program). Every unit sets the GL state and the
uniforms it needs itself, because a host toolkit (Kivy) may draw anything between two steps.

cut_steps() cuts the passes into Steps as they are wanted: without a budget one step per pass;
with one, a clear and each Fullscreen unit get a step of their own and the Draws are cut into
index ranges so that no step draws more triangles than the budget (read as each step begins,
so a caller may adapt it). Either way the triangles are drawn in the same order. With a pixel
budget as well, clears and banded Fullscreen units (those that touch each pixel on its own:
clears, the resolve, the output) are done in horizontal bands (scissor boxes) of at most that
many pixels, one step each: the same pixels, a bounded step on a software rasteriser too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import moderngl

from orkiosk.render.programs import GL_CLIP_DISTANCE0

GL_SCISSOR_TEST = 0x0C11
GL_STENCIL_TEST = 0x0B90


@dataclass(frozen=True)
class Fullscreen:
    """Fixed work of a pass (a full-screen triangle, a blit, the final composition). A banded
    one may be drawn in horizontal bands, one step each: run(band) with band = (x, y, w, h) of
    the pass's `area` (a scissor box), or None for all of it."""

    run: Callable[..., None]
    banded: bool = False
    small: bool = False  # a small fixed piece (the orientation marker): no pixels counted


@dataclass(frozen=True)
class Draw:
    """One mesh with one of the mesh programs; setup() sets every state and uniform it needs."""

    setup: Callable[[], None]
    mesh: object  # GpuMesh: .triangles, .render(program, first, count)
    program: str


@dataclass(frozen=True)
class Pass:
    name: str
    bind: Callable[[], None] | None  # the pass's framebuffer and viewport (None: its work binds)
    work: tuple = ()  # Fullscreen and Draw units, in order
    clear: Callable[..., None] | None = None  # clear(band): before the first step's bind
    output: bool = False  # draws into the caller's framebuffer
    area: tuple[int, int, int, int] | None = None  # what its clear and banded units cover

    def run(self) -> None:
        """The whole pass at once."""
        for step in cut_steps([self], lambda: None):
            step.run()


@dataclass
class Step:
    pass_: Pass
    clears: list = field(default_factory=list)  # bands to clear (None: all) before the bind
    work: list = field(default_factory=list)  # (Fullscreen, band), or (Draw, first, count)
    triangles: int = 0
    pixels: int = 0  # pixels of full-screen work (cleared or covered)

    @property
    def name(self) -> str:
        return self.pass_.name

    def ends_pass(self) -> bool:
        """Whether this step does the pass's last piece of work (its last unit, to the end
        of that unit's triangles or to the top of its area)."""
        p = self.pass_
        if not p.work:
            return bool(self.clears) and _tops(self.clears[-1], p.area)
        if not self.work or self.work[-1][0] is not p.work[-1]:
            return False
        unit = self.work[-1]
        if isinstance(unit[0], Fullscreen):
            return _tops(unit[1], p.area)
        draw, first, count = unit
        return first + count == draw.mesh.triangles

    def run(self) -> None:
        p = self.pass_
        for band in self.clears:
            p.clear(band)
        if p.bind is not None:
            p.bind()
        for unit in self.work:
            if isinstance(unit[0], Fullscreen):
                full, band = unit
                full.run(band) if full.banded else full.run()
            else:
                draw, first, count = unit
                draw.setup()
                draw.mesh.render(draw.program, first, count)


def bands(area, pixels: int | None) -> list:
    """`area` (x, y, w, h) cut into horizontal bands of at most `pixels` pixels (at least one
    row each), bottom first; [None] (all of it) without a pixel budget or an area."""
    if pixels is None or area is None:
        return [None]
    x, y, w, h = area
    rows = max(1, min(h, pixels // max(1, w)))
    return [(x, y0, w, min(rows, y + h - y0)) for y0 in range(y, y + h, rows)] or [None]


def _tops(band, area) -> bool:
    """The band reaches the top of the area (None: all of it)."""
    return band is None or area is None or band[1] + band[3] >= area[1] + area[3]


def _area(band, area) -> int:
    box = band or area
    return int(box[2] * box[3]) if box is not None else 0


def cut_steps(
    passes, budget: Callable[[], int | None], pixels: Callable[[], int | None] = lambda: None
) -> Iterator[Step]:
    """The passes as steps, made one at a time. budget() (read as each step begins) None: one
    step per pass; a number: at most that many mesh triangles per step, cut at index ranges,
    and a pass's clear and each Fullscreen unit in steps of their own (they touch every
    pixel): with pixels() a number, banded ones in bands of at most that many pixels each."""
    for p in passes:
        cur, limit = Step(p), budget()
        if p.clear is not None:
            if limit is None:
                cur.clears, cur.pixels = [None], _area(None, p.area)
            else:
                for band in bands(p.area, pixels()):
                    yield Step(p, clears=[band], pixels=_area(band, p.area))
                cur, limit = Step(p), budget()
        for unit in p.work:
            if isinstance(unit, Fullscreen):
                area = None if unit.small else p.area
                if limit is None:
                    cur.work.append((unit, None))
                    cur.pixels += _area(None, area)
                    continue
                if cur.work:
                    yield cur
                cuts = bands(p.area, pixels()) if unit.banded else [None]
                for band in cuts:
                    yield Step(p, work=[(unit, band)], pixels=_area(band, area))
                cur, limit = Step(p), budget()
                continue
            start, total = 0, unit.mesh.triangles
            while start < total:
                room = total - start if limit is None else limit - cur.triangles
                if room <= 0:
                    yield cur
                    cur, limit = Step(p), budget()
                    continue
                n = min(room, total - start)
                cur.work.append((unit, start, n))
                cur.triangles += n
                start += n
        if cur.work or cur.clears:
            yield cur


def reset_state(ctx: moderngl.Context) -> None:
    """moderngl's defaults for what a host may have changed: nothing enabled (no clip distance,
    scissor or stencil test), additive blending of src-alpha, depth "<", back faces culled
    when culling is enabled. Framebuffer bindings, masks and viewports come with fbo.use()."""
    ctx.enable_only(moderngl.NOTHING)
    for cap in (GL_CLIP_DISTANCE0, GL_SCISSOR_TEST, GL_STENCIL_TEST):
        ctx.disable_direct(cap)
    ctx.blend_equation = moderngl.FUNC_ADD
    ctx.blend_func = moderngl.DEFAULT_BLENDING
    ctx.depth_func = "<"
    ctx.front_face = "ccw"
    ctx.cull_face = "back"
