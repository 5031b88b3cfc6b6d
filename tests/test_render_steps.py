"""Stepped frames and sliced uploads (Renderer.frame_steps, Renderer.scene_upload) on a headless
EGL context: the same picture as one-shot rendering, whatever a host does to the GL state
between steps, within the triangle budget, the caller's framebuffer untouched until the last
step; uploads in slices, failing up front, abandoned without leaks."""

from __future__ import annotations

import ctypes
import os

import moderngl
import numpy as np
import pytest

from orkiosk.plan.model import Landmark, Patient, Plan, Structure, Study, Trajectory
from orkiosk.render.camera import Camera
from orkiosk.render.errors import RenderError
from orkiosk.render.geometry import uv_sphere
from orkiosk.render.state import FULL, INTERACTIVE, ClipPlane, DisplayState, Quality

W, H = 200, 150
GREY, RED, BLUE, GREEN = (0.6, 0.6, 0.6), (1.0, 0.02, 0.02), (0.05, 0.1, 1.0), (0.02, 0.8, 0.02)
MAGENTA = (1.0, 0.0, 1.0, 1.0)
BUDGET = 500
QUALITIES = {"full": FULL, "no-msaa": Quality(msaa=0), "interactive": INTERACTIVE}


@pytest.fixture(scope="module")
def ctx():
    from orkiosk.render.context import create_headless_context

    try:
        context = create_headless_context()
    except RenderError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"no headless OpenGL in CI: {exc}")
        pytest.skip(f"no headless OpenGL: {exc}")
    yield context
    context.release()


@pytest.fixture(scope="module")
def renderer(ctx):
    from orkiosk.render.renderer import Renderer

    r = Renderer(ctx)
    yield r
    r.release()


def plan_and_meshes():
    """Opaque and translucent spheres (nested and side by side), a trajectory, a landmark."""
    parts = [
        ("shell", (0.0, 0.0, 0.0), 60.0, GREY, 0.3),
        ("ball", (0.0, 0.0, 0.0), 25.0, RED, 1.0),
        ("side", (40.0, 0.0, 0.0), 15.0, BLUE, 0.5),
        ("knob", (-40.0, 0.0, 10.0), 12.0, GREEN, 1.0),
    ]
    structures, meshes = [], {}
    for sid, centre, radius, color, opacity in parts:
        structures.append(Structure(sid, sid.title(), f"meshes/{sid}.glb", color, opacity))
        meshes[sid] = uv_sphere(centre, radius, 24, 48)
    plan = Plan(
        case_id="STEPS",
        plan_version=1,
        created="2026-01-01T00:00:00Z",
        planner="t",
        patient=Patient("T^T", "1"),
        study=Study("1"),
        procedure="p",
        laterality="left",
        structures=tuple(structures),
        trajectories=(Trajectory("t", "Path", (70.0, -30.0, 60.0), (0.0, 0.0, 0.0), 3.0),),
        landmarks=(Landmark("n", "Nose", (0.0, -70.0, 0.0)),),
    )
    return plan, meshes


@pytest.fixture(scope="module")
def scene(renderer):
    plan, meshes = plan_and_meshes()
    s = renderer.create_scene(plan, meshes)
    yield s
    s.release()


@pytest.fixture
def target(ctx):
    """A caller's framebuffer as the kiosk makes it: colour texture + depth renderbuffer."""
    tex, depth = ctx.texture((W, H), 4), ctx.depth_renderbuffer((W, H))
    fbo = ctx.framebuffer([tex], depth)
    yield fbo
    for obj in (fbo, depth, tex):
        obj.release()


CASES = {
    # name: (view, display state): opaque + translucent + markers + outlines, with and without
    # a cut through both kinds (opaque and translucent caps)
    "whole": ("anterior", DisplayState()),
    "cut": ("superior", DisplayState(clip=ClipPlane.axial((0.0, 0.0, 0.0), 5.0))),
}


def one_shot(renderer, scene, fbo, view, state, quality):
    cam = Camera.named(view, scene.bounds, W / H)
    fbo.clear(*MAGENTA)
    info = renderer.render(scene, cam, state, framebuffer=fbo, quality=quality)
    return renderer.read_image(fbo), info


def stepped(renderer, scene, fbo, view, state, quality, budget=BUDGET, between=None, pixels=None):
    cam = Camera.named(view, scene.bounds, W / H)
    fbo.clear(*MAGENTA)
    steps = renderer.frame_steps(
        scene, cam, state, framebuffer=fbo, quality=quality, budget=budget, pixels=pixels
    )
    done = []
    for step in steps:
        done.append(step)
        if between is not None:
            between()
    return renderer.read_image(fbo), steps.info, done


