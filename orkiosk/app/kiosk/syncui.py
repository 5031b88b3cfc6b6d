"""The windowed kiosk's side of sync on the OR screen (Kivy thread): the hub banner, follow mode
and the confirmation of another case's plan from the hub.

- Hub banner: "NO CONTACT WITH THE PLANNING HUB since hh:mm:ss ..." in big type above the 3D view
  once the hub has not been heard for [sync] stale_after_s; gone when it is heard again.
- Follow mode: what a planner points at (orkiosk point) reaches the receiver thread, comes here
  through Clock.schedule_once and is applied through the model (KioskState.follow); the FOLLOW
  PLANNER toggle on the rail (or [sync] follow) switches it; any touch on the 3D view ends it
  and the screen says so.
- Confirmation: a hub plan of another case waits in staging; confirmed, it is committed first
  (worker thread) and shown when committed; declined, it is dropped.
"""

from __future__ import annotations

import logging
import time

from kivy.clock import Clock

from orkiosk.app.kiosk.intake import SyncIntake
from orkiosk.app.model import events

log = logging.getLogger("orkiosk.kiosk")
ENDED_NOTICE_S = 8.0  # how long "Follow mode ended by touch" stays


def hub_banner_text(last_heard: float | None, started: float, stale_after_s: float, now: float):
    """The stale-hub banner's text, or "" while the hub is heard."""
    since = last_heard if last_heard is not None else started
    if now - since <= stale_after_s:
        return ""
    when = time.strftime("%H:%M:%S", time.localtime(since))
    return (
        f"NO CONTACT WITH THE PLANNING HUB since {when} \u2014 the plan shown may not be the latest"
    )


class SyncScreen:
    def __init__(self, app, settings):
        self.app = app
        self.started = time.time()
        self.stale_after_s = settings.stale_after_s
        self.intake = SyncIntake(
            settings,
            lambda p, verified=None: app.request_load(p, "hub", verified),
            on_follow=self._from_hub,
        )
        self._ended = None
        self.follow_at_start = settings.follow
        app.state.subscribe(self._on_state)
        app.view.fbind("on_touch_down", self._touched)  # before the view's own handling

    def start(self) -> SyncScreen:
        self.app.state.set_following(self.follow_at_start)
        self.intake.start()
        return self

    def _touched(self, view, touch) -> None:
        if view.collide_point(*touch.pos):
            self.app.state.touched()  # follow mode ends; the touch goes on to the view

    def stop(self) -> None:
        self.intake.stop()

    # ------------------------------------------------------------ the hub banner
    def refresh(self) -> None:
        root = self.app.root
        link = self.intake.link
        text = hub_banner_text(link.last_heard, self.started, self.stale_after_s, time.time())
        if text != root.hub_banner:
            log.info("hub banner %s", "shown: no contact with the hub" if text else "cleared")
            root.hub_banner = text

    # ------------------------------------------------------------ follow mode
    def _from_hub(self, msg) -> None:  # the receiver's thread
        Clock.schedule_once(lambda dt: self._apply(msg))

    def _apply(self, msg) -> None:
        why = self.app.state.follow(msg.kind, msg.target, msg.side)
        log.info("planner %s points %s: %s", msg.planner, msg.kind, why or "applied")

    def _on_state(self, event) -> None:
        if not isinstance(event, events.FollowChanged) or self.app.root is None:
            return
        root = self.app.root
        record = getattr(self.app, "record_follow_mode", None)  # the audit log, if there
        if record is not None and event.following != root.following:
            record(event.following, why=event.why or "toggle")
        root.following = event.following
        if self._ended is not None:
            self._ended.cancel()
            self._ended = None
        if event.following:
            root.follow_banner = "FOLLOWING THE PLANNER" + (
                f": {event.showing}" if event.showing else ""
            )
        elif event.why == "touch":
            log.info("follow mode ended by touch")
            root.follow_banner = "Follow mode ended by touch"
            self._ended = Clock.schedule_once(self._clear_notice, ENDED_NOTICE_S)
        else:
            root.follow_banner = ""

    def _clear_notice(self, _dt) -> None:
        self._ended = None
        if not self.app.state.following:
            self.app.root.follow_banner = ""

    # ------------------------------------------------------------ confirmation
    def confirm(self, pkg) -> bool:
        """Commit a held hub plan before showing it; False if `pkg` is not one (show it now)."""
        if pkg is None or not self.intake.holds(pkg.path):
            return False

        def done(reason: str) -> None:  # a worker thread
            Clock.schedule_once(lambda dt: self._committed(pkg, reason))

        self.intake.confirm(pkg.path, done)
        return True

    def _committed(self, pkg, reason: str) -> None:
        st = self.app.state
        if st.pending is not pkg:
            return
        if reason:
            st.reject_pending()
            st.set_error(f"Plan could not be stored: {reason}. The plan on screen is unchanged.")
            return
        self.app.show_pending()

    def decline(self, pkg) -> None:
        if pkg is not None:
            self.intake.decline(pkg.path)
