"""The workbench's model without a window (orkiosk/app/workbench/model.py): placing a new path,
dragging its ends (one undo step per drag), pivoting the entry about the target, the across
view's depth, where to enter, and saving. The Kivy side is tested in test_workbench_xvfb.py
and test_workbench_touch.py."""

from __future__ import annotations

import math

import numpy as np
import pytest

from orkiosk.app.model.values import Pick
from orkiosk.app.workbench.events import EntryMapChanged, ReadoutChanged, StatusChanged
from orkiosk.app.workbench.model import Workbench
from orkiosk.plan.demo import bundled_demo_path
from orkiosk.plan.package import load_package

TARGET = (20.0, -30.0, 38.0)
ENTRY = (60.0, -20.0, 60.0)


@pytest.fixture(scope="module")
def demo():
    return load_package(bundled_demo_path())


@pytest.fixture
def wb(demo):
    w = Workbench(demo)
    w.events = []
    w.subscribe(w.events.append)
    return w


def _wait_entry_map(wb) -> None:
    wb.guide.wait(timeout=60)
    wb.poll()


def test_new_path_from_two_placed_points(wb):
    assert wb.selected == "biopsy" and wb.readout.trajectory.id == "biopsy"
    wb.new_path()
    assert wb.tool == "place-target"
    assert wb.place(TARGET) and wb.tool == "place-entry"
    assert wb.place(ENTRY) and wb.tool == "view"
    t = wb.plan.trajectory("path-1")
    assert (t.name, t.entry, t.target) == ("Path 1", ENTRY, TARGET)
    assert wb.selected == "path-1" and wb.readout.trajectory == t
    assert wb.state.package.plan == wb.plan  # the views draw the edited plan
    # the axial, coronal and sagittal slices pass through the new target
    lo, hi = wb.state.bounds
    centre = (np.asarray(lo) + np.asarray(hi)) / 2
    assert wb.slices["axial"].slice.offset == pytest.approx(TARGET[2] - centre[2])
    assert wb.slices["sagittal"].slice.offset == pytest.approx(TARGET[0] - centre[0])
    assert wb.session.diff().lines() == ["Trajectory Path 1 added"]
    # a point outside the image is refused in words, the tool stays
    wb.new_path()
    assert wb.place((0.0, 0.0, 500.0)) and wb.tool == "place-target"
    assert isinstance(wb.events[-1], StatusChanged) and "outside the image" in wb.events[-1].text
    wb.cancel()
    assert wb.tool == "view" and not wb.place(TARGET)


def test_a_drag_is_one_undo_step_and_the_readout_follows_it(wb):
    wb.grab("biopsy", "target")
    lengths = []
    for k in range(1, 11):
        wb.drag_to((38.0 + k, -18.0, 38.0))
        lengths.append(wb.readout.length)
    wb.release()
    assert len(set(np.round(lengths, 3))) == 10  # a new readout at every step
    assert sum(isinstance(e, ReadoutChanged) for e in wb.events) >= 10
    assert wb.session.diff().lines() == ["Trajectory Biopsy: target moved 10.0 mm"]
    wb.undo()
    assert not wb.session.dirty and wb.readout.length == pytest.approx(29.8, abs=0.05)
    wb.redo()
    assert wb.plan.trajectory("biopsy").target == (48.0, -18.0, 38.0)


def test_the_across_view_pivots_the_entry_about_the_target(wb):
    t0 = wb.plan.trajectory("biopsy")
    length = math.dist(t0.entry, t0.target)
    right, up = np.array([1.0, 0, 0]), np.array([0, 0, 1.0])
    for _ in range(5):
        assert wb.pivot_entry(right, up, 1.5, -0.5)
    wb.release()
    t = wb.plan.trajectory("biopsy")
    assert t.target == t0.target
    assert math.dist(t.entry, t.target) == pytest.approx(length, abs=1e-6)
    assert math.dist(t.entry, t0.entry) > 3.0
    wb.undo()
    assert wb.plan.trajectory("biopsy") == t0


def test_depth_moves_the_across_view_along_the_path(wb):
    r = wb.readout
    wb.set_depth(10.0)
    assert wb.depth == pytest.approx(10.0)
    assert wb.slices["perp"].slice.offset == pytest.approx(r.length - 10.0)
    wb.set_depth(1e6)
    assert wb.depth == pytest.approx(0.0 + r.length - wb.slices["perp"].slice.offset)
    assert wb.slices["perp"].slice.offset == pytest.approx(0.0)


def test_where_to_enter_while_placing_and_a_tap_on_the_skin(wb):
    wb.new_path()
    wb.place(TARGET)
    _wait_entry_map(wb)
    scores = wb.entry_scores
    assert scores is not None and scores.target == TARGET
    assert any(isinstance(e, EntryMapChanged) and e.scores is scores for e in wb.events)
    best = scores.best()
    assert best is not None and scores.usable[best]
    skin = wb.skin.positions
    # a tap on another structure is not an entry; a tap on the skin at the best vertex is
    assert wb._tap(Pick("bone", tuple(skin[best]), "Bone")) and wb.tool == "place-entry"
    assert wb._tap(Pick("skin", tuple(skin[best]), "Skin")) and wb.tool == "view"
    t = wb.plan.trajectory(wb.selected)
    assert np.allclose(t.entry, skin[best]) and t.target == TARGET
    assert wb.readout.closest.distance >= wb.readout.margin  # the map's best is clear
    assert wb.entry_scores is None  # hidden once the entry is placed
    # asked for, the map follows the selected path; a tap on the skin moves its entry
    wb.toggle_entry_map()
    assert wb.entry_scores is not None and wb.entry_scores.target == TARGET
    other = int(np.flatnonzero(wb.entry_scores.usable)[0])
    assert wb._tap(Pick("skin", tuple(skin[other]), "Skin"))
    assert np.allclose(wb.plan.trajectory(wb.selected).entry, skin[other])


