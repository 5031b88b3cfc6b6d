"""Kiosk benchmarks: touch -> camera, frame rate while rotating, start-up, resident memory.

Kivy allows one window per process, so each measurement runs the real app in a child process
(`python -m orkiosk.app.kiosk.bench PLAN SIZE`), which prints one JSON line of figures.
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
    rows.append(bench_resume())
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


def bench_resume() -> dict:
    """Restart after a crash: a store with the demo plan committed and the left view last shown;
    a fresh process (`python -m orkiosk.app.kiosk.bench --resume`) until READY (first frame drawn)."""
    from orkiosk.app.kiosk.resume import save_view, view_to_json
    from orkiosk.app.model.values import NamedView
    from orkiosk.plan.bench import row
    from orkiosk.plan.demo import demo_package_path
    from orkiosk.store import PlanStore

    with tempfile.TemporaryDirectory(prefix="orkiosk-bench-") as tmp:
        state = Path(tmp) / "state"
        committed = PlanStore(state).commit(demo_package_path())
        save_view(state, committed.case_id, NamedView("left"))
        got = resume_child(state, "1920x1080")
    ok = got["first_frame_s"] <= 2.0 and got["view"] == view_to_json(NamedView("left"))
    return row(
        "kiosk",
        "restart to first frame: committed plan and last view (store, 1920x1080)",
        got["first_frame_s"],
        "s",
        "<= 2 s, last view",
        ok,
        f"case {got['case_id']} v{got['plan_version']}, view {got['view']}",
    )


def resume_child(state: Path, size: str, set_view: str = "", timeout: float = 120) -> dict:
    """Start the kiosk on a store in a child process until READY=1; figures as a dict.

    With set_view ("named:left", "trajectory:ID"), the child then switches to that view and
    ends without stopping cleanly (os._exit), as a crash would."""
    args = ["--resume", str(state), size] + ([set_view] if set_view else [])
    return _child_args(args, timeout)


def _child(plan: Path, size: str) -> dict:
    return _child_args([str(plan), size], 600)


def _child_args(args: list[str], timeout: float) -> dict:
    env = dict(os.environ)
    if not env.get("DISPLAY"):
        env.setdefault("SDL_VIDEODRIVER", "offscreen")
    env.update(KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1", ORKIOSK_BENCH_T0=repr(time.time()))
    env["KIVY_HOME"] = tempfile.mkdtemp(prefix="orkiosk-kivy-")
    out = subprocess.run(
        [sys.executable, "-m", "orkiosk.app.kiosk.bench", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
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

    from orkiosk.app.kiosk.app import KioskApp
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


def resume_main(state: str, size: str, set_view: str = "") -> None:
    t0 = float(os.environ.get("ORKIOSK_BENCH_T0", time.time()))
    w, h = (int(v) for v in size.split("x"))
    from orkiosk.app.settings import KioskSettings

    settings = KioskSettings(windowed=True, width=w, height=h, state=Path(state))
    from orkiosk.app.kivyconfig import configure_kivy

    configure_kivy(settings)
    from kivy.base import EventLoop

    from orkiosk.app.commands import start_plan
    from orkiosk.app.kiosk.app import KioskApp
    from orkiosk.app.kiosk.resume import view_to_json
    from orkiosk.app.model.values import NamedView, TrajectoryView

    app = KioskApp(settings, start_plan(settings))
    app._run_prepare()
    while not app._ready_sent:  # READY=1 goes out after the plan's first frame
        EventLoop.idle()
    first_frame = time.time() - t0
    st = app.state
    result = {
        "first_frame_s": round(first_frame, 3),
        "view": view_to_json(st.view),
        "case_id": st.package.plan.case_id if st.package else None,
        "plan_version": st.package.plan.plan_version if st.package else None,
    }
    if set_view:
        kind, _, arg = set_view.partition(":")
        st.set_view(NamedView(arg) if kind == "named" else TrajectoryView(arg))
        for _ in range(3):
            EventLoop.idle()
        result["set_view"] = view_to_json(st.view)
    print(json.dumps(result), flush=True)
    os._exit(0)  # no clean stop: as after a crash


if __name__ == "__main__":
    if sys.argv[1] == "--resume":
        resume_main(*sys.argv[2:])
    else:
        main(sys.argv[1], sys.argv[2])
