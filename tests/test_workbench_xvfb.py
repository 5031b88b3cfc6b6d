"""The planner's workbench driven as a person drives it: `orkiosk plan` in its own process on an X
server (Xvfb), real mouse events (xdotool), a real hub and a windowed kiosk on loopback.

A planner makes a new path on the demo plan (target on the axial slice, entry on the skin in 3D),
drags its target on a slice (the readouts change while dragging), moves the Biopsy target, signs
and saves version 2 (only plan.json and plan.sig are new), and publishes it; the kiosk shows v2
with the "what changed" banner. Screenshots of every step go to artifacts/workbench/.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sync_support import Net, Proc
from sync_window import WindowKiosk

from conftest import ROOT
from orkiosk.plan.demo import bundled_demo_path
from orkiosk.plan.package import load_package
from orkiosk.plan.signing import sign_package

ARTIFACTS = ROOT / "artifacts" / "workbench"
SIZE = (1600, 900)


def _need(tool: str) -> None:
    if shutil.which(tool) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is missing (scripts/setup.sh --test installs it)")
        pytest.skip(f"{tool} is not installed (scripts/setup.sh --test installs it)")


class Screen:
    """An Xvfb display, real mouse input (xdotool) and screenshots (Pillow's X11 grab)."""

    def __init__(self):
        for n in range(91, 140):
            if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
                break
        self.display = f":{n}"
        self.p = subprocess.Popen(
            ["Xvfb", self.display, "-screen", "0", f"{SIZE[0]}x{SIZE[1]}x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while not Path(f"/tmp/.X11-unix/X{n}").exists():
            assert time.monotonic() < deadline, "Xvfb did not start"
            time.sleep(0.1)

    def xdo(self, *args) -> None:
        subprocess.run(
            ["xdotool", *map(str, args)],
            env={**os.environ, "DISPLAY": self.display},
            check=True,
            timeout=30,
        )

    def click(self, x: float, y: float) -> None:
        self.xdo("mousemove", "--sync", round(x), round(y), "click", "1")

    def drag(self, points, dt: float = 0.06) -> None:
        (x0, y0), rest = points[0], points[1:]
        self.xdo("mousemove", "--sync", round(x0), round(y0), "mousedown", "1")
        time.sleep(0.15)
        for x, y in rest:
            self.xdo("mousemove", "--sync", round(x), round(y))
            time.sleep(dt)
        time.sleep(0.15)
        self.xdo("mouseup", "1")

    def shot(self, name: str) -> np.ndarray:
        from PIL import ImageGrab

        time.sleep(0.6)  # the frames after the last event
        img = ImageGrab.grab(xdisplay=self.display)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        img.save(ARTIFACTS / f"{name}.png")
        return np.asarray(img.convert("RGB"))

    def close(self) -> None:
        self.p.terminate()
        self.p.wait(timeout=10)


def _centre(rect) -> tuple[float, float]:
    """A Kivy window rectangle's centre in screen pixels (top-left origin)."""
    x, y, w, h = rect
    return x + w / 2, SIZE[1] - (y + h / 2)


def _on_slice(frame: dict, lps) -> tuple[float, float]:
    """Screen pixels of an LPS point on a slice whose frame the workbench logged."""
    d = np.asarray(lps, dtype=float) - frame["center"]
    u = d @ frame["right"] / frame["mm"][0] + 0.5
    v = 0.5 - d @ frame["up"] / frame["mm"][1]
    x, y, w, h = frame["px"]
    return x + u * w, SIZE[1] - (y + (1 - v) * h)


def _frame(wb: Proc, name: str) -> dict:
    """The latest frame the workbench logged for a slice (it logs one whenever it moves)."""
    wb.wait_line(rf"frame {name} ", timeout=30)
    for line in reversed(wb.lines):
        if f"frame {name} " in line:
            return json.loads(line.split(f"frame {name} ", 1)[1])
    raise AssertionError(f"no frame for {name}")


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture
def screen():
    _need("Xvfb")
    _need("xdotool")
    s = Screen()
    yield s
    s.close()


def test_mouse_new_path_drag_save_publish(tmp_path, screen):
    net = Net(tmp_path, kiosks=("kw",))
    net.start_hub()
    v1 = shutil.copytree(bundled_demo_path(), tmp_path / "demo-v1")
    sign_package(v1, net.keys / "alice.key")
    kiosk = WindowKiosk(net, "kw", size=(1920, 1080))
    assert net.push(v1).returncode == 0
    kiosk.until(lambda s: s["plan_version"] == 1, "showing the demo v1")

    wb = Proc(
        [
            "plan",
            v1,
            "--identity",
            net.keys / "alice",
            "--hub",
            net.endpoint,
            "--hub-key",
            net.keys / "hub.pub",
            "--room",
            "OR-1",
            "--save-to",
            tmp_path / "plans",
            "--size",
            f"{SIZE[0]}x{SIZE[1]}",
            "--verbose",
        ],
        "workbench",
        env={
            "DISPLAY": screen.display,
            "SDL_VIDEODRIVER": "x11",
            "KIVY_HOME": str(tmp_path / "kivy-home"),
        },
    )
    net.procs.append(wb)
    layout = json.loads(wb.wait_line(r"layout (\{.*\})", timeout=120).group(1))
    assert layout["window"] == list(SIZE)
    first = screen.shot("0-opened")
    view = layout["view"]
    lit = first[SIZE[1] - int(view[1] + view[3]) : SIZE[1] - int(view[1]), int(view[0]) :][
        :, : int(view[2])
    ]
    assert (np.abs(lit.astype(int) - lit[3, 3]).sum(axis=2) > 60).mean() > 0.1, "3D view is blank"

    # NEW PATH: the target on the axial slice, the entry on the skin in 3D
    screen.click(*_centre(layout["new_path"]))
    wb.wait_line(r"readout|frame axial", timeout=10)
    axial = _frame(wb, "axial")
    z = axial["center"][2]
    target = (20.0, -30.0, z)
    screen.click(*_on_slice(axial, target))
    n = len(wb.lines)
    vx, vy, vw, vh = view
    screen.click(vx + 0.62 * vw, SIZE[1] - (vy + 0.72 * vh))  # the skin, seen from the front
    wb.wait_line(r"readout Path 1: ", timeout=20)
    screen.shot("1-new-path")

    # drag Path 1's target 10 mm to the patient's left on the axial slice (it passes through it)
    time.sleep(1.0)
    axial = _frame(wb, "axial")
    start = np.array(_on_slice(axial, target))
    step = np.array(_on_slice(axial, (target[0] + 1.0, target[1], target[2]))) - start
    n = len(wb.lines)
    screen.drag([tuple(start + k * step) for k in range(0, 11)])
    readouts = {line for line in wb.lines[n:] if "readout Path 1:" in line}
    assert len(readouts) >= 3, "the readout did not follow the drag:\n" + wb.text()
    screen.shot("2-target-dragged")

    # the Biopsy target about 3 mm posterior, on the axial slice through Path 1's target (z 38 too)
    time.sleep(1.0)
    axial = _frame(wb, "axial")
    b = load_package(v1).plan.trajectory("biopsy").target
    start = np.array(_on_slice(axial, b))
    step = np.array(_on_slice(axial, (b[0], b[1] + 0.5, b[2]))) - start
    path = [tuple(start + k * step) for k in range(0, 7)]
    screen.drag(path)
    # what the mouse really moved (whole pixels), in mm on that slice
    px = np.round(path[-1]) - np.round(path[0])
    mm_per_px = np.array(axial["mm"]) / np.array(axial["px"][2:])
    moved_mm = float(np.hypot(px[0] * mm_per_px[0], px[1] * mm_per_px[1]))
    wb.wait_line(r"readout Biopsy: ", timeout=10)
    screen.shot("3-biopsy-moved")

    # SAVE: what changed, then SIGN AND SAVE; the saved version is verified
    screen.click(*_centre(layout["save"]))
    dialog = json.loads(wb.wait_line(r"dialog (\{.*\})", timeout=10).group(1))
    assert "Trajectory Path 1 added" in dialog["lines"]
    assert f"Trajectory Biopsy: target moved {moved_mm:.1f} mm" in dialog["lines"]
    screen.shot("4-save-dialog")
    screen.click(*_centre(dialog["confirm"]))
    wb.wait_line(r"Saved v2 as .*PHANTOM-DEMO-v2 \(verified\)", timeout=20)
    v2 = tmp_path / "plans" / "PHANTOM-DEMO-v2"
    for f in load_package(v1).plan.files:
        assert _sha(v2 / f.path) == _sha(v1 / f.path) == f.sha256

    # PUBLISH: the kiosk's answer on the workbench, v2 and what changed on the kiosk
    time.sleep(0.5)  # the dialog fades out (0.1 s), as a person would wait for it
    screen.click(*_centre(layout["publish"]))
    wb.wait_line(r"Publishing PHANTOM-DEMO-v2 to room OR-1", timeout=10)
    wb.wait_line(r"kw: .*v2", timeout=60)
    shown = kiosk.until(
        lambda s: s["plan_version"] == 2 and s["changes_banner"], "showing v2 and what changed"
    )
    assert "Path 1 added" in shown["changes_banner"]
    assert f"Biopsy: target moved {moved_mm:.1f} mm" in shown["changes_banner"]
    screen.shot("5-published")
    kiosk.ask(f"shot {ARTIFACTS / '6-kiosk-v2.png'}")

    diff = subprocess.run(
        [sys.executable, "-m", "orkiosk", "diff", str(v1), str(v2)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert f"Trajectory Biopsy: target moved {moved_mm:.1f} mm" in diff.stdout
    moved = load_package(v2).plan.trajectory("path-1").target
    assert moved[0] == pytest.approx(30.0, abs=1.5)  # 10 mm to the left, as dragged
