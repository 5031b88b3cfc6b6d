"""Renderer pixel facts on a headless EGL context (Mesa llvmpipe works; skipped without EGL).

Scenes are made of spheres placed so that every test knows where things must appear. Images
come from Renderer.read_image(), top row first, exactly as written to PNG.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from orkiosk.plan.model import Landmark, Patient, Plan, Structure, Study, Trajectory
from orkiosk.render.camera import Camera
from orkiosk.render.errors import RenderError
from orkiosk.render.geometry import uv_sphere
from orkiosk.render.state import INTERACTIVE, ClipPlane, DisplayState, Quality

W, H = 256, 256
RED = (1.0, 0.02, 0.02)
GREEN = (0.02, 0.8, 0.02)
BLUE = (0.05, 0.1, 1.0)
GREY = (0.6, 0.6, 0.6)
OUT = Path(__file__).resolve().parents[1] / "artifacts" / "render"


@pytest.fixture(scope="module")
def ctx():
    from orkiosk.render.context import create_headless_context

    try:
        context = create_headless_context()
    except RenderError as exc:
        if os.environ.get("CI"):  # CI installs Mesa: a missing GL there is a failure
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


def make_plan(parts, trajectories=(), landmarks=()):
    """parts: (id, centre, radius, colour, opacity) -> (Plan, meshes)."""
    structures, meshes = [], {}
    for sid, centre, radius, color, opacity in parts:
        structures.append(Structure(sid, sid.title(), f"meshes/{sid}.glb", color, opacity))
        meshes[sid] = uv_sphere(centre, radius, 24, 48)
    plan = Plan(
        case_id="TEST",
        plan_version=1,
        created="2026-01-01T00:00:00Z",
        planner="t",
        patient=Patient("T^T", "1"),
        study=Study("1"),
        procedure="p",
        laterality="left",
        structures=tuple(structures),
        trajectories=tuple(trajectories),
        landmarks=tuple(landmarks),
    )
    return plan, meshes


def draw(
    renderer,
    plan,
    meshes,
    view="anterior",
    state=None,
    camera=None,
    size=(W, H),
    quality=None,
    name=None,
):
    scene = renderer.create_scene(plan, meshes)
    try:
        cam = camera or Camera.named(view, scene.bounds, size[0] / size[1])
        kwargs = {} if quality is None else {"quality": quality}
        renderer.render(scene, cam, state or st(), size=size, **kwargs)
        img = renderer.read_image()
    finally:
        scene.release()
    if name:  # kept for a person to look at: artifacts/render/*.png
        OUT.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(OUT / f"{name}.png")
    return img


def st(**kw) -> DisplayState:
    """A display state without the orientation marker (its red/green/blue axes would count)."""
    kw.setdefault("orientation_marker", False)
    return DisplayState(**kw)


def mask(img, color):
    """Pixels whose dominant channel is the colour's (red, green or blue)."""
    c = int(np.argmax(color))
    f = img.astype(int)
    others = [k for k in range(3) if k != c]
    return (
        (f[..., c] > 60)
        & (f[..., c] > 1.6 * f[..., others[0]])
        & (f[..., c] > 1.6 * f[..., others[1]])
    )


def centroid(m):
    ys, xs = np.nonzero(m)
    assert len(xs) > 20, "colour not found in the image"
    return xs.mean(), ys.mean()


# ------------------------------------------------------------------ orientation


ORIENT = [
    ("left_thing", (45.0, 0.0, 0.0), 12.0, RED, 1.0),  # patient's left (+x)
    ("top_thing", (0.0, 0.0, 45.0), 12.0, BLUE, 1.0),  # superior (+z)
    ("front_thing", (0.0, -45.0, 0.0), 12.0, GREEN, 1.0),  # anterior (-y)
]


def test_anterior_view_shows_patient_left_on_image_right(renderer):
    plan, meshes = make_plan(ORIENT)
    img = draw(renderer, plan, meshes, "anterior", name="anterior")
    x, _ = centroid(mask(img, RED))
    assert x > W * 0.6
    _, y = centroid(mask(img, BLUE))
    assert y < H * 0.4  # superior at the top: the image is not upside down


