"""The real kiosk app, end to end: offscreen window, real GL, touches through Kivy's input path.

Each test leaves the kiosk in its default state (view mode, unlocked, anterior view). Tests that
replace the plan come last. Screenshots go to artifacts/ (kept by CI as test artefacts).
"""

from __future__ import annotations

import math
import shutil
from dataclasses import replace

import numpy as np
import pytest
from kiosk_harness import Finger

from conftest import ROOT

ARTIFACTS = ROOT / "artifacts"


@pytest.fixture
def k(kiosk):
    kiosk.app.state.set_mode("view")
    kiosk.app.state.set_locked(False)
    kiosk.view.reset()
    kiosk.settle()
    yield kiosk
    kiosk.app.state.set_mode("view")
    kiosk.app.state.set_locked(False)
    kiosk.app.state.clear_error()
    kiosk.app.state.dismiss_changes()
    kiosk.view.reset()
    kiosk.settle()


def screen_xy(k, point) -> tuple[float, float]:
    """Window pixels (origin bottom-left) of an LPS point in the current view."""
    w, h = k.view._pixel_size()
    ((x, y, _depth),) = k.view.camera.project(np.asarray([point], dtype=float), w, h)
    return k.view.x + x, k.view.y + (h - y)


def landmark(k, lid):
    return next(m.position for m in k.app.state.package.plan.landmarks if m.id == lid)


def find(root, predicate):
    """The first widget of the kiosk (every rail page, open or not) that matches."""
    return next((w for w in root.widgets() if predicate(w)), None)


def button(k, text):
    b = next(
        (
            w
            for w in k.app.root.widgets()  # every rail page, open or not
            if getattr(w, "text", None) == text and hasattr(w, "trigger_action")
        ),
        None,
    )
    assert b is not None, f"no button {text!r}"
    return b


def press(k, widget):
    """A real tap in the middle of a widget (its rail tab and page opened first, as a person
    would: the rail has big tabs and pages, no scrolling)."""
    k.app.root.reveal(widget)
    k.pump(frames=3)
    k.tap(*widget.to_window(*widget.center))
    k.pump(0.1)


def background_fraction(img) -> float:
    """Share of pixels that are the dark background (gradient: all channels < 60)."""
    return float((img.max(axis=2) < 60).mean())


