"""DICOM series (+ labelmaps, meshes, markups) -> planning package.

Stages: check and parse the options (options.py) -> scan and read the series (dicom/) -> check
the plan items against the volume (checks.py) -> segment each structure (segment.py) -> marching
cubes, smoothing, decimation, normals (surface.py; structures.py runs them per structure) -> plan
content (assemble.py: header fields, named views) -> write_package (plan layer) -> optional
signature -> load the written package back with the kiosk's own verifier, so a package that would
not load is never handed over. report.py formats the summary.

Safety checks on the way: every point, labelmap and imported mesh must lie in or near the image
volume (a file in the other coordinate system, or of another patient, lands far away), and a
declared laterality must agree with the side of the trajectory targets.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from orkiosk.plan.model import Plan
from orkiosk.planning.assemble import make_plan
from orkiosk.planning.checks import check_items_inside, check_laterality
from orkiosk.planning.dicom.series import read_series
from orkiosk.planning.dicom.volume import Volume
from orkiosk.planning.options import (
    BuildError,
    BuildOptions,
    check_options,
    collect_plan_items,
    label_overrides,
    mesh_args,
    structure_specs,
)
from orkiosk.planning.progress import Progress, Stopwatch
from orkiosk.planning.scene import read_scene
from orkiosk.planning.specs import StructureSpec, preset
from orkiosk.planning.structures import StructureResult, build_structures, segmentation_jobs


@dataclass
class BuildResult:
    package: Path
    plan: Plan
    volume: Volume
    structures: list[StructureResult]
    seconds: dict[str, float]
    notes: list[str]
    signed: bool = False


def run_build(opts: BuildOptions, progress: Progress | None = None) -> BuildResult:
    progress = progress or Progress(enabled=False)
    laterality = check_options(opts)
    with tempfile.TemporaryDirectory(prefix="orkiosk-scene-") as tmp:
        return _run(opts, progress, laterality, Path(tmp))


def _run(opts: BuildOptions, progress: Progress, laterality: str, tmp: Path) -> BuildResult:
    from orkiosk.plan.package import load_package

    watch = Stopwatch()
    # Everything given on the command line is parsed before the long work starts.
    specs = structure_specs(opts)
    label_names = label_overrides(opts.label_names)
    meshes = [(*m, None) for m in mesh_args(opts.meshes)]
    with watch("scene"):
        scenes = [read_scene(path, tmp / f"scene{n}") for n, path in enumerate(opts.scenes)]
    for sc in scenes:
        meshes += [(m.name, m.path, m.space, (m.color, m.opacity, m.visible)) for m in sc.models]
    opts = replace(opts, markups=[*opts.markups, *(f for sc in scenes for f in sc.markups)])
    items = collect_plan_items(opts)

    with watch("read"):
        volume = read_series(opts.dicom_dir, opts.series, progress.update)
    progress.clear()
    notes = list(volume.notes) + [n for sc in scenes for n in sc.notes]
    scene_labels = [lv for sc in scenes for lv in sc.labels]
    if not specs and not opts.labels and not meshes and not scene_labels:
        specs = _default_presets(volume)
        notes.append("no structures asked for: built the CT presets skin and bone")
    check_items_inside(volume, items)
    notes += check_laterality(laterality, items)

    jobs = segmentation_jobs(
        volume, specs, opts.labels, label_names, watch, notes, scene_labels, opts.keep_table
    )
    built = build_structures(jobs, meshes, volume, opts, progress, watch)
    notes += built.notes
    plan = make_plan(opts, volume.info, laterality, built.structures, items)
    notes += items.notes
    image = None
    if opts.image:
        from orkiosk.plan.bounds import plan_bounds
        from orkiosk.planning.imageexport import export_image

        with watch("image"):
            image = export_image(volume, plan_bounds(plan, built.meshes), opts.image_spacing)
    pkg, signed = _write(plan, built.meshes, opts, watch, image)
    with watch("verify"):
        loaded = load_package(pkg)
    sizes = {f.path: f.size for f in loaded.plan.files}
    for r in built.results:
        r.bytes = sizes.get(f"meshes/{r.id}.glb", 0)
    return BuildResult(pkg, loaded.plan, volume, built.results, dict(watch.seconds), notes, signed)


def _default_presets(volume: Volume) -> list[StructureSpec]:
    """Skin and bone, when nothing was asked for; only a CT has Hounsfield units."""
    if (volume.info.modality or "").upper() != "CT":
        raise BuildError(
            f"the series is {volume.info.modality or 'of unknown modality'}, not CT: the "
            "presets (skin, bone...) are in Hounsfield units; give --structure NAME:LOW:HIGH, "
            "--labels FILE or --mesh NAME=FILE"
        )
    return [preset("skin"), preset("bone")]


def _write(
    plan: Plan, meshes: dict, opts: BuildOptions, watch: Stopwatch, image=None
) -> tuple[Path, bool]:
    """Write the package (and sign it when asked); (package folder, signed)."""
    from orkiosk.plan.package import write_package

    out = Path(opts.out)
    try:
        with watch("write"):
            pkg = write_package(plan, meshes, out, overwrite=opts.overwrite, image=image)
        signed = False
        if opts.sign is not None:
            from orkiosk.plan.signing import sign_package

            with watch("sign"):
                sign_package(pkg, Path(opts.sign))
            signed = True
    except OSError as exc:
        raise BuildError(f"{out}: cannot write the package ({exc.strerror or exc})") from exc
    return pkg, signed
