"""The structures of a plan, made one by one: thresholds and labelmaps segmented and turned into
surfaces, meshes made elsewhere read (and decimated to the budget), each checked against the image
volume and given a unique id, a colour and a category."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from orkiosk.plan.colors import linear
from orkiosk.plan.mesh import Mesh
from orkiosk.plan.model import Structure
from orkiosk.plan.names import unique_id
from orkiosk.planning import segment as seg
from orkiosk.planning.assemble import make_structure
from orkiosk.planning.bodymask import body_mask
from orkiosk.planning.checks import check_overlap, label_bounds
from orkiosk.planning.colors import NAMED, palette
from orkiosk.planning.dicom.volume import Volume
from orkiosk.planning.meshfiles import read_mesh_file
from orkiosk.planning.naming import category
from orkiosk.planning.options import BuildOptions
from orkiosk.planning.progress import Progress, Stopwatch
from orkiosk.planning.sources import read_label_source
from orkiosk.planning.specs import StructureSpec, with_budget
from orkiosk.planning.surface import build_mesh, decimate


@dataclass
class StructureResult:
    id: str
    name: str
    source: str
    triangles: int
    vertices: int
    raw_triangles: int = 0
    volume_ml: float | None = None
    bytes: int = 0
    dropped: str = ""  # what the clean-up left out ("outside the body: 312 ml left out; ...")


@dataclass
class Built:
    """The structures made so far: meshes by id, plan entries, figures for the summary, notes."""

    meshes: dict[str, Mesh] = field(default_factory=dict)
    structures: list[Structure] = field(default_factory=list)
    results: list[StructureResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    used_ids: set[str] = field(default_factory=set)


def segmentation_jobs(
    volume: Volume,
    specs: list[StructureSpec],
    label_paths: list[Path],
    label_names: dict[int, tuple[str, tuple | None]],
    watch: Stopwatch,
    notes: list[str] | None = None,
    more: list | None = None,
    keep_table: bool = False,
) -> list[tuple]:
    """Work list: (spec, make-segmentation, source) for thresholds and the labels of each file
    (labelmaps, DICOM SEG, RTSTRUCT); what the readers had to say goes to `notes`. On a CT the
    thresholds are limited to the patient's body (bodymask.py, made once here) unless
    `keep_table`."""
    body = None
    if specs and (volume.info.modality or "").upper() == "CT" and not keep_table:
        with watch("body"):
            body = body_mask(volume)
    jobs = [
        (s, lambda s=s: seg.segment_threshold(volume, s, body=body), "threshold") for s in specs
    ]
    for path in label_paths:
        with watch("labels"):
            volumes = read_label_source(path, volume)
        for lv in volumes:
            if notes is not None:
                notes.extend(lv.notes)
            jobs += _label_jobs(volume, lv, path, len(jobs), label_names)
    for lv in more or []:  # segmentations of 3D Slicer scenes
        jobs += _label_jobs(volume, lv, lv.path, len(jobs), label_names)
    return jobs


def _label_jobs(volume: Volume, lv, path, start: int, label_names) -> list[tuple]:
    """(spec, make-segmentation, source) for each segment of one label volume."""
    check_overlap(volume, f"{path}", *label_bounds(lv))
    jobs = []
    for layer, value, spec in seg.label_specs(lv, start):
        if value in label_names and lv.kind == "labelmap":  # --label names label values
            name, color = label_names[value]
            spec = replace(spec, name=name, color=color or spec.color)
        jobs.append(
            (
                spec,
                lambda lv=lv, v=value, s=spec, la=layer: seg.segment_labels(lv, v, s, la),
                f"labels {Path(path).name}",
            )
        )
    return jobs


def build_structures(
    jobs: list[tuple],
    meshes: list[tuple],  # (name, path, space or None, (sRGB or None, opacity, visible) or None)
    volume: Volume,
    opts: BuildOptions,
    progress: Progress,
    watch: Stopwatch,
) -> Built:
    """Segment and surface every job, then read every mesh file, in that order."""
    built = Built()
    steps = len(jobs) + len(meshes)
    for n, (spec, make, source) in enumerate(jobs):
        spec = with_budget(spec, opts.triangles)
        progress.update(f"structure {spec.name}: segmenting", n, steps)
        with watch("segment"):
            segm = make()
        progress.update(f"structure {spec.name}: surface", n, steps)
        _add_surface(built, spec, segm, source, opts.smooth, watch)
    for m, (name, path, space, look) in enumerate(meshes):
        progress.update(f"mesh {name}", len(jobs) + m, steps)
        _imported(built, name, path, space, volume, opts.triangles, watch, look)
    progress.update("writing the package", steps, steps)
    progress.clear()
    return built


def _add_surface(built: Built, spec, segm, source: str, smooth: int, watch: Stopwatch) -> None:
    """The surface of one segmentation as a structure."""
    mesh, stats = build_mesh(segm, spec.triangles, smooth, timer=watch)
    sid = unique_id(spec.name, built.used_ids)
    built.meshes[sid] = mesh
    built.structures.append(
        make_structure(
            sid, spec.name, spec.color, spec.opacity, spec.category, spec.critical, spec.visible
        )
    )
    built.results.append(
        StructureResult(
            sid,
            spec.name,
            source,
            mesh.triangle_count,
            mesh.vertex_count,
            stats.triangles_raw,
            segm.volume_ml,
            dropped=segm.dropped.summary(),
        )
    )
    if stats.reduced > 1:
        built.notes.append(
            f"{spec.name}: surface taken at 1/{stats.reduced} resolution "
            f"(the full one would be far above {spec.triangles} triangles)"
        )


def _imported(built: Built, name, path, space, volume, triangles, watch, look=None) -> None:
    """A mesh file as a structure: checked against the volume, decimated to the budget."""
    with watch("meshes"):
        mesh, used_space = read_mesh_file(path, space)
        lo2, hi2 = mesh.bounds()
        check_overlap(volume, f"--mesh {name}={path} ({used_space})", lo2, hi2)
        budget = triangles or 100_000
        raw = mesh.triangle_count
        if raw > budget:
            v, f = decimate(
                mesh.positions.astype(np.float64), mesh.indices.astype(np.int64), budget
            )
            mesh = Mesh.from_triangles(v.astype(np.float32), f.astype(np.uint32))
    sid = unique_id(name, built.used_ids)
    cat, critical = category(name)
    n = len(built.structures)
    color = linear(NAMED[name.lower()]) if name.lower() in NAMED else palette(n)
    srgb, opacity, visible = look or (None, 1.0, True)
    color = linear(srgb) if srgb else color  # a scene's display colour is sRGB
    built.meshes[sid] = mesh
    built.structures.append(make_structure(sid, name, color, opacity, cat, critical, visible))
    built.results.append(
        StructureResult(
            sid,
            name,
            f"mesh {path.name} ({used_space})",
            mesh.triangle_count,
            mesh.vertex_count,
            raw,
        )
    )
