"""Kiosk settings: a TOML file, then environment overrides, then command-line options.

    [kiosk]
    plan = "/var/lib/orkiosk/plans/current"  # package shown at start (default: the demo)
    state = "/var/lib/orkiosk/state"         # plan store: its current plan is shown at start
    watch = "/var/lib/orkiosk/inbox"         # newest complete package appearing here is offered
    control_socket = "/run/orkiosk/control.sock"  # accepts package paths, one per line
    trust = "/etc/orkiosk/trust"             # *.pub keys of trusted planners
    require_signature = false
    windowed = false                          # development: a window instead of full screen

    [display]
    width = 1920                              # window size when windowed
    height = 1080
    interactive_scale = 0.5                   # render scale while the view moves
    interactive_triangles = 30000             # lighter meshes while the view moves (whole plan)
    msaa = 4                                  # samples at rest (0 = off)
    panel_diagonal_in = 24.0                  # the panel's real diagonal: sizes text in real mm
    panel_dpi = 0.0                           # or its real pixels per inch (wins over the diagonal)

    [touch]
    device = ""                               # e.g. "/dev/input/event5" (mtdev); "" = probe sysfs
    mouse = false                             # also accept a mouse (development)

    [sync]                                    # plans from the planning hub (orkiosk hub)
    hub = "tcp://planning.example:7400"       # the hub's address ("" = no sync)
    hub_key = "/etc/orkiosk/hub.pub"          # the hub's public identity file
    identity = "/etc/orkiosk/or-3"           # this kiosk's identity (or-3.key, or-3.pub)
    room = "OR-3"                             # the OR room whose plan this kiosk follows
    heartbeat_s = 1.0                         # asks the hub this often
    stale_after_s = 10.0                      # "no contact with the hub" banner after this long
    follow = false                            # follow the planner's view (orkiosk point) at start

    [gestures]                                # see orkiosk.touch.settings.GestureSettings
    tap_slop_mm = 7.0

Environment: ORKIOSK_SETTINGS (file), ORKIOSK_PLAN, ORKIOSK_STATE, ORKIOSK_WATCH,
ORKIOSK_CONTROL_SOCKET, ORKIOSK_TRUST, ORKIOSK_REQUIRE_SIGNATURE, ORKIOSK_WINDOWED,
ORKIOSK_TOUCH_DEVICE, ORKIOSK_MOUSE, ORKIOSK_PANEL_DIAGONAL_IN, ORKIOSK_PANEL_DPI, ORKIOSK_HUB,
ORKIOSK_HUB_KEY, ORKIOSK_IDENTITY, ORKIOSK_ROOM.

The panel's real size matters: everything on the OR screen is sized in millimetres (type readable
from two metres, touch targets >= 15 mm), and what a display reports about its size is often
wrong. `panel_diagonal_in` is measured over the panel's native resolution `width` x `height`
(give those too when the panel is not 1920x1080); 0 for both means "believe the display".
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from orkiosk.errors import OrkioskError
from orkiosk.render.prepare import DEFAULT_LOD_BUDGET
from orkiosk.touch.settings import GestureSettings

DEFAULT_FILE = Path("/etc/orkiosk/kiosk.toml")


class SettingsError(OrkioskError):
    """A settings file or variable that cannot be used (the message names it)."""


@dataclass(frozen=True)
class KioskSettings:
    plan: Path | None = None
    state: Path | None = None  # the plan store (orkiosk.store)
    watch: Path | None = None
    control_socket: Path | None = None
    trust: Path | None = None
    require_signature: bool = False
    windowed: bool = False
    width: int = 1920
    height: int = 1080
    interactive_scale: float = 0.5
    interactive_triangles: int = DEFAULT_LOD_BUDGET
    msaa: int = 4
    panel_diagonal_in: float = 0.0  # 0 = unknown
    panel_dpi: float = 0.0  # 0 = from panel_diagonal_in, else what the display reports
    touch_device: str = ""
    mouse: bool = False
    gestures: GestureSettings = field(default_factory=GestureSettings)
    hub: str = ""
    hub_key: Path | None = None
    identity: Path | None = None
    room: str = ""
    heartbeat_s: float = 1.0
    stale_after_s: float = 10.0
    follow: bool = False  # follow mode on at start (the FOLLOW PLANNER toggle)


_SECTIONS = {
    "kiosk": {
        "plan": Path,
        "state": Path,
        "watch": Path,
        "control_socket": Path,
        "trust": Path,
        "require_signature": bool,
        "windowed": bool,
    },
    "display": {
        "width": int,
        "height": int,
        "interactive_scale": float,
        "interactive_triangles": int,
        "msaa": int,
        "panel_diagonal_in": float,
        "panel_dpi": float,
    },
    "touch": {"device": str, "mouse": bool},
    "sync": {
        "hub": str,
        "hub_key": Path,
        "identity": Path,
        "room": str,
        "heartbeat_s": float,
        "stale_after_s": float,
        "follow": bool,
    },
}
_ENV = {
    "ORKIOSK_PLAN": ("plan", Path),
    "ORKIOSK_STATE": ("state", Path),
    "ORKIOSK_HUB": ("hub", str),
    "ORKIOSK_HUB_KEY": ("hub_key", Path),
    "ORKIOSK_IDENTITY": ("identity", Path),
    "ORKIOSK_ROOM": ("room", str),
    "ORKIOSK_WATCH": ("watch", Path),
    "ORKIOSK_CONTROL_SOCKET": ("control_socket", Path),
    "ORKIOSK_TRUST": ("trust", Path),
    "ORKIOSK_REQUIRE_SIGNATURE": ("require_signature", bool),
    "ORKIOSK_WINDOWED": ("windowed", bool),
    "ORKIOSK_TOUCH_DEVICE": ("touch_device", str),
    "ORKIOSK_MOUSE": ("mouse", bool),
    "ORKIOSK_PANEL_DIAGONAL_IN": ("panel_diagonal_in", float),
    "ORKIOSK_PANEL_DPI": ("panel_dpi", float),
}

# a panel outside these is a typo (e.g. centimetres for inches), not a real kiosk screen
PANEL_DPI_RANGE = (40.0, 400.0)


def load_settings(path: Path | None = None, environ=None) -> KioskSettings:
    """Read the settings file (if any) and apply environment overrides."""
    environ = os.environ if environ is None else environ
    if path is None and environ.get("ORKIOSK_SETTINGS"):
        path = Path(environ["ORKIOSK_SETTINGS"])
    explicit = path is not None
    path = path or DEFAULT_FILE
    values: dict = {}
    if path.exists():
        try:
            doc = tomllib.loads(path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"{path}: cannot read settings ({exc})") from None
        values = _from_document(doc, path)
    elif explicit:
        raise SettingsError(f"{path}: settings file does not exist")
    for var, (name, kind) in _ENV.items():
        if var in environ and environ[var] != "":
            values[name] = _convert(environ[var], kind, var)
    try:
        settings = KioskSettings(**values)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    panel_dpi(settings)  # refuse an impossible panel now, not when the window opens
    return settings


def panel_dpi(settings: KioskSettings, screen_px: tuple[int, int] | None = None) -> float | None:
    """The panel's real pixels per inch from the settings, or None to believe the display.

    panel_dpi wins; else panel_diagonal_in over the panel's resolution: `screen_px`, the size of
    the full-screen window (which is the whole panel, whatever width/height say: a kiosk whose
    settings name another resolution must not lay out a 24-inch screen on a smaller one), else
    the configured width x height."""
    w, h = screen_px if screen_px else (settings.width, settings.height)
    if settings.panel_dpi:
        dpi, where = settings.panel_dpi, "display.panel_dpi"
    elif settings.panel_diagonal_in:
        dpi = (w**2 + h**2) ** 0.5 / settings.panel_diagonal_in
        where = "display.panel_diagonal_in"
    else:
        return None
    lo, hi = PANEL_DPI_RANGE
    if not lo <= dpi <= hi:
        raise SettingsError(
            f"{where}: gives {dpi:.0f} pixels per inch for a {w}x{h} "
            f"panel; a real panel has {lo:.0f} to {hi:.0f} (is the diagonal in inches?)"
        )
    return float(dpi)


def _from_document(doc: dict, path: Path) -> dict:
    values: dict = {}
    for section, content in doc.items():
        if section == "gestures":
            if not isinstance(content, dict):
                raise SettingsError(f"{path}: [gestures] must be a table")
            values["gestures"] = GestureSettings.from_mapping(content)
            continue
        if section not in _SECTIONS or not isinstance(content, dict):
            raise SettingsError(f"{path}: unknown section [{section}]")
        for key, raw in content.items():
            kind = _SECTIONS[section].get(key)
            if kind is None:
                raise SettingsError(f"{path}: unknown setting {section}.{key}")
            name = "touch_device" if (section, key) == ("touch", "device") else key
            values[name] = _convert(raw, kind, f"{section}.{key}")
    return values


def _convert(raw, kind, where: str):
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{where}: expected true or false, got {raw!r}")
    if kind in (int, float):
        try:
            value = kind(raw)
        except (TypeError, ValueError):
            raise SettingsError(f"{where}: expected a number, got {raw!r}") from None
        if value < 0:
            raise SettingsError(f"{where}: must not be negative, got {raw!r}")
        return value
    if kind is Path:
        return Path(os.path.expanduser(str(raw))) if str(raw) else None
    return str(raw)


def with_overrides(settings: KioskSettings, **changes) -> KioskSettings:
    """Apply command-line options (None means 'not given')."""
    known = {f.name for f in fields(KioskSettings)}
    return replace(settings, **{k: v for k, v in changes.items() if k in known and v is not None})
