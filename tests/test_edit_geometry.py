"""The workbench geometry: the clearance index must give exactly what the brute-force
plan.metrics.segment_mesh_distance gives, and the entry map must mean what it says (usable
where a surgeon could enter, unusable where the path is too long, too steep, too close to a
critical structure or blocked by the skin)."""

import math

import numpy as np
import pytest

from orkiosk.edit.bench import refine
from orkiosk.edit.clearance import ClearanceIndex
from orkiosk.edit.entrymap import GOOD_SPAN_MM, EntryMap, entry_score
from orkiosk.plan.demo import bundled_demo_path
from orkiosk.plan.mesh import Mesh
from orkiosk.plan.metrics import (
    _closest_on_triangles,
    _segment_hits,
    point_inside,
    segment_mesh_distance,
)
from orkiosk.plan.package import load_package
from orkiosk.plan.synthetic import surface

TARGET = (38.0, -18.0, 38.0)  # the demo plan's biopsy target
ENTRY = (56.54, -9.63, 59.83)  # and its planned entry


@pytest.fixture(scope="module")
def demo():
    return load_package(bundled_demo_path())


@pytest.fixture(scope="module")
def critical(demo):
    return [(s.id, s.name, demo.meshes[s.id]) for s in demo.plan.structures if s.critical]


@pytest.fixture(scope="module")
def index(critical):
    return ClearanceIndex(critical)


@pytest.fixture(scope="module")
def entry_map(demo, critical):
    return EntryMap(demo.meshes["skin"], [m for _, _, m in critical])


def _assert_same(index, critical, a, b):
    """Every structure's clearance equals the brute-force answer."""
    got = {s.structure_id: s for s in index.path(a, b).structures}
    length = float(np.linalg.norm(np.subtract(b, a)))
    for sid, name, mesh in critical:
        ref = segment_mesh_distance(a, b, mesh, sid, name)
        s = got[sid]
        assert s.crosses == ref.crosses, (sid, a, b)
        assert abs(s.distance - ref.distance) <= 0.01, (sid, a, b, s.distance, ref.distance)
        assert abs(s.depth - ref.along) <= 0.01, (sid, a, b, s.depth, ref.along)
        gap = np.linalg.norm(np.subtract(s.path_point, s.surface_point))
        assert gap == pytest.approx(s.distance, abs=1e-6)
        assert 0.0 <= s.depth <= length + 1e-9
        if s.crosses:
            assert s.distance == 0.0 and s.path_point == s.surface_point
    return got


def _random_paths(demo, rng, count):
    lo, hi = (np.asarray(x, np.float64) for x in demo.meshes["skin"].bounds())
    return [(rng.uniform(lo, hi) * 0.7, rng.uniform(lo, hi) * 0.5) for _ in range(count)]


# --------------------------------------------------------------------------- clearance index


def test_clearance_matches_brute_force_on_random_paths(demo, critical, index):
    crossings = 0
    for a, b in _random_paths(demo, np.random.default_rng(7), 60):
        got = _assert_same(index, critical, a, b)
        crossings += sum(s.crosses for s in got.values())
    assert crossings >= 10  # the sample did exercise crossing paths
    assert index.ids == tuple(sid for sid, _, _ in critical)


def test_clearance_structures_are_sorted_closest_first(demo, index):
    for a, b in _random_paths(demo, np.random.default_rng(3), 10):
        r = index.path(a, b)
        keys = [(s.distance, s.depth) for s in r.structures]
        assert keys == sorted(keys)
        assert r.closest is r.structures[0]


def test_clearance_with_an_end_inside_a_structure(demo, critical, index):
    """Ends just inside the ventricles' surface: a short path that stays inside does not
    cross (and is reported at its distance to the wall), a long one crosses."""
    ventricles = demo.meshes["ventricles"]
    rng = np.random.default_rng(11)
    tried = 0
    for v in rng.choice(ventricles.vertex_count, 40, replace=False):
        inner = ventricles.positions[v] - 0.6 * ventricles.normals[v].astype(np.float64)
        if tried == 12 or not point_inside(inner, ventricles):
            continue
        tried += 1
        for other in (inner + rng.normal(size=3) * 0.1, np.array(TARGET) + (0.0, 0.0, 60.0)):
            got = _assert_same(index, critical, inner, other)
            assert got["ventricles"].distance < 1.0
    assert tried == 12


def test_clearance_of_a_degenerate_path(critical, index):
    """entry == target: length 0, two profile samples at depth 0, point-to-mesh distances."""
    p = np.array(TARGET)
    r = index.path(p, p)
    assert r.length == 0.0
    assert r.depths.tolist() == [0.0, 0.0]
    assert r.distances[0] == r.distances[1]
    got = _assert_same(index, critical, p, p)
    assert min(s.distance for s in got.values()) == pytest.approx(r.distances[0], abs=0.01)


