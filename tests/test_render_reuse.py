"""A plan update with meshes already shown: prepare_scene reuses what it made of the same mesh
files (PreparedMeshes, by the manifest's SHA-256), and a scene upload shares the GPU meshes of
the scene on screen instead of uploading them again; the shared meshes live until their last
scene is released. Headless EGL for the GPU part, pixels compared."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest

from orkiosk.plan.mesh import column_mean, column_range
from orkiosk.plan.model import FileEntry, Patient, Plan, Structure, Study, Trajectory
from orkiosk.render.camera import Camera
from orkiosk.render.errors import RenderError
from orkiosk.render.geometry import uv_sphere
from orkiosk.render.prepare import PreparedMeshes, prepare_scene
from orkiosk.render.state import DisplayState

W, H = 160, 120


def plan_v(version: int, ball_sha: str = "b" * 64, target=(0.0, 0.0, 0.0)) -> Plan:
    return Plan(
        case_id="REUSE",
        plan_version=version,
        created="2026-01-01T00:00:00Z",
        planner="t",
        patient=Patient("T^T", "1"),
        study=Study("1"),
        procedure="p",
        laterality="left",
        structures=(
            Structure("shell", "Shell", "meshes/shell.glb", (0.6, 0.6, 0.6), 0.4),
            Structure("ball", "Ball", "meshes/ball.glb", (1.0, 0.1, 0.1), 1.0),
        ),
        trajectories=(Trajectory("t", "Path", (70.0, -30.0, 60.0), target, 3.0),),
        files=(
            FileEntry("meshes/shell.glb", 1, "a" * 64),
            FileEntry("meshes/ball.glb", 1, ball_sha),
        ),
    )


MESHES = {
    "shell": uv_sphere((0.0, 0.0, 0.0), 60.0, 48, 96),
    "ball": uv_sphere((0.0, 0.0, 0.0), 25.0, 48, 96),
}


def new_ball() -> dict:
    """MESHES with the ball as another file decodes to (new arrays, another hash)."""
    return dict(MESHES, ball=uv_sphere((0.0, 0.0, 0.0), 25.0, 48, 96))


def test_column_range_and_mean_match_numpy():
    rng = np.random.default_rng(7)
    for dtype in (np.float32, np.float64, np.int64):
        a = (rng.normal(size=(1001, 3)) * 100).astype(dtype)
        lo, hi = column_range(a)
        assert lo.dtype == a.dtype and np.array_equal(lo, a.min(axis=0))
        assert np.array_equal(hi, a.max(axis=0))
        assert np.allclose(column_mean(a), a.astype(np.float64).mean(axis=0), rtol=0, atol=1e-9)


def test_prepared_meshes_are_reused_for_the_same_files_only():
    known = PreparedMeshes()
    v1 = prepare_scene(plan_v(1), MESHES, lod_budget=2000, known=known)
    assert all(s.lod is not None for s in v1.structures)  # both got lighter meshes
    # v2 moves the trajectory only: every mesh, LOD and anchor is the one made for v1
    v2 = prepare_scene(plan_v(2, target=(5.0, 0.0, 0.0)), MESHES, lod_budget=2000, known=known)
    for a, b in zip(v1.structures, v2.structures, strict=True):
        assert b.mesh is a.mesh and b.lod is a.lod and b.anchor is a.anchor
    assert v2.plan.plan_version == 2
    # v3 has another ball file (its hash): the ball is made again, the shell is reused
    v3 = prepare_scene(plan_v(3, ball_sha="c" * 64), new_ball(), lod_budget=2000, known=known)
    assert v3.structures[0].mesh is v1.structures[0].mesh
    assert v3.structures[1].mesh is not v1.structures[1].mesh
    assert np.array_equal(v3.structures[1].mesh.positions, v1.structures[1].mesh.positions)
    # another LOD budget is another share of triangles: nothing reused
    v4 = prepare_scene(plan_v(4), MESHES, lod_budget=4000, known=known)
    assert v4.structures[0].lod is not v1.structures[0].lod
    # without file hashes (a plan made in memory) nothing is kept or reused
    bare = dataclasses.replace(plan_v(5), files=())
    before = len(known._made)
    prepare_scene(bare, MESHES, lod_budget=2000, known=known)
    assert len(known._made) == before


def test_prepared_meshes_keep_only_the_latest_scenes():
    known = PreparedMeshes()
    for i in range(6):
        prepare_scene(plan_v(i + 1, ball_sha=f"{i:064x}"), MESHES, lod_budget=2000, known=known)
    assert len(known._made) <= 4  # two structures: this scene's and one scene before


@pytest.fixture(scope="module")
def renderer():
    from orkiosk.render.context import create_headless_context
    from orkiosk.render.renderer import Renderer

    try:
        ctx = create_headless_context()
    except RenderError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"no headless OpenGL in CI: {exc}")
        pytest.skip(f"no headless OpenGL: {exc}")
    r = Renderer(ctx)
    yield r
    r.release()
    ctx.release()


def upload(renderer, prepared, reuse=()):
    up = renderer.scene_upload(prepared, chunk_bytes=1 << 16, reuse=reuse)
    while not up.step():
        pass
    return up


def picture(renderer, scene) -> np.ndarray:
    cam = Camera.named("anterior", scene.bounds, W / H)
    renderer.render(scene, cam, DisplayState(), size=(W, H))
    return np.asarray(renderer.read_image())


def test_an_update_with_the_same_meshes_shares_them_on_the_gpu(renderer):
    known = PreparedMeshes()
    p1 = prepare_scene(plan_v(1), MESHES, lod_budget=2000, known=known)
    p2 = prepare_scene(plan_v(2, target=(5.0, 0.0, 0.0)), MESHES, lod_budget=2000, known=known)
    one = upload(renderer, p1)
    ref = picture(renderer, one.scene)
    lit = (ref[..., :3].max(axis=-1) > 40).mean()
    assert lit > 0.2  # the spheres are there
    two = upload(renderer, p2, reuse=(one.scene,))
    assert two.total_bytes == 0  # nothing written: every mesh and LOD is shared
    s1, s2 = one.scene.structures, two.scene.structures
    assert all(b.gpu is a.gpu and b.lod is a.lod for a, b in zip(s1, s2, strict=True))
    one.scene.release()  # the old plan goes: its meshes stay for the new one
    assert all(s.gpu.buffers and s.gpu.vaos for s in s2)
    after = picture(renderer, two.scene)
    # the same meshes and camera; only the trajectory moved (a few pixels)
    assert (np.abs(after.astype(int) - ref.astype(int)).max(axis=-1) > 40).mean() < 0.02
    gpus = [s.gpu for s in s2]
    two.scene.release()  # the last owner: freed now
    assert all(not g.buffers and not g.vaos for g in gpus)


def test_other_meshes_are_uploaded_and_an_abandoned_upload_gives_its_shares_back(renderer):
    known = PreparedMeshes()
    p1 = prepare_scene(plan_v(1), MESHES, lod_budget=2000, known=known)
    p3 = prepare_scene(plan_v(3, ball_sha="d" * 64), new_ball(), lod_budget=2000, known=known)
    one = upload(renderer, p1)
    ref = picture(renderer, one.scene)
    up = renderer.scene_upload(p3, chunk_bytes=1 << 16, reuse=(one.scene, None))
    ball = p3.structures[1]
    assert up.total_bytes == sum(
        a.nbytes
        for m in (ball.mesh, ball.lod)
        for a in (m.positions, m.normals, m.indices)  # the new ball only
    )
    up.release()  # abandoned: the shell it shared stays with the scene on screen
    assert np.array_equal(picture(renderer, one.scene), ref)
    shell = one.scene.structures[0].gpu
    one.scene.release()
    assert not shell.buffers and not shell.vaos
