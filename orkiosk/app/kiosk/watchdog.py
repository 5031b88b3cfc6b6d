"""systemd notification (sd_notify) without a dependency: READY=1 and WATCHDOG=1 pings.

The kiosk pings from the Kivy clock, so a frozen UI stops the pings and systemd restarts it.
Outside systemd (no NOTIFY_SOCKET) every call does nothing.
"""

from __future__ import annotations

import os
import socket


def notify(message: str) -> bool:
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # abstract namespace
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.connect(address)
            s.sendall(message.encode("ascii"))
        return True
    except OSError:
        return False


def interval() -> float | None:
    """Seconds between pings: half of WATCHDOG_USEC, when systemd asks for a watchdog.

    WATCHDOG_PID names the process systemd watches: this one, or under cage (the unit's main
    process, with NotifyAccess=all) this one's parent."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid not in (str(os.getpid()), str(os.getppid()))):
        return None
    try:
        return max(0.5, int(usec) / 2e6)
    except ValueError:
        return None


FREEZE_ENV = "ORKIOSK_TEST_FREEZE_UI_S"  # test hook: block the UI thread N s after start


def schedule_test_freeze(clock) -> None:
    """With ORKIOSK_TEST_FREEZE_UI_S=N, block the UI thread N seconds after start (as a hung
    UI would): the fault tests check that the watchdog pings stop then."""
    text = os.environ.get(FREEZE_ENV)
    if not text:
        return
    try:
        seconds = float(text)
    except ValueError:
        return
    import time

    clock.schedule_once(lambda dt: time.sleep(3600), seconds)
