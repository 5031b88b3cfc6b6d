"""The work of a frame as data: passes of full-screen work and mesh draws, cut into steps.

A Pass binds one framebuffer (`bind`, at the start of each of its steps), clears it once
(`clear`, in its first step) and does its `work` in order: Fullscreen units (a full-screen pass
or other fixed work) and Draws (one mesh with one program). Every unit sets the GL state and the
uniforms it needs itself, because a host toolkit (Kivy) may draw anything between two steps.

cut_steps() cuts the passes into Steps as they are wanted: without a budget one step per pass;
with one, a clear and each Fullscreen unit get a step of their own and the Draws are cut into
index ranges so that no step draws more triangles than the budget (read as each step begins,
so a caller may adapt it). Either way the triangles are drawn in the same order.
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
    """Fixed work of a pass (a full-screen triangle, a blit, the final composition)."""

    run: Callable[[], None]


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
    clear: Callable[[], None] | None = None  # once, before the first step's bind
    output: bool = False  # draws into the caller's framebuffer

    def run(self) -> None:
        """The whole pass at once."""
        for step in cut_steps([self], lambda: None):
            step.run()


@dataclass
class Step:
    pass_: Pass
    first: bool = False  # the pass's first step: runs its clear
    work: list = field(default_factory=list)  # Fullscreen, or (Draw, first triangle, count)
    triangles: int = 0

    @property
    def name(self) -> str:
        return self.pass_.name

    def run(self) -> None:
        p = self.pass_
        if self.first and p.clear is not None:
            p.clear()
        if p.bind is not None:
            p.bind()
        for unit in self.work:
            if isinstance(unit, Fullscreen):
                unit.run()
            else:
                draw, first, count = unit
                draw.setup()
                draw.mesh.render(draw.program, first, count)


def cut_steps(passes, budget: Callable[[], int | None]) -> Iterator[Step]:
    """The passes as steps, made one at a time: budget() (read as each step begins) None: one
    step per pass; a number: a pass's clear and each Fullscreen unit alone (they touch every
    pixel) and at most that many mesh triangles per step, cut at index ranges."""
    for p in passes:
        cur, limit = Step(p, first=True), budget()
        if limit is not None and p.clear is not None and p.work:
            yield cur
            cur, limit = Step(p), budget()
        for unit in p.work:
            if isinstance(unit, Fullscreen):
                if limit is not None and cur.work:
                    yield cur
                    cur, limit = Step(p), budget()
                cur.work.append(unit)
                if limit is not None:
                    yield cur
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
        if cur.work or cur.first:
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
