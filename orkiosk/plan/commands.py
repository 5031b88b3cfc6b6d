"""Package commands: verify, info, sign (keygen lives in orkiosk.sync.commands: an identity
also holds a CurveZMQ pair)."""

from __future__ import annotations

import sys
from pathlib import Path

from orkiosk.plan.package import Package, PackageError, load_package
from orkiosk.plan.signing import load_trust_dir, sign_package


def register(sub) -> None:
    p = sub.add_parser(
        "verify",
        help="check a planning package (schema, hashes, paths, meshes, signature)",
        description="Check a planning package the way the kiosk does before showing it. "
        "Exit 0 when valid; otherwise one line per problem on stderr and exit 1.",
    )
    p.add_argument("package", type=Path, help="package directory (holds plan.json)")
    p.add_argument("--trust", type=Path, metavar="KEYDIR", help="folder of trusted *.pub keys")
    p.add_argument(
        "--require-signature",
        action="store_true",
        help="fail unless plan.sig is present and made by a trusted key",
    )
    p.set_defaults(func=run_verify)

    p = sub.add_parser(
        "info",
        help="print a summary of a planning package",
        description="Verify a package and print its patient, plan and structures.",
    )
    p.add_argument("package", type=Path, nargs="?", help="package directory (default: the demo)")
    p.add_argument("--trust", type=Path, metavar="KEYDIR", help="folder of trusted *.pub keys")
    p.set_defaults(func=run_info)

    p = sub.add_parser(
        "sign",
        help="sign a package's plan.json (writes plan.sig)",
        description="Sign the exact bytes of PKG/plan.json with an Ed25519 private key.",
    )
    p.add_argument("package", type=Path)
    p.add_argument(
        "--key", type=Path, required=True, metavar="FILE", help="private identity (NAME.key)"
    )
    p.set_defaults(func=run_sign)


def _load(args, require_signature: bool = False) -> Package:
    trusted = load_trust_dir(args.trust) if args.trust else None
    return load_package(args.package, trusted=trusted, require_signature=require_signature)


def run_verify(args) -> int:
    try:
        pkg = _load(args, args.require_signature)
    except PackageError as exc:
        for line in exc.problems:
            print(f"{args.package}: {line}", file=sys.stderr)
        print(f"{args.package}: INVALID ({len(exc.problems)} problem(s))", file=sys.stderr)
        return 1
    for note in pkg.notes:
        print(f"{args.package}: note: {note}")
    if pkg.signed_by:
        sig = f"signed by {pkg.signed_by.path.name} ({pkg.signed_by.key_id})"
    elif (args.package / "plan.sig").exists():
        sig = "signature present, not checked (give --trust KEYDIR)"
    else:
        sig = "unsigned"
    print(
        f"{args.package}: OK: case {pkg.plan.case_id} v{pkg.plan.plan_version}, "
        f"{len(pkg.plan.structures)} structures, {pkg.triangle_count} triangles, "
        f"{len(pkg.plan.files)} files, {image_line(pkg, short=True)}, {sig}"
    )
    return 0


def run_info(args) -> int:
    if args.package is None:
        from orkiosk.plan.demo import demo_package_path

        args.package = demo_package_path()
    try:
        pkg = _load(args)
    except PackageError as exc:
        for line in exc.problems:
            print(f"{args.package}: {line}", file=sys.stderr)
        return 1
    print(describe(pkg))
    return 0


def describe(pkg: Package) -> str:
    p = pkg.plan
    lines = [
        f"Patient     {p.patient.name}  ID {p.patient.id}  born {p.patient.birth_date or '?'}  "
        f"sex {p.patient.sex or '?'}",
        f"Procedure   {p.procedure}  laterality {p.laterality.upper()}",
        f"Plan        case {p.case_id}  version {p.plan_version}  by {p.planner}  at {p.created}",
        f"Study       {p.study.modality} {p.study.date} {p.study.description}",
        f"Structures  {len(p.structures)} ({pkg.triangle_count:,} triangles)",
    ]
    for s in p.structures:
        flag = " CRITICAL" if s.critical else ""
        lines.append(
            f"  {s.id:<14} {s.name:<22} {pkg.meshes[s.id].triangle_count:>9,} tri  "
            f"opacity {s.opacity:.2f}{'' if s.visible else ' hidden'}{flag}"
        )
    for t in p.trajectories:
        length = sum((a - b) ** 2 for a, b in zip(t.entry, t.target, strict=True)) ** 0.5
        lines.append(
            f"Trajectory  {t.id}: {t.name}  {length:.1f} mm  diameter {t.diameter:g} mm  "
            f"entry {_fmt(t.entry)}  target {_fmt(t.target)} (LPS mm)"
        )
    for m in p.landmarks:
        lines.append(f"Landmark    {m.id}: {m.name}  {_fmt(m.position)} (LPS mm)")
    lines.append(f"Format      {p.format_version}  {image_line(pkg)}")
    return "\n".join(lines)


def image_line(pkg: Package, short: bool = False) -> str:
    """The image volume of a format 1.1 package in one line (checked: dims, affine, bounds)."""
    im = pkg.image
    if im is None:
        return "no image" if short else "no image volume (3D models only)"
    e = im.entry
    dims = "x".join(map(str, e.dims))
    if short:
        return f"image {e.modality} {dims} checked"
    size = next((f.size for f in pkg.plan.files if f.path == e.path), 0)
    lo, hi = im.bounds()
    spacing = ", ".join(f"{v:.2f}" for v in im.spacing)
    presets = ", ".join(f"{w.name} W{w.window:g}/L{w.level:g}" for w in e.presets)
    return (
        f"image {e.path}: {e.modality} {dims} voxels of {spacing} mm, {e.dtype} {e.encoding} "
        f"{size / 1e6:.1f} MB, LPS {_fmt(lo)} to {_fmt(hi)}; presets {presets}"
    )


def _fmt(v) -> str:
    return "(" + ", ".join(f"{c:.1f}" for c in v) + ")"


def run_sign(args) -> int:
    # Refuse to sign something that would not load: a signature vouches for the package.
    load_package(args.package)
    sig = sign_package(args.package, args.key)
    print(f"signed {args.package / 'plan.json'} -> {sig}")
    return 0
