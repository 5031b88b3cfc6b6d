"""The OR screen as a person sees it: every control reachable without scrolling at 1920x1080 and
1280x1024 with a 12-structure plan, type tall enough to read from two metres, 3D labels apart.

Kivy allows one window per process and its size and metrics are fixed when it opens, so each
screen runs the real kiosk in a child process (this file, run as a script) that writes a
screenshot to artifacts/screens/ and what it measured as JSON.

"Character height" here is the cap height: the ink height of a capital "H" rendered by Kivy with
the widget's own font size and weight (no outline), converted to mm with the configured panel's
pixels per inch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCREENS = ROOT / "artifacts" / "screens"
sys.path.insert(0, str(ROOT / "tests"))

BIG_MM = 10.0  # 2 m / 200
LABEL_MM = 5.0


def twelve_structure_package(out: Path) -> Path:
    from orkiosk.plan.model import Structure
    from orkiosk.plan.package import write_package
    from orkiosk.plan.synthetic import make_synthetic_plan, surface

    plan, meshes = make_synthetic_plan()
    extra = [
        ("optic-l", "Left optic nerve", (20, -60, 0), True),
        ("optic-r", "Right optic nerve", (-20, -60, 0), True),
        ("sinus", "Superior sagittal sinus", (0, 10, 80), True),
        ("motor", "Motor cortex (left)", (40, 0, 70), False),
        ("tumour-2", "Satellite lesion", (25, 10, 30), False),
        ("fiducial", "Fiducial cluster", (-50, -40, 60), False),
    ]
    structures = list(plan.structures)
    for sid, name, centre, critical in extra:
        meshes[sid] = surface(centre, (6, 6, 6), 10, 14)
        structures.append(
            Structure(sid, name, f"meshes/{sid}.glb", (0.4, 0.8, 0.5), 0.8, True, "organ", critical)
        )
    plan = replace(plan, structures=tuple(structures))
    assert len(plan.structures) == 12
    return write_package(plan, meshes, out)


# ---------------------------------------------------------------- the child process


def _rect(w):
    x, y = w.to_window(w.x, w.y)
    return [float(x), float(y), float(w.width), float(w.height)]


def _visible(w) -> bool:
    while w is not None and w is not w.parent:
        if w.opacity == 0 or getattr(w, "disabled", False) and w.opacity == 0:
            return False
        w = w.parent
    return True


def _cap_mm(font_size, bold, ppm) -> float:
    """Ink height of a capital H in the given font, in mm (see the module docstring)."""
    import numpy as np
    from kivy.core.text import Label as CoreLabel

    core = CoreLabel(text="H", font_size=font_size, bold=bold)
    core.refresh()
    tex = core.texture
    a = np.frombuffer(tex.pixels, np.uint8).reshape(tex.height, tex.width, 4)[..., 3]
    rows = np.nonzero((a > 127).any(axis=1))[0]
    return float(rows.max() - rows.min() + 1) / ppm


def child(width: int, height: int, diagonal: float, plan: str, name: str) -> None:
    import shutil
    import tempfile

    from kiosk_harness import KioskDriver, prepare_environment

    base = Path(tempfile.mkdtemp(prefix="orkiosk-screen-"))
    prepare_environment(base / "kivy-home")
    from orkiosk.app.settings import KioskSettings

    settings = KioskSettings(windowed=True, width=width, height=height, panel_diagonal_in=diagonal)
    if plan == "twelve":
        path = twelve_structure_package(base / "plan12")
    else:  # a damaged package: one mesh byte flipped
        path = twelve_structure_package(base / "bad")
        skin = path / "meshes" / "skin.glb"
        data = bytearray(skin.read_bytes())
        data[200] ^= 0xFF
        skin.write_bytes(bytes(data))
    from orkiosk.app.kivyconfig import configure_kivy

    configure_kivy(settings)
    from kivy.metrics import Metrics

    from orkiosk.app.kiosk.app import KioskApp

    app = KioskApp(settings, path)
    app._run_prepare()
    k = KioskDriver(app)
    if plan == "twelve":
        k.settle(timeout=60)
    else:
        end = __import__("time").monotonic() + 30
        while not app.state.error and __import__("time").monotonic() < end:
            k.pump(0.1)
        k.pump(0.5)
    ppm = Metrics.dpi / 25.4
    root = app.root
    out = {"window": list(k.window.size), "dpi": Metrics.dpi, "alert": root.alert_text}
    SCREENS.mkdir(parents=True, exist_ok=True)
    # the measure markers A and B on the two tragus landmarks (where they used to collide)
    if plan == "twelve":
        from orkiosk.app.model import Pick

        lm = {m.id: m.position for m in app.state.package.plan.landmarks}
        app.state.set_mode("measure")
        app.state.add_pick(Pick("skin", lm["tragus-r"], "Skin", "structure"))
        app.state.add_pick(Pick("skin", lm["tragus-l"], "Skin", "structure"))
        k.settle()
        out["label_boxes"] = {"/".join(key): box for key, box in app.view.label_boxes.items()}
        out["labels_wanted"] = len(app.view._labels)
    screens = {}
    pages = [("views", 0), ("structures", 0), ("structures", 1), ("tools", 0)]
    for tab, page in pages:
        root.show_tab(tab)
        root.structure_page = page
        root.layout_structure_pages()
        if tab == "tools":
            root.ids.cut_mode.state = "down"  # the cut planes shown too: the tallest page
        k.pump(0.3, frames=4)
        shot = SCREENS / f"{name}-{tab}{page + 1 if tab == 'structures' else ''}.png"
        k.screenshot(shot)
        controls = {}
        for w in root.walk():
            if hasattr(w, "trigger_action") and _visible(w) and w.width > 0 and w.height > 0:
                key = f"{type(w).__name__}:{getattr(w, 'text', '')}:{id(w)}"
                controls[key] = _rect(w)
        for wid in ("banner", "view", "readout", "status"):
            controls[f"id:{wid}"] = _rect(root.ids[wid])
        rows = list(root.ids.structures.children)  # only the current page's rows are attached
        screens[f"{tab}{page}"] = {
            "png": str(shot),
            "controls": controls,
            "rows_on_page": sorted(r.sid for r in rows),
            "pages": root.structure_pages,
            "critical_tags": sorted(
                r.sid for r in rows if r.ids.critical_tag.opacity == 1 and r.critical
            ),
        }
        root.ids.cut_mode.state = "normal"
    out["screens"] = screens
    out["rows"] = {r.sid: r.critical for r in root.pages.rows}
    ids = root.ids
    out["cap_mm"] = {
        wid: _cap_mm(ids[wid].font_size, ids[wid].bold, ppm)
        for wid in ("patient_name", "patient_id", "plan_version", "laterality", "readout")
    }
    out["texts"] = {
        wid: ids[wid].text for wid in ("patient_name", "patient_id", "plan_version", "laterality")
    }
    out["status"] = root.status
    out["min_touch_mm"] = min(
        min(c[2], c[3]) / ppm
        for s in screens.values()
        for key, c in s["controls"].items()
        if not key.startswith("id:")
    )
    lab_sizes = {}
    for key, lab in app.view._labels.items():
        lab_sizes["/".join(key)] = _cap_mm(lab.font_size, lab.bold, ppm)
    out["label_cap_mm"] = lab_sizes
    (SCREENS / f"{name}.json").write_text(json.dumps(out, indent=1))
    app.stop()
    k.pump(frames=2)
    shutil.rmtree(base, ignore_errors=True)


def run_child(width, height, diagonal, plan, name) -> dict:
    env = dict(os.environ, SDL_VIDEODRIVER="offscreen")
    proc = subprocess.run(
        [sys.executable, __file__, str(width), str(height), str(diagonal), plan, name],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads((SCREENS / f"{name}.json").read_text())


# ---------------------------------------------------------------- the tests


def _overlap(a, b) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


SCREEN_SIZES = [
    (1920, 1080, 24.0, "screen-1920x1080-24in"),
    (1280, 1024, 19.0, "screen-1280x1024-19in"),
]


@pytest.fixture(scope="module", params=SCREEN_SIZES, ids=lambda p: p[3])
def screen(request):
    w, h, diag, name = request.param
    return w, h, run_child(w, h, diag, "twelve", name)


def test_every_control_is_inside_the_window_and_uncovered(screen):
    w, h, out = screen
    assert out["window"] == [w, h]
    seen_rows = set()
    for page, s in out["screens"].items():
        ctl = s["controls"]
        for key, r in ctl.items():
            assert r[0] >= -0.5 and r[1] >= -0.5, f"{page}: {key} {r} leaves the window"
            assert r[0] + r[2] <= w + 0.5 and r[1] + r[3] <= h + 0.5, f"{page}: {key} {r}"
        keys = sorted(ctl)
        for i, a in enumerate(keys):
            for b in keys[i + 1 :]:
                if "id:banner" in (a, b) or "id:readout" in (a, b):
                    continue  # the banner and readout boxes contain no controls; checked below
                assert not _overlap(ctl[a], ctl[b]), f"{page}: {a} and {b} overlap"
        for key, r in ctl.items():  # no control reaches into the banner or the readout
            if not key.startswith("id:"):
                assert not _overlap(r, ctl["id:banner"]) and not _overlap(r, ctl["id:readout"])
        seen_rows.update(s["rows_on_page"])
    assert len(seen_rows) == 12, "every structure is on some page"
    assert out["min_touch_mm"] >= 14.9, "touch targets of at least 15 mm"
    names = {tuple(sorted(k.split(":")[1] for k in s["controls"])) for s in out["screens"].values()}
    flat = {n for t in names for n in t}
    for must in ("LOCK", "RESET VIEW", "CLEAR", "CUT", "MEASURE", "ANTERIOR", "VIEWS", "TOOLS"):
        assert must in flat, must


def test_critical_structures_are_tagged(screen):
    _w, _h, out = screen
    critical = {sid for sid, c in out["rows"].items() if c}
    assert critical == {"vessel", "optic-l", "optic-r", "sinus"}
    tagged = set()
    for s in out["screens"].values():
        tagged.update(s["critical_tags"])
    assert tagged == critical


def test_no_debug_timings_on_screen(screen):
    _w, _h, out = screen
    assert " ms" not in out["status"] and "full" not in out["status"]


def test_3d_labels_do_not_overlap_each_other_or_the_markers(screen):
    _w, _h, out = screen
    boxes = out["label_boxes"]
    assert "pick/0" in boxes and "pick/1" in boxes, "markers A and B are drawn"
    assert len(boxes) >= out["labels_wanted"] - 1, "at most one name left out for lack of room"
    keys = sorted(boxes)
    for i, a in enumerate(keys):
        for b in keys[i + 1 :]:
            assert not _overlap(boxes[a], boxes[b]), f"{a} overlaps {b}"


def test_text_is_readable_from_two_metres_on_the_24_inch_panel(screen):
    w, _h, out = screen
    if w != 1920:
        pytest.skip("measured on the configured 24-inch 1920x1080 panel")
    assert out["dpi"] == pytest.approx(91.79, abs=0.01)
    for wid, cap in out["cap_mm"].items():
        assert cap >= BIG_MM, f"{wid}: capitals {cap:.1f} mm"
    assert out["texts"]["plan_version"].startswith("PLAN v")
    assert out["texts"]["patient_id"].startswith("ID ")
    assert out["label_cap_mm"], "3D labels are shown"
    for key, cap in out["label_cap_mm"].items():
        assert cap >= LABEL_MM, f"3D label {key}: capitals {cap:.1f} mm"


def test_a_damaged_package_at_start_says_one_sentence():
    out = run_child(1920, 1080, 24.0, "bad", "screen-bad-package")
    alert = out["alert"]
    assert alert.startswith("Plan not shown: the file meshes/skin.glb is damaged"), alert
    assert "SHA-256" in alert and alert.count(". ") == 0 and "\n" not in alert
    assert len(alert) < 120


if __name__ == "__main__":
    child(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5])
