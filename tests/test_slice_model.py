"""The slice view's model without a window (app/model/slicing.py): events once per real change,
no slice without an image, a drag moves the offset by the finger's travel, the slice follows
the selected trajectory; and the depth readout (app/readouts.slice_text)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from conftest import small_plan
from orkiosk.app.model import KioskState
from orkiosk.app.model.slicing import LayoutChanged, SliceChanged, SliceModel, Window
from orkiosk.app.readouts import slice_text
from orkiosk.plan.demo import demo_package_path
from orkiosk.plan.package import load_package, write_package


@pytest.fixture(scope="module")
def demo():
    pkg = load_package(demo_package_path())
    assert pkg.plan.image is not None and len(pkg.plan.trajectories) >= 1
    return pkg


@pytest.fixture
def model(demo):
    st = KioskState()
    st.set_viewport(800, 600, 4.0)
    sl = SliceModel(st)
    st.offer(demo)
    seen = []
    sl.subscribe(seen.append)
    return st, sl, seen


def test_a_plan_with_an_image_offers_the_slice_and_each_change_is_sent_once(model):
    st, sl, seen = model
    assert sl.available and sl.layout == "3d"
    assert sl.set_layout("slice") is True
    assert sl.set_layout("slice") is True  # the same again: no event
    assert seen == [LayoutChanged("slice", True)]
    sl.set_plane("coronal")
    sl.set_plane("coronal")
    sl.set_offset(5.0)
    sl.set_offset(5.0)
    assert seen[1:] == [
        SliceChanged(replace(sl.slice, offset=0.0)),
        SliceChanged(sl.slice),
    ]
    assert sl.slice.plane == "coronal" and sl.slice.offset == 5.0
    with pytest.raises(ValueError):
        sl.set_layout("quad")
    with pytest.raises(ValueError):
        sl.set_plane("oblique")


def test_no_slice_without_an_image(tmp_path):
    plan, meshes = small_plan()
    bare = load_package(write_package(plan, meshes, tmp_path / "bare"))
    assert bare.plan.image is None
    st = KioskState()
    sl = SliceModel(st)
    seen = []
    sl.subscribe(seen.append)
    st.offer(bare)
    assert not sl.available and sl.presets == () and sl.window is None
    assert sl.set_layout("slice") is False and sl.set_layout("both") is False
    assert sl.layout == "3d" and seen == []
    assert sl.set_layout("3d") is True and seen == []


def test_a_plan_without_an_image_takes_the_slice_away(model, tmp_path):
    st, sl, seen = model
    sl.set_layout("both")
    plan, meshes = small_plan()
    bare = load_package(write_package(plan, meshes, tmp_path / "bare"))
    st.offer(bare)
    st.confirm_pending()  # another patient: shown once confirmed
    assert st.package is bare
    assert sl.layout == "3d" and not sl.available
    assert seen[-1] == LayoutChanged("3d", False)


def test_drag_moves_the_offset_by_the_fingers_travel(model):
    st, sl, seen = model
    sl.drag(7.5)  # no slice shown: nothing moves
    assert sl.slice.offset == 0.0 and seen == []
    sl.set_layout("slice")
    sl.drag(7.5)
    sl.drag(-2.5)
    assert sl.slice.offset == pytest.approx(5.0)
    assert [e.interactive for e in seen if isinstance(e, SliceChanged)] == [True, True]
    assert [e.slice.offset for e in seen if isinstance(e, SliceChanged)] == [7.5, 5.0]
    sl.drag(0.0)
    assert len(seen) == 3
    st.set_locked(True)
    sl.drag(10.0)
    assert sl.slice.offset == pytest.approx(5.0), "locked: the slice stays"


def test_trajectory_planes_follow_the_selected_trajectory(model, demo):
    st, sl, seen = model
    tid = demo.plan.trajectories[0].id
    assert st.selected == tid
    assert sl.set_plane("perp") is True
    assert sl.slice.trajectory_id == tid and sl.slice.follows_trajectory
    sl.set_offset(12.0)
    st.select_trajectory(None)
    assert sl.slice.offset == 0.0 and sl.slice.trajectory_id is None
    assert sl.set_plane("along") is False, "no trajectory selected: no trajectory plane"
    sl.set_plane("axial")
    assert sl.slice.trajectory_id is None


def test_window_presets_by_name_or_width_level(model, demo):
    st, sl, seen = model
    names = [p.name for p in demo.plan.image.presets]
    assert sl.window == Window(
        demo.plan.image.presets[0].window, demo.plan.image.presets[0].level, names[0]
    )
    sl.set_window(names[0])  # the default already: the same picture, no event
    assert seen == [] and sl.slice.window is None
    sl.set_window(names[-1])
    assert sl.window.name == names[-1] and len(seen) == 1
    sl.set_window((350, 50))
    assert sl.window == Window(350.0, 50.0) and sl.window.text == "W350 L50"
    with pytest.raises(KeyError):
        sl.set_window("Liver")
    with pytest.raises(ValueError):
        sl.set_window((0, 40))


def test_a_newer_version_keeps_the_slice_another_case_starts_over(model, demo):
    st, sl, seen = model
    sl.set_layout("slice")
    sl.set_plane("sagittal")
    sl.set_offset(-8.0)
    sl.set_window(demo.plan.image.presets[-1].name)
    v2 = replace(
        demo,
        plan=replace(demo.plan, plan_version=demo.plan.plan_version + 1),
        manifest_sha256="2" * 64,
    )
    st.offer(v2)
    assert st.package is v2
    assert sl.slice.plane == "sagittal" and sl.slice.offset == -8.0 and sl.slice.window
    other = replace(
        demo,
        plan=replace(demo.plan, case_id="other-case", plan_version=1),
        manifest_sha256="3" * 64,
    )
    st.offer(other)
    st.confirm_pending()
    assert st.package is other
    assert sl.slice.offset == 0.0 and sl.slice.window is None
    assert sl.layout == "slice", "the layout is the team's choice: it stays"


def test_depth_readout(demo):
    from orkiosk.app.model.slicing import Slice

    t = demo.plan.trajectories[0]
    assert slice_text(Slice("perp", 12.2, t.id), demo.plan) == f"ACROSS {t.name}: 12 mm to target"
    assert slice_text(Slice("perp", 0.2, t.id), demo.plan) == f"ACROSS {t.name}: at the target"
    assert slice_text(Slice("perp", -4, t.id), demo.plan).endswith("4 mm beyond the target")
    assert (
        slice_text(Slice("along", 0, t.id), demo.plan)
        == f"ALONG {t.name} path, in the path's plane"
    )
    assert slice_text(Slice("along", -3, t.id), demo.plan).endswith("3 mm beside it")
    assert slice_text(Slice("axial", 12), demo.plan) == "AXIAL slice +12 mm (drag to move)"