def assert_same_picture(a, b, translucent=True):
    """Bit-identical: the triangles are drawn in the same order; the OIT sums might differ by
    a rounding level on some GPU, nothing more."""
    diff = np.abs(a.astype(int) - b.astype(int))
    assert diff.max() <= (1 if translucent else 0), f"{(diff.max(axis=2) > 0).sum()} pixels differ"


# ------------------------------------------------------------------ the same picture


@pytest.mark.parametrize("quality", list(QUALITIES))
@pytest.mark.parametrize("case", list(CASES))
def test_stepped_frame_is_the_one_shot_frame(renderer, scene, target, case, quality):
    view, state = CASES[case]
    q = QUALITIES[quality]
    ref, ref_info = one_shot(renderer, scene, target, view, state, q)
    assert not (ref == (255, 0, 255)).all(axis=2).any()  # the picture covers the target
    img, info, done = stepped(renderer, scene, target, view, state, q)
    assert_same_picture(ref, img)
    assert info.steps == len(done) > 10
    for field in ("size", "scene_size", "samples", "lod", "triangles", "transparent"):
        assert getattr(info, field) == getattr(ref_info, field), field
    passes = {s.name for s in done} - {"marker"}  # the orientation marker's: when it turned
    assert ref_info.steps - len(passes) in (0, 1)  # one-shot: one step per pass
    names = [s.name for s in done]
    expected = ["count"] if state.clip else []
    expected += ["opaque"] + (["resolve"] if info.samples else []) + ["transparent"]
    expected += ["caps"] if state.clip else []
    assert list(dict.fromkeys(n for n in names if n not in ("marker",)))[:-1] == expected
    assert names[-1] == "output"


def test_opaque_only_frame_is_bit_identical(renderer, scene, target):
    state = DisplayState(opacity={"shell": 1.0, "side": 1.0}, clip=CASES["cut"][1].clip)
    ref, _ = one_shot(renderer, scene, target, "superior", state, FULL)
    img, info, _ = stepped(renderer, scene, target, "superior", state, FULL, budget=97)
    assert not info.transparent
    assert_same_picture(ref, img, translucent=False)


# ------------------------------------------------------------------ a host between the steps


