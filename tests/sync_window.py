"""A kiosk with a window (offscreen SDL) in a child process, driven line by line from a test:
the real KioskApp with the real sync receiver, pumped by tests/kiosk_harness.KioskDriver.

    parent: WindowKiosk(net, name, ...)   # tests/test_sync_*.py
    child:  python tests/sync_window.py CONFIG_JSON   (commands on stdin, answers on stdout)

Commands: `state` (one JSON line: what the screen shows), `stall` (the longest interval
between two UI clock ticks since last asked, ms), `tap ID` (a finger on the widget
root.ids[ID]), `touchview` (a finger on the 3D view), `shot PATH` (screenshot,
rectangles of the banners and the rail), `quit`. Log lines go to stdout too.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


# ---------------------------------------------------------------- parent side
class WindowKiosk:
    def __init__(self, net, name: str = "kw", size=(1280, 800), **settings):
        from sync_support import Proc

        cfg = {
            "home": str(net.root / f"kivy-home-{name}"),
            "size": list(size),
            "hub": net.endpoint,
            "hub_key": str(net.keys / "hub.pub"),
            "identity": str(net.keys / name),
            "room": settings.pop("room", "OR-1"),
            "trust": str(net.root / "trust"),
            "state": str(net.state(name)),
            **settings,
        }
        env = {"SDL_VIDEODRIVER": "offscreen", "ORKIOSK_SETTINGS": str(net.root / "none.toml")}
        (net.root / "none.toml").write_text("")
        self.proc = Proc([json.dumps(cfg)], name, env, cmd=[sys.executable, __file__])
        net.procs.append(self.proc)
        self.proc.wait_line("window ready", timeout=120)

    def send(self, line: str) -> None:
        self.proc.p.stdin.write(line + "\n")
        self.proc.p.stdin.flush()

    def ask(self, line: str, timeout: float = 60) -> dict:
        self.proc.forget()
        self.send(line)
        return json.loads(self.proc.wait_line(r"^answer (.*)$", timeout=timeout).group(1))

    def state(self) -> dict:
        return self.ask("state")

    def until(self, ok, what: str, timeout: float = 60) -> dict:
        """Ask for the screen's state until ok(state) holds (each answer is a fresh frame)."""
        deadline = time.monotonic() + timeout
        st = {}
        while time.monotonic() < deadline:
            st = self.state()
            if ok(st):
                return st
        raise AssertionError(
            f"{self.proc.name}: never {what}; last state {st}\n" + self.proc.text()
        )


# ---------------------------------------------------------------- child side
def _state(app) -> dict:
    st, root = app.state, app.root
    pkg = st.package
    ds = st.display_state()
    return {
        "case_id": pkg.plan.case_id if pkg else None,
        "plan_version": pkg.plan.plan_version if pkg else None,
        "pending_case": st.pending.plan.case_id if st.pending is not None else None,
        "alert_kind": root.alert_kind,
        "error": bool(st.error),
        "following": st.following,
        "follow_toggle": root.ids.follow.state,
        "showing": st.showing,
        "highlight": st.highlight,
        "opacity": dict(ds.opacity),
        "view": repr(st.view),
        "hub_banner": root.hub_banner,
        "changes_banner": root.changes_banner,
        "follow_banner": root.follow_banner,
        "loading": app._loading,
        # what the 3D view draws: a kiosk that shows no anatomy must be caught by the tests
        "camera": None if st.camera is None else [round(st.camera.distance, 1)],
        "viewport": list(st.viewport_px),
        "scene_structures": [s.id for s in app.view.scene.structures] if app.view.scene else [],
        "visible": {k: bool(v) for k, v in ds.visible.items()},
    }


def _rect(w) -> list:
    x, y = w.to_window(w.x, w.y)
    return [x, y, w.width, w.height]


