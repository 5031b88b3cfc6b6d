"""The slice view in the real kiosk (offscreen window, real GL, real touches) on the demo plan,
which carries its CT: at 1920x1080 and 1280x1024 (one child process each: Kivy allows one
window a process). SLICE shows the axial slice with the lesion in the patient's LEFT on the
image's RIGHT and the letters R/L placed so; a drag moves it by the finger's travel; a window
preset changes the picture; BOTH shows both views; the rail is untouched. Screenshots go to
artifacts/screens/slice-*.png."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCREENS = ROOT / "artifacts" / "screens"
sys.path.insert(0, str(ROOT / "tests"))
SIZES = [(1920, 1080, 24.0, "slice-1920x1080"), (1280, 1024, 19.0, "slice-1280x1024")]


def _button(root, text):
    b = next(
        (
            w
            for w in root.walk()
            if getattr(w, "text", None) == text and hasattr(w, "trigger_action")
        ),
        None,
    )
    assert b is not None, f"no button {text!r}"
    return b


def _rect(w):
    x, y = w.to_window(w.x, w.y)
    return [float(x), float(y), float(w.width), float(w.height)]


def _visible(w) -> bool:
    while w is not None and w is not w.parent:
        if w.opacity == 0:
            return False
        w = w.parent
    return True


def _slice_pixels(k, sv):
    img = k.pixels()
    h = k.window.height
    top = int(h - (sv.y + sv.height))
    return img[top : int(h - sv.y), int(sv.x) : int(sv.x + sv.width)]


def child(width: int, height: int, diagonal: float, name: str) -> None:
    import shutil
    import tempfile

    from kiosk_harness import KioskDriver, prepare_environment

    base = Path(tempfile.mkdtemp(prefix="orkiosk-slice-"))
    prepare_environment(base / "kivy-home")
    from orkiosk.app.settings import KioskSettings
    from orkiosk.plan.demo import demo_package_path

    settings = KioskSettings(windowed=True, width=width, height=height, panel_diagonal_in=diagonal)
    from orkiosk.app.kivyconfig import configure_kivy

    configure_kivy(settings)
    from kivy.metrics import Metrics

    from orkiosk.app.kiosk.app import KioskApp

    app = KioskApp(settings, demo_package_path())
    app._run_prepare()
    k = KioskDriver(app)
    k.settle(timeout=60)
    root, sv = app.root, app.root.ids.slice_view
    ppm = Metrics.dpi / 25.4
    out = {"ppm": ppm, "available": app.slicing.available}

    def tap(widget):
        k.tap(*widget.to_window(*widget.center))
        k.pump(0.5, frames=6)

    tap(_button(root, "SLICE"))
    out["layout"] = app.slicing.layout
    out["view_width"] = app.view.width
    out["slice_rect"] = _rect(sv)
    out["frames_after_toggle"] = sv.frames
    k.screenshot(SCREENS / f"{name}-axial.png")
    img = _slice_pixels(k, sv)
    np.save(base / "axial.npy", img)
    info = sv.info
    out["letters"] = info.letters
    out["caption"] = sv.caption
    out["readout"] = root.readout
    lesion = next(
        s
        for s in app.state.package.plan.structures
        if "lesion" in s.id.lower() or "tumour" in s.id.lower() or "tumor" in s.id.lower()
    )
    out["lesion"] = lesion.id
    target = np.asarray(app.state.package.plan.trajectories[0].target)
    out["target_xy"] = [float(v) for v in sv.frame.to_screen(target)]  # 0..1, top-left
    out["target_lps_x"] = float(target[0])
    # the lesion's contour, on the slice through the target: its colour's pixels
    from orkiosk.plan.colors import srgb

    centre_z = float((app.state.bounds[0][2] + app.state.bounds[1][2]) / 2)
    app.slicing.set_offset(float(target[2]) - centre_z)
    k.pump(0.4, frames=6)
    through = _slice_pixels(k, sv).astype(int)
    col = np.asarray(srgb(lesion.color)) * 255
    hit = np.nonzero((np.abs(through - col) < 12).all(-1))
    out["lesion_px"] = len(hit[1])
    out["lesion_x"] = float(hit[1].mean() / through.shape[1]) if len(hit[1]) else -1.0
    k.screenshot(SCREENS / f"{name}-axial-target.png")
    app.slicing.set_offset(0.0)
    k.pump(0.4, frames=6)
    # the letters: the image's left and right edges, middle band: white ink present
    h, w = img.shape[:2]
    band = img[h // 2 - h // 10 : h // 2 + h // 10]
    out["white_left"] = int((band[:, : w // 12] > 245).all(-1).sum())
    out["white_right"] = int((band[:, -w // 12 :] > 245).all(-1).sum())
    # a drag up the slice by 30 mm of finger travel
    off0 = app.slicing.slice.offset
    scale = sv.picture_mm_per_screen_mm()
    x0, y0 = sv.to_window(sv.center_x, sv.y + sv.height * 0.3)
    k.drag((x0, y0), (x0, y0 + 30 * ppm), steps=15)
    k.pump(0.5, frames=6)
    out["drag"] = {"before": off0, "after": app.slicing.slice.offset, "expected": 30 * scale}
    out["quality_at_rest"] = sv.quality
    moved = _slice_pixels(k, sv)
    out["drag_changed_px"] = float(
        (np.abs(moved.astype(int) - img.astype(int)).max(-1) > 30).mean()
    )
    app.slicing.set_offset(0.0)
    k.pump(0.4, frames=6)
    before = _slice_pixels(k, sv)
    tap(_button(root, "BONE"))
    out["window"] = app.slicing.window.name
    bone = _slice_pixels(k, sv)
    out["window_changed_px"] = float(
        (np.abs(bone.astype(int) - before.astype(int)).max(-1) > 30).mean()
    )
    k.screenshot(SCREENS / f"{name}-axial-bone.png")
    tap(_button(root, "ACROSS PATH"))
    out["perp_readout"] = root.readout
    tap(_button(root, "ALONG PATH"))
    out["along_crossings"] = sorted(sv.info.crossings)
    k.screenshot(SCREENS / f"{name}-along.png")
    tap(_button(root, "AXIAL"))
    tap(_button(root, "BOTH"))
    out["both"] = {"view": _rect(app.view), "slice": _rect(sv)}
    out["both_3d_lit"] = float((k.view_pixels().max(-1) > 60).mean())
    k.screenshot(SCREENS / f"{name}-both.png")
    controls = {}
    for wdg in root.walk():
        if hasattr(wdg, "trigger_action") and _visible(wdg) and wdg.width > 0 and wdg.height > 0:
            controls[f"{getattr(wdg, 'text', '')}:{id(wdg)}"] = _rect(wdg)
    out["controls"] = controls
    out["min_touch_mm"] = min(min(r[2], r[3]) / ppm for r in controls.values())
    tap(_button(root, "3D"))
    out["back_to_3d"] = app.slicing.layout
    (SCREENS / f"{name}.json").write_text(json.dumps(out, indent=1))
    app.stop()
    k.pump(frames=2)
    shutil.rmtree(base, ignore_errors=True)


def run_child(width, height, diagonal, name) -> dict:
    env = dict(os.environ, SDL_VIDEODRIVER="offscreen")
    proc = subprocess.run(
        [sys.executable, __file__, str(width), str(height), str(diagonal), name],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads((SCREENS / f"{name}.json").read_text())


@pytest.fixture(scope="module", params=SIZES, ids=lambda p: p[3])
def run(request):
    w, h, diag, name = request.param
    return w, h, run_child(w, h, diag, name)


def _overlap(a, b) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def test_slice_toggle_shows_the_axial_slice_radiologically(run):
    _w, _h, out = run
    assert out["available"] and out["layout"] == "slice"
    assert out["view_width"] < 2, "SLICE: the slice instead of the 3D view"
    assert out["frames_after_toggle"] >= 1
    assert out["letters"] == {"right": "L", "left": "R", "top": "A", "bottom": "P"}
    assert out["white_left"] > 20 and out["white_right"] > 20, "letters R and L drawn at the sides"
    assert "LEFT on the image's RIGHT" in out["caption"]
    # the lesion (and the biopsy target in it) lies in the patient's LEFT: the image's RIGHT
    assert out["target_lps_x"] > 0 and out["target_xy"][0] > 0.5
    assert out["lesion_px"] > 20 and out["lesion_x"] > 0.55, "the lesion's contour on the RIGHT"


def test_a_drag_moves_the_slice_by_the_fingers_travel(run):
    _w, _h, out = run
    d = out["drag"]
    assert abs((d["after"] - d["before"]) - d["expected"]) < 0.25 * d["expected"]
    assert d["after"] > d["before"], "up the screen: +z (superior)"
    assert out["drag_changed_px"] > 0.02
    assert out["quality_at_rest"] == "full"


def test_a_window_preset_changes_the_picture(run):
    _w, _h, out = run
    assert out["window"] == "Bone"
    assert out["window_changed_px"] > 0.05


def test_trajectory_slices_readout_and_no_ring_along_the_path(run):
    _w, _h, out = run
    assert "mm to target" in out["perp_readout"] or "at the target" in out["perp_readout"]
    assert out["along_crossings"] == [], "the path lies in the slice: no crossing ring"


def test_both_shows_3d_and_slice_and_every_control_is_reachable(run):
    w, h, out = run
    v, s = out["both"]["view"], out["both"]["slice"]
    assert v[2] > 200 and s[2] > 200 and not _overlap(v, s)
    assert out["both_3d_lit"] > 0.05
    ctl = out["controls"]
    for key, r in ctl.items():
        assert (
            r[0] >= -0.5 and r[1] >= -0.5 and r[0] + r[2] <= w + 0.5 and r[1] + r[3] <= h + 0.5
        ), key
    keys = sorted(ctl)
    for i, a in enumerate(keys):
        for b in keys[i + 1 :]:
            assert not _overlap(ctl[a], ctl[b]), f"{a} and {b} overlap"
    assert out["min_touch_mm"] >= 14.9
    names = {k.split(":")[0] for k in ctl}
    for must in ("3D", "SLICE", "BOTH", "AXIAL", "BONE", "LOCK", "RESET VIEW"):
        assert must in names, must
    assert out["back_to_3d"] == "3d"


if __name__ == "__main__":
    child(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4])
