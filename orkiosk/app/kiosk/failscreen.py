"""`orkiosk failscreen`: the screen systemd shows when the kiosk has failed for good.

orkiosk-failed.service runs it (OnFailure= of the kiosk units, once their start limit is hit):
plain white text on dark red, full screen, "KIOSK FAILED - CALL SUPPORT", and nothing else to go
wrong: no plan, no store, no GL of our own (Kivy's window and a Label only). A black screen in
the OR could be taken for a display that is off; this one cannot.
"""

from __future__ import annotations

import os

HEADLINE = "KIOSK FAILED"
DETAIL = "The plan display is not working. Call support.\nDo not rely on this screen."


def register(sub) -> None:
    p = sub.add_parser(
        "failscreen",
        help='show a full-screen "kiosk failed, call support" message (systemd OnFailure=)',
        description="Full-screen failure notice for the OR kiosk; run by orkiosk-failed.service.",
    )
    p.add_argument("--windowed", action="store_true", help="a window (development, tests)")
    p.add_argument("--size", metavar="WxH", default="1280x800", help="window size when windowed")
    p.add_argument("--text", default="", help="an extra line, e.g. the support number")
    p.set_defaults(func=run)


def run(args) -> int:
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    from kivy.config import Config

    if args.windowed:
        w, _, h = args.size.lower().partition("x")
        Config.set("graphics", "fullscreen", "0")
        Config.set("graphics", "width", w)
        Config.set("graphics", "height", h)
    else:
        Config.set("graphics", "fullscreen", "auto")
        Config.set("graphics", "show_cursor", "0")
    Config.set("kivy", "exit_on_escape", "0")
    from kivy.app import App
    from kivy.core.window import Window
    from kivy.uix.label import Label

    from orkiosk.app.kiosk import watchdog

    class FailScreen(App):
        title = "orkiosk: kiosk failed"

        def build(self):
            Window.clearcolor = (0.45, 0.02, 0.02, 1)
            extra = f"\n{args.text}" if args.text else ""
            size = min(Window.width, Window.height)
            return Label(
                text=f"[b][size={int(size * 0.12)}]{HEADLINE}[/size][/b]\n\n"
                f"[size={int(size * 0.05)}]{DETAIL}{extra}[/size]",
                markup=True,
                halign="center",
                valign="middle",
                color=(1, 1, 1, 1),
            )

        def on_start(self):
            from kivy.clock import Clock

            Clock.schedule_once(lambda dt: watchdog.notify("READY=1"), 0.5)

    FailScreen().run()
    return 0
