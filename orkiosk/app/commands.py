"""`orkiosk run`: the OR kiosk. Kivy is imported only when the command runs."""

from __future__ import annotations

import logging
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser(
        "run",
        help="open the OR kiosk (full screen) on a plan (default: the demo plan)",
        description="Full-screen touch kiosk showing a planning package. Settings come from "
        "/etc/orkiosk/kiosk.toml (or --settings / ORKIOSK_SETTINGS), then ORKIOSK_* variables, "
        "then these options. Escape does not quit in kiosk mode; use --windowed to develop.",
    )
    p.add_argument(
        "package", type=Path, nargs="?", help="package to show (default: settings, then the demo)"
    )
    p.add_argument("--settings", type=Path, metavar="FILE", help="settings file (TOML)")
    p.add_argument(
        "--windowed", action="store_true", default=None, help="a window, not full screen"
    )
    p.add_argument("--size", metavar="WxH", help="window size when windowed (default 1920x1080)")
    p.add_argument("--state", type=Path, metavar="STATEDIR", help="plan store: resume its plan")
    p.add_argument("--watch", type=Path, metavar="DIR", help="offer packages that appear in DIR")
    p.add_argument("--control-socket", type=Path, metavar="PATH", help="accept package paths here")
    p.add_argument("--trust", type=Path, metavar="KEYDIR", help="trusted planner keys (*.pub)")
    p.add_argument("--require-signature", action="store_true", default=None)
    p.add_argument("--mouse", action="store_true", default=None, help="also accept a mouse")
    p.add_argument(
        "--headless",
        action="store_true",
        help="no window: the same sync receiver, store and verification (renders once on EGL)",
    )
    p.add_argument("--hub", metavar="tcp://HOST:PORT", help="follow this planning hub's plans")
    p.add_argument("--hub-key", type=Path, metavar="HUB.pub", help="the hub's public identity")
    p.add_argument("--identity", type=Path, metavar="DIR/NAME", help="this kiosk's identity")
    p.add_argument("--room", help="the OR room whose plan this kiosk follows")
    p.set_defaults(func=run)

    register_workbench(sub)

    from orkiosk.app.kiosk.failscreen import register as register_failscreen
    from orkiosk.app.kiosk.syncrun import register_hub

    register_hub(sub)
    register_failscreen(sub)


def register_workbench(sub) -> None:
    p = sub.add_parser(
        "plan",
        help="open the planner's workbench: plan paths on the model and the slices, save, publish",
        description="The planning station's workbench (a window; mouse, keyboard and touch): "
        "place and drag trajectories on the 3D model and the axial, coronal, sagittal, along "
        "and across views with live readouts and clearance, undo/redo, then SAVE the next "
        "version (only plan.json changes; signed with --identity, verified before it counts) "
        "and PUBLISH it to an OR room through the hub. Never runs on an OR kiosk.",
    )
    p.add_argument("package", type=Path, nargs="?", help="package to edit (default: the demo)")
    p.add_argument(
        "--save-to",
        type=Path,
        default=Path("plans"),
        metavar="DIR",
        help="where saved versions go, as DIR/<case>-v<N> (default: ./plans)",
    )
    p.add_argument(
        "--identity",
        type=Path,
        metavar="DIR/NAME",
        help="this workbench's identity (orkiosk keygen): signs saves, connects to the hub",
    )
    p.add_argument("--trust", type=Path, metavar="KEYDIR", help="trusted keys to open PKG with")
    p.add_argument("--hub", metavar="tcp://HOST:PORT", help="the planning hub to publish to")
    p.add_argument("--hub-key", type=Path, metavar="HUB.pub", help="the hub's public identity")
    p.add_argument("--room", help="the OR room to publish to")
    p.add_argument("--size", metavar="WxH", help="window size (default 1600x900)")
    p.add_argument(
        "--verbose",
        action="store_true",
        help="log what the workbench shows (layout, slice frames, readouts) for support and tests",
    )
    p.set_defaults(func=run_workbench)


