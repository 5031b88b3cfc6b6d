"""Sync joined to the plan store and the renderer (no Kivy here): `orkiosk hub` and the headless
kiosk (`orkiosk run --headless --hub ...`). orkiosk.sync cannot import the store or the renderer
(sibling layers); this module hands them in.

The headless kiosk is the windowed kiosk's receiver, store and verification without a window:
a plan that arrives is verified with the kiosk's own --trust keys (it never trusts the hub),
rendered once off-screen (EGL) and committed; a plan for another case or patient than the one
committed waits for confirmation (nothing of it is committed), and a refused one leaves the
committed plan as it was.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from pathlib import Path

from orkiosk.errors import OrkioskError

log = logging.getLogger("orkiosk.kiosk")


def register_hub(sub) -> None:
    p = sub.add_parser(
        "hub",
        help="run the planning hub: planners push plans, each OR room's kiosks fetch them",
        description="Serve every OR room's current plan over ZeroMQ (CurveZMQ). Only keys in "
        "--planners may publish (and sign: the hub verifies every package), only keys in "
        "--kiosks may fetch. Prints 'hub listening on ENDPOINT' once ready; stops on SIGTERM.",
    )
    p.add_argument("--bind", required=True, metavar="tcp://ADDR:PORT", help="where to listen")
    p.add_argument("--identity", type=Path, required=True, metavar="DIR/NAME", help="hub keys")
    p.add_argument("--planners", type=Path, required=True, metavar="PUBDIR")
    p.add_argument("--kiosks", type=Path, required=True, metavar="PUBDIR")
    p.add_argument("--state", type=Path, required=True, metavar="STATEDIR")
    p.add_argument("--max-package-mb", type=int, default=256, metavar="MB")
    p.set_defaults(func=run_hub)


def _logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def run_hub(args) -> int:
    from orkiosk.store import PlanStore
    from orkiosk.sync.hub import Hub, HubConfig

    _logging()
    if not 1 <= args.max_package_mb <= 4096:
        raise OrkioskError("--max-package-mb: from 1 to 4096")
    hub = Hub(
        HubConfig(
            bind=args.bind,
            identity=args.identity,
            planners=args.planners,
            kiosks=args.kiosks,
            state=args.state,
            open_store=lambda folder: PlanStore(folder, lock_wait=5.0),
            max_package=args.max_package_mb << 20,
        )
    )
    stop = _stop_on_signals()
    hub.serve(stop, on_ready=lambda ep: print(f"hub listening on {ep}", flush=True))
    return 0


class AwaitConfirmation(OrkioskError):
    """A verified plan for another case or patient: it waits for a person on the kiosk."""


def same_case(committed_path: Path, pkg) -> bool:
    try:
        doc = json.loads((Path(committed_path) / "plan.json").read_text("utf-8"))
        return doc["case_id"] == pkg.plan.case_id and doc["patient"]["id"] == pkg.plan.patient.id
    except (OSError, ValueError, KeyError, TypeError):
        return False


def sync_parts(settings):
    """(identity, hub key, trusted keys) for a kiosk's sync settings; clear errors if missing."""
    from orkiosk.plan.signing import load_trust_dir
    from orkiosk.sync.codec import _WORD
    from orkiosk.sync.keys import SyncError, load_identity, load_public_curve

    missing = [
        opt
        for opt, value in (
            ("--hub-key", settings.hub_key),
            ("--identity", settings.identity),
            ("--room", settings.room),
            ("--trust", settings.trust),
            ("--state", settings.state),
        )
        if not value
    ]
    if missing:
        raise SyncError(f"a kiosk that syncs with a hub also needs {', '.join(missing)}")
    if not _WORD.fullmatch(settings.room):
        raise SyncError(f"--room {settings.room!r}: use a short word (letters, digits, .-_)")
    me = load_identity(settings.identity)
    return me, load_public_curve(settings.hub_key, "--hub-key"), load_trust_dir(settings.trust)


def run_headless(settings) -> int:
    from orkiosk.render.snapshot import SnapshotOptions, render_snapshot
    from orkiosk.store import PlanStore
    from orkiosk.sync.receiver import Outcome, Receiver
    from orkiosk.sync.rooms import reason_of

    _logging()
    me, hub_key, trusted = sync_parts(settings)
    store = PlanStore(settings.state, lock_wait=10.0)
    cur = store.current()
    print(
        f"kiosk {me.name} in {settings.room}: "
        + (f"showing case {cur.case_id} v{cur.plan_version}" if cur else "no plan yet"),
        flush=True,
    )
    audit = store.audit  # STATE/audit: what this kiosk committed and refused, when
    audit.record(
        "start",
        role="headless kiosk",
        kiosk=me.name,
        room=settings.room,
        current=f"{cur.case_id} v{cur.plan_version}" if cur else None,
    )
    ctx = []

    def check(pkg) -> None:
        current = store.current()
        if current is not None and not same_case(current.path, pkg):
            raise AwaitConfirmation("another case or patient")
        if not ctx:
            from orkiosk.render.context import create_headless_context

            ctx.append(create_headless_context())
        render_snapshot(
            pkg.plan, pkg.meshes, SnapshotOptions(size=(320, 240), labels=False), ctx=ctx[0]
        )

    def deliver(folder: Path, state) -> Outcome:
        try:
            c = store.commit(folder, trusted=trusted, require_signature=True, check=check)
        except AwaitConfirmation:
            outcome = Outcome("confirm", state.case_id, state.plan_version)
        except OrkioskError as exc:
            outcome = Outcome("refused", state.case_id, state.plan_version, reason_of(exc))
            audit.record(
                "plan-refused",
                source="hub",
                case_id=state.case_id,
                plan_version=state.plan_version,
                reason=outcome.reason,
            )
        else:
            outcome = Outcome("shown", c.case_id, c.plan_version)
            audit.record(  # headless: rendered off-screen before the commit, now current
                "plan-shown",
                display="headless",
                case_id=c.case_id,
                plan_version=c.plan_version,
                manifest_sha256=c.manifest_sha256,
            )
        words = {"shown": "shown", "confirm": "waiting for confirmation", "refused": "refused"}
        print(
            f"kiosk {me.name}: case {state.case_id} v{state.plan_version} {words[outcome.outcome]}",
            flush=True,
        )
        return outcome

    receiver = Receiver(
        settings.hub,
        hub_key,
        me,
        settings.room,
        store,
        deliver,
        heartbeat_s=settings.heartbeat_s,
        verify_early=lambda folder: store.verify_early(
            folder, trusted=trusted, require_signature=True
        ),
    ).start()
    stop = _stop_on_signals()
    stop.wait()
    receiver.stop()
    audit.record("stop", role="headless kiosk", kiosk=me.name)
    return 0
