"""Identity and planner commands: keygen, push. pyzmq is imported only when one runs.
(`orkiosk hub` and `orkiosk run --hub` join sync to the plan store: orkiosk.app.kiosk.syncrun.)"""

from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser(
        "keygen",
        help="create an identity: an Ed25519 signing pair and a CurveZMQ pair",
        description="Write DIR/NAME.key (private: signing and CurveZMQ secrets, mode 0600, never "
        "overwritten) and DIR/NAME.pub (both public keys: the one file you hand to others). "
        "A planner's .pub goes into the hub's --planners folder and the kiosks' --trust folder; "
        "a kiosk's .pub into the hub's --kiosks folder; the hub's .pub to every planner and "
        "kiosk (--hub-key).",
    )
    p.add_argument("directory", type=Path, help="folder for the identity (created if needed)")
    p.add_argument("--name", default="planner", help="identity name (default: planner)")
    p.set_defaults(func=run_keygen)

    p = sub.add_parser(
        "push",
        help="publish a signed package to an OR room through the hub",
        description="Upload PKG to the hub for ROOM and print one line per kiosk of the room as "
        "it answers (shown vN / waiting for confirmation / refused: reason). Exit 0 once the "
        "hub accepted the plan; non-zero with the reason when it refused it.",
    )
    p.add_argument("package", type=Path)
    p.add_argument("--hub", required=True, metavar="tcp://HOST:PORT")
    p.add_argument("--hub-key", type=Path, required=True, metavar="HUB.pub")
    p.add_argument("--identity", type=Path, required=True, metavar="DIR/NAME")
    p.add_argument("--room", required=True)
    p.add_argument(
        "--wait", type=float, default=20.0, metavar="S", help="wait for kiosk answers (20 s)"
    )
    p.set_defaults(func=run_push)

    p = sub.add_parser(
        "point",
        help="follow mode: show a view, trajectory or structure on an OR room's kiosks",
        description="Send the planner's view to ROOM's kiosks through the hub. Kiosks whose "
        "FOLLOW PLANNER toggle (or [sync] follow) is on show it; a touch on a kiosk's 3D view "
        "ends follow mode there.",
    )
    p.add_argument("--hub", required=True, metavar="tcp://HOST:PORT")
    p.add_argument("--hub-key", type=Path, required=True, metavar="HUB.pub")
    p.add_argument("--identity", type=Path, required=True, metavar="DIR/NAME")
    p.add_argument("--room", required=True)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--view", metavar="NAME", help="a named view (anterior, left, ...) or plan view"
    )
    what.add_argument("--trajectory", metavar="ID", help="look along this trajectory")
    what.add_argument("--highlight", metavar="STRUCTURE", help="this structure, others dimmed")
    p.add_argument("--side", action="store_true", help="with --trajectory: look at its side")
    p.set_defaults(func=run_point)


def run_keygen(args) -> int:
    from orkiosk.sync.keys import generate_identity

    priv, pub = generate_identity(args.directory, args.name)
    print(f"private identity {priv} (mode 0600; never leaves this machine)")
    print(f"public identity  {pub} (hand this file to the others; see README, key exchange)")
    return 0


def _client(args):
    from orkiosk.sync.codec import _WORD
    from orkiosk.sync.keys import SyncError, load_identity, load_public_curve
    from orkiosk.sync.planner import Pusher

    if not _WORD.fullmatch(args.room):
        raise SyncError(f"--room {args.room!r}: use a short word (letters, digits, '.', '_', '-')")
    me = load_identity(args.identity)
    hub_key = load_public_curve(args.hub_key, "--hub-key")
    return Pusher(args.hub, hub_key, me, lambda line: print(line, flush=True))


def run_point(args) -> int:
    from orkiosk.sync.fields import MAX_TARGET
    from orkiosk.sync.keys import SyncError

    if args.side and not args.trajectory:
        raise SyncError("--side goes with --trajectory")
    kind, target = next(
        (k, v)
        for k, v in (
            ("view", args.view),
            ("trajectory", args.trajectory),
            ("highlight", args.highlight),
        )
        if v is not None
    )
    if not 0 < len(target) <= MAX_TARGET or not target.isprintable():
        raise SyncError(f"--{kind}: a name of 1 to {MAX_TARGET} printable characters")
    pusher = _client(args)
    try:
        return pusher.point(args.room, kind, target, args.side)
    finally:
        pusher.close()


def run_push(args) -> int:
    from orkiosk.sync.keys import SyncError

    if args.wait < 0:
        raise SyncError("--wait must not be negative")
    pusher = _client(args)
    try:
        return pusher.push(args.package, args.room, args.wait)
    finally:
        pusher.close()
