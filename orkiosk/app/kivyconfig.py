"""Kivy configuration that must be set before Kivy's window exists (import this first)."""

from __future__ import annotations

import os

from orkiosk.app.settings import KioskSettings


def configure_kivy(settings: KioskSettings) -> None:
    """Kivy configuration that must be set before the window exists."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
    from kivy.config import Config

    Config.set("kivy", "exit_on_escape", "1" if settings.windowed else "0")
    Config.set("kivy", "window_icon", "")
    Config.set("graphics", "width", str(settings.width))
    Config.set("graphics", "height", str(settings.height))
    Config.set("graphics", "fullscreen", "0" if settings.windowed else "auto")
    Config.set("graphics", "show_cursor", "1" if settings.windowed or settings.mouse else "0")
    Config.set("graphics", "multisamples", "0")
    # Touch: one provider per physical device, so no touch arrives twice (ARCHITECTURE.md).
    for key in list(Config.options("input")):
        Config.remove_option("input", key)
    if settings.touch_device:
        Config.set("input", "touchscreen", f"mtdev,{settings.touch_device}")
    else:
        Config.set("input", "%(name)s", "probesysfs,provider=mtdev")
    if settings.mouse or settings.windowed:
        Config.set("input", "mouse", "mouse,disable_on_activity,disable_multitouch")
