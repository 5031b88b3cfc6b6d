"""Drive the real kiosk app in this process: an offscreen SDL window (real GL through EGL, Mesa),
the real event loop, and touches dispatched through Kivy's input pipeline like a device's.

Kivy allows one window per process, so the app is made once per test session (see conftest's
`kiosk` fixture) and each test leaves it in its default state.
"""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

import numpy as np

_ids = itertools.count(1000)


def prepare_environment(home: Path) -> None:
    os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
    os.environ["KIVY_NO_ARGS"] = "1"
    os.environ["KIVY_NO_CONSOLELOG"] = "1"
    os.environ["KIVY_HOME"] = str(home)  # keep ~/.kivy untouched
    os.environ.pop("NOTIFY_SOCKET", None)


class Finger:
    """One synthetic contact, positioned in window pixels (origin bottom-left)."""

    def __init__(self, driver: KioskDriver, x: float, y: float, area_px: float | None = None):
        from kivy.input.motionevent import MotionEvent
        from kivy.input.shape import ShapeRect

        win = driver.window
        self.driver = driver

        class _Touch(MotionEvent):
            def depack(self, args):
                self.sx, self.sy = args["x"], args["y"]
                self.profile = ["pos", "shape"] if args.get("shape") else ["pos"]
                if args.get("shape"):
                    self.shape = ShapeRect()
                    self.shape.width = self.shape.height = args["shape"]
                super().depack(args)

        args = {"x": x / (win.width - 1.0), "y": y / (win.height - 1.0), "shape": area_px}
        self.touch = _Touch("orkiosk-test", next(_ids), args, is_touch=True, type_id="touch")

    def down(self):
        from kivy.base import EventLoop

        EventLoop.post_dispatch_input("begin", self.touch)
        return self

    def move(self, x: float, y: float):
        from kivy.base import EventLoop

        win = self.driver.window
        self.touch.move({"x": x / (win.width - 1.0), "y": y / (win.height - 1.0), "shape": None})
        EventLoop.post_dispatch_input("update", self.touch)

    def up(self):
        from kivy.base import EventLoop

        EventLoop.post_dispatch_input("end", self.touch)


class KioskDriver:
    def __init__(self, app):
        from kivy.base import EventLoop

        self.app = app
        self.loop = EventLoop
        self.window = EventLoop.window

    @property
    def view(self):
        return self.app.view

    @property
    def ppm(self) -> float:
        return self.view._px_per_mm

    def pump(self, seconds: float = 0.0, frames: int = 1) -> None:
        """Run the event loop for at least `frames` frames and `seconds` of wall time."""
        end = time.monotonic() + seconds
        n = 0
        while n < frames or time.monotonic() < end:
            self.loop.idle()
            n += 1
            time.sleep(0.005)

    def settle(self, timeout: float = 5.0) -> None:
        """Until pending loads finished and a full-quality frame is on screen."""
        end = time.monotonic() + timeout
        self.pump(0.35)
        while time.monotonic() < end:
            self.pump()
            v = self.view
            gov = v.governor
            if self.app._loading == 0 and not v._dirty and not gov.needs_full_frame():
                return
        v = self.view
        raise TimeoutError(
            f"the kiosk did not settle: loading={self.app._loading} dirty={v._dirty} "
            f"full_pending={v.governor.needs_full_frame()} scene={v.scene is not None} error={self.app.state.error!r}"
        )

    def view_point(self, fx: float, fy: float) -> tuple[float, float]:
        """Window pixels of a point given as fractions of the 3D view (0..1, y up)."""
        v = self.view
        return v.x + fx * v.width, v.y + fy * v.height

    def drag(self, start, end, steps: int = 12, dt: float = 0.016, fingers: int = 1, spread=0.0):
        """Straight drags of 1-2 fingers from start to end (window pixels)."""
        offs = [(0.0, 0.0)] if fingers == 1 else [(-spread / 2, 0.0), (spread / 2, 0.0)]
        touches = [Finger(self, start[0] + ox, start[1] + oy).down() for ox, oy in offs]
        self.pump(0.08)
        for k in range(1, steps + 1):
            f = k / steps
            for t, (ox, oy) in zip(touches, offs, strict=True):
                t.move(
                    start[0] + (end[0] - start[0]) * f + ox, start[1] + (end[1] - start[1]) * f + oy
                )
            self.pump(dt)
        for t in touches:
            t.up()
        self.pump(0.05)

    def two_finger(self, a0, b0, a1, b1, steps: int = 14, dt: float = 0.016):
        """Two fingers moving from (a0, b0) to (a1, b1) (window pixels)."""
        fa, fb = Finger(self, *a0).down(), Finger(self, *b0).down()
        self.pump(0.08)
        for k in range(1, steps + 1):
            f = k / steps
            fa.move(*(np.asarray(a0) + (np.asarray(a1) - np.asarray(a0)) * f))
            fb.move(*(np.asarray(b0) + (np.asarray(b1) - np.asarray(b0)) * f))
            self.pump(dt)
        fa.up()
        fb.up()
        self.pump(0.05)

    def tap(self, x: float, y: float, hold: float = 0.05) -> None:
        f = Finger(self, x, y).down()
        self.pump(hold)
        f.up()

    def screenshot(self, path: Path) -> Path:
        """The whole window as PNG (what a person in the OR would see)."""
        from PIL import Image

        self.pump(frames=2)
        img = self.pixels()
        Image.fromarray(img).save(path)
        return path

    def pixels(self) -> np.ndarray:
        """The window's pixels, (height, width, 3) uint8, top row first."""
        from kivy.graphics.opengl import GL_RGB, GL_UNSIGNED_BYTE, glReadPixels

        w, h = self.window.size
        data = glReadPixels(0, 0, w, h, GL_RGB, GL_UNSIGNED_BYTE)
        return np.frombuffer(data, np.uint8).reshape(h, w, 3)[::-1].copy()

    def view_pixels(self) -> np.ndarray:
        """Only the 3D view's pixels (top row first)."""
        img = self.pixels()
        v, h = self.view, self.window.height
        top = int(h - (v.y + v.height))
        return img[top : int(h - v.y), int(v.x) : int(v.x + v.width)]
