"""Renderer maths without GL: camera conventions and moves, metrics, clip planes, LOD."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from orkiosk.plan.metrics import (
    distance,
    plane_angle,
    segment_mesh_distance,
    trajectory_metrics,
)
from orkiosk.plan.model import Patient, Plan, Structure, Study, Trajectory
from orkiosk.plan.synthetic import make_synthetic_plan
from orkiosk.plan.views import NAMED_VIEWS
from orkiosk.render import geometry
from orkiosk.render.camera import Camera
from orkiosk.render.errors import RenderError
from orkiosk.render.state import ClipPlane, DisplayState, parse_cut

W, H = 400, 300
BOUNDS = (np.array([-100.0, -100.0, -100.0]), np.array([100.0, 100.0, 100.0]))


def screen(cam: Camera, p):
    x, y, depth = cam.project(np.asarray(p, dtype=float), W, H)
    return x, y, depth


# ------------------------------------------------------------------ named views


@pytest.mark.parametrize(
    "view, point, expect",
    [
        # docs/architecture.md: anterior looks at the face, superior up, patient LEFT on screen RIGHT
        ("anterior", (50, 0, 0), "right"),
        ("anterior", (0, 0, 50), "up"),
        ("posterior", (50, 0, 0), "left"),
        ("posterior", (0, 0, 50), "up"),
        # looking from the patient's left: the face (anterior, -y) on the screen's left
        ("left", (0, -50, 0), "left"),
        ("left", (0, 0, 50), "up"),
        ("right", (0, -50, 0), "right"),
        # from above the head: anterior at the top; the patient's left on the screen's left
        ("superior", (0, -50, 0), "up"),
        ("superior", (50, 0, 0), "left"),
        # from the feet, radiological: anterior up, patient's left on the screen's right
        ("inferior", (0, -50, 0), "up"),
        ("inferior", (50, 0, 0), "right"),
    ],
)
def test_named_views_put_anatomy_where_convention_says(view, point, expect):
    cam = Camera.named(view, BOUNDS, W / H)
    x, y, depth = screen(cam, point)
    assert depth > 0
    cx, cy = W / 2, H / 2
    if expect == "right":
        assert x > cx + 10
    elif expect == "left":
        assert x < cx - 10
    elif expect == "up":
        assert y < cy - 10  # top-left origin: smaller y is higher on the screen
    # the named views look along their declared direction
    look, _up = NAMED_VIEWS[view]
    assert np.allclose(cam.forward, look)


def test_unknown_view_is_refused():
    with pytest.raises(KeyError):
        Camera.named("oblique", BOUNDS)


def test_fit_keeps_every_corner_in_view():
    for view in NAMED_VIEWS:
        cam = Camera.named(view, BOUNDS, W / H)
        lo, hi = BOUNDS
        corners = [
            (x, y, z) for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])
        ]
        pts = cam.project(np.array(corners, dtype=float), W, H)
        assert np.all(pts[:, 2] > 0)
        assert np.all((pts[:, 0] >= 0) & (pts[:, 0] <= W) & (pts[:, 1] >= 0) & (pts[:, 1] <= H))


# ------------------------------------------------------------------ moves


def test_orbit_turns_the_scene_with_the_finger():
    cam = Camera.named("anterior", BOUNDS, W / H)
    front = (0, -100, 0)  # the face, nearest to the viewer
    x0, y0, _ = screen(cam, front)
    cam.orbit(40, 0, W, H)
    x1, _, _ = screen(cam, front)
    assert x1 > x0 + 5  # dragged right: the front moved right
    cam = Camera.named("anterior", BOUNDS, W / H)
    cam.orbit(0, 40, W, H)
    _, y2, _ = screen(cam, front)
    assert y2 > y0 + 5  # dragged down: the front moved down
    # rotation stays orthonormal after many moves
    for _ in range(200):
        cam.orbit(7, -3, W, H)
    assert np.allclose(cam.rotation @ cam.rotation.T, np.eye(3), atol=1e-9)


def test_roll_pan_zoom():
    cam = Camera.named("anterior", BOUNDS, W / H)
    x0, y0, _ = screen(cam, (0, 0, 50))  # above the centre
    cam.roll(90)  # clockwise: "up" goes to the right
    x1, y1, _ = screen(cam, (0, 0, 50))
    assert x1 > x0 + 10 and abs(y1 - H / 2) < 1
    cam = Camera.named("anterior", BOUNDS, W / H)
    x0, y0, _ = screen(cam, (0, 0, 0))
    cam.pan(30, -20, W, H)
    x1, y1, _ = screen(cam, (0, 0, 0))
    assert x1 == pytest.approx(x0 + 30, abs=0.5) and y1 == pytest.approx(y0 - 20, abs=0.5)
    # zoom about an anchor keeps the world point under it on the plane of the centre
    cam = Camera.named("anterior", BOUNDS, W / H)
    anchor = (300.0, 100.0)
    origin, direction = cam.ray(*anchor, W, H)
    t = np.dot(cam.center - origin, cam.forward) / np.dot(direction, cam.forward)
    p = origin + direction * t
    d0 = cam.distance
    cam.zoom(2.0, anchor, W, H)
    assert cam.distance == pytest.approx(d0 / 2)
    x, y, _ = screen(cam, p)
    assert (x, y) == pytest.approx(anchor, abs=0.5)
    with pytest.raises(ValueError):
        cam.zoom(0)


def test_ray_goes_through_projected_point():
    cam = Camera.named("left", BOUNDS, W / H)
    cam.orbit(33, 12, W, H)
    p = np.array([12.0, -30.0, 41.0])
    x, y, _ = screen(cam, p)
    origin, direction = cam.ray(x, y, W, H)
    # distance from p to the ray
    v = p - origin
    assert np.linalg.norm(v - direction * np.dot(v, direction)) < 1e-6


def test_trajectory_views():
    entry, target = np.array([60.0, -40.0, 80.0]), np.array([10.0, 5.0, 10.0])
    cam = Camera.probe(entry, target, BOUNDS, W / H)
    x, y, d = screen(cam, target)
    assert (x, y) == pytest.approx((W / 2, H / 2), abs=1e-6) and d > 0
    x, y, d_entry = screen(cam, entry)  # on the same line of sight, nearer
    assert (x, y) == pytest.approx((W / 2, H / 2), abs=1e-6) and 0 < d_entry < d
    side = Camera.perpendicular(entry, target, BOUNDS, W / H)
    xe, ye, _ = screen(side, entry)
    xt, yt, _ = screen(side, target)
    assert abs(xe - xt) < 1e-6 and ye < yt  # vertical, entry at the top
    assert abs(np.dot(side.forward, (target - entry) / np.linalg.norm(target - entry))) < 1e-9
    # straight down the S-I axis: still a valid up vector
    cam = Camera.probe((0, 0, 100), (0, 0, 0), BOUNDS)
    assert np.allclose(cam.up, (0, -1, 0))


# ------------------------------------------------------------------ metrics


def sphere(center, radius):
    return geometry.uv_sphere(center, radius, 48, 96)


def plan_with(structures, trajectories):
    return Plan(
        case_id="T",
        plan_version=1,
        created="2026-01-01T00:00:00Z",
        planner="t",
        patient=Patient("T^T", "1"),
        study=Study("1"),
        procedure="p",
        laterality="left",
        structures=tuple(structures),
        trajectories=tuple(trajectories),
    )


def test_trajectory_metrics_on_known_geometry():
    t = Trajectory("t", "T", (0.0, 0.0, 100.0), (0.0, 0.0, 0.0), 2.0)
    meshes = {
        "near": sphere((30, 0, 50), 10),
        "far": sphere((-80, 0, 20), 5),
        "x": sphere((0, 0, -300), 1),
    }
    structs = [
        Structure("near", "Near", "m", critical=True),
        Structure("far", "Far", "m", critical=True),
        Structure("x", "Not critical", "m"),
    ]
    m = trajectory_metrics(plan_with(structs, [t]), meshes, "t")
    assert m.length == pytest.approx(100.0)
    assert m.angle_axial == pytest.approx(90.0)
    assert m.angle_sagittal == pytest.approx(0.0)
    assert m.angle_coronal == pytest.approx(0.0)
    assert [c.structure_id for c in m.critical] == ["near", "far"]
    near = m.closest
    assert near.distance == pytest.approx(20.0, abs=0.05)
    assert near.along == pytest.approx(50.0, abs=0.5)
    assert near.fraction == pytest.approx(0.5, abs=0.01)
    assert near.path_point == pytest.approx((0.0, 0.0, 50.0), abs=0.5)
    assert near.surface_point == pytest.approx((20.0, 0.0, 50.0), abs=0.1)
    assert not near.crosses and not near.inside
    far = m.critical[1]
    assert far.distance == pytest.approx(np.hypot(80, 0) - 5, abs=0.05)
    assert far.along == pytest.approx(80.0, abs=0.5)


def test_oblique_angles():
    t = Trajectory("t", "T", (0.0, 0.0, 0.0), (10.0, 0.0, 10.0), 2.0)
    m = trajectory_metrics(plan_with([], [t]), {}, t)
    assert m.length == pytest.approx(np.sqrt(200))
    assert m.angle_axial == pytest.approx(45.0)
    assert m.angle_sagittal == pytest.approx(45.0)
    assert m.angle_coronal == pytest.approx(0.0)
    assert plane_angle((1, 1, 0), (0, 0, 1)) == pytest.approx(0.0)


def test_path_through_a_structure_and_inside_one():
    crossing = segment_mesh_distance((0, 0, 100), (0, 0, 0), sphere((0, 0, 50), 10), "v", "V")
    assert crossing.crosses and crossing.distance == 0.0
    assert crossing.along == pytest.approx(40.0, abs=0.2)  # enters at z = 60
    inside = segment_mesh_distance((0, 0, 10), (0, 0, -10), sphere((0, 0, 0), 50), "b", "B")
    assert inside.inside and not inside.crosses
    assert inside.distance == pytest.approx(40.0, abs=0.1)


def test_distance_between_points():
    assert distance((0, 0, 0), (3, 4, 12)) == pytest.approx(13.0)


# ------------------------------------------------------------------ clip planes and state


def test_clip_planes():
    plan = plan_with([], [Trajectory("t", "T", (0.0, 0.0, 100.0), (0.0, 0.0, 0.0), 2.0)])
    c = np.zeros(3)
    axial = parse_cut("axial:20", plan, BOUNDS)
    assert axial.point == pytest.approx((0, 0, 20)) and axial.normal == pytest.approx((0, 0, 1))
    assert axial.signed_distance([(0, 0, 30)])[0] > 0  # superior part removed
    eq = axial.equation()
    assert np.dot(eq, [0, 0, 0, 1]) > 0  # the origin is kept
    assert parse_cut("axial:20:flip", plan, BOUNDS).normal == pytest.approx((0, 0, -1))
    assert parse_cut("coronal:-5", plan, BOUNDS).point == pytest.approx((0, -5, 0))
    assert parse_cut("sagittal", plan, BOUNDS).point == pytest.approx(c)
    perp = parse_cut("perp:t:10", plan, BOUNDS)
    assert perp.point == pytest.approx((0, 0, 10)) and perp.normal == pytest.approx((0, 0, 1))
    along = parse_cut("along:t", plan, BOUNDS)
    assert abs(np.dot(along.normal, (0, 0, 1))) < 1e-9  # contains the path
    assert ClipPlane.axial(c).moved(5).point == pytest.approx((0, 0, 5))
    for bad in ("oblique:3", "axial:x", "perp:nope", "axial:1:2", "axial:inf"):
        with pytest.raises(RenderError):
            parse_cut(bad, plan, BOUNDS)
    with pytest.raises(RenderError):
        ClipPlane((0, 0, 0), (0, 0, 0))


def test_display_state_overrides():
    s = Structure("a", "A", "m", (0.1, 0.2, 0.3), 0.5, visible=True)
    st = DisplayState()
    assert st.is_visible(s) and st.opacity_of(s) == 0.5
    st.hide("a")
    assert not st.is_visible(s)
    st = DisplayState(opacity={"a": 0.0})
    assert not st.is_visible(s)  # fully transparent is not drawn
    st = DisplayState(opacity={"a": 7.0}, color={"a": (1, 0, 0)})
    assert st.opacity_of(s) == 1.0 and st.color_of(s) == (1.0, 0.0, 0.0)


# ------------------------------------------------------------------ meshes


def test_lod_and_closedness():
    m = make_synthetic_plan(triangles=100_000)[1]["skin"]  # ~40k bumpy triangles
    assert geometry.is_closed(m.indices)
    light = geometry.cluster_decimate(m, 5_000)
    assert 2_000 < light.triangle_count < 9_000
    lo, hi = m.bounds()
    llo, lhi = light.bounds()
    assert np.all(np.abs(llo - lo) < 0.1 * (hi - lo)) and np.all(np.abs(lhi - hi) < 0.1 * (hi - lo))
    assert not geometry.is_closed(m.indices[1:])  # a hole
    flipped = m.indices.copy()
    flipped[0] = flipped[0][::-1]
    assert not geometry.is_closed(flipped)  # inconsistent winding
    small = geometry.uv_sphere((0, 0, 0), 1.0, 8, 16)
    assert geometry.cluster_decimate(small, 10_000) is small


def test_render_maths_modules_do_not_import_gl_or_kivy():
    code = (
        "import sys; import orkiosk.plan.metrics, orkiosk.render.camera, orkiosk.render.state, "
        "orkiosk.render.geometry, orkiosk.render.prepare; "
        "assert 'moderngl' not in sys.modules, 'moderngl'; "
        "import orkiosk.render.renderer, orkiosk.render.snapshot, orkiosk.render.commands, "
        "orkiosk.render.bench; assert 'kivy' not in sys.modules, 'kivy'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