def test_clearance_of_an_empty_index():
    index = ClearanceIndex([])
    r = index.path((0, 0, 0), (10, 0, 0), step_mm=2.0)
    assert r.structures == () and r.closest is None
    assert len(r.depths) == 6 and np.isinf(r.distances).all() and (r.nearest == -1).all()
    d, k = index.point(np.zeros((3, 3)))
    assert np.isinf(d).all() and (k == -1).all()


def test_clearance_profile_shape_and_meaning(critical, index):
    a, b = np.array(ENTRY), np.array(TARGET) + (-20.0, 5.0, -10.0)
    r = index.path(a, b, step_mm=1.5)
    assert len(r.depths) == max(2, math.ceil(r.length / 1.5) + 1)
    assert r.depths[0] == 0.0 and r.depths[-1] == pytest.approx(r.length)
    assert np.allclose(np.diff(r.depths), r.depths[1] - r.depths[0])
    assert r.distances.dtype == np.float64 and r.distances.shape == r.depths.shape
    # each sample against every triangle of every structure
    points = a + (r.depths / r.length)[:, None] * (b - a)
    exact = np.full(len(points), np.inf)
    owner = np.zeros(len(points), int)
    for k, (_, _, mesh) in enumerate(critical):
        tri = mesh.positions.astype(np.float64)[mesh.indices.astype(np.int64)]
        for i, p in enumerate(points):
            q = _closest_on_triangles(np.broadcast_to(p, tri[:, 0].shape), *tri.transpose(1, 0, 2))
            d = float(np.linalg.norm(q - p, axis=1).min())
            if d < exact[i]:
                exact[i], owner[i] = d, k
    over = r.distances - exact
    assert over.min() >= -1e-9 and over.max() <= index.profile_tolerance
    assert np.allclose(r.distances, exact, atol=1e-6)  # in practice exact on these meshes
    assert (r.nearest == owner).all()
    assert r.distances.min() >= r.closest.distance - 1e-9


def test_clearance_matches_brute_force_on_a_refined_plan(critical):
    """Four times the triangles: more groups and blocks in the hierarchy, same answers."""
    fine = [(sid, name, refine(mesh, 2)) for sid, name, mesh in critical]
    index = ClearanceIndex(fine)
    assert index.triangle_count == 4 * sum(m.triangle_count for _, _, m in critical)
    rng = np.random.default_rng(5)
    for a, b in [(np.array(ENTRY), np.array(TARGET))] + [
        (rng.uniform(-60, 60, 3), rng.uniform(-30, 30, 3)) for _ in range(4)
    ]:
        _assert_same(index, fine, a, b)


