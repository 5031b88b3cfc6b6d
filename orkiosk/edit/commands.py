"""`orkiosk edit PKG -o OUT`: the workbench's edits from the command line, for scripts and tests.

Edits apply in the order given, through the same operations and the same save as the workbench:
the result is the next version, in which only plan.json (and plan.sig) are new. Any refused edit
stops everything before a file is written: one line says which option and why.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

from orkiosk.edit import operations as ops
from orkiosk.edit.save import save_version
from orkiosk.edit.session import EditSession
from orkiosk.plan.demo import demo_package_path
from orkiosk.plan.package import PackageError, load_package
from orkiosk.plan.pointtext import SYSTEMS, parse_landmark, parse_point, parse_trajectory
from orkiosk.plan.signing import load_trust_dir

EXAMPLE = """\
example: move the demo's biopsy target 3 mm to the patient's left, sign, check:
  orkiosk keygen keys --name planner
  orkiosk edit -o demo-v2 --move-target biopsy:41,-18,38 --sign keys/planner.key
  orkiosk verify demo-v2 --trust keys --require-signature
  orkiosk diff "$(python -c 'import orkiosk.plan.demo as d; print(d.bundled_demo_path())')" demo-v2
"""


class _Ordered(argparse.Action):
    """Keep every edit option, in command-line order, in args.edits."""

    def __call__(self, parser, namespace, values, option_string=None):
        edits = list(getattr(namespace, "edits", None) or [])
        edits.append((option_string, values))
        namespace.edits = edits


def register(sub) -> None:
    p = sub.add_parser(
        "edit",
        help="edit a plan (trajectories, landmarks, display) and save the next version",
        description="Apply edits to a planning package and save them as the next plan version "
        "in a new folder: only plan.json and plan.sig change, every mesh and image file is "
        "reused unchanged. Edits apply in the order given; a refused edit writes nothing.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("package", type=Path, nargs="?", help="package directory (default: the demo)")
    p.add_argument(
        "-o", "--out", type=Path, required=True, help="new package folder (must not exist)"
    )
    p.set_defaults(edits=[])
    add = partial(p.add_argument, action=_Ordered, default=argparse.SUPPRESS)
    add("--move-target", metavar="ID:x,y,z", help="move a trajectory's target (mm)")
    add("--move-entry", metavar="ID:x,y,z", help="move a trajectory's entry (mm)")
    add(
        "--add-trajectory",
        metavar="NAME:x,y,z:x,y,z[:DIAMETER]",
        help="new trajectory, entry then target (mm; instrument diameter, default 2 mm)",
    )
    add("--remove", metavar="ID", help="remove a trajectory, landmark, measurement or view")
    add("--add-landmark", metavar="NAME:x,y,z", help="new landmark (mm)")
    add("--move-landmark", metavar="ID:x,y,z", help="move a landmark (mm)")
    add("--rename", metavar="ID=NAME", help="rename any item")
    add("--diameter", metavar="ID=MM", help="a trajectory's instrument diameter")
    add("--opacity", metavar="ID=VALUE", help="a structure's opacity, 0..1")
    add("--hide", metavar="ID", help="hide a structure")
    add("--show", metavar="ID", help="show a structure")
    add("--critical", metavar="ID", help="mark a structure critical (paths must keep clear)")
    add("--not-critical", metavar="ID", help="clear a structure's critical flag")
    add("--placement-error", metavar="MM", help="the plan's placement error (safety margins)")
    p.add_argument(
        "--coords",
        choices=SYSTEMS,
        default="LPS",
        help="coordinate system of the points given (default LPS; 3D Slicer shows RAS)",
    )
    p.add_argument("--sign", type=Path, metavar="KEY", help="private identity (NAME.key) to sign")
    p.add_argument("--planner", help="planner's name in the plan (default: the key's identity)")
    p.add_argument("--version", type=int, help="the new plan version (default: one more)")
    p.add_argument("--trust", type=Path, metavar="KEYDIR", help="folder of trusted *.pub keys")
    p.set_defaults(func=run_edit)


def run_edit(args) -> int:
    path = args.package or demo_package_path()
    trusted = load_trust_dir(args.trust) if args.trust else None
    try:
        package = load_package(path, trusted=trusted)
    except PackageError as exc:
        print(f"orkiosk edit: {path}: {exc.headline}", file=sys.stderr)
        return 2
    if not args.edits:
        raise ops.EditError("no edits given (see orkiosk edit --help)")
    session = EditSession(package)
    for option, value in args.edits:
        try:
            session.apply(option, _edit(option, value, args.coords, session.bounds))
        except ops.EditError as exc:
            raise ops.EditError(f"{option} {value}: {exc}") from None
    saved = save_version(
        package,
        session.plan,
        args.out,
        key_file=args.sign,
        planner=args.planner,
        version=args.version,
    )
    print(saved.diff.version_text)
    for line in saved.diff.lines():
        print(f"  {line}")
    signed = "signed" if args.sign else "UNSIGNED (a kiosk that requires signatures refuses it)"
    print(
        f"wrote {saved.path}: {signed}, {saved.reused} files reused unchanged, "
        f"verified in {saved.seconds * 1000:.0f} ms"
    )
    return 0


def _edit(option: str, value: str, coords: str, bounds: ops.Bounds):
    """The operation an option asks for, as Plan -> Plan (its text checked now)."""
    if option in ("--move-target", "--move-entry", "--move-landmark"):
        iid, _, xyz = value.partition(":")
        p = parse_point(xyz, coords, f"{option} {value!r}")
        if option == "--move-landmark":
            return lambda plan: ops.move_landmark(plan, iid, p, bounds)
        end = "target" if option == "--move-target" else "entry"
        return lambda plan: ops.move_end(plan, iid, end, p, bounds)
    if option == "--add-trajectory":
        t = parse_trajectory(value, coords, option)
        return lambda plan: ops.add_trajectory(plan, t.name, t.entry, t.target, bounds, t.diameter)[
            0
        ]
    if option == "--add-landmark":
        m = parse_landmark(value, coords, option)
        return lambda plan: ops.add_landmark(plan, m.name, m.position, bounds)[0]
    if option == "--remove":
        return lambda plan: ops.remove(plan, value)
    if option == "--placement-error":
        mm = _number(value, option)
        return lambda plan: ops.set_placement_error(plan, mm)
    if option in ("--hide", "--show", "--critical", "--not-critical"):
        flag = {"--hide": ("visible", False), "--show": ("visible", True)}.get(
            option, ("critical", option == "--critical")
        )
        return lambda plan: ops.set_structure(plan, value, **dict([flag]))
    iid, eq, rest = value.partition("=")
    if not eq or not iid:
        raise ops.EditError(f"expected ID=VALUE, got {value!r}")
    if option == "--rename":
        return lambda plan: ops.rename(plan, iid, rest)
    number = _number(rest, option)
    if option == "--diameter":
        return lambda plan: ops.set_diameter(plan, iid, number)
    return lambda plan: ops.set_structure(plan, iid, opacity=number)


def _number(text: str, option: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ops.EditError(f"{option}: {text!r} is not a number") from None
