"""The workbench in a child process (Kivy allows one window per process, and the test session's
kiosk holds that one): an offscreen SDL window (real GL through EGL), real touches through Kivy's
input pipeline (tests/kiosk_harness.Finger), as a touchscreen delivers them.

    python tests/workbench_touch.py OUT_DIR     (prints one JSON line: what happened)

A new path: NEW PATH, a finger on the axial slice (target), a finger on the skin in 3D (entry);
its target dragged 8 mm on the coronal slice; the entry pivoted in the across view; UNDO; SAVE and
SIGN AND SAVE. Screenshots of each step go to OUT_DIR.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(out: Path) -> None:
    sys.path.insert(0, str(HERE))
    from kiosk_harness import Finger, KioskDriver, prepare_environment

    prepare_environment(out / "kivy-home")
    from orkiosk.app.kivyconfig import configure_kivy
    from orkiosk.app.settings import KioskSettings

    configure_kivy(KioskSettings(windowed=True, width=1600, height=900))
    from orkiosk.app.workbench.app import WorkbenchApp
    from orkiosk.plan.demo import bundled_demo_path
    from orkiosk.plan.package import load_package

    app = WorkbenchApp(load_package(bundled_demo_path()), save_to=out / "plans")
    app._run_prepare()
    d = KioskDriver(app)
    d.pump(2.0)
    ids, wb = app.root.ids, app.workbench
    result: dict = {"steps": []}

    def centre(w):
        return w.center_x, w.center_y

    def on_slice(view, lps):
        sx, sy = view.frame.to_screen(lps)
        return view.x + sx * view.width, view.y + view._strip + (1 - sy) * view.picture_height

    def prof_pad() -> float:
        from kivy.metrics import mm

        return mm(3)

    def step(name: str) -> None:
        d.pump(0.4)
        d.screenshot(out / f"{name}.png")
        result["steps"].append({"name": name, "readout": app.root.readout, "tool": wb.tool})

    step("0-opened")
    d.tap(*centre(ids.new_path))
    d.pump(0.2)
    target = (20.0, -30.0, ids.axial.frame.center[2])
    d.tap(*on_slice(ids.axial, target))
    d.pump(0.3)
    v = ids.view
    d.tap(v.x + 0.62 * v.width, v.y + 0.72 * v.height)  # the skin, seen from the front
    step("1-new-path")
    result["path"] = wb.selected
    result["placed"] = wb.plan.trajectory(wb.selected).target

    # the target 8 mm superior on the coronal slice (it passes through the target)
    d.pump(0.5)
    t = wb.plan.trajectory(wb.selected)
    start = on_slice(ids.coronal, t.target)
    up = on_slice(ids.coronal, (t.target[0], t.target[1], t.target[2] + 1.0))
    f = Finger(d, *start).down()
    d.pump(0.05)
    readouts = []
    for k in range(1, 9):
        f.move(start[0] + k * (up[0] - start[0]), start[1] + k * (up[1] - start[1]))
        d.pump(0.03)
        readouts.append(app.root.readout.splitlines()[0])
    f.up()
    result["drag_readouts"] = readouts
    step("2-target-dragged")
    result["dragged"] = wb.plan.trajectory(wb.selected).target

    # the across view: a drag anywhere pivots the entry about the target
    t = wb.plan.trajectory(wb.selected)
    result["length_before_pivot"] = wb.readout.length
    p = ids.perp
    d.drag(
        (p.x + 0.4 * p.width, p.top - 0.3 * p.height),
        (p.x + 0.46 * p.width, p.top - 0.3 * p.height),
    )
    step("3-pivoted")
    result["length_after_pivot"] = wb.readout.length
    result["entry_moved"] = list(wb.plan.trajectory(wb.selected).entry) != list(t.entry)
    d.tap(*centre(ids.undo))
    d.pump(0.3)
    result["entry_after_undo"] = wb.plan.trajectory(wb.selected).entry
    result["entry_before_pivot"] = t.entry

    # the entry dragged over the skin in 3D: it stays on the surface
    import numpy as np

    cam = v.camera
    w, h = v._pixel_size()
    ex, ey, _ = cam.project(np.array(wb.plan.trajectory(wb.selected).entry), w, h)
    start = (v.x + ex, v.top - ey)
    d.drag(start, (start[0] - 25, start[1] + 20), steps=8)
    e = np.array(wb.plan.trajectory(wb.selected).entry)
    result["entry_to_skin_mm"] = float(np.min(np.linalg.norm(wb.skin.positions - e, axis=1)))
    result["entry_moved_in_3d"] = float(np.linalg.norm(e - np.array(result["entry_after_undo"])))
    step("4-entry-on-skin")

    # a tap on the clearance profile's minimum moves the across view there
    prof = ids.profile
    r = wb.readout
    x0, w0 = prof.x + prof_pad(), prof.width - 2 * prof_pad()
    d.tap(x0 + r.closest.depth / r.length * w0 + 3, prof.center_y)
    d.pump(0.3)
    result["depth_after_tap"] = wb.depth
    result["closest_depth"] = r.closest.depth

    d.tap(*centre(ids.save))
    d.pump(0.5)
    result["dialog"] = app.save_dialog.lines
    step("5-save-dialog")
    d.tap(*centre(app.save_dialog.ids.confirm))
    d.pump(0.5)
    step("6-saved")
    result["saved"] = str(app.last_saved) if app.last_saved else None
    result["banner"] = app.root.banner
    app.stop()
    d.pump(frames=2)
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
