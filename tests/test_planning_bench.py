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
