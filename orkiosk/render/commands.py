"""`orkiosk snapshot`: render a planning package to a PNG, headless (EGL), same code as the kiosk."""

from __future__ import annotations

import argparse
from pathlib import Path

from orkiosk.render.errors import RenderError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "snapshot",
        help="render a planning package to a PNG image (headless)",
        description=(
            "Render a planning package headless (EGL) with the kiosk's renderer. Views follow "
            "the anatomical convention: in the anterior view the patient's LEFT is on the "
            "image's RIGHT."
        ),
    )
    p.add_argument(
        "package",
        type=Path,
        nargs="?",
        help="planning package directory (default: the bundled demo plan, or $ORKIOSK_PLAN)",
    )
    p.add_argument("-o", "--output", type=Path, required=True, help="PNG file to write")
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--view",
        help="anterior, posterior, left, right, superior, inferior, or a view id of the plan "
        "(default: anterior)",
    )
    group.add_argument(
        "--trajectory", metavar="ID", help="look along a trajectory, entry to target"
    )
    p.add_argument("--side", action="store_true", help="with --trajectory: the perpendicular view")
    p.add_argument("--size", default="1280x960", help="WIDTHxHEIGHT (default 1280x960)")
    p.add_argument("--hide", nargs="+", default=[], metavar="ID", help="structures to hide")
    p.add_argument(
        "--cut",
        metavar="PLANE:OFFSET",
        help="clipping plane, one of axial|sagittal|coronal|along|perp (as on the kiosk): "
        "axial|sagittal|coronal:MM (from the plan's centre along +z/+x/+y), "
        "perp:TRAJ[:MM before the target] or along:TRAJ[:MM]; add :flip for the other side",
    )
    p.add_argument(
        "--opacity", nargs="+", default=[], metavar="ID=VALUE", help="override opacities (0..1)"
    )
    p.add_argument(
        "--extension",
        type=float,
        default=0.0,
        metavar="MM",
        help="draw each trajectory this far beyond its target",
    )
    p.add_argument("--no-labels", action="store_true", help="no text labels in the picture")
    p.add_argument(
        "--slice",
        metavar="PLANE:MM",
        help="write the slice view instead (as the kiosk draws it): axial|sagittal|coronal:MM "
        "(from the plan's centre along +z/+x/+y), trajectory:ID[:MM before the target] "
        "(across it) or along:ID[:MM]; axial and coronal are radiological (patient's left on "
        "the image's right)",
    )
    p.add_argument(
        "--window",
        metavar="PRESET|W/L",
        help="image window for --slice and --cut: a preset of the package (Brain, Bone...) or "
        "WIDTH/LEVEL (default: the package's first preset)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from orkiosk.plan.bounds import plan_bounds
    from orkiosk.plan.demo import demo_package_path
    from orkiosk.plan.package import load_package
    from orkiosk.render.snapshot import (
        SnapshotOptions,
        parse_opacity,
        parse_size,
        render_snapshot,
    )
    from orkiosk.render.state import DisplayState, parse_cut

    if args.package is None:
        args.package = demo_package_path()
    size = parse_size(args.size)
    if args.side and not args.trajectory:
        raise RenderError("--side needs --trajectory")
    if args.extension < 0 or args.extension != args.extension:
        raise RenderError("--extension must be a positive number of mm")
    out = Path(args.output)
    if out.suffix.lower() != ".png":
        raise RenderError(f"{out}: the output must be a .png file")
    if not out.parent.is_dir():
        raise RenderError(f"{out.parent}: no such directory")
    pkg = load_package(args.package)
    if args.slice:
        return _run_slice(args, pkg, size, out)
    state = DisplayState(trajectory_extension=float(args.extension))
    state.hide(*args.hide)
    state.opacity.update(parse_opacity(args.opacity))
    if args.window:
        from orkiosk.render.slicesnap import parse_window

        state.window = parse_window(args.window, pkg.image)[0]
    if args.cut:
        state.clip = parse_cut(args.cut, pkg.plan, plan_bounds(pkg.plan, pkg.meshes))
    options = SnapshotOptions(
        size=size,
        view=args.view,
        trajectory=args.trajectory,
        side=args.side,
        state=state,
        labels=not args.no_labels,
    )
    image = render_snapshot(pkg.plan, pkg.meshes, options, image=pkg.image)
    tmp = out.with_name(out.name + ".part")
    image.save(tmp, format="PNG")
    tmp.replace(out)
    print(f"{out}: {size[0]}x{size[1]}, plan {pkg.plan.case_id} v{pkg.plan.plan_version}")
    return 0


def _run_slice(args, pkg, size, out: Path) -> int:
    from orkiosk.render.slicesnap import render_slice_snapshot, slice_caption

    if pkg.image is None:
        print(f"{args.package}: note: no image volume (format 1); contours only")
    image, frame = render_slice_snapshot(pkg, args.slice, size, args.window)
    tmp = out.with_name(out.name + ".part")
    image.save(tmp, format="PNG")
    tmp.replace(out)
    print(f"{out}: {size[0]}x{size[1]}, {slice_caption(frame, '').strip()}")
    return 0
