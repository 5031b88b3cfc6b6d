"""The build benchmark runs (small here; the 512x512x300 run is `orkiosk bench` / -m slow)."""

from __future__ import annotations

import sys

import pytest

from orkiosk.planning.bench import GOAL_S, STAGES, bench_build, bench_rows


def test_bench_build_small_without_vtk(monkeypatch):
    monkeypatch.setitem(sys.modules, "vtk", None)  # as on a machine without vtk: skipped cleanly
    r = bench_build(shape=(48, 96, 96), spacing=(2.4, 2.4, 4.4))
    for stage in (*STAGES, "total", "make_volume"):
        assert r[stage] >= 0.0
    assert r["total"] == pytest.approx(sum(r[s] for s in STAGES))
    assert 0 < r["triangles"] <= r["triangles_raw"]
    assert r["voxels"] == 48 * 96 * 96
    assert not any(k.startswith("vtk") for k in r)


def test_bench_build_small_with_vtk_if_present():
    pytest.importorskip("vtk")
    r = bench_build(shape=(40, 64, 64), spacing=(3.6, 3.6, 5.3), with_io=False)
    assert r["vtk_triangles"] > 0 and r["vtk_total"] > 0


@pytest.mark.slow
def test_bench_build_full_size_meets_goal():
    rows = bench_rows()
    assert rows[0]["ok"], rows[0]
    assert rows[0]["value"] <= GOAL_S


def test_thin_slice_bench_small():
    """The 512x512x600 bench's machinery on a small volume: every preset, child-process memory,
    distances to the full-resolution surface, the VTK way when vtk is there."""
    from orkiosk.planning.benchthin import PRESETS, bench_thin

    r = bench_thin(shape=(60, 64, 64), spacing=(3.6, 3.6, 3.9), with_vtk=False, samples=20_000)
    st = r["structures"]
    assert set(st) == set(PRESETS)
    for name in PRESETS:  # the painted airway and the phantom's vessels make surfaces
        assert not st[name].get("empty"), (name, st[name])
        assert 0 < st[name]["triangles"] <= st[name]["triangles_full"]
        assert st[name]["ours_p95_mm"] < 2.0  # voxels are 3.6 mm here
    assert 50 < r["peak_rss_mb"] < 2048
    assert r["ours_surface_s"] > 0 and "vtk_surface_s" not in r


@pytest.mark.slow
def test_thin_slice_bench_full_size_rows():
    from orkiosk.planning.bench import thin_rows

    rows = thin_rows()
    assert rows[0]["case"].startswith("skin+bone+vessels+airway 512x512x600")
    assert all(x["ok"] is not False for x in rows), [x for x in rows if x["ok"] is False]


def test_point_to_mesh_distance_is_exact():
    import numpy as np

    from orkiosk.planning.benchthin import distance_to_mesh

    v = np.array([[0, 0, 0], [10, 0, 0], [0, 10, 0], [10, 10, 0]], float)
    f = np.array([[0, 1, 2], [1, 3, 2]])
    p = np.array([[2, 3, 1.5], [12, 5, 0], [-3, -4, 0], [5, 5, -2]], float)
    assert np.allclose(distance_to_mesh(p, v, f), [1.5, 2.0, 5.0, 2.0])
