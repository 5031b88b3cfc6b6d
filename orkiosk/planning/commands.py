"""`orkiosk build` (DICOM series -> planning package) and `orkiosk phantom` (synthetic CT head)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from orkiosk.planning.specs import PRESET_HELP

BUILD_EPILOG = """\
structures (all may be repeated and mixed; without any, a CT gets --preset skin --preset bone):
  --preset NAME            CT presets in Hounsfield units:
{presets}
  --structure NAME:LOW[:HIGH][:COLOUR]
                           a threshold structure for any modality, e.g. Lesion:60:160:orange
                           (LOW or HIGH may be empty; COLOUR a name, #rrggbb or r,g,b); every
                           piece over 20 mm^3 is kept
  on a CT, presets and --structure thresholds keep to the patient's body: the table, head holder,
  cushions and the outside of the reconstruction circle are left out (--keep-table: keep them);
  the summary says what each structure left out
  --labels FILE            a segmentation made elsewhere: a labelmap (.nrrd, 3D Slicer .seg.nrrd,
                           .nii, .nii.gz), a DICOM SEG or a DICOM RTSTRUCT (told apart by content);
                           every label, segment or ROI becomes a structure, named and coloured
                           from the file (or with --label for labelmap values); DICOM SEG and
                           RTSTRUCT must share the CT's Frame of Reference and series
  --mesh NAME=FILE[:RAS]   a mesh made elsewhere (.stl, .obj, .ply; .vtk/.vtp with orkiosk[vtk]),
                           mm, LPS unless the file header (3D Slicer's SPACE=) or :RAS says so
  --scene FILE.mrb         a 3D Slicer scene bundle: its models, segmentations and markups with
                           their display colour, opacity and visibility; nodes under a transform
                           must be hardened first (Data module: Harden transform)

colours: given and stored colours are sRGB (as 3D Slicer and DICOM show them); the package holds
them as linear RGB (glTF's baseColorFactor), so a structure looks the same in 3D Slicer, a glTF
viewer and the kiosk.

coordinates: patient LPS millimetres (x to the patient's left, y posterior, z superior), as in
DICOM. 3D Slicer shows RAS: use --coords RAS for points copied from its screen. Markups files
say their own coordinate system.

examples:
  orkiosk phantom /tmp/phantom
  orkiosk build /tmp/phantom -o /tmp/plan --preset skin --preset bone --preset vessels \\
      --labels /tmp/phantom/phantom-labels.nrrd --markups /tmp/phantom/phantom.mrk.json \\
      --procedure "Stereotactic biopsy" --laterality left
"""


def register(sub) -> None:
    _add_build(sub)
    _add_phantom(sub)


def _add_build(sub) -> None:
    presets = "\n".join(f"                             {k}: {v}" for k, v in PRESET_HELP.items())
    p = sub.add_parser(
        "build",
        help="build a planning package from a DICOM series (planning side)",
        description="Read a CT/MR series from a DICOM folder, cut out structures, make their "
        "surfaces, add trajectories and landmarks, and write a planning package that the kiosk "
        "verifies and shows.",
        epilog=BUILD_EPILOG.format(presets=presets),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "dicom_dir",
        type=Path,
        metavar="DICOM_DIR",
        help="folder holding the series (searched recursively; other files ignored)",
    )
    p.add_argument(
        "-o", "--out", type=Path, required=True, metavar="OUT_PKG", help="package folder to create"
    )
    p.add_argument("--force", action="store_true", help="replace OUT_PKG if it exists")
    p.add_argument(
        "--series",
        metavar="SERIES",
        help="series to build: its Series Instance UID (or the no-uid-... id shown for files "
        "without one), series number or description (exact, any case) (default: the series "
        "with most images)",
    )
    _add_structure_args(p.add_argument_group("structures"))
    _add_plan_args(p.add_argument_group("plan"))
    g = p.add_argument_group("image (package format 1.1)")
    g.add_argument(
        "--no-image",
        action="store_true",
        help="leave the image volume out (a format 1 package: 3D models only)",
    )
    g.add_argument(
        "--image-spacing",
        type=float,
        default=1.0,
        metavar="MM",
        help="voxel size of the carried image, never finer than the series (default 1.0 mm)",
    )
    g = p.add_argument_group("contact sheet")
    g.add_argument(
        "--report",
        type=Path,
        metavar="FILE.png",
        help="where to write the contact sheet: the model from the front and the side and "
        "axial/coronal/sagittal slices with the structures' contours, drawn by the kiosk's "
        "renderer (default: OUT_PKG.png beside the package)",
    )
    g.add_argument("--no-report", action="store_true", help="write no contact sheet")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_build)


def _add_structure_args(g) -> None:
    g.add_argument(
        "--preset",
        action="append",
        default=[],
        metavar="NAME",
        choices=sorted(PRESET_HELP),
        help="CT preset: " + ", ".join(PRESET_HELP),
    )
    g.add_argument(
        "--structure",
        action="append",
        default=[],
        metavar="NAME:LOW[:HIGH][:COLOUR]",
        help="threshold structure (see below)",
    )
    g.add_argument(
        "--labels",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="segmentation: labelmap (.nrrd/.seg.nrrd/.nii/.nii.gz), DICOM SEG or RTSTRUCT",
    )
    g.add_argument(
        "--scene",
        action="append",
        default=[],
        type=Path,
        metavar="FILE.mrb",
        help="3D Slicer scene bundle: models, segmentations and markups (see below)",
    )
    g.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="VALUE:NAME[:COLOUR]",
        help="name (and colour) for a label value of the labelmaps",
    )
    g.add_argument(
        "--mesh",
        action="append",
        default=[],
        metavar="NAME=FILE[:RAS]",
        help="add a mesh file (.stl/.obj/.ply) as a structure",
    )
    g.add_argument(
        "--triangles",
        type=int,
        metavar="N",
        help="triangle budget per structure (default: per preset, 60k-200k)",
    )
    g.add_argument(
        "--smooth",
        type=int,
        default=10,
        metavar="N",
        help="Taubin smoothing iterations (default 10; 0 = none)",
    )
    g.add_argument(
        "--opacity",
        action="append",
        default=[],
        metavar="ID=VALUE",
        help="default opacity of a structure (0..1), e.g. bone=0.4 to show what lies inside",
    )
    g.add_argument(
        "--keep-table",
        action="store_true",
        help="on a CT, do not limit the presets and --structure thresholds to the patient's "
        "body (by default the table, head holder and cushions are left out)",
    )


def _add_plan_args(g) -> None:
    g.add_argument(
        "--markups",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="3D Slicer markups (.mrk.json: Line -> trajectory, points -> landmarks; "
        ".fcsv -> landmarks)",
    )
    g.add_argument(
        "--trajectory",
        action="append",
        default=[],
        metavar="NAME:x,y,z:x,y,z",
        help="trajectory from entry to target, mm (optionally :DIAMETER)",
    )
    g.add_argument(
        "--landmark", action="append", default=[], metavar="NAME:x,y,z", help="landmark, mm"
    )
    g.add_argument(
        "--measurement",
        action="append",
        default=[],
        metavar="NAME:x,y,z:x,y,z",
        help="distance measurement, mm",
    )
    g.add_argument(
        "--coords",
        choices=("LPS", "RAS"),
        default="LPS",
        type=str.upper,
        help="coordinate system of --trajectory/--landmark/--measurement (default LPS)",
    )
    g.add_argument("--procedure", default="", help='e.g. "Stereotactic biopsy"')
    g.add_argument(
        "--laterality",
        choices=("left", "right", "bilateral", "midline", "none"),
        help="side of the procedure (checked against the trajectory targets)",
    )
    g.add_argument("--planner", help="planner's name (default: the login name)")
    g.add_argument("--case-id", help="case id (default: patient id and study date)")
    g.add_argument(
        "--plan-version",
        type=int,
        default=1,
        metavar="N",
        help="plan version; must grow with each corrected plan (default 1)",
    )
    g.add_argument(
        "--sign",
        type=Path,
        metavar="KEY",
        help="sign the package with this Ed25519 private key (orkiosk keygen)",
    )


def _add_phantom(sub) -> None:
    q = sub.add_parser(
        "phantom",
        help="write a synthetic CT head as a DICOM series (demo and tests)",
        description="Write a synthetic CT head (no real patient data) as a DICOM series: skin, "
        "skull, brain, ventricles, a lesion in the patient's left frontal lobe, contrast-filled "
        "vessels. Beside it: phantom.mrk.json (3D Slicer markups, RAS: biopsy trajectory and "
        "landmarks) and phantom-labels.nrrd (brain, ventricles, lesion).",
    )
    q.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="new or empty folder")
    q.add_argument(
        "--size",
        choices=("standard", "small", "tiny"),
        default="standard",
        help="standard: 256x256x200 at 0.9x0.9x1 mm; small: 128x128x96; tiny: 64x64x48",
    )
    q.add_argument(
        "--no-extras",
        action="store_true",
        help="write only the DICOM series (no markups or labelmap)",
    )
    q.set_defaults(func=run_phantom)


def run_build(args) -> int:
    from orkiosk.planning.options import BuildOptions
    from orkiosk.planning.pipeline import run_build as _run
    from orkiosk.planning.progress import Progress
    from orkiosk.planning.report import format_summary

    opts = BuildOptions(
        dicom_dir=args.dicom_dir,
        out=args.out,
        series=args.series,
        presets=args.preset,
        structures=args.structure,
        labels=args.labels,
        scenes=args.scene,
        label_names=args.label,
        meshes=args.mesh,
        markups=args.markups,
        trajectories=args.trajectory,
        landmarks=args.landmark,
        measurements=args.measurement,
        coords=args.coords,
        procedure=args.procedure,
        laterality=args.laterality,
        planner=args.planner,
        case_id=args.case_id,
        plan_version=args.plan_version,
        sign=args.sign,
        triangles=args.triangles,
        smooth=args.smooth,
        opacity=args.opacity,
        overwrite=args.force,
        image=not args.no_image,
        image_spacing=args.image_spacing,
        keep_table=args.keep_table,
    )
    progress = Progress(enabled=not args.quiet)
    try:
        result = _run(opts, progress)
    finally:
        progress.clear()
    summary = format_summary(result)
    if not args.no_report:
        summary += "\n" + _write_report(result, args.report)
    print(summary)
    return 0


def _write_report(result, path: Path | None) -> str:
    """Write the contact sheet; the summary line that says where (or why not: the package is
    built and verified either way, so a missing GL stack costs the picture, not the build)."""
    from orkiosk.plan.package import load_package
    from orkiosk.render.contactsheet import contact_sheet
    from orkiosk.render.errors import RenderError

    out = path or result.package.with_name(result.package.name + ".png")
    lines = []
    for r in result.structures:
        if r.volume_ml is not None:
            lines.append(f"{r.name}: {r.volume_ml:.1f} ml, {r.triangles:,} triangles")
        if r.dropped:
            lines.append(f"  left out: {r.dropped}")
    try:
        sheet = contact_sheet(load_package(result.package), lines)
        out.parent.mkdir(parents=True, exist_ok=True)
        sheet.save(out)
    except (RenderError, OSError) as exc:
        return f"report    not written ({exc}); the package is complete"
    return f"report    {out}"


def run_phantom(args) -> int:
    from orkiosk.planning.phantom.writer import write_phantom
    from orkiosk.planning.progress import Progress

    progress = Progress()
    summary = write_phantom(
        args.out_dir,
        size=args.size,
        extras=not args.no_extras,
        progress=lambda d, t: progress.update("writing DICOM slices", d, t),
    )
    progress.clear()
    k, j, i = summary["shape_kji"]
    print(f"wrote {summary['files']} CT slices ({i}x{j}x{k} voxels) to {summary['folder']}")
    for key in ("markups", "labels"):
        if key in summary:
            print(f"wrote {summary[key]}")
    print(
        "synthetic data: PHANTOM^HEAD, lesion in the patient's LEFT frontal lobe (+x LPS)",
        file=sys.stderr,
    )
    return 0