def test_posterior_view_is_the_mirror(renderer):
    plan, meshes = make_plan(ORIENT)
    img = draw(renderer, plan, meshes, "posterior", name="posterior")
    x, _ = centroid(mask(img, RED))
    assert x < W * 0.4
    _, y = centroid(mask(img, BLUE))
    assert y < H * 0.4


def test_superior_view_has_anterior_at_the_top(renderer):
    plan, meshes = make_plan(ORIENT)
    img = draw(renderer, plan, meshes, "superior", name="superior")
    _, y = centroid(mask(img, GREEN))
    assert y < H * 0.4
    x, _ = centroid(mask(img, RED))
    assert x < W * 0.4  # seen from above with the face up, the patient's left is on the left


def test_left_and_inferior_views(renderer):
    plan, meshes = make_plan(ORIENT)
    img = draw(renderer, plan, meshes, "left")
    x, _ = centroid(mask(img, GREEN))
    assert x < W * 0.4  # looking at the left side, the face points to the image's left
    img = draw(renderer, plan, meshes, "inferior")
    x, _ = centroid(mask(img, RED))
    _, y = centroid(mask(img, GREEN))
    assert x > W * 0.6 and y < H * 0.4


def test_interactive_quality_draws_the_same_scene(renderer):
    plan, meshes = make_plan(ORIENT)
    img = draw(renderer, plan, meshes, "anterior", quality=INTERACTIVE)
    x, _ = centroid(mask(img, RED))
    assert x > W * 0.6
    plain = Quality(scale=1.0, msaa=0, lod=False, outlines=False)
    img = draw(renderer, plan, meshes, "anterior", quality=plain)
    assert mask(img, RED).sum() > 100


# ------------------------------------------------------------------ visibility and opacity


def test_hiding_a_structure_removes_its_pixels(renderer):
    plan, meshes = make_plan(ORIENT)
    img = draw(renderer, plan, meshes)
    assert mask(img, RED).sum() > 200
    img = draw(renderer, plan, meshes, state=st().hide("left_thing"))
    assert mask(img, RED).sum() == 0
    assert mask(img, BLUE).sum() > 200
    # an opacity override of 0 hides as well
    img = draw(renderer, plan, meshes, state=st(opacity={"left_thing": 0.0}))
    assert mask(img, RED).sum() == 0