def run_workbench(args) -> int:
    from orkiosk.app import settings as kiosk_settings
    from orkiosk.app.settings import KioskSettings, SettingsError
    from orkiosk.plan.demo import demo_package_path
    from orkiosk.plan.package import load_package
    from orkiosk.plan.signing import load_trust_dir
    from orkiosk.sync.keys import identity_paths

    if kiosk_settings.DEFAULT_FILE.exists():  # the OR kiosk stays read-only
        raise SettingsError(
            f"this machine is an OR kiosk ({kiosk_settings.DEFAULT_FILE} exists): plans are made "
            "on the planning station, never on the kiosk"
        )
    hub_args = (args.hub, args.hub_key, args.room)
    if any(hub_args) and not (all(hub_args) and args.identity):
        raise SettingsError("publishing needs --hub, --hub-key, --room and --identity together")
    key = identity_paths(args.identity)[0] if args.identity else None
    if key is not None and not key.is_file():
        raise SettingsError(f"--identity: {key} does not exist (make one with orkiosk keygen)")
    trusted = load_trust_dir(args.trust) if args.trust else None
    package = load_package(args.package or demo_package_path(), trusted=trusted)
    width, height = parse_size(args.size)
    settings = KioskSettings(windowed=True, width=width or 1600, height=height or 900, mouse=True)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from orkiosk.app.kivyconfig import configure_kivy

    configure_kivy(settings)
    from kivy.config import Config

    Config.set("kivy", "exit_on_escape", "0")  # Escape cancels a tool; the window's X closes
    from orkiosk.app.workbench.app import PublishTo, WorkbenchApp  # creates the window

    publish = PublishTo(args.hub, args.hub_key, args.identity, args.room) if args.hub else None
    if args.verbose:
        logging.getLogger("orkiosk.workbench").setLevel(logging.DEBUG)
    WorkbenchApp(package, save_to=args.save_to, key=key, publish_to=publish).run()
    return 0


def parse_size(text: str | None) -> tuple[int | None, int | None]:
    from orkiosk.app.settings import SettingsError

    if not text:
        return None, None
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SettingsError(f"--size {text!r}: expected WIDTHxHEIGHT, e.g. 1280x800") from None
    if w < 320 or h < 240:
        raise SettingsError(f"--size {text!r}: at least 320x240")
    return w, h


def run(args) -> int:
    from orkiosk.app.settings import SettingsError, load_settings, with_overrides

    width, height = parse_size(args.size)
    settings = with_overrides(
        load_settings(args.settings),
        windowed=args.windowed,
        width=width,
        height=height,
        state=args.state,
        watch=args.watch,
        control_socket=args.control_socket,
        trust=args.trust,
        require_signature=args.require_signature,
        mouse=args.mouse,
        plan=args.package,
        hub=args.hub,
        hub_key=args.hub_key,
        identity=args.identity,
        room=args.room,
    )
    if args.headless:
        from orkiosk.app.kiosk.syncrun import run_headless

        if not settings.hub:
            raise SettingsError("--headless needs --hub (or [sync] hub in the settings)")
        return run_headless(settings)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from orkiosk.app.kivyconfig import configure_kivy

    configure_kivy(settings)
    from orkiosk.app.kiosk.app import KioskApp  # creates the window

    KioskApp(settings, start_plan(settings)).run()
    return 0


def start_plan(settings) -> Path | None:
    """What the kiosk shows at start: the configured package, else the store's current plan.

    The demo plan is shown only on a kiosk without a plan store: a kiosk that keeps plans for an
    OR must never put a made-up patient on screen, so with an empty (or wholly damaged) store it
    starts with "no plan" and waits for one."""
    from orkiosk.plan.demo import demo_package_path

    if settings.plan is not None:
        return settings.plan
    if settings.state is not None:
        return stored_plan(settings.state)
    return demo_package_path()


def stored_plan(state: Path | None) -> Path | None:
    """The plan store's current plan, so a restarted kiosk shows what it showed; else None.

    Opening the store repairs what a crash left and sets a damaged current plan aside."""
    if state is None:
        return None
    from orkiosk.store import PlanStore

    current = PlanStore(state, lock_wait=10.0).current()
    if current is not None:
        logging.getLogger("orkiosk.app").info(
            "resuming the stored plan %s v%s", current.case_id, current.plan_version
        )
    return current.path if current else None
