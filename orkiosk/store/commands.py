"""`orkiosk status --state STATEDIR`: what the kiosk's plan store holds, as JSON (no patient data)."""

from __future__ import annotations

import json
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser(
        "status",
        help="show the plan store's current plan and history as JSON",
        description="Print the kiosk's plan store state: the current plan's case id, version, "
        "manifest SHA-256 and commit time, and the versions kept. Reads only; never shows "
        "patient data.",
    )
    p.add_argument(
        "--state", type=Path, required=True, metavar="STATEDIR", help="the plan store's folder"
    )
    p.set_defaults(func=run)


def run(args) -> int:
    from orkiosk.store import read_status

    print(json.dumps(read_status(args.state), indent=2))
    return 0
