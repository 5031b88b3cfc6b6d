"""Kivy configuration that must be set before Kivy's window exists (import this first)."""

from __future__ import annotations

import os

from orkiosk.app.settings import KioskSettings, panel_dpi


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
    # Touch: one provider per physical device, so no touch arrives twice (docs/architecture.md).
    for key in list(Config.options("input")):
        Config.remove_option("input", key)
    if settings.touch_device:
        Config.set("input", "touchscreen", f"mtdev,{settings.touch_device}")
    else:
        Config.set("input", "%(name)s", "probesysfs,provider=mtdev")
    if settings.mouse or settings.windowed:
        Config.set("input", "mouse", "mouse,disable_on_activity,disable_multitouch")
    apply_panel_metrics(settings)


_HELD: dict[str, float] = {}  # the dpi the binding below holds Kivy's Metrics to


def apply_panel_metrics(settings: KioskSettings, screen_px=None) -> float | None:
    """Make Kivy's mm (and dp) follow the panel's real size from the settings, before widgets
    are built; returns the dpi used (None: the display's report is kept).

    Kivy's `mm` is dpi / 25.4 pixels and its dpi comes from the window (96 x the backing scale
    on Linux), which says nothing about the panel. Metrics.dpi is set here and held: the window
    resets it whenever its own dpi changes (Metrics.reset_dpi), so a binding sets it back.
    `dp` (Metrics.density) stays 1 px: pixel-exact lines and outlines do not depend on it.
    Called again with `screen_px` once a full-screen window exists, before the widgets are
    built, so the diagonal is spread over the panel's real resolution."""
    dpi = panel_dpi(settings, screen_px)
    if dpi is None:
        return None
    os.environ["KIVY_DPI"] = repr(dpi)  # read when kivy.metrics is first imported
    from kivy.metrics import Metrics

    def hold(*_):
        if Metrics.dpi != _HELD["dpi"]:
            Metrics.dpi = _HELD["dpi"]

    if "dpi" not in _HELD:
        Metrics.fbind("dpi", hold)
    _HELD["dpi"] = dpi
    hold()
    return dpi
