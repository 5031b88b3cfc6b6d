"""Kiosk benchmarks: touch -> camera, frame rate while rotating, start-up, resident memory.

Kivy allows one window per process, so each measurement runs the real app in a child process
(`python -m orkiosk.app.bench PLAN SIZE`), which prints one JSON line of figures.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def bench_kiosk() -> list[dict]:
    from orkiosk.plan.bench import row
    from orkiosk.plan.demo import demo_package_path
    from orkiosk.plan.package import write_package
    from orkiosk.plan.synthetic import make_synthetic_plan, surface

    rows = []
    demo = _child(demo_package_path(), "1920x1080")
    rows += [
        row(
            "kiosk",
            "touch event -> camera update",
            demo["touch_ms"],
            "ms",
            "< 0.2 ms",
            demo["touch_ms"] < 0.2,
        ),
        row(
            "kiosk",
            "continuous rotate, demo plan, 1920x1080 window",
            demo["rotate_fps"],
            "fps",
            ">= 30 fps",
            demo["rotate_fps"] >= 30,
            f"view {demo['view_size']}, {demo['frames']} frames, {demo['triangles']:,} triangles",
        ),
        row(
            "kiosk",
            "start to first frame (demo plan)",
            demo["first_frame_s"],
            "s",
            "<= 2 s",
            demo["first_frame_s"] <= 2.0,
        ),
    ]
    plan, meshes = make_synthetic_plan()
    others = sum(m.triangle_count for k, m in meshes.items() if k != "skin")
    meshes["skin"] = surface((0, 0, 0), (74, 92, 108), (2_000_000 - others) // 2400 + 2, 1200)
    with tempfile.TemporaryDirectory(prefix="orkiosk-bench-") as tmp:
        big = _child(write_package(plan, meshes, Path(tmp) / "big"), "1920x1080")
    rows.append(
        row(
            "kiosk",
            f"resident memory, {big['triangles']:,}-triangle plan shown",
            big["rss_mb"],
            "MB",
            "<= 500 MB",
            big["rss_mb"] <= 500,
            f"rotate {big['rotate_fps']:.1f} fps",
        )
    )
    return rows


def _child(plan: Path, size: str) -> dict:
    env = dict(os.environ)
    if not env.get("DISPLAY"):
        env.setdefault("SDL_VIDEODRIVER", "offscreen")
    env.update(KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1", ORKIOSK_BENCH_T0=repr(time.time()))
    env["KIVY_HOME"] = tempfile.mkdtemp(prefix="orkiosk-kivy-")
    out = subprocess.run(
        [sys.executable, "-m", "orkiosk.app.bench", str(plan), size],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"kiosk benchmark child failed: {out.stderr[-2000:]}")
    return json.loads(lines[-1])


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main(plan: str, size: str) -> None:
    t0 = float(os.environ.get("ORKIOSK_BENCH_T0", time.time()))
    w, h = (int(v) for v in size.split("x"))
    from orkiosk.app.settings import KioskSettings

    settings = KioskSettings(windowed=True, width=w, height=h)
    from orkiosk.app.kivyconfig import configure_kivy

    configure_kivy(settings)
    from kivy.base import EventLoop

    from orkiosk.app.kiosk import KioskApp
    from orkiosk.touch import TouchEvent

    app = KioskApp(settings, Path(plan))
    app._run_prepare()
    view = app.view
    while not view.ready:
        EventLoop.idle()
    first_frame = time.time() - t0
    for _ in range(5):
        EventLoop.idle()

    # touch -> camera: the recogniser and the camera update, as on every touch event
    rec = view.recognizer
    n = 20_000
    start = time.perf_counter()
    rec.feed(TouchEvent("down", "b", 50.0, 50.0, 0.0))
    for i in range(1, n):
        view._apply(
            rec.feed(TouchEvent("move", "b", 50 + 30 * math.sin(i / 50), 50.0, 0.1 + i * 0.004))
        )
    touch_ms = (time.perf_counter() - start) * 1000 / n
    view._apply(rec.feed(TouchEvent("up", "b", 50.0, 50.0, 0.1 + n * 0.004)))
    view.reset()

    # continuous rotate through Kivy's input path for 3 s, counting frames drawn
    from kivy.input.motionevent import MotionEvent

    class Touch(MotionEvent):
        def depack(self, args):
            self.sx, self.sy = args
            super().depack(args)

    win = EventLoop.window
    cx, cy = view.center_x / win.width, view.center_y / win.height
    touch = Touch("bench", 1, (cx, cy), is_touch=True, type_id="touch")
    EventLoop.post_dispatch_input("begin", touch)
    for _ in range(10):
        EventLoop.idle()
    frames0, t_start = view.frames, time.perf_counter()
    while time.perf_counter() - t_start < 3.0:
        a = (time.perf_counter() - t_start) * 2.0
        touch.move((cx + 0.1 * math.sin(a), cy + 0.05 * math.cos(a)))
        EventLoop.post_dispatch_input("update", touch)
        EventLoop.idle()
    elapsed = time.perf_counter() - t_start
    frames = view.frames - frames0
    EventLoop.post_dispatch_input("end", touch)
    result = {
        "first_frame_s": round(first_frame, 3),
        "touch_ms": touch_ms,
        "rotate_fps": frames / elapsed,
        "frames": frames,
        "view_size": f"{int(view.width)}x{int(view.height)}",
        "triangles": view.scene.triangle_count,
        "rss_mb": _rss_mb(),
    }
    print(json.dumps(result), flush=True)
    app.stop()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