def test_translucent_outer_structure_shows_the_inner_one(renderer):
    parts = [("outer", (0, 0, 0), 60.0, GREY, 0.3), ("inner", (0, 0, 0), 25.0, RED, 1.0)]
    plan, meshes = make_plan(parts)
    img = draw(renderer, plan, meshes, name="nested")
    r, g, b = img[H // 2, W // 2].astype(int)
    assert r > g + 40 and r > b + 40  # red shows through the grey
    plan2 = replace(plan, structures=(replace(plan.structures[0], opacity=1.0), plan.structures[1]))
    r, g, b = draw(renderer, plan2, meshes)[H // 2, W // 2].astype(int)
    assert abs(r - g) < 15  # opaque outer: grey, the inner one hidden
    # two translucent nested shells: both colours contribute, in any draw order
    parts = [("outer", (0, 0, 0), 60.0, BLUE, 0.4), ("inner", (0, 0, 0), 25.0, RED, 0.6)]
    for order in (parts, parts[::-1]):
        plan, meshes = make_plan(order)
        r, g, b = draw(renderer, plan, meshes)[H // 2, W // 2].astype(int)
        assert r > 40 and b > 40


# ------------------------------------------------------------------ cuts


def test_cut_shows_a_capped_section(renderer):
    parts = [("ball", (0, 0, 0), 60.0, GREEN, 1.0), ("core", (0, 0, 0), 20.0, RED, 1.0)]
    plan, meshes = make_plan(parts)
    state = st(clip=ClipPlane.axial((0, 0, 0)))
    img = draw(renderer, plan, meshes, "superior", state=state, name="cut")
    c = W // 2
    # the centre is the red core's section, the ring around it the green ball's: filled
    assert mask(img, RED)[c - 5 : c + 5, c - 5 : c + 5].all()
    ring = img[c, c + 45]
    assert mask(ring[None, None], GREEN).all()
    # the section is flat: no lighting falloff across it (only the faint hatching)
    cap = img[c, c + 45 : c + 85, 1].astype(int)
    assert cap.max() - cap.min() < 40
    # without the cut the core is hidden inside the ball
    assert not mask(draw(renderer, plan, meshes, "superior"), RED).any()
    # looking from the other side the cut keeps the lower half: a dome, not a section
    flipped = st(clip=ClipPlane.axial((0, 0, 0)).flipped())
    img = draw(renderer, plan, meshes, "superior", state=flipped)
    assert not mask(img, RED).any()


def test_cut_of_translucent_structure_is_capped_too(renderer):
    parts = [("ball", (0, 0, 0), 60.0, GREEN, 0.5)]
    plan, meshes = make_plan(parts)
    state = st(clip=ClipPlane.coronal((0, 0, 0)))
    img = draw(renderer, plan, meshes, "anterior", state=state, name="cut_translucent")
    bg = img[5, W // 2].astype(int)
    centre = img[H // 2, W // 2].astype(int)
    assert centre[1] > bg[1] + 40  # the section is filled (greenish), not see-through


def test_cut_plane_removes_what_is_in_front(renderer):
    plan, meshes = make_plan(ORIENT)
    # sagittal cut through the middle removes the patient's left half (the red ball)
    state = st(clip=ClipPlane.sagittal((0, 0, 0), 10.0))
    img = draw(renderer, plan, meshes, "anterior", state=state)
    assert not mask(img, RED).any() and mask(img, BLUE).any()


# ------------------------------------------------------------------ trajectories and markers


def test_trajectory_view_has_the_target_at_the_centre(renderer):
    entry, target = (60.0, -40.0, 80.0), (10.0, 5.0, 10.0)
    traj = Trajectory("t", "Path", entry, target, 6.0)
    parts = [("head", (0, 0, 0), 90.0, GREY, 0.2)]
    plan, meshes = make_plan(parts, [traj])
    scene_bounds = (np.array([-95.0] * 3), np.array([95.0] * 3))
    cam = Camera.probe(entry, target, scene_bounds)
    state = st(probe_trajectory="t")
    img = draw(renderer, plan, meshes, camera=cam, state=state, name="probe")
    r, g, b = img[H // 2, W // 2].astype(int)
    assert r > 120 and r > g + 60  # the target marker (magenta-red) at the very centre
    side = Camera.perpendicular(entry, target, scene_bounds)
    img = draw(renderer, plan, meshes, camera=side, name="probe_side")
    # the tube runs vertically through the centre column
    col = img[:, W // 2 - 2 : W // 2 + 3].astype(int)
    light = (col.min(axis=2) > 120).any(axis=1)
    assert light.sum() > 10


def test_landmark_labels_and_markers(renderer):
    plan, meshes = make_plan(
        [("head", (0, 0, 0), 40.0, GREY, 1.0)],
        landmarks=[Landmark("l", "Left ear", (60.0, 0.0, 0.0))],
        trajectories=[Trajectory("t", "Path", (0.0, -30.0, 60.0), (0.0, 0.0, 0.0), 3.0)],
    )
    from orkiosk.render.renderer import Renderer

    assert isinstance(renderer, Renderer)
    scene = renderer.create_scene(plan, meshes)
    try:
        cam = Camera.named("anterior", scene.bounds)
        labels = {(lab.kind, lab.id): lab for lab in renderer.labels(scene, cam, W, H)}
        ear = labels[("landmark", "l")]
        assert ear.on_screen and ear.x > W * 0.6 and ear.text == "Left ear"
        assert labels[("entry", "t")].y < labels[("target", "t")].y  # entry above the target
        assert ("structure", "head") in labels
        renderer.render(scene, cam, size=(W, H))
        img = renderer.read_image()
        x, y = int(round(ear.x)), int(round(ear.y))
        r, g, b = img[y, x].astype(int)
        assert r > 150 and b < 100  # the orange landmark marker
    finally:
        scene.release()


# ------------------------------------------------------------------ picking


def test_pick_returns_structure_and_point(renderer):
    parts = [("ball", (20.0, 0.0, 0.0), 30.0, GREEN, 1.0), ("other", (-60.0, 0, 0), 10.0, RED, 1.0)]
    plan, meshes = make_plan(parts)
    scene = renderer.create_scene(plan, meshes)
    try:
        cam = Camera.named("anterior", scene.bounds)
        target = np.array([20.0, -30.0 * np.cos(0.3), 30.0 * np.sin(0.3)])  # on the front
        x, y, _ = cam.project(target, W, H)
        hit = renderer.pick(scene, cam, x, y, W, H)
        assert hit is not None and hit.kind == "structure" and hit.id == "ball"
        assert np.linalg.norm(np.asarray(hit.point) - target) < 1.0
        assert np.linalg.norm(np.asarray(hit.point) - (20, 0, 0)) == pytest.approx(30, abs=0.5)
        assert renderer.pick(scene, cam, 2, 2, W, H) is None  # background
        # hidden structures are not picked
        x, y, _ = cam.project((-60.0, -10.0, 0.0), W, H)
        assert renderer.pick(scene, cam, x, y, W, H).id == "other"
        assert renderer.pick(scene, cam, x, y, W, H, DisplayState().hide("other")) is None
        # on a cut: the section's owner and a point on the plane
        state = DisplayState(clip=ClipPlane.coronal((0, 0, 0)))
        x, y, _ = cam.project((30.0, 0.0, 10.0), W, H)
        hit = renderer.pick(scene, cam, x, y, W, H, state)
        assert hit.id == "ball" and hit.on_cut
        assert np.asarray(hit.point) == pytest.approx((30.0, 0.0, 10.0), abs=1.0)
    finally:
        scene.release()


def test_pick_sees_through_translucent_and_measures(renderer):
    from orkiosk.plan.metrics import distance

    parts = [("skin", (0, 0, 0), 60.0, GREY, 0.3), ("tumour", (0, 0, 0), 20.0, RED, 1.0)]
    plan, meshes = make_plan(parts, landmarks=[Landmark("n", "Nose", (0.0, -70.0, 0.0))])
    scene = renderer.create_scene(plan, meshes)
    try:
        cam = Camera.named("anterior", scene.bounds)
        a = renderer.pick(scene, cam, W / 2, H / 2, W, H)
        assert a.id == "landmark" or a.id == "n" or a.id == "tumour"
        x, y, _ = cam.project((0.0, -20.0 * np.cos(0.5), 20.0 * np.sin(0.5)), W, H)
        hit = renderer.pick(scene, cam, x, y, W, H)
        assert hit.id == "tumour"  # not the translucent skin in front of it
        x2, y2, _ = cam.project((50.0, -30.0, 0.0), W, H)
        skin = renderer.pick(scene, cam, x2, y2, W, H)
        assert skin.id == "skin"  # nothing opaque behind: the translucent surface
        assert distance(hit.point, skin.point) > 10
        lm = renderer.pick(scene, cam, *cam.project((0.0, -70.0, 0.0), W, H)[:2], W, H)
        assert lm.kind == "landmark" and lm.id == "n"
    finally:
        scene.release()


# ------------------------------------------------------------------ targets, errors, lifetime


def test_render_into_caller_framebuffer_with_external_texture(renderer, ctx):
    plan, meshes = make_plan(ORIENT)
    own = draw(renderer, plan, meshes)
    tex = ctx.texture((W, H), 4)
    wrapped = ctx.external_texture(tex.glo, (W, H), 4, 0, "f1")  # as the kiosk wraps Kivy's
    depth = ctx.depth_renderbuffer((W, H))
    fbo = ctx.framebuffer([wrapped], depth)
    scene = renderer.create_scene(plan, meshes)
    try:
        cam = Camera.named("anterior", scene.bounds)
        renderer.render(scene, cam, st(), framebuffer=fbo)
        img = renderer.read_image(fbo)
        assert np.abs(img.astype(int) - own.astype(int)).max() <= 2
        # a viewport inside a bigger framebuffer
        big_tex = ctx.texture((2 * W, H), 4)
        big = ctx.framebuffer([big_tex])
        big.clear(1.0, 1.0, 1.0, 1.0)
        renderer.render(scene, cam, st(), framebuffer=big, viewport=(W, 0, W, H))
        both = renderer.read_image(big)
        assert (both[:, :W] == 255).all()
        assert mask(both[:, W:], RED).sum() > 100
        # interactive frames into the bottom-left quarter (the kiosk shows it stretched via
        # the rectangle's texture coordinates): a plain copy, no scaling pass
        fbo.clear(1.0, 1.0, 1.0, 1.0)
        fast = Quality(scale=1.0, msaa=0, lod=True, outlines=False)
        renderer.render(
            scene, cam, st(), framebuffer=fbo, viewport=(0, 0, W // 2, H // 2), quality=fast
        )
        img = renderer.read_image(fbo)
        quarter = img[H // 2 :, : W // 2]  # GL's bottom-left is the image's bottom-left
        assert (img[: H // 2] == 255).all() and (img[:, W // 2 :] == 255).all()
        x, _ = centroid(mask(quarter, RED))
        assert x > W // 4
        assert ctx.error == "GL_NO_ERROR"
    finally:
        scene.release()
        for obj in (fbo, depth, wrapped, tex):
            obj.release()


def test_picture_in_a_caller_framebuffer_is_opaque(renderer, ctx):
    """Kivy draws the wrapped texture with alpha blending: every pixel must have alpha 1,
    or translucent anatomy over the background disappears on the kiosk."""
    plan, meshes = make_plan(
        [("shell", (0.0, 0.0, 0.0), 40.0, BLUE, 0.3), ("core", (0.0, 0.0, 0.0), 10.0, RED, 1.0)]
    )
    tex, depth = ctx.texture((W, H), 4), ctx.depth_renderbuffer((W, H))
    fbo = ctx.framebuffer([tex], depth)
    scene = renderer.create_scene(plan, meshes)
    try:
        cam = Camera.named("anterior", scene.bounds)
        for quality in (Quality(), Quality(scale=1.0, msaa=0, lod=True, outlines=False)):
            fbo.clear(0.0, 0.0, 0.0, 0.0)
            assert ctx.error == "GL_NO_ERROR", "clear"
            renderer.render(scene, cam, st(), framebuffer=fbo, quality=quality)
            assert ctx.error == "GL_NO_ERROR", "render"
            rgba = np.frombuffer(fbo.read(components=4), np.uint8).reshape(H, W, 4)
            assert ctx.error == "GL_NO_ERROR", "read"
            assert (rgba[..., 3] == 255).all()
    finally:
        scene.release()
        for obj in (fbo, depth, tex):
            obj.release()


def test_scene_prepared_on_a_worker_thread(renderer):
    from concurrent.futures import ThreadPoolExecutor

    from orkiosk.render.prepare import prepare_scene

    parts = [("big", (0, 0, 0), 50.0, GREEN, 1.0), ("small", (45, 0, 0), 8.0, RED, 1.0)]
    plan, meshes = make_plan(parts)
    meshes["big"] = uv_sphere((0, 0, 0), 50.0, 64, 128)  # 16k triangles
    with ThreadPoolExecutor(1) as pool:  # the slow numpy part, off the GL thread
        prepared = pool.submit(prepare_scene, plan, meshes, 500).result()
    assert prepared.structures[0].lod is not None and prepared.structures[0].closed
    scene = renderer.create_scene(prepared)
    try:
        assert scene.structure("big").lod_triangles < scene.structure("big").triangles
        renderer.render(
            scene, Camera.named("anterior", scene.bounds), st(), size=(W, H), quality=INTERACTIVE
        )
        img = renderer.read_image()
        assert mask(img, GREEN).sum() > 1000 and centroid(mask(img, RED))[0] > W * 0.6
    finally:
        scene.release()


def test_errors_and_release(renderer, ctx):
    from orkiosk.render.context import check_context, create_headless_context

    class OldGL:
        version_code = 310
        info = {"GL_RENDERER": "ancient"}

    with pytest.raises(RenderError, match="3.3"):
        check_context(OldGL())
    with pytest.raises(RenderError, match="headless OpenGL"):
        create_headless_context(backend="no-such-backend")
    plan, meshes = make_plan(ORIENT)
    with pytest.raises(RenderError, match="no mesh"):
        renderer.create_scene(plan, {})
    scene = renderer.create_scene(plan, meshes)
    scene.release()
    with pytest.raises(RenderError, match="released"):
        renderer.render(scene, Camera(), size=(W, H))
    with pytest.raises(RenderError):
        renderer.render(renderer.create_scene(plan, meshes), Camera())  # no target
    assert ctx.error == "GL_NO_ERROR"


def test_snapshot_command_writes_a_true_picture(tmp_path, package):
    from orkiosk.cli import main

    out = tmp_path / "ant.png"
    rc = main(["snapshot", str(package), "-o", str(out), "--size", "240x180", "--no-labels"])
    assert rc == 0
    img = np.asarray(Image.open(out).convert("RGB"))
    assert img.shape == (180, 240, 3)
    # the conftest plan has a yellow target on the patient's left: the image's right
    yellow = (img[..., 0] > 120) & (img[..., 1] > 90) & (img[..., 2] < 0.6 * img[..., 1])
    x, _ = centroid(yellow)
    assert x > 120
    out2 = tmp_path / "post.png"
    assert (
        main(
            ["snapshot", str(package), "-o", str(out2), "--size", "240x180", "--view", "posterior"]
        )
        == 0
    )
    img = np.asarray(Image.open(out2).convert("RGB"))
    yellow = (img[..., 0] > 120) & (img[..., 1] > 90) & (img[..., 2] < 0.6 * img[..., 1])
    x, _ = centroid(yellow)
    assert x < 120
    out3 = tmp_path / "probe.png"
    assert (
        main(
            [
                "snapshot",
                str(package),
                "-o",
                str(out3),
                "--size",
                "120x90",
                "--trajectory",
                "t1",
                "--cut",
                "perp:t1:5",
                "--hide",
                "head",
                "--opacity",
                "target=0.5",
            ]
        )
        == 0
    )


def test_snapshot_command_refuses_bad_arguments(tmp_path, package, capsys):
    from orkiosk.cli import main

    out = str(tmp_path / "x.png")
    for extra in (
        ["--hide", "nope"],
        ["--cut", "diagonal:3"],
        ["--size", "big"],
        ["--opacity", "head=2"],
        ["--view", "sideways"],
        ["--trajectory", "zz"],
        ["--side"],
    ):
        assert (
            main(
                ["snapshot", str(package), "-o", out, "--size", "64x48", *extra]
                if "--size" not in extra
                else ["snapshot", str(package), "-o", out, *extra]
            )
            == 2
        )
        assert "orkiosk snapshot:" in capsys.readouterr().err
    assert not Path(out).exists()
    assert main(["snapshot", str(tmp_path / "missing"), "-o", out]) == 2


def test_bench_rows(ctx):
    from orkiosk.render.bench import bench_plan, bench_render, format_rows

    rows = bench_render(triangles=(3000,), size=(64, 48), repeats=1, ctx=ctx, vtk=False)
    assert {(r["mode"], r["quality"]) for r in rows} == {
        (mode, q)
        for mode in ("opaque", "transparent")
        for q in ("full", "full-noaa", "interactive", "interactive-direct")
    }
    assert all(r["ms"] > 0 and r["triangles"] > 2500 for r in rows)
    assert "triangles" in format_rows(rows)
    plan, meshes = make_plan(ORIENT)
    rows = bench_plan(plan, meshes, size=(64, 48), repeats=1, ctx=ctx)
    assert len(rows) == 4 and all(r["plan"] == "TEST v1" for r in rows)


@pytest.mark.slow
def test_demo_package_all_views(tmp_path, ctx):
    """Every named view and the trajectory views of the bundled demo, written for a person to
    look at (artifacts/render/demo_*.png); the target is on the side the plan says."""
    from orkiosk.plan.demo import demo_package_path
    from orkiosk.plan.package import load_package
    from orkiosk.render.snapshot import SnapshotOptions, render_snapshot

    pkg = load_package(demo_package_path())
    OUT.mkdir(parents=True, exist_ok=True)
    for view in ("anterior", "posterior", "left", "right", "superior", "inferior"):
        img = render_snapshot(pkg.plan, pkg.meshes, SnapshotOptions((960, 720), view), ctx)
        img.save(OUT / f"demo_{view}.png")
        assert np.asarray(img).std() > 10
    for t in pkg.plan.trajectories:
        for side in (False, True):
            opts = SnapshotOptions((960, 720), trajectory=t.id, side=side)
            img = render_snapshot(pkg.plan, pkg.meshes, opts, ctx)
            img.save(OUT / f"demo_{t.id}_{'side' if side else 'probe'}.png")
        cam = Camera.named("anterior", (np.full(3, -100.0), np.full(3, 100.0)), 4 / 3)
        x, _, _ = cam.project(np.asarray(t.target), 960, 720)
        if pkg.plan.laterality == "left":
            assert x > 480
