"""The workbench under real touches (Kivy's input pipeline, as a touchscreen delivers them): a
new path placed by fingers, its target dragged on a slice with the readout following, the entry
pivoted in the across view, undone, then saved. The window lives in a child process
(tests/workbench_touch.py); screenshots of each step go to artifacts/workbench-touch/."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

from conftest import ROOT
from orkiosk.plan.demo import bundled_demo_path
from orkiosk.plan.package import load_package

ARTIFACTS = ROOT / "artifacts" / "workbench-touch"


def test_fingers_make_drag_pivot_undo_and_save_a_path(tmp_path):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    run = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "workbench_touch.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "SDL_VIDEODRIVER": "offscreen"},
    )
    line = next((x for x in run.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert line is not None, run.stdout[-3000:] + run.stderr[-3000:]
    r = json.loads(line[len("RESULT ") :])
    for png in tmp_path.glob("*.png"):
        png.replace(ARTIFACTS / png.name)

    assert r["path"] == "path-1"
    placed = r["placed"]
    assert placed[0] == pytest.approx(20.0, abs=1.0) and placed[1] == pytest.approx(-30.0, abs=1.0)
    # dragged up the coronal slice: 8 mm superior, the readout new at every step
    assert r["dragged"][2] - placed[2] == pytest.approx(8.0, abs=0.8)
    assert len(set(r["drag_readouts"])) >= 6
    # the pivot kept the length and moved the entry; UNDO put it back
    assert r["entry_moved"]
    assert r["length_after_pivot"] == pytest.approx(r["length_before_pivot"], abs=0.05)
    assert r["entry_after_undo"] == pytest.approx(r["entry_before_pivot"])
    # dragged over the skin in 3D, the entry stays on it
    assert r["entry_moved_in_3d"] > 3.0 and r["entry_to_skin_mm"] < 1.5
    assert r["depth_after_tap"] == pytest.approx(r["closest_depth"], abs=1e-6)
    assert "Trajectory Path 1 added" in r["dialog"]
    saved = load_package(r["saved"])
    assert saved.plan.plan_version == 2 and "plan v2" in r["banner"]
    t = saved.plan.trajectory("path-1")
    assert math.dist(t.target, r["dragged"]) < 1e-6
    base = load_package(bundled_demo_path())
    assert [f.sha256 for f in saved.plan.files] == [f.sha256 for f in base.plan.files]