class ForeignGL:
    """What Kivy may do between two steps: its own framebuffer, program, vertex array and
    textures bound, viewport, enables, blending, depth, scissor, stencil, clip distance,
    culling and colour mask all changed, raw GL calls that moderngl does not see."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.gl = ctypes.CDLL("libGL.so.1")  # GLVND: the current (EGL) context
        self.tex = ctx.texture((16, 16), 4, bytes([255, 255, 0, 255]) * 256)
        self.fbo = ctx.framebuffer([ctx.texture((32, 32), 4)], ctx.depth_renderbuffer((32, 32)))
        self.prog = ctx.program(
            vertex_shader="#version 330\nin vec2 p; void main() { gl_Position = vec4(p, 0, 1); }",
            fragment_shader="#version 330\nout vec4 c; void main() { c = vec4(1, 1, 0, 1); }",
        )
        buf = ctx.buffer(np.array([-1, -1, 3, -1, -1, 3], dtype="f4"))
        self.vao = ctx.vertex_array(self.prog, [(buf, "2f", "p")])
        self.objects = [self.vao, buf, self.prog, self.fbo, self.tex]
        self.calls = 0

    def __call__(self):
        from orkiosk.render import glstate

        saved = glstate.kivy_state()
        self.calls += 1
        self.fbo.use()  # a draw of its own, through moderngl
        self.vao.render(moderngl.TRIANGLES)
        gl = self.gl
        gl.glBindFramebuffer(0x8D40, self.fbo.glo)  # GL_FRAMEBUFFER
        gl.glViewport(3, 5, 7, 9)
        for cap in (0x0BE2, 0x0B71, 0x0B44, 0x0C11, 0x0B90, 0x3000):  # blend, depth, cull,
            gl.glEnable(cap)  # scissor, stencil, clip distance 0
        gl.glScissor(0, 0, 4, 4)
        gl.glStencilFunc(0x0200, 0, 0xFF)  # GL_NEVER
        gl.glBlendFuncSeparate(0, 1, 0, 1)  # ZERO, ONE
        gl.glBlendEquation(0x8007)  # GL_MIN
        gl.glDepthFunc(0x0204)  # GL_GREATER
        gl.glDepthMask(0)
        gl.glCullFace(0x0404)  # GL_FRONT
        gl.glFrontFace(0x0900)  # GL_CW
        gl.glColorMask(1, 0, 1, 0)
        for unit in range(8):
            gl.glActiveTexture(0x84C0 + unit)
            gl.glBindTexture(0x0DE1, self.tex.glo)
        gl.glUseProgram(self.prog.glo)
        gl.glBindVertexArray(self.vao.glo)
        glstate.hand_back_to_kivy(saved)  # as the kiosk does after each step ...
        gl.glDepthFunc(0x0204)  # ... and Kivy changes things again
        gl.glEnable(0x0C11)
        gl.glBlendEquation(0x800B)  # GL_FUNC_REVERSE_SUBTRACT
        gl.glBindFramebuffer(0x8D40, self.fbo.glo)

    def release(self):
        self.ctx.detect_framebuffer(0).use()  # moderngl's binding: not the fbo released here
        for obj in self.objects:
            obj.release()


@pytest.mark.parametrize("quality", ["full", "interactive"])
def test_foreign_gl_state_between_steps_changes_nothing(renderer, scene, target, ctx, quality):
    foreign = ForeignGL(ctx)
    try:
        for view, state in CASES.values():
            q = QUALITIES[quality]
            ref, _ = one_shot(renderer, scene, target, view, state, q)
            img, _, done = stepped(renderer, scene, target, view, state, q, between=foreign)
            assert foreign.calls >= len(done)
            assert_same_picture(ref, img)
        assert ctx.error == "GL_NO_ERROR"
    finally:
        foreign.release()


@pytest.mark.parametrize("quality", list(QUALITIES))
def test_full_screen_work_in_bands_gives_the_same_picture(renderer, scene, target, ctx, quality):
    """With a pixel budget the clears, the resolve, the caps and the output go in horizontal
    bands (scissor boxes), one step each, with a host messing with GL state (scissor too)
    between the steps: the same picture, and no full-screen step over the budget."""
    pixels = 3000  # W x H = 30000: ten bands at full size
    foreign = ForeignGL(ctx)
    try:
        for view, state in CASES.values():
            q = QUALITIES[quality]
            ref, _ = one_shot(renderer, scene, target, view, state, q)
            img, info, done = stepped(
                renderer, scene, target, view, state, q, between=foreign, pixels=pixels
            )
            assert_same_picture(ref, img)
            assert all(s.pixels <= pixels for s in done), [(s.name, s.pixels) for s in done]
            banded = [s for s in done if s.pixels and not s.triangles]
            assert sum(s.name == "output" for s in done) >= 2  # the output itself in bands
            assert len(banded) > 10
            assert done[-1].last and not any(s.last for s in done[:-1])
            assert info.steps == len(done)
        assert ctx.error == "GL_NO_ERROR"
        with pytest.raises(RenderError, match="pixel budget"):
            renderer.frame_steps(scene, Camera(), size=(W, H), budget=10, pixels=0)
    finally:
        foreign.release()


def test_other_frames_between_steps_do_not_disturb_it(renderer, scene, target, ctx):
    """The kiosk may draw the old plan (other size, other quality, other camera) while the
    new one's first frame is made step by step: each frame keeps its own scene buffers."""
    view, state = CASES["cut"]
    ref, _ = one_shot(renderer, scene, target, view, state, FULL)
    other = Camera.named("left", scene.bounds, 1.0)

    def another_frame():
        renderer.render(scene, other, DisplayState(), size=(120, 120), quality=INTERACTIVE)

    img, _, _ = stepped(renderer, scene, target, view, state, FULL, between=another_frame)
    assert_same_picture(ref, img)
    # and a frame abandoned half-way gives its buffers back
    steps = renderer.frame_steps(scene, other, state, framebuffer=target, budget=BUDGET)
    next(steps)
    steps.close()
    img2, _, _ = stepped(renderer, scene, target, view, state, FULL)
    assert_same_picture(ref, img2)
    assert len(renderer._targets._scenes) <= 2


# ------------------------------------------------------------------ budget and output


