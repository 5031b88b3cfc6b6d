"""The kiosk model without a window: typed events once per real change, typed views, the cut
following the selected trajectory, gesture maths on a camera, and the readout texts."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from conftest import small_plan
from orkiosk.app.model import (
    Cut,
    KioskState,
    NamedView,
    Pick,
    PlanViewRef,
    TrajectoryView,
    apply_gesture,
    events,
)
from orkiosk.app.readouts import (
    CAUTION_COLOUR,
    CLEAR_COLOUR,
    CLEARANCE_CAUTION_MM,
    CLEARANCE_DANGER_MM,
    DANGER_COLOUR,
    clearance_colour,
    cut_text,
    measure_text,
    named_text,
    readout_text,
    trajectory_text,
)
from orkiosk.plan.metrics import CriticalDistance, TrajectoryMetrics
from orkiosk.plan.model import Patient, Trajectory, View
from orkiosk.plan.package import load_package, write_package
from orkiosk.render.camera import Camera
from orkiosk.touch import DoubleTap, Drag, LongPress, Pan, Roll, Rotate, Tap, Zoom

TWO_PATHS = (
    Trajectory("t1", "Needle", (60, 0, 60), (30, 0, 10), 2.0),
    Trajectory("t2", "Probe", (0, -60, 60), (0, 0, 0), 2.0),
)


def pkg(tmp_path, name, **changes):
    plan, meshes = small_plan(**changes)
    return load_package(write_package(plan, meshes, tmp_path / name))


@pytest.fixture
def shown(tmp_path):
    """A model showing a two-trajectory plan, and the events it sends from now on."""
    st = KioskState()
    st.set_viewport(800, 600, 4.0)
    st.offer(pkg(tmp_path, "v1", trajectories=TWO_PATHS))
    seen = []
    st.subscribe(seen.append)
    return st, seen


def kinds(seen):
    return [type(e).__name__ for e in seen]


def test_first_plan_sends_typed_events_in_a_consistent_order(tmp_path):
    st = KioskState()
    seen = []
    st.subscribe(lambda e: seen.append((e, st.package, st.camera is not None, st.selected)))
    p = pkg(tmp_path, "v1")
    assert st.offer(p).outcome == "shown"
    first, package, has_camera, selected = seen[0]
    assert first == events.PlanShown(p)
    assert package is p and has_camera and selected == "t1", "handlers see the finished state"
    names = [type(e).__name__ for e, *_ in seen]
    assert names.count("PlanShown") == 1 and "CameraMoved" in names
    assert "SelectionChanged" in names
    assert "ErrorChanged" not in names and "PendingChanged" not in names  # nothing to clear
    assert st.metrics and st.metrics[0].trajectory_id == "t1"


def test_events_only_for_real_changes(shown):
    st, seen = shown
    st.set_mode("view")
    st.set_locked(False)
    st.clear_error()
    st.clear_picks()
    st.name_structure(None)
    st.reject_pending()
    st.set_cut(plane="axial", offset=0.0)
    st.select_trajectory("t1")
    st.handle_gestures([Rotate(0.0, 0.0), Zoom(1.0, 10, 10), Pan(0.0, 0.0)])
    assert seen == []
    st.set_mode("cut")
    st.set_mode("cut")
    st.set_locked(True)
    st.set_locked(True)
    st.set_error("x")
    st.set_error("x")
    assert seen == [events.ModeChanged("cut"), events.LockChanged(True), events.ErrorChanged("x")]


def test_mode_change_clears_picks_once(shown):
    st, seen = shown
    st.set_mode("measure")
    st.add_pick(Pick("head", (0, 0, 0)))
    st.add_pick(Pick("head", (3, 4, 0)))
    assert st.distance_mm == pytest.approx(5.0)
    seen.clear()
    st.set_mode("view")
    assert kinds(seen) == ["ModeChanged", "PicksChanged"]
    assert seen[1] == events.PicksChanged(())


def test_structure_events_carry_the_new_values(shown):
    st, seen = shown
    st.toggle_visible("head")
    st.step_opacity("target")
    assert seen == [
        events.StructuresChanged(frozenset({"head"}), ()),
        events.StructuresChanged(frozenset({"head"}), (("target", 0.5),)),
    ]


def test_views_are_typed_values(shown):
    st, seen = shown
    st.set_view(TrajectoryView("t2"))
    assert st.view == TrajectoryView("t2", side=False) and st.selected == "t2"
    assert st.display_state().probe_trajectory == "t2"
    t = st.package.plan.trajectory("t2")
    expected = Camera.probe(t.entry, t.target, st.bounds, st.aspect)
    np.testing.assert_allclose(st.camera.rotation, expected.rotation)
    assert events.ViewChanged(TrajectoryView("t2")) in seen
    assert events.SelectionChanged("t2") in seen
    st.set_view(TrajectoryView("t2", side=True))
    assert st.display_state().probe_trajectory is None, "only the probe's eye hides the tube"
    seen.clear()
    st.set_view(NamedView("left"))
    assert kinds(seen) == ["ViewChanged", "CameraMoved"]
    assert seen[1] == events.CameraMoved(interactive=False)
    seen.clear()
    st.set_view(NamedView("left"))  # the same view again, unmoved: nothing changes
    assert seen == []
    with pytest.raises(KeyError):
        st.set_view(PlanViewRef("nope"))
    with pytest.raises(KeyError):
        st.set_view(NamedView("sideways"))
    assert st.view == NamedView("left")


def test_plan_view_ref_uses_the_plans_view(tmp_path):
    st = KioskState()
    view = View("surg", "Surgeon", (0, 1, 0), (0, 0, 1), (10, 0, 0), 300.0)
    st.offer(pkg(tmp_path, "v", views=(view,)))
    st.set_view(PlanViewRef("surg"))
    assert st.camera.distance == pytest.approx(300.0)
    np.testing.assert_allclose(st.camera.center, (10, 0, 0))


def test_cut_follows_the_selected_trajectory(shown):
    st, seen = shown
    st.set_mode("cut")
    st.set_cut(plane="perp", offset=5.0)
    assert st.cut == Cut("perp", 5.0, "t1")
    plane = st.clip_plane()
    np.testing.assert_allclose(
        plane.point, (30, 0, 10) + 5 * np.array([30, 0, 50]) / math.hypot(30, 50)
    )
    seen.clear()
    st.select_trajectory("t2")
    assert st.cut == Cut("perp", 0.0, "t2"), "a new trajectory's cut starts at its target"
    assert seen == [events.SelectionChanged("t2"), events.CutChanged(Cut("perp", 0.0, "t2"))]
    np.testing.assert_allclose(st.clip_plane().point, (0, 0, 0), atol=1e-9)
    np.testing.assert_allclose(st.clip_plane().normal, np.array([0, -60, 60]) / math.hypot(60, 60))
    st.set_cut(plane="along")
    assert "t2" in st.clip_plane().name
    st.set_cut(plane="axial")
    seen.clear()
    st.select_trajectory("t1")
    assert seen == [events.SelectionChanged("t1")], "an axis cut does not follow trajectories"
    assert st.cut == Cut("axial", 0.0, None)
    with pytest.raises(ValueError, match="along"):
        st.set_cut(plane="trajectory")
    with pytest.raises(KeyError):
        st.select_trajectory("t9")
    st.set_mode("view")
    assert st.clip_plane() is None and st.display_state().clip is None


def test_tap_on_a_trajectory_selects_it_and_measures_in_measure_mode(shown):
    st, seen = shown
    hits = {(1.0, 1.0): Pick("t2", (0, 0, 0), "Probe", "trajectory"), (2.0, 2.0): None}
    st.handle_gestures([Tap(1.0, 1.0), Tap(2.0, 2.0)], pick=lambda x, y: hits[(x, y)])
    assert st.selected == "t2" and st.picks == []
    st.set_mode("measure")
    st.handle_gestures([Tap(1.0, 1.0)], pick=lambda x, y: hits[(x, y)])
    assert st.picks == [hits[(1.0, 1.0)]]
    named = Pick("head", (0, 0, 40), "Head")
    st.handle_gestures([LongPress(3.0, 3.0)], pick=lambda x, y: named)
    assert st.named == named


def test_locked_model_ignores_gestures_and_never_picks(shown):
    st, seen = shown
    st.set_locked(True)
    seen.clear()

    def pick(x, y):
        raise AssertionError("no pick while locked")

    st.handle_gestures([Rotate(10, 0), Tap(1, 1), LongPress(1, 1), DoubleTap(1, 1)], pick=pick)
    assert seen == []


def test_gestures_move_the_camera_interactively_and_double_tap_resets(shown):
    st, seen = shown
    anterior = st.camera.copy()
    st.handle_gestures([Rotate(20.0, 0.0), Zoom(2.0, 100.0, 75.0)])
    assert seen == [events.CameraMoved(interactive=True)] * 2
    assert st.camera.distance == pytest.approx(anterior.distance / 2)
    st.handle_gestures([DoubleTap(1, 1)])
    np.testing.assert_allclose(st.camera.rotation, anterior.rotation)
    assert st.camera.distance == anterior.distance
    assert seen[-1] == events.CameraMoved(interactive=False)


def test_a_plan_shown_before_the_layout_is_fitted_again_when_the_view_gets_its_size(tmp_path):
    # A kiosk resuming its stored plan at start shows it while the 3D view is still a sliver;
    # the camera must follow the real size, or the anatomy sits far away, too small to see.
    st = KioskState()
    st.set_viewport(1, 30)
    st.offer(pkg(tmp_path, "v1"))
    sliver = st.camera.distance
    st.set_viewport(954, 801)
    fresh = KioskState()
    fresh.set_viewport(954, 801)
    fresh.offer(pkg(tmp_path, "v1b"))
    assert st.camera.distance == pytest.approx(fresh.camera.distance)
    assert sliver > 10 * st.camera.distance


def test_a_moved_camera_is_not_refitted_on_resize(shown):
    st, seen = shown
    st.handle_gestures([Zoom(2.0, 100.0, 75.0)])
    zoomed = st.camera.distance
    st.set_viewport(1000, 600)
    assert st.camera.distance == zoomed  # the surgeon's view stays as they left it
    st.set_view(st.view)  # choosing the view again fits it, and resizes refit it from then on
    fitted = st.camera.distance
    st.set_viewport(200, 600)  # narrow: the width now limits the fit
    assert st.camera.distance > fitted


def test_cut_drag_moves_the_plane_by_the_fingers_travel(shown):
    st, seen = shown
    st.handle_gestures([Drag(0, 0, 0, -10.0)])
    assert st.cut_offset == 0.0, "drags move the cut only in cut mode"
    st.set_mode("cut")
    st.handle_gestures([Drag(0, 0, 0, -10.0)])
    mm = 10.0 * st.px_per_mm * st.camera.mm_per_pixel(st.viewport_px[1])
    assert st.cut_offset == pytest.approx(-mm)


def test_new_case_resets_choices_same_case_keeps_camera_and_selection(tmp_path, shown):
    st, seen = shown
    st.select_trajectory("t2")
    st.handle_gestures([Rotate(30.0, 0.0)])
    rot = st.camera.rotation.copy()
    st.offer(pkg(tmp_path, "v2", plan_version=2, trajectories=TWO_PATHS))
    np.testing.assert_allclose(st.camera.rotation, rot)
    assert st.selected == "t2"
    other = pkg(tmp_path, "o", case_id="C-9", patient=Patient("X^Y", "P-9", "", ""))
    st.offer(other)
    seen.clear()
    assert st.confirm_pending()
    assert st.selected == "t1" and st.view == NamedView("anterior")
    assert not np.allclose(st.camera.rotation, rot)
    assert kinds(seen)[:2] == ["PlanShown", "PendingChanged"]


def test_failed_prepare_leaves_the_plan_and_sends_nothing(tmp_path, shown):
    st, seen = shown
    before = st.package

    def broken(p):
        raise RuntimeError("no GPU memory")

    with pytest.raises(RuntimeError):
        st.offer(pkg(tmp_path, "v2", plan_version=2), prepare=broken)
    assert st.package is before and seen == []


def test_gesture_maths_on_a_camera():
    cam = Camera.named("anterior", ((-100, -100, -100), (100, 100, 100)))
    vp, ppm = (800, 600), 4.0
    turned = apply_gesture(cam, Rotate(90.0, 0.0), vp, ppm)
    assert turned is not cam and np.array_equal(
        cam.rotation, Camera.named("anterior", ((-100, -100, -100), (100, 100, 100))).rotation
    ), "the input is not changed"
    # the face (-y) follows a finger to the right by 90 degrees: the patient's right side (-x),
    # which was on the screen's left, now faces the camera (which looks along +x)
    np.testing.assert_allclose(turned.forward, (1, 0, 0), atol=1e-9)
    # a pan of 10 mm right moves the orbit centre left by 10 mm of screen at its depth
    panned = apply_gesture(cam, Pan(10.0, 0.0), vp, ppm)
    moved = cam.center - panned.center
    assert moved @ cam.right == pytest.approx(10 * ppm * cam.mm_per_pixel(vp[1]))
    # zooming about the view's centre keeps the centre, halves the distance
    zoomed = apply_gesture(cam, Zoom(2.0, 400 / ppm, 300 / ppm), vp, ppm)
    np.testing.assert_allclose(zoomed.center, cam.center, atol=1e-9)
    assert zoomed.distance == pytest.approx(cam.distance / 2)
    # a counter-clockwise twist turns the picture with it: the top goes to the left, what was
    # on the right comes to the top
    rolled = apply_gesture(cam, Roll(90.0), vp, ppm)
    np.testing.assert_allclose(rolled.up, cam.right, atol=1e-9)
    ((x, _y, _d),) = rolled.project([cam.center + cam.up * 50], *vp)
    assert x < vp[0] / 2 - 10
    assert apply_gesture(cam, Tap(1, 1), vp, ppm).distance == cam.distance


# ---------------------------------------------------------------- readouts


def metrics(distance=2.0, along=20.0, length=50.0, crosses=False):
    c = CriticalDistance(
        "v", "Ventricles", distance, along, along / length, (0, 0, 0), (0, 0, 0), crosses, False
    )
    return TrajectoryMetrics("t1", "Biopsy", length, (0, 0, 1), 35.2, 20.4, 10.0, (c,))


def test_clearance_colours_have_named_thresholds():
    assert CLEARANCE_DANGER_MM == 3.0 and CLEARANCE_CAUTION_MM == 5.0
    assert clearance_colour(2.99) == DANGER_COLOUR
    assert clearance_colour(3.0) == CAUTION_COLOUR
    assert clearance_colour(4.99) == CAUTION_COLOUR
    assert clearance_colour(5.0) == CLEAR_COLOUR


def test_readout_texts_say_what_they_measure():
    text = trajectory_text(metrics(), markup=False)
    assert text == (
        "Biopsy: path 50.0 mm, 35\u00b0 to axial, 20\u00b0 to sagittal\n"
        "nearest critical: Ventricles 2.0 mm from the path, 30 mm before the target"
    )
    assert f"[color={DANGER_COLOUR}]nearest critical" in trajectory_text(metrics())
    crossing = trajectory_text(metrics(0.0, 50.0, crosses=True), markup=False)
    assert crossing.endswith("PATH CROSSES Ventricles, at the target")
    assert measure_text([]) == "MEASURE: tap point A"
    assert measure_text([Pick("a", (0, 0, 0))]) == "MEASURE: tap point B"
    assert measure_text([Pick("a", (0, 0, 0)), Pick("b", (0, 42.3, 0))]) == "A-B distance 42.3 mm"
    t = Trajectory("t1", "Biopsy", (0, 0, 50), (0, 0, 12.4), 2.0)
    assert named_text(Pick("tum", (0, 0, 0), "Tumour"), [t]) == "Tumour: 12.4 mm to Biopsy target"
    assert named_text(Pick("tum", (0, 0, 0), "Tumour"), []) == "Tumour"
    assert cut_text(Cut("axial", 12.0)) == "CUT axial +12 mm (drag to move)"
    assert (
        cut_text(Cut("perp", 10.0, "t1"))
        == "CUT across t1 path 10 mm before the target (drag to move)"
    )
    assert cut_text(Cut("perp", -4.0, "t1")).startswith("CUT across t1 path 4 mm beyond")
    assert cut_text(Cut("along", 3.0, "t1")) == "CUT along t1 path +3 mm (drag to move)"


def test_readout_follows_the_model(shown):
    st, _ = shown
    st.metrics = (metrics(), replace(metrics(9.0), trajectory_id="t2", name="Probe"))
    assert readout_text(st).startswith("Biopsy: path")
    st.select_trajectory("t2")
    assert readout_text(st).startswith("Probe: path"), "the selected trajectory comes first"
    st.set_mode("cut")
    st.set_cut(plane="perp", offset=5.0)
    lines = readout_text(st).splitlines()
    assert lines[0].startswith("Probe: path") and not any("Biopsy" in x for x in lines)
    assert lines[-1] == "CUT across Probe path 5 mm before the target (drag to move)"
    st.set_mode("measure")
    assert readout_text(st) == "MEASURE: tap point A"
    st.set_mode("view")
    st.name_structure(Pick("head", (30, 0, 10), "Head"))
    assert readout_text(st) == "Head: 0.0 mm to Needle target, 31.6 mm to Probe target"