def test_refine_keeps_the_surface_closed(demo):
    mesh = refine(demo.meshes["lesion"], 3)
    assert mesh.triangle_count == 9 * demo.meshes["lesion"].triangle_count
    edges = np.sort(mesh.indices[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    _, count = np.unique(edges, axis=0, return_counts=True)
    assert (count == 2).all()  # every edge between exactly two triangles: no cracks


# --------------------------------------------------------------------------- entry map


def test_entry_map_near_the_planned_entry_is_usable_and_good(demo, entry_map):
    r = entry_map.compute(TARGET)
    skin = demo.meshes["skin"].positions
    near = np.linalg.norm(skin - np.array(ENTRY), axis=1) < 5.0
    assert near.sum() >= 5 and r.usable[near].all()
    assert np.nanmin(r.score[near]) > np.nanmedian(r.score)
    assert (r.clearance[near] >= 2.0 + GOOD_SPAN_MM - 1e-3).all()  # clear of everything
    best = r.best()
    assert best is not None and r.usable[best] and r.score[best] == np.nanmax(r.score)


def test_entry_map_far_side_is_unusable(demo, entry_map):
    r = entry_map.compute(TARGET)
    skin = demo.meshes["skin"].positions
    assert not r.usable[skin[:, 0] < -70].any()  # the right side of the head, far lateral
    right = skin[:, 0] < 0
    assert r.usable[right].mean() < 0.35
    # the right-side entries that are left are within reach and not too steep
    assert (r.length[r.usable] <= 120.0).all() and (r.angle[r.usable] <= 60.0).all()
    assert np.isnan(r.score[~r.usable]).all()
    assert ((r.score[r.usable] >= 0) & (r.score[r.usable] <= 1)).all()


def test_entry_map_paths_through_the_ventricles_are_unusable(demo, index, entry_map):
    r = entry_map.compute(TARGET)
    skin = demo.meshes["skin"].positions
    reachable = np.flatnonzero((r.length <= 120.0) & (r.angle <= 60.0))
    crossing = []
    for v in np.random.default_rng(2).permutation(reachable):
        got = {s.structure_id: s for s in index.path(skin[v], TARGET).structures}
        if got["ventricles"].crosses:
            crossing.append(v)
        if len(crossing) == 8:
            break
    assert len(crossing) == 8
    assert not r.usable[crossing].any()


def test_entry_map_clearance_is_within_its_stated_error(demo, index, entry_map):
    """Within 1.5 mm of the exact value (capped at margin + GOOD_SPAN_MM, where the score
    stops caring) for random traced vertices; it measured within +-1.0 mm."""
    r = entry_map.compute(TARGET, margin_mm=2.0)
    skin = demo.meshes["skin"].positions
    traced = np.flatnonzero(~np.isnan(r.clearance))
    cap = 2.0 + GOOD_SPAN_MM
    for v in np.random.default_rng(4).choice(traced, 150, replace=False):
        exact = min(index.path(skin[v], TARGET).closest.distance, cap)
        assert abs(r.clearance[v] - exact) <= 1.5, (v, r.clearance[v], exact)


def test_entry_score_falls_with_angle_and_length_and_rises_with_clearance():
    angle = np.linspace(0, 60, 61)
    s = entry_score(np.full(61, 50.0), angle, np.full(61, 20.0), 2.0, 120.0)
    assert (np.diff(s) < 0).all() and s[0] > 0.5 and s[-1] == 0.0
    assert entry_score(40.0, 10.0, 20.0, 2.0, 120.0) > entry_score(80.0, 10.0, 20.0, 2.0, 120.0)
    clear = entry_score(50.0, 10.0, np.array([2.0, 5.0, 9.0, 10.0, 30.0]), 2.0, 120.0)
    assert (np.diff(clear[:4]) > 0).all() and clear[3] == clear[4]


def test_entry_map_scores_follow_entry_score(entry_map):
    r = entry_map.compute(TARGET, margin_mm=3.0)
    u = r.usable
    want = entry_score(r.length[u], r.angle[u], r.clearance[u], 3.0, 120.0)
    assert np.allclose(r.score[u], want, atol=1e-5)
    assert (r.clearance[u] >= 3.0).all()


def test_entry_map_colors(entry_map):
    r = entry_map.compute(TARGET)
    c = r.colors()
    assert c.shape == (len(r.score), 3) and c.dtype == np.float32
    grey = c[~r.usable]
    assert np.allclose(grey, grey[0]) and np.allclose(grey[0], grey[0][0])  # neutral
    best = c[r.best()]
    assert best[1] > best[0]  # the best entry is green
    worst = c[np.flatnonzero(r.usable)[np.nanargmin(r.score[r.usable])]]
    assert worst[0] > worst[1]  # the worst usable entry is red


def test_entry_map_small_ball_shadows_part_of_a_sphere():
    """A sphere skin around the target, a small critical ball between them: the vertices in
    its shadow (paths within the margin of the ball) are unusable, the rest usable."""
    skin = surface((0, 0, 0), (60, 60, 60), 48, 96)
    ball = surface((30, 0, 0), (8, 8, 8), 16, 32)
    r = EntryMap(skin, [ball]).compute((0, 0, 0), margin_mm=2.0)
    pos = skin.positions.astype(np.float64)
    off_axis = np.degrees(np.arccos(pos[:, 0] / np.linalg.norm(pos, axis=1)))
    shadow = math.degrees(math.asin((8 + 2) / 30))  # 19.5 degrees
    assert (off_axis < shadow - 3).sum() > 20
    assert not r.usable[off_axis < shadow - 3].any()
    assert r.usable[off_axis > shadow + 3].all()
    assert np.allclose(r.angle, 0.0, atol=2.0)  # a sphere seen from its centre


def test_entry_map_occlusion_matches_the_skin_crossings():
    """A head with an ear: a sphere skin and a separate small blob beside it. Seen from a
    target in the head, the ear's outer side faces the target (a fine angle) but the path
    to it leaves the head first: occluded. Compared with the brute-force skin crossings."""
    head = surface((0, 0, 0), (60, 60, 60), 32, 64)
    ear = surface((78, 0, 0), (8, 14, 14), 16, 32)
    skin = Mesh.from_triangles(
        np.concatenate([head.positions, ear.positions]),
        np.concatenate([head.indices, ear.indices + head.vertex_count]),
    )
    target = np.array([20.0, 0.0, 0.0])
    r = EntryMap(skin, []).compute(target)
    pos = skin.positions.astype(np.float64)
    tri = pos[skin.indices.astype(np.int64)]
    reachable = np.flatnonzero((r.angle <= 60.0) & (r.length <= 120.0))
    occluded = []
    for v in reachable:
        t = _segment_hits(target, pos[v], tri[:, 0], tri[:, 1], tri[:, 2])
        occluded.append(bool(np.any(t[~np.isnan(t)] * r.length[v] < r.length[v] - 1.0)))
    occluded = np.array(occluded)
    on_ear = reachable >= head.vertex_count
    assert occluded[on_ear].all() and not occluded[~on_ear].any()
    assert on_ear.sum() >= 50
    assert not r.usable[reachable[on_ear]].any()
    assert r.usable[reachable[~on_ear]].all()