def test_save_writes_the_next_version_and_refuses_the_wrong_side(wb, tmp_path):
    wb.grab("biopsy", "target")
    wb.drag_to((-38.0, -18.0, 38.0))  # the patient's right in a left-sided plan
    wb.release()
    assert wb.save(tmp_path, None) is None
    assert "laterality is 'left'" in wb.events[-1].text and list(tmp_path.iterdir()) == []
    wb.undo()
    wb.grab("biopsy", "target")
    wb.drag_to((40.0, -18.0, 38.0))
    wb.release()
    (tmp_path / "a-file").write_text("")
    assert wb.save(tmp_path / "a-file" / "plans", None) is None  # a folder that cannot be
    assert wb.events[-1].level == "error" and "Not saved: " in wb.events[-1].text
    assert wb.save(tmp_path / "plans", tmp_path / "no-such.key") is None  # an unusable key
    assert "Not saved: " in wb.events[-1].text and not (tmp_path / "plans").exists()
    wb.grab("biopsy", "target")
    wb.release()
    saved = wb.save(tmp_path / "plans", None)
    assert saved is not None and saved.path == tmp_path / "plans" / "PHANTOM-DEMO-v2"
    assert not wb.session.dirty and wb.session.base.plan.plan_version == 2
    assert wb.state.package.plan.plan_version == 2


def test_landmarks_names_diameter_colour_and_views(wb):
    wb.set_tool("place-landmark")
    assert wb.place((10.0, -40.0, 38.0)) and wb.tool == "view"
    lid = wb.plan.landmarks[-1].id
    assert wb.item == ("landmark", lid) and wb.item_name() == "Landmark 1"
    wb.grab(lid, "landmark")
    wb.drag_to((12.0, -40.0, 38.0))
    wb.drag_to((14.0, -40.0, 38.0))
    wb.release()
    wb.rename_item("Burr hole")
    assert wb.plan.landmarks[-1].position == (14.0, -40.0, 38.0)
    assert wb.plan.landmarks[-1].name == "Burr hole"
    wb.undo()  # the rename
    wb.undo()  # the whole drag
    assert wb.plan.landmarks[-1].position == (10.0, -40.0, 38.0)
    wb.delete_selected()
    assert all(m.id != lid for m in wb.plan.landmarks)
    assert wb.item == ("trajectory", "biopsy")  # back to the selected path

    wb.step_diameter(+2)
    wb.cycle_path_color()
    t = wb.plan.trajectory("biopsy")
    assert t.diameter == 3.0 and t.color is not None
    assert wb.readout.margin == pytest.approx(1.5 + 2.0)
    lines = wb.session.diff().lines()
    assert lines == ["Trajectory Biopsy: diameter 2 -> 3 mm, colour changed"]

    from orkiosk.render.camera import Camera

    cam = Camera.named("left", wb.state.bounds)
    name = wb.save_view(cam)
    v = wb.plan.views[-1]
    assert v.name == name == "View 1" and np.allclose(v.look, cam.forward)


def test_the_critical_set_drives_the_clearance(wb):
    assert [c.structure_id for c in wb.readout.clearance.structures] == ["ventricles", "vessels"]
    wb.set_structure("ventricles", critical=False)
    assert [c.structure_id for c in wb.readout.clearance.structures] == ["vessels"]
    wb.set_structure("lesion", critical=True, opacity=0.5, name="Tumour")
    ids = {c.structure_id for c in wb.readout.clearance.structures}
    assert ids == {"vessels", "lesion"}
    s = wb.plan.structure("lesion")
    assert (s.name, s.opacity, s.critical) == ("Tumour", 0.5, True)
    assert wb.readout.closest.structure_id == "lesion"  # the target lies in it


def test_orkiosk_plan_refuses_bad_options_and_the_or_kiosk(tmp_path, monkeypatch, capsys):
    from orkiosk.app import settings
    from orkiosk.cli import main

    monkeypatch.setattr(settings, "DEFAULT_FILE", tmp_path / "kiosk.toml")
    assert main(["plan", "--hub", "tcp://127.0.0.1:7400"]) == 2
    assert "--hub, --hub-key, --room and --identity together" in capsys.readouterr().err
    assert main(["plan", "--identity", str(tmp_path / "nobody")]) == 2
    assert "does not exist (make one with orkiosk keygen)" in capsys.readouterr().err
    (tmp_path / "kiosk.toml").write_text("")
    assert main(["plan"]) == 2
    assert "this machine is an OR kiosk" in capsys.readouterr().err


def test_a_plan_without_paths_or_critical_structures(demo):
    from dataclasses import replace

    plan = replace(
        demo.plan,
        trajectories=(),
        structures=tuple(replace(s, critical=False) for s in demo.plan.structures),
    )
    wb = Workbench(replace(demo, plan=plan))
    assert wb.readout is None and wb.slices["along"].slice.plane == "axial"  # nothing to follow
    wb.new_path()
    wb.place(TARGET)
    # the skin under a ray from in front of the face, however translucent it is drawn
    hit = wb.skin.first_hit((20.0, -300.0, 40.0), (0.0, 1.0, 0.0))
    assert hit is not None and wb.skin.nearest(hit)[2] < 2.0 and hit[1] < -60
    wb.place(tuple(hit))
    assert wb.slices["along"].slice.plane == "along" and wb.slices["perp"].slice.plane == "perp"
    assert wb.readout.lines()[-1].startswith("No critical structures in this plan")
    assert wb.skin.first_hit((500.0, 500.0, 500.0), (1.0, 0.0, 0.0)) is None