def test_each_step_draws_at_most_the_budget(renderer, ctx):
    from orkiosk.plan.synthetic import make_synthetic_plan

    plan, meshes = make_synthetic_plan(triangles=20_000)
    scene = renderer.create_scene(plan, meshes, lod_budget=0)
    try:
        cam = Camera.named("anterior", scene.bounds, W / H)
        state = DisplayState(clip=ClipPlane.sagittal((20.0, 0.0, 0.0)))
        whole = list(renderer.frame_steps(scene, cam, state, size=(W, H)))
        total = sum(s.triangles for s in whole)
        for budget in (1, 777, 5000):
            steps = list(renderer.frame_steps(scene, cam, state, size=(W, H), budget=budget))
            assert max(s.triangles for s in steps) <= budget
            assert sum(s.triangles for s in steps) == total
            mesh_steps = [s for s in steps if s.triangles]
            assert len(mesh_steps) >= total // budget
        assert max(s.triangles for s in whole) > 5000  # no budget: no splitting
        # the host may change the budget between steps (to what it measured): it holds from
        # the next step on
        steps = renderer.frame_steps(scene, cam, state, size=(W, H), budget=300)
        drawn, budgets = 0, [300, 4000, 50, None, 1200, 7]
        for n, step in enumerate(steps):
            limit = steps.budget
            assert limit is None or step.triangles <= limit
            drawn += step.triangles
            steps.budget = budgets[n % len(budgets)]
        assert drawn == total
        for bad in (0, -5):
            with pytest.raises(RenderError, match="budget"):
                renderer.frame_steps(scene, cam, state, size=(W, H), budget=bad)
    finally:
        scene.release()


@pytest.mark.parametrize("quality", ["full", "interactive"])
def test_caller_framebuffer_untouched_until_the_last_step(renderer, scene, target, quality):
    view, state = CASES["cut"]
    cam = Camera.named(view, scene.bounds, W / H)
    target.clear(*MAGENTA)
    steps = renderer.frame_steps(
        scene, cam, state, framebuffer=target, quality=QUALITIES[quality], budget=BUDGET
    )
    done = []
    for step in steps:
        done.append(step)
        if step.output:
            break
        assert (renderer.read_image(target) == (255, 0, 255)).all(), step
        assert steps.info is None
    assert [s.output for s in done] == [False] * (len(done) - 1) + [True]
    rest = list(steps)  # the output steps are the last ones (bands, the orientation marker)
    assert all(s.output for s in rest) and [s.last for s in done + rest][-1]
    assert not any(s.last for s in (done + rest)[:-1])
    assert steps.info is not None and steps.info.steps == len(done) + len(rest)
    img = renderer.read_image(target)
    assert not (img == (255, 0, 255)).all(axis=2).any()


def test_scene_released_between_steps(renderer, target):
    plan, meshes = plan_and_meshes()
    scene = renderer.create_scene(plan, meshes)
    steps = renderer.frame_steps(
        scene, Camera.named("anterior", scene.bounds), framebuffer=target, budget=BUDGET
    )
    next(steps)
    scene.release()
    with pytest.raises(RenderError, match="released"):
        next(steps)
    with pytest.raises(RenderError, match="released"):
        renderer.frame_steps(scene, Camera(), framebuffer=target)


# ------------------------------------------------------------------ sliced upload


class Writes:
    """Bytes written into buffers and textures between two points."""

    def __init__(self, monkeypatch):
        self.bytes = 0
        for cls in (moderngl.Buffer, moderngl.Texture3D):
            orig = cls.write

            def write(obj, data, *args, _orig=orig, **kw):
                self.bytes += memoryview(data).nbytes
                return _orig(obj, data, *args, **kw)

            monkeypatch.setattr(cls, "write", write)

    def take(self) -> int:
        n, self.bytes = self.bytes, 0
        return n


class Made:
    """Every buffer and 3D texture the context makes."""

    def __init__(self, monkeypatch):
        self.objects = []
        for name in ("buffer", "texture3d"):
            orig = getattr(moderngl.Context, name)

            def make(ctx, *args, _orig=orig, **kw):
                obj = _orig(ctx, *args, **kw)
                self.objects.append(obj)
                return obj

            monkeypatch.setattr(moderngl.Context, name, make)

    def all_released(self) -> bool:
        return all(isinstance(o.mglo, moderngl.InvalidObject) for o in self.objects)


@pytest.fixture(scope="module")
def demo():
    from orkiosk.plan.demo import demo_package_path
    from orkiosk.plan.package import load_package
    from orkiosk.render.prepare import prepare_scene

    pkg = load_package(demo_package_path())
    assert pkg.image is not None
    return prepare_scene(pkg.plan, pkg.meshes, image=pkg.image)


