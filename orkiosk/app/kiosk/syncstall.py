"""`orkiosk bench sync`, the UI part: the longest stall of a windowed kiosk's UI clock while a
~20 MB plan arrives from a real hub.

The parent (bench_stall) runs a hub on 127.0.0.1 in this process and starts the real KioskApp in
a child process (`python -m orkiosk.app.kiosk.syncstall CONFIG_JSON`: an SDL window, offscreen when
there is no display) with its own identity, trust folder and plan store. Version 1 is pushed and
shown first (not measured); then version 2 of the same case is pushed and the child reports the
longest interval between two ticks of its UI clock from the push until the new plan's first
full-quality frame has been drawn, with the longest single call of each UI-thread step and the
median tick interval at rest before (Kivy paces its clock, at most 60 frames a second).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

SIZE = (1920, 1080)
STEPS = ("_loaded", "stage", "_upload_steps", "_frame_steps", "draw")


def make_second_version(pkg: Path, out: Path, new_meshes: bool = False) -> Path:
    """The same case as `pkg`, version 2, one trajectory's target moved by 2 mm (the usual
    update during a case: its meshes are the same files). `new_meshes`: every mesh also moved
    by 0.5 mm, so that every mesh file is new (the kiosk prepares and uploads them all)."""
    from orkiosk.plan.mesh import Mesh
    from orkiosk.plan.package import load_package, write_package

    p = load_package(pkg)
    plan = p.plan
    trajs = list(plan.trajectories)
    if trajs:
        t = trajs[0]
        trajs[0] = dataclasses.replace(
            t, target=tuple(v + 2.0 * (i == 0) for i, v in enumerate(t.target))
        )
    plan = dataclasses.replace(plan, plan_version=plan.plan_version + 1, trajectories=tuple(trajs))
    meshes = p.meshes
    if new_meshes:
        shift = np.array([0.5, 0.0, 0.0], np.float32)
        meshes = {k: Mesh(m.positions + shift, m.normals, m.indices) for k, m in meshes.items()}
    return write_package(plan, meshes, out)


def bench_stall(root: Path, hub, state: Path, v1: Path, v2: Path, push) -> dict:
    """Figures of the child kiosk for the arrival of `v2` (v1 shown before). `push(pkg)` pushes
    a package to the hub and returns once the hub accepted it."""
    cfg = {
        "hub": hub.endpoint,
        "hub_key": str(root / "keys" / "hub.pub"),
        "identity": str(root / "keys" / "kw"),
        "trust": str(root / "planners"),
        "state": str(state),
        "size": list(SIZE),
    }
    env = dict(os.environ)
    if not env.get("DISPLAY"):
        env.setdefault("SDL_VIDEODRIVER", "offscreen")
    env.update(KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1")
    env["KIVY_HOME"] = tempfile.mkdtemp(prefix="orkiosk-kivy-", dir=root)
    env.pop("NOTIFY_SOCKET", None)
    child = subprocess.Popen(
        [sys.executable, "-m", "orkiosk.app.kiosk.syncstall", json.dumps(cfg)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    timer = threading.Timer(300, child.kill)  # a hung child must not hang the benchmark
    timer.start()
    try:
        push(v1)
        _expect(child, "ready")
        push(v2)
        return json.loads(_expect(child, "result"))
    finally:
        timer.cancel()
        if child.poll() is None:
            child.kill()
        child.wait()


def _expect(child, word: str) -> str:
    for line in child.stdout:
        if line.startswith(word + " "):
            return line[len(word) + 1 :]
    raise RuntimeError(f"the window kiosk ended before '{word}' (exit {child.wait()})")


# ---------------------------------------------------------------- child
def main(cfg: dict) -> None:
    from orkiosk.app.settings import KioskSettings

    w, h = cfg["size"]
    settings = KioskSettings(
        windowed=True,
        width=w,
        height=h,
        hub=cfg["hub"],
        room="OR-1",
        **{k: Path(cfg[k]) for k in ("hub_key", "identity", "trust", "state")},
    )
    from orkiosk.app.kivyconfig import configure_kivy

    configure_kivy(settings)
    from kivy.base import EventLoop
    from kivy.clock import Clock

    from orkiosk.app.kiosk.app import KioskApp

    app = KioskApp(settings, None)
    app._run_prepare()
    view = app.view
    stall, last, steps = [0.0], [time.perf_counter()], dict.fromkeys(STEPS, 0.0)

    gaps: list[float] = []  # tick intervals of the resting kiosk (its frame period)

    def tick(_dt) -> None:
        now = time.perf_counter()
        gaps.append((now - last[0]) * 1000)
        stall[0] = max(stall[0], gaps[-1])
        last[0] = now

    Clock.schedule_interval(tick, 0)
    for obj, name in [(app, "_loaded")] + [(view, n) for n in STEPS[1:]]:
        orig = getattr(obj, name)

        def timed(*a, _orig=orig, _name=name, **k):
            t = time.perf_counter()
            try:
                return _orig(*a, **k)
            finally:
                steps[_name] = max(steps[_name], (time.perf_counter() - t) * 1000)

        setattr(obj, name, timed)

    def settled(version: int) -> bool:
        pkg = app.state.package
        return (
            pkg is not None
            and pkg.plan.plan_version == version
            and view.quality == "full"
            and not view.governor.needs_full_frame()
            and not view._dirty
        )

    def run_until(ok, extra_s: float) -> None:
        while not ok():
            EventLoop.idle()
        end = time.perf_counter() + extra_s
        while time.perf_counter() < end:
            EventLoop.idle()

    run_until(lambda: settled(1), 0.0)
    gaps.clear()
    run_until(lambda: True, 1.0)  # at rest: Kivy paces its clock (60 frames a second)
    period = sorted(gaps)[len(gaps) // 2] if gaps else 0.0
    stall[0] = 0.0
    steps.update(dict.fromkeys(STEPS, 0.0))
    print("ready {}", flush=True)
    run_until(lambda: settled(2), 0.3)
    result = {
        "stall_ms": stall[0],
        "steps_ms": steps,
        "view": [int(view.width), int(view.height)],
        "idle_tick_ms": period,
    }
    print("result " + json.dumps(result), flush=True)
    os._exit(0)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
