"""Identity and sync commands: keygen, hub, push. pyzmq is imported only when one runs."""

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


def run_keygen(args) -> int:
    from orkiosk.sync.keys import generate_identity

    priv, pub = generate_identity(args.directory, args.name)
    print(f"private identity {priv} (mode 0600; never leaves this machine)")
    print(f"public identity  {pub} (hand this file to the others; see README, key exchange)")
    return 0
