"""`orkiosk diff OLD NEW`: what changed from one planning package to the next, in the sentences
the kiosk's "what changed" banner uses (orkiosk.plan.diff)."""

from __future__ import annotations

import sys
from pathlib import Path

from orkiosk.plan.diff import diff_plans
from orkiosk.plan.package import PackageError, load_package
from orkiosk.plan.signing import load_trust_dir


def register(sub) -> None:
    p = sub.add_parser(
        "diff",
        help="say what changed between two planning packages",
        description="Verify both packages and print what changed from OLD to NEW: structures, "
        "trajectories, landmarks and measurements added, removed, changed or moved (mm), and "
        "any change of patient, case, side or procedure (first, in capitals). Exit 0; a package "
        "that does not verify: one line on stderr and exit 2.",
    )
    p.add_argument("old", type=Path, help="the earlier package directory")
    p.add_argument("new", type=Path, help="the later package directory")
    p.add_argument("--trust", type=Path, metavar="KEYDIR", help="folder of trusted *.pub keys")
    p.set_defaults(func=run_diff)


def run_diff(args) -> int:
    trusted = load_trust_dir(args.trust) if args.trust else None
    loaded = []
    for path in (args.old, args.new):
        try:
            loaded.append(load_package(path, trusted=trusted))
        except PackageError as exc:  # the headline never quotes patient values
            where = "" if exc.headline.startswith(str(path)) else f"{path}: "
            print(f"orkiosk diff: {where}{exc.headline}", file=sys.stderr)
            return 2
    old, new = loaded
    diff = diff_plans(old.plan, new.plan, old.meshes, new.meshes)
    print(diff.version_text)
    for line in diff.lines():
        print(line)
    return 0