def _command(drv, line: str):
    app, root = drv.app, drv.app.root
    words = line.split()
    if words[0] == "state":
        return _state(app)
    if words[0] == "tap":
        w = root.ids[words[1]]
        root.reveal(w)
        drv.pump(frames=3)
        x, y = w.to_window(*w.center)
        drv.tap(x, y)
        drv.pump(frames=3)
        return _state(app)
    if words[0] == "touchview":
        drv.tap(*drv.view_point(0.5, 0.5))
        drv.pump(frames=3)
        return _state(app)
    if words[0] == "stall":  # the longest interval between two UI clock ticks since last asked
        ms, drv.stall_ms = drv.stall_ms, 0.0
        return {"stall_ms": ms, **_state(app)}
    if words[0] == "shot":
        from kivy.core.window import Window

        drv.pump(0.3, frames=5)
        drv.screenshot(Path(words[1]))
        ids = root.ids
        rects = {k: _rect(ids[k]) for k in ("banner", "rail", "hub_banner", "view", "follow")}
        view = drv.view_pixels().astype(int)
        lit = float((abs(view - view[2, 2]).sum(axis=2) > 60).mean())  # differs from background
        return {"window": list(Window.size), "rects": rects, "view_lit": lit, **_state(app)}
    raise ValueError(f"unknown command {line!r}")


def main(cfg: dict) -> None:
    sys.path.insert(0, str(HERE))
    from kiosk_harness import KioskDriver, prepare_environment

    prepare_environment(Path(cfg["home"]))
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(name)s: %(message)s")
    from orkiosk.app.commands import start_plan
    from orkiosk.app.settings import KioskSettings

    w, h = cfg["size"]
    paths = ("hub_key", "identity", "trust", "state")
    settings = KioskSettings(
        windowed=True,
        width=w,
        height=h,
        panel_diagonal_in=cfg.get("diagonal", 0.0),
        hub=cfg["hub"],
        room=cfg["room"],
        stale_after_s=cfg.get("stale_after_s", 10.0),
        follow=cfg.get("follow", False),
        **{k: Path(cfg[k]) for k in paths},
    )
    from orkiosk.app.kivyconfig import configure_kivy

    configure_kivy(settings)
    from orkiosk.app.kiosk.app import KioskApp

    app = KioskApp(settings, start_plan(settings))
    app._run_prepare()
    drv = KioskDriver(app)
    drv.stall_ms, last = 0.0, [time.perf_counter()]

    def tick(_dt) -> None:  # every frame: how long since the previous one
        now = time.perf_counter()
        drv.stall_ms = max(drv.stall_ms, (now - last[0]) * 1000)
        last[0] = now

    from kivy.clock import Clock

    Clock.schedule_interval(tick, 0)
    if cfg.get("profile"):  # where a stall comes from: the UI thread's steps of a plan's arrival
        for obj, name in (
            (app, "_loaded"),
            (app.view, "stage"),
            (app.view, "draw"),
            (app, "_on_state"),
        ):
            orig = getattr(obj, name)

            def timed(*a, _orig=orig, _name=name, **k):
                t = time.perf_counter()
                try:
                    return _orig(*a, **k)
                finally:
                    ms = (time.perf_counter() - t) * 1000
                    sys.stdout.write(f"ui step {_name} {ms:.0f} ms\n")
                    sys.stdout.flush()

            setattr(obj, name, timed)
    lines: queue.Queue = queue.Queue()

    def read() -> None:
        for line in sys.stdin:
            lines.put(line.strip())
        lines.put("quit")

    threading.Thread(target=read, daemon=True).start()
    print("window ready", flush=True)
    while True:
        drv.pump(frames=1)
        try:
            line = lines.get_nowait()
        except queue.Empty:
            continue
        if line == "quit":
            break
        try:
            out = _command(drv, line)
        except Exception as exc:  # the test sees it and fails with the reason
            out = {"failed": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write("answer " + json.dumps(out) + "\n")
        sys.stdout.flush()
    app.stop()
    drv.pump(frames=2)
    os._exit(0)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