def test_sliced_upload_gives_the_same_picture(renderer, demo, monkeypatch):
    cut = ClipPlane.axial(tuple((demo.bounds[0] + demo.bounds[1]) / 2))
    state = DisplayState(clip=cut)  # the cut shows the image: the 3D texture is checked too
    cam = Camera.named("superior", demo.bounds, W / H)
    whole = renderer.create_scene(demo)
    try:
        renderer.render(whole, cam, state, size=(W, H))
        ref = renderer.read_image()
    finally:
        whole.release()
    width = demo.voxels.shape[2] * 2  # bytes in one row of the image
    for chunk in (width * 3 + 5, 1 << 16, 1 << 20):  # a few rows / slices / big pieces
        writes = Writes(monkeypatch)
        upload = renderer.scene_upload(demo, chunk_bytes=chunk)
        assert writes.take() == 0  # reserved, nothing written yet
        with pytest.raises(RenderError, match="not finished"):
            _ = upload.scene
        steps = 1
        while not upload.step():
            steps += 1
            assert writes.take() <= chunk
        assert writes.take() <= chunk
        assert steps >= upload.total_bytes // chunk
        assert upload.step() and upload.done
        scene = upload.scene
        try:
            renderer.render(scene, cam, state, size=(W, H))
            assert_same_picture(ref, renderer.read_image(), translucent=False)
        finally:
            scene.release()
        monkeypatch.undo()


def test_upload_without_gpu_memory_fails_up_front(renderer, ctx, demo, monkeypatch):
    """A terabyte of mesh: the reservation fails (GL_OUT_OF_MEMORY), nothing is written,
    nothing is kept, and the renderer goes on."""
    from dataclasses import replace

    from orkiosk.plan.mesh import Mesh

    n = (1 << 40) // 12
    huge = Mesh(
        np.broadcast_to(np.zeros(3, np.float32), (n, 3)),
        np.broadcast_to(np.zeros(3, np.float32), (n, 3)),
        np.broadcast_to(np.zeros(3, np.uint32), (n, 3)),
    )
    structures = (*demo.structures[:2], replace(demo.structures[2], mesh=huge))
    prepared = replace(demo, structures=structures)
    made, writes = Made(monkeypatch), Writes(monkeypatch)
    with pytest.raises(RenderError, match="no room"):
        renderer.scene_upload(prepared, chunk_bytes=1 << 20)
    assert writes.take() == 0
    assert len(made.objects) >= 6 and made.all_released()
    monkeypatch.undo()
    assert ctx.error == "GL_NO_ERROR"
    scene = renderer.create_scene(demo)
    scene.release()


def test_abandoned_upload_releases_everything(renderer, ctx, demo, monkeypatch):
    made = Made(monkeypatch)
    upload = renderer.scene_upload(demo, chunk_bytes=1 << 16)
    for _ in range(3):
        assert not upload.step()
    upload.release()
    assert made.objects and made.all_released()
    with pytest.raises(RenderError, match="abandoned"):
        upload.step()
    upload.release()  # twice is fine
    # once finished, the scene owns the objects: release() leaves them alone
    made.objects.clear()
    upload = renderer.scene_upload(demo, chunk_bytes=None)
    assert upload.step()
    upload.release()
    assert not any(isinstance(o.mglo, moderngl.InvalidObject) for o in made.objects)
    upload.scene.release()
    assert made.all_released()
    with pytest.raises(RenderError, match="chunk_bytes"):
        renderer.scene_upload(demo, chunk_bytes=0)
    assert ctx.error == "GL_NO_ERROR"


def test_arrival_bench(ctx):
    from orkiosk.render.bench import arrival_rows, bench_arrival

    budgets = ((500, None), (500, 600))
    r = bench_arrival(3000, (64, 48), budgets=budgets, chunk_bytes=4096, repeats=1, ctx=ctx)
    assert r["triangles"] > 2500 and r["slices"] >= 2 and r["frame_ms"] > 0
    assert r["stepped"][(500, None)]["steps"] > 6 and r["stepped"][(500, None)]["longest_ms"] > 0
    assert r["stepped"][(500, 600)]["steps"] > r["stepped"][(500, None)]["steps"]  # in bands
    rows = arrival_rows(r, (64, 48))
    assert len(rows) == 5 and all(row["benchmark"] == "render" for row in rows)
    assert ctx.error == "GL_NO_ERROR"