def test_start_shows_banner_rail_and_lit_anatomy(k):
    ARTIFACTS.mkdir(exist_ok=True)
    shot = k.screenshot(ARTIFACTS / "kiosk-demo.png")
    root = k.app.root
    assert root.patient_name == "PHANTOM, HEAD"
    assert root.patient_id_text == "ID PHANTOM-0001" and "1970-01-01" in root.patient_more
    assert root.laterality == "LEFT"
    assert root.plan_version_text == "PLAN v1" and "Demo Planner" in root.plan_more
    assert root.procedure == "Stereotactic biopsy"
    assert root.placeholder == ""
    assert len(root.pages.rows) == 6 and len(root.ids.structures.children) == 6  # one page
    assert "Biopsy" in root.readout and "mm" in root.readout
    img = k.view_pixels()
    h, w, _ = img.shape
    # the head is upright, so taller than wide: its middle fills the view's centre column
    centre = img[h // 4 : 3 * h // 4, int(w * 0.4) : int(w * 0.6)]
    assert background_fraction(centre) < 0.3, "the anatomy should fill the centre of the view"
    assert centre.mean() > 70, "the anatomy should be lit, not dark"
    # the banner is drawn (bright text on a dark panel, the orange laterality block)
    full = k.pixels()
    banner = full[: int(full.shape[0] * 0.08)]
    orange = (banner[..., 0] > 200) & (banner[..., 1] > 120) & (banner[..., 2] < 80)
    assert orange.mean() > 0.05
    assert shot.exists()


def test_left_is_on_the_right_in_anterior_view_and_reversed_posterior(k):
    xl, _ = screen_xy(k, landmark(k, "left-tragus"))
    xr, _ = screen_xy(k, landmark(k, "right-tragus"))
    mid = k.view.x + k.view.width / 2
    assert xl > mid > xr
    press(k, button(k, "POSTERIOR"))
    k.settle()
    xl, _ = screen_xy(k, landmark(k, "left-tragus"))
    xr, _ = screen_xy(k, landmark(k, "right-tragus"))
    assert xl < mid < xr


def test_one_finger_drag_rotates_with_the_finger(k):
    before = screen_xy(k, landmark(k, "nasion"))
    rot0 = k.view.camera.rotation.copy()
    start = k.view_point(0.4, 0.5)
    k.drag(start, (start[0] + 40 * k.ppm, start[1]))
    k.settle()
    after = screen_xy(k, landmark(k, "nasion"))
    assert not np.allclose(rot0, k.view.camera.rotation)
    assert after[0] > before[0] + 20, "the front of the head follows the finger to the right"


def test_pinch_zooms_in_and_out(k):
    d0 = k.view.camera.distance
    c = k.view_point(0.5, 0.5)
    s = 15 * k.ppm
    k.two_finger((c[0] - s, c[1]), (c[0] + s, c[1]), (c[0] - 3 * s, c[1]), (c[0] + 3 * s, c[1]))
    d1 = k.view.camera.distance
    assert d1 < d0 * 0.6, "spreading the fingers zooms in"
    k.two_finger((c[0] - 3 * s, c[1]), (c[0] + 3 * s, c[1]), (c[0] - s, c[1]), (c[0] + s, c[1]))
    assert k.view.camera.distance == pytest.approx(d0, rel=0.15)


def test_two_finger_drag_pans(k):
    pivot = k.view.camera.center.copy()  # at the orbit centre's depth: no perspective scaling
    before = screen_xy(k, pivot)
    c = k.view_point(0.5, 0.5)
    s, d = 12 * k.ppm, 30 * k.ppm
    k.two_finger(
        (c[0] - s, c[1]), (c[0] + s, c[1]), (c[0] - s + d, c[1] + d), (c[0] + s + d, c[1] + d)
    )
    k.settle()
    after = screen_xy(k, pivot)
    assert after[0] - before[0] == pytest.approx(d, rel=0.2)
    assert after[1] - before[1] == pytest.approx(d, rel=0.2)


def test_two_finger_twist_rolls_counter_clockwise(k):
    top = (0.0, 0.0, 100.0)  # above the head's centre: on screen above the middle
    before = screen_xy(k, top)
    c = k.view_point(0.5, 0.5)
    r = 20 * k.ppm
    a = math.radians(40)
    k.two_finger(
        (c[0] - r, c[1]),
        (c[0] + r, c[1]),
        (c[0] - r * math.cos(a), c[1] - r * math.sin(a)),
        (c[0] + r * math.cos(a), c[1] + r * math.sin(a)),
    )
    k.settle()
    after = screen_xy(k, top)
    assert after[0] < before[0] - 10, "a counter-clockwise twist turns the top to the left"


def rotation_deg(a, b) -> float:
    """The angle of the rotation that turns camera axes `a` into `b`."""
    c = (np.trace(np.asarray(a).T @ np.asarray(b)) - 1) / 2
    return math.degrees(math.acos(min(1.0, max(-1.0, c))))


def test_double_tap_resets_the_view(k):
    anterior = k.view.camera.rotation.copy()
    start = k.view_point(0.4, 0.5)
    k.drag(start, (start[0] + 30 * k.ppm, start[1] + 20 * k.ppm))
    # the 36 mm drag turned the view (0.5 degrees per mm, less the tap slop before it starts)
    assert rotation_deg(anterior, k.view.camera.rotation) > 10
    k.settle()  # the full-quality frame is drawn now, not between the two taps
    rotated = k.view.camera.rotation.copy()
    p = k.view_point(0.5, 0.5)
    k.tap(*p)
    k.pump(0.1)
    k.tap(*p)
    k.pump(0.5)
    assert not np.allclose(rotated, k.view.camera.rotation)
    from orkiosk.render.camera import Camera

    expected = Camera.named("anterior", k.view.scene.bounds, k.view._aspect())
    np.testing.assert_allclose(k.view.camera.rotation, expected.rotation, atol=1e-9)
    assert k.view.camera.distance == pytest.approx(expected.distance)


def test_structure_toggle_removes_its_pixels_and_opacity_steps(k):
    state = k.app.state
    row = find(k.app.root, lambda w: getattr(w, "sid", None) == "lesion")

    lo, hi = k.view.scene.structure("lesion").bounds
    centre = (np.asarray(lo) + np.asarray(hi)) / 2

    def yellow(img):  # orange-yellow pixels around where the lesion is drawn
        x, y = screen_xy(k, centre)
        col, row = int(x - k.view.x), int(k.view.y + k.view.height - y)
        win = img[max(0, row - 40) : row + 40, max(0, col - 40) : col + 40]
        r, b = win[..., 0].astype(int), win[..., 2].astype(int)
        return ((r > 170) & (r - b > 70)).sum()  # seen through bone and skin: pale orange

    k.settle()
    before = yellow(k.view_pixels())
    assert before > 1000, "the orange lesion is visible"
    press(k, row.ids.toggle)
    k.settle()
    assert "lesion" in state.hidden
    assert yellow(k.view_pixels()) < before * 0.1
    row = find(k.app.root, lambda w: getattr(w, "sid", None) == "lesion")
    press(k, row.ids.toggle)
    k.settle()
    assert "lesion" not in state.hidden
    row = find(k.app.root, lambda w: getattr(w, "sid", None) == "skin")
    opacity_button = row.children[0]
    press(k, opacity_button)
    assert state.opacity["skin"] == 0.5
    row = find(k.app.root, lambda w: getattr(w, "sid", None) == "skin")
    assert row.opacity_text == "50 %"
    press(k, row.children[0])
    press(k, find(k.app.root, lambda w: getattr(w, "sid", None) == "skin").children[0])
    assert "skin" not in state.opacity


def test_measure_mode_reports_the_distance_between_two_points(k):
    press(k, k.app.root.ids.measure_mode)
    assert k.app.state.mode == "measure"
    for lid in ("left-tragus", "right-tragus"):
        k.tap(*screen_xy(k, landmark(k, lid)))
        k.pump(0.6)  # a tap is confirmed once the double-tap window has passed
    assert k.app.state.distance_mm == pytest.approx(158.0, abs=1.0)
    assert "158." in k.app.root.readout or "157." in k.app.root.readout
    press(k, button(k, "CLEAR"))
    assert k.app.state.picks == []
    press(k, k.app.root.ids.measure_mode)
    assert k.app.state.mode == "view"


def test_lock_blocks_gestures_until_unlocked(k):
    press(k, k.app.root.ids.lock)
    assert k.app.state.locked
    rot = k.view.camera.rotation.copy()
    start = k.view_point(0.4, 0.5)
    k.drag(start, (start[0] + 40 * k.ppm, start[1]))
    np.testing.assert_array_equal(rot, k.view.camera.rotation)
    press(k, k.app.root.ids.lock)
    assert not k.app.state.locked
    k.drag(start, (start[0] + 40 * k.ppm, start[1]))
    assert not np.array_equal(rot, k.view.camera.rotation)


def test_palm_contact_does_nothing(k):
    cam = k.view.camera
    rot, dist, centre = cam.rotation.copy(), cam.distance, cam.center.copy()
    c = k.view_point(0.5, 0.5)
    fingers = [Finger(k, c[0] + dx * k.ppm, c[1]).down() for dx in (-25, 0, 25)]
    k.pump(0.1)
    for step in range(1, 10):
        for i, f in enumerate(fingers):
            f.move(c[0] + (i - 1) * 25 * k.ppm + step * 6 * k.ppm, c[1] + step * 3 * k.ppm)
        k.pump(0.016)
    for f in fingers:
        f.up()
    big = Finger(k, c[0], c[1], area_px=40 * k.ppm).down()  # a forearm-sized contact
    k.pump(0.1)
    big.move(c[0] + 50 * k.ppm, c[1])
    k.pump(0.1)
    big.up()
    k.pump(0.2)
    np.testing.assert_array_equal(rot, cam.rotation)
    assert cam.distance == dist
    np.testing.assert_array_equal(centre, cam.center)


def test_cut_mode_drag_moves_a_capped_plane(k):
    press(k, k.app.root.ids.cut_mode)
    assert k.app.state.mode == "cut"
    offset0 = k.app.state.cut_offset
    start = k.view_point(0.5, 0.5)
    k.drag(start, (start[0], start[1] - 30 * k.ppm))
    assert k.app.state.cut_offset < offset0 - 10
    assert "CUT axial" in k.app.root.readout
    k.settle()
    k.screenshot(ARTIFACTS / "kiosk-cut.png")
    press(k, k.app.root.ids.cut_mode)
    assert k.app.state.mode == "view"


# ---------------------------------------------------------------- plan replacement (last)


def _variant(k, tmp_path, name, **changes):
    from orkiosk.plan.package import load_package, write_package

    src = load_package(k.base / "demo")  # the kiosk keeps no CPU meshes of what it shows
    plan = replace(src.plan, **changes)
    return write_package(plan, src.meshes, tmp_path / name)


def _wait(k, predicate, timeout=15.0):
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        k.pump(0.05)
        if predicate():
            k.settle()
            return
    raise AssertionError("timed out")


def test_corrupt_package_is_refused_and_the_plan_stays(k, tmp_path):
    from orkiosk.app.kiosk.intake import send_path

    bad = _variant(k, tmp_path, "bad", plan_version=5)
    data = bytearray((bad / "meshes" / "brain.glb").read_bytes())
    data[100] ^= 0xFF
    (bad / "meshes" / "brain.glb").write_bytes(bytes(data))
    shown = k.app.state.package
    assert send_path(k.base / "control.sock", bad) == "queued"
    _wait(k, lambda: k.app.root.alert_kind == "error")
    assert "meshes/brain.glb" in k.app.root.alert_text and "SHA-256" in k.app.root.alert_text
    assert k.app.state.package is shown
    assert background_fraction(k.view_pixels()) < 0.9
    press(k, k.app.root.ids.alert_dismiss)
    assert k.app.root.alert_text == ""


def test_newer_version_replaces_the_plan_and_keeps_the_camera(k, tmp_path):
    start = k.view_point(0.4, 0.5)
    k.drag(start, (start[0] + 30 * k.ppm, start[1]))
    k.settle()
    rot = k.view.camera.rotation.copy()
    old_scene = k.view.scene
    v2 = _variant(k, tmp_path, "v2", plan_version=2, planner="Second Planner")
    shutil.copytree(v2, k.base / "inbox" / "v2")  # the folder watcher picks it up
    _wait(k, lambda: k.app.state.package.plan.plan_version == 2)
    root = k.app.root
    assert root.plan_version_text == "PLAN v2" and "Second Planner" in root.plan_more
    np.testing.assert_allclose(k.view.camera.rotation, rot)
    assert old_scene._released and k.view.scene is not old_scene
    # an older version never replaces it
    from orkiosk.app.kiosk.intake import send_path

    send_path(k.base / "control.sock", k.base / "demo")
    _wait(k, lambda: k.app.root.alert_kind == "error")
    assert "not newer" in k.app.root.alert_text
    assert k.app.state.package.plan.plan_version == 2


def _cap_mm(k, label) -> float:
    """Ink height of a capital H in the label's font, in mm of the configured panel."""
    from kivy.core.text import Label as CoreLabel

    core = CoreLabel(text="H", font_size=label.font_size, bold=label.bold)
    core.refresh()
    tex = core.texture
    alpha = np.frombuffer(tex.pixels, np.uint8).reshape(tex.height, tex.width, 4)[..., 3]
    rows = np.nonzero((alpha > 127).any(axis=1))[0]
    return float(rows.max() - rows.min() + 1) / k.ppm


def test_a_newer_version_says_what_changed_until_tapped(k, tmp_path):
    root, state = k.app.root, k.app.state
    shown = state.package.plan
    n = shown.plan_version + 1
    t = shown.trajectories[0]
    moved = replace(t, target=(t.target[0] + 3.2, t.target[1], t.target[2]))
    nxt = _variant(
        k,
        tmp_path,
        f"v{n}",
        plan_version=n,
        planner=shown.planner,
        trajectories=(moved, *shown.trajectories[1:]),
    )
    assert root.changes_banner == "" and root.ids.changes.height == 0
    view = k.app.view
    size = tuple(view.size)
    shutil.copytree(nxt, k.base / "inbox" / f"v{n}")  # the folder watcher picks it up
    _wait(k, lambda: state.package.plan.plan_version == n)
    k.settle()
    # the banner lies over the top of the view: the 3D view keeps its size (no jump, and no
    # new frame at another size after the new plan's picture)
    assert tuple(view.size) == size
    assert root.changes_banner.splitlines() == [
        f"Plan v{n} (was v{n - 1}), what changed:",
        f"Trajectory {t.name}: target moved 3.2 mm",
    ]
    banner, ok = root.ids.changes, root.ids.changes_ok
    assert banner.opacity == 1 and banner.height >= root.ids.changes_label.texture_size[1]
    assert _cap_mm(k, root.ids.changes_label) >= 10.0, "readable from two metres"
    assert min(ok.width, ok.height) / k.ppm >= 15.0, "a big OK target"
    assert banner.top == view.top and banner.y > view.y + view.height / 3
    ARTIFACTS.mkdir(exist_ok=True)
    k.screenshot(ARTIFACTS / "kiosk-what-changed.png")
    # a gloved finger that misses OK and drags on the banner does not turn the view under it
    rotation = view.camera.rotation.copy()
    on_banner = (banner.x + banner.width * 0.3, banner.center_y)
    k.drag(on_banner, (on_banner[0] + 20 * k.ppm, on_banner[1]))
    k.pump(0.3)
    assert (view.camera.rotation == rotation).all() and root.changes_banner
    # it stays: gestures on the view and time do not remove it
    start = k.view_point(0.4, 0.5)
    k.drag(start, (start[0] + 20 * k.ppm, start[1]))
    k.pump(0.3)
    assert root.changes_banner and state.changes is not None
    press(k, ok)  # a real tap on OK
    k.settle()
    assert root.changes_banner == "" and state.changes is None
    assert banner.height == 0 and banner.opacity == 0
    k.screenshot(ARTIFACTS / "kiosk-what-changed-dismissed.png")


def test_the_status_line_says_loading_only_for_a_slow_load(k, tmp_path, monkeypatch):
    """A quick load does not flash "loading plan" (two redraws of the status line for nothing);
    one that takes longer than half a second says so until it is done."""
    import time

    from orkiosk.app.kiosk import app as kiosk_mod

    root, state = k.app.root, k.app.state
    seen = []

    def watch(predicate):
        def check():
            seen.append(root.status)
            return predicate()

        return check

    for slow in (False, True):
        shown = state.package.plan
        n = shown.plan_version + 1
        nxt = _variant(k, tmp_path, f"s{n}", plan_version=n, planner=shown.planner)
        if slow:
            real = kiosk_mod.load_for_display

            def slow_load(*a, _real=real, **kw):
                time.sleep(1.0)
                return _real(*a, **kw)

            monkeypatch.setattr(kiosk_mod, "load_for_display", slow_load)
        seen.clear()
        shutil.copytree(nxt, k.base / "inbox" / f"s{n}")
        _wait(k, watch(lambda n=n: state.package.plan.plan_version == n))
        loading = [t for t in seen if "loading plan" in t]
        assert bool(loading) == slow, seen
        assert "loading plan" not in root.status
        monkeypatch.undo()
    state.dismiss_changes()
    k.settle()


def test_no_patient_name_in_any_log(k, tmp_path, caplog):
    """Another patient's plan (shown on screen for confirmation), a damaged package of theirs
    and a refused older plan: names are on the screen, never in a log record of any logger."""
    import logging

    from orkiosk.app.kiosk.intake import send_path
    from orkiosk.plan.model import Patient

    kivy_log = logging.getLogger("kivy")
    kivy_log.addHandler(caplog.handler)  # in case Kivy's logger does not propagate to the root
    caplog.set_level(logging.DEBUG)
    try:
        other = _variant(  # a folder named after the patient, as planners do
            k,
            tmp_path,
            "QUILLFEATHER_ZEPHYRINE_other",
            case_id="CASE-LEAK",
            patient=Patient("QUILLFEATHER^ZEPHYRINE", "Z-77", "1960-01-01", "F"),
        )
        before = k.app.state.package
        send_path(k.base / "control.sock", other)
        _wait(k, lambda: k.app.root.alert_kind == "confirm")
        assert "QUILLFEATHER" in k.app.root.alert_text, "the screen names the other patient"
        press(k, k.app.root.ids.alert_dismiss)
        broken = _variant(
            k,
            tmp_path,
            "QUILLFEATHER_ZEPHYRINE_broken",
            case_id="CASE-LEAK",
            patient=Patient("QUILLFEATHER^ZEPHYRINE", "Z-77", "1960-01-01", "F"),
        )
        data = bytearray((broken / "meshes" / "brain.glb").read_bytes())
        data[100] ^= 0xFF
        (broken / "meshes" / "brain.glb").write_bytes(bytes(data))
        send_path(k.base / "control.sock", broken)
        _wait(k, lambda: k.app.root.alert_kind == "error")
        press(k, k.app.root.ids.alert_dismiss)
        send_path(k.base / "control.sock", k.base / "demo")  # v1 of the shown patient: refused
        _wait(k, lambda: k.app.root.alert_kind == "error")
        assert "not newer" in k.app.root.alert_text
        press(k, k.app.root.ids.alert_dismiss)
        assert k.app.state.package is before
    finally:
        kivy_log.removeHandler(caplog.handler)
    assert caplog.records, "the kiosk logs what it did with each plan"
    shown = before.plan.patient.name
    for rec in caplog.records:
        text = rec.getMessage() + (rec.exc_text or "") + (rec.stack_info or "")
        if rec.exc_info:
            text += logging.Formatter().formatException(rec.exc_info)
        for name in ("QUILLFEATHER", "ZEPHYRINE", shown, "PHANTOM, HEAD", "HEAD, PHANTOM"):
            assert name not in text, f"{rec.name} logged a patient name: {text!r}"


def test_another_patient_waits_for_confirmation(k, tmp_path):
    from orkiosk.app.kiosk.intake import send_path
    from orkiosk.plan.model import Patient

    other = _variant(
        k,
        tmp_path,
        "other",
        case_id="CASE-OTHER",
        patient=Patient("OTHER^PERSON", "X-99", "1990-05-05", "M"),
    )
    before = k.app.state.package
    send_path(k.base / "control.sock", other)
    _wait(k, lambda: k.app.root.alert_kind == "confirm")
    assert "ANOTHER PATIENT" in k.app.root.alert_text and "X-99" in k.app.root.alert_text
    assert k.app.state.package is before, "never shown without confirmation"
    k.screenshot(ARTIFACTS / "kiosk-confirm.png")
    press(k, k.app.root.ids.alert_dismiss)  # KEEP CURRENT
    assert k.app.state.package is before and k.app.state.pending is None
    send_path(k.base / "control.sock", other)
    _wait(k, lambda: k.app.root.alert_kind == "confirm")
    press(k, k.app.root.ids.alert_confirm)
    k.settle()
    assert k.app.state.package.plan.patient.id == "X-99"
    assert k.app.root.patient_name == "OTHER, PERSON"


def test_a_new_plan_and_its_picture_reach_the_screen_together(k, tmp_path, monkeypatch):
    """A new version is handed over behind the picture on screen: uploaded and drawn in steps,
    a bounded piece of GL work per UI frame (here one step per frame, so it takes many). Until
    its picture is complete the screen shows the old picture AND the old banner, untouched;
    then both change in the same frame."""
    import time

    from orkiosk.app.kiosk.intake import send_path
    from orkiosk.app.views import view3d
    from orkiosk.plan.package import load_package, write_package

    monkeypatch.setattr(view3d, "STEP_MS", 0.01)
    monkeypatch.setattr(k.view._budget, "step_ms", 0.01)
    shown = k.app.state.package.plan
    meshes = load_package(k.base / "demo").meshes  # the kiosk keeps no CPU meshes
    green = tuple(replace(s, color=(0.05, 0.9, 0.05)) for s in shown.structures)
    v = shown.plan_version + 1
    nxt = write_package(replace(shown, plan_version=v, structures=green), meshes, tmp_path / "v")
    before = k.view_pixels()
    send_path(k.base / "control.sock", nxt)
    frames, end = [], time.monotonic() + 90
    while time.monotonic() < end:
        k.pump()
        picture = k.view._pictures.shown.scene.plan.plan_version
        banner = k.app.root.plan_version_text
        pixels = k.view_pixels() if k.view.handing_over else None
        frames.append((banner, picture, k.view.handing_over, pixels))
        if picture == v and not k.view._dirty:
            break
    assert frames[-1][:2] == (f"PLAN v{v}", v), "the new plan never reached the screen"
    for banner, picture, _, _ in frames:  # never one plan's banner over another's picture
        assert banner == f"PLAN v{picture}"
    handing_over = [f for f in frames if f[2]]
    assert len(handing_over) >= 10  # uploaded and drawn over many UI frames
    for _, _, _, pixels in handing_over:
        if pixels.shape == before.shape:
            assert (pixels == before).all(), "a part of the new picture showed before it was whole"

    def green(img) -> float:
        return float((img[..., 1].astype(int) > img[..., 0].astype(int) + 60).mean())

    k.app.state.dismiss_changes()  # the "what changed" banner takes room from the 3D view
    k.settle()
    assert green(k.view_pixels()) > green(before) + 0.05  # now the new, green plan
    k.screenshot(ARTIFACTS / "kiosk-handover.png")


# ---------------------------------------------------------------- soak (run with -m slow)


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS:"))


@pytest.mark.slow
def test_soak_10000_random_touch_events(k):
    """Random contacts (1-4 fingers, taps, drags, palms, lost ups) through Kivy's input path:
    no error, every gesture still works afterwards, and memory stays flat."""
    import random

    rng = random.Random(1234)
    x0, y0 = k.view.x, k.view.y
    w, h = k.view.width, k.view.height
    state = k.app.state
    down: list[Finger] = []

    def point():
        return x0 + rng.uniform(0, w), y0 + rng.uniform(0, h)

    def run(n_events):
        for i in range(n_events):
            r = rng.random()
            if (r < 0.25 and len(down) < 4) or not down:
                area = 60 * k.ppm if rng.random() < 0.03 else None
                down.append(Finger(k, *point(), area_px=area).down())
            elif r < 0.85:
                f = rng.choice(down)
                f.move(*point())
            elif r < 0.98:
                down.pop(rng.randrange(len(down))).up()
            else:
                down.pop(rng.randrange(len(down)))  # a lost "up": must expire on its own
            if i % 40 == 0:
                k.pump(frames=1)

    run(2_000)  # warm up: caches, textures, label pool
    k.pump(0.5)
    before = _rss_mb()
    run(8_000)
    for f in down:
        f.up()
    down.clear()
    k.pump(6.0)  # lost touches expire (stale_after_s = 5)
    after = _rss_mb()
    assert state.error == ""
    assert k.view.recognizer.touch_count == 0
    assert after - before < 25, f"resident memory grew {after - before:.1f} MB"
    state.set_mode("view")
    state.clear_picks()
    state.name_structure(None)
    k.view.reset()
    k.settle()
    start = k.view_point(0.4, 0.5)
    rot = k.view.camera.rotation.copy()
    k.drag(start, (start[0] + 30 * k.ppm, start[1]))
    assert not np.allclose(rot, k.view.camera.rotation), "gestures still work"


@pytest.mark.parametrize("where", ["upload", "first frame"])
def test_a_new_plan_the_gpu_cannot_draw_never_shows_under_the_old_picture(
    k, tmp_path, monkeypatch, where
):
    """The GPU fails while a new version is handed over (its upload, or its first frame). The
    model shows the new plan already, so the screen follows it: the new banner, the error, and
    no picture or labels of the old plan under them. The next plan is shown normally."""
    from orkiosk.app.kiosk.intake import send_path
    from orkiosk.plan.package import load_package, write_package
    from orkiosk.render.errors import RenderError
    from orkiosk.render.steps import FrameSteps
    from orkiosk.render.upload import SceneUpload

    root, view = k.app.root, k.view
    shown = k.app.state.package.plan

    def fail(*a, **kw):
        raise RenderError("injected: the GPU is gone")

    if where == "upload":
        monkeypatch.setattr(SceneUpload, "step", fail)
    else:
        monkeypatch.setattr(FrameSteps, "__next__", fail)
    meshes = load_package(k.base / "demo").meshes  # the kiosk keeps no CPU meshes

    def version(v):  # the plan on screen (whichever case an earlier test left), version v
        return write_package(replace(shown, plan_version=v), meshes, tmp_path / f"f{v}")

    v = shown.plan_version + 1
    send_path(k.base / "control.sock", version(v))
    _wait(k, lambda: root.alert_kind == "error")
    assert "Display problem" in root.alert_text and "GPU is gone" in root.alert_text
    assert root.plan_version_text == f"PLAN v{v}"  # the screen follows the model ...
    assert view.scene is None and not view.handing_over and k.app._held is None
    assert view._color.a == 0 and not view._labels  # ... with nothing of the old plan's picture
    monkeypatch.undo()
    press(k, root.ids.alert_dismiss)
    v += 1
    send_path(k.base / "control.sock", version(v))
    _wait(k, lambda: view.scene is not None and view.scene.plan.plan_version == v)
    k.settle()
    assert root.plan_version_text == f"PLAN v{v}" and view._color.a == 1
    assert background_fraction(k.view_pixels()) < 0.97  # the anatomy is back
    k.app.state.dismiss_changes()
    k.settle()
