"""DICOM series (+ labelmaps, meshes, markups) -> planning package.

Stages: scan and read the series (dicom.py) -> segment each structure (segment.py) -> marching
cubes, smoothing, decimation, normals (surface.py) -> plan content (markups.py, header fields,
named views) -> write_package (plan layer) -> optional signature -> load the written package back
with the kiosk's own verifier, so a package that would not load is never handed over.

Safety checks on the way: every point, labelmap and imported mesh must lie in or near the image
volume (a file in the other coordinate system, or of another patient, lands far away), and a
declared laterality must agree with the side of the trajectory targets.
"""

from __future__ import annotations

import datetime as _dt
import getpass
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from orkiosk.errors import OrkioskError
from orkiosk.plan.mesh import Mesh
from orkiosk.plan.model import LATERALITIES, Patient, Plan, Structure, Study, View
from orkiosk.plan.views import along_trajectory, anatomical_views
from orkiosk.planning import segment as seg
from orkiosk.planning.colors import NAMED, linear, palette, parse_color
from orkiosk.planning.dicom import Volume, read_series
from orkiosk.planning.labels import read_labels
from orkiosk.planning.markups import (
    PlanItems,
    parse_landmark,
    parse_measurement,
    parse_trajectory,
    read_markups,
)
from orkiosk.planning.meshfiles import read_mesh_file
from orkiosk.planning.progress import Progress, Stopwatch
from orkiosk.planning.surface import build_mesh, decimate

MARGIN_MM = 30.0  # how far outside the image volume a point may lie
MIDLINE_MM = 5.0


class BuildError(OrkioskError):
    pass


@dataclass
class BuildOptions:
    dicom_dir: Path
    out: Path
    series: str | None = None
    presets: list[str] = field(default_factory=list)
    structures: list[str] = field(default_factory=list)  # NAME:LOW[:HIGH][:COLOUR]
    labels: list[Path] = field(default_factory=list)
    label_names: list[str] = field(default_factory=list)  # VALUE:NAME[:COLOUR]
    meshes: list[str] = field(default_factory=list)  # NAME=FILE[:RAS|:LPS]
    markups: list[Path] = field(default_factory=list)
    trajectories: list[str] = field(default_factory=list)
    landmarks: list[str] = field(default_factory=list)
    measurements: list[str] = field(default_factory=list)
    coords: str = "LPS"  # of the command-line points
    procedure: str = ""
    laterality: str | None = None
    planner: str | None = None
    case_id: str | None = None
    plan_version: int = 1
    sign: Path | None = None
    triangles: int | None = None
    smooth: int = 10
    opacity: list[str] = field(default_factory=list)  # ID=VALUE, the plan's default look
    overwrite: bool = False


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


@dataclass
class BuildResult:
    package: Path
    plan: Plan
    volume: Volume
    structures: list[StructureResult]
    seconds: dict[str, float]
    notes: list[str]
    signed: bool = False


def _unique_id(base: str, used: set[str]) -> str:
    base = seg.slug(base)[:56] or "item"
    candidate = base
    n = 2
    while candidate in used:
        candidate = f"{base}-{n}"
        n += 1
    used.add(candidate)
    return candidate


def _safe_case_id(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")
    return (s or "CASE")[:64]


def _text(value: str) -> str:
    return (value or "")[:256]


def _category(name: str) -> tuple[str, bool]:
    n = name.lower()
    if any(w in n for w in ("tumour", "tumor", "lesion", "target")):
        return "tumour", False
    if any(w in n for w in ("vessel", "artery", "vein", "sinus", "aorta")):
        return "vessel", True
    if any(w in n for w in ("implant", "electrode", "screw", "plate", "catheter")):
        return "implant", False
    if "ventric" in n or "nerve" in n or "tract" in n:
        return "organ", True
    return "anatomy", False


def _check_inside(volume: Volume, what: str, points, margin: float = MARGIN_MM) -> None:
    lo, hi = volume.bounds_lps()
    pts = np.atleast_2d(np.asarray(points, dtype=np.float64))
    below = np.maximum(lo - margin - pts, 0)
    above = np.maximum(pts - hi - margin, 0)
    dist = np.linalg.norm(np.maximum(below, above), axis=1)
    worst = int(np.argmax(dist))
    if dist[worst] > 0:
        p = ", ".join(f"{v:.1f}" for v in pts[worst])
        raise BuildError(
            f"{what}: point ({p}) LPS lies {dist[worst] + margin:.0f} mm outside the image volume "
            f"({_box(lo, hi)}); wrong coordinate system (LPS/RAS), wrong units or another "
            "patient's file?"
        )


def _box(lo, hi) -> str:
    x, y, z = (f"{a:.0f}..{b:.0f}" for a, b in zip(lo, hi, strict=True))
    return f"x {x}, y {y}, z {z} mm"


def _check_overlap(volume: Volume, what: str, lo2, hi2) -> None:
    lo, hi = volume.bounds_lps()
    gap = np.maximum(np.maximum(lo - hi2, lo2 - hi), 0)
    if np.any(gap > MARGIN_MM):
        raise BuildError(
            f"{what}: lies outside the image volume ({_box(lo2, hi2)} against {_box(lo, hi)}); "
            "wrong coordinate system (LPS/RAS), wrong units or another patient's file?"
        )


def named_views(plan_items: PlanItems) -> list[View]:
    """The anatomical views plus one along each trajectory."""
    views = anatomical_views()
    used = {v.id for v in views}
    for t in plan_items.trajectories:
        views.append(along_trajectory(t, _unique_id(f"along-{t.id}", used)))
    return views


def _check_laterality(laterality: str, items: PlanItems) -> list[str]:
    notes = []
    sides = {"left": 1.0, "right": -1.0}
    for t in items.trajectories:
        x = t.target[0]
        side = "left" if x > MIDLINE_MM else "right" if x < -MIDLINE_MM else "midline"
        if laterality in sides and side in sides and side != laterality:
            raise BuildError(
                f"laterality is {laterality!r}, but trajectory {t.name!r} targets the patient's "
                f"{side.upper()} side (x = {x:+.1f} mm LPS; + is the patient's left); check the "
                "side, the markups' coordinate system, or --laterality"
            )
        if laterality == "none" and side in sides:
            notes.append(
                f"trajectory {t.name!r} targets the patient's {side} side; consider "
                f"--laterality {side}"
            )
    return notes


def collect_plan_items(opts: BuildOptions) -> PlanItems:
    items = PlanItems()
    for path in opts.markups:
        items.extend(read_markups(path))
    coords = opts.coords.upper()
    for text in opts.trajectories:
        items.trajectories.append(parse_trajectory(text, coords))
    for text in opts.landmarks:
        items.landmarks.append(parse_landmark(text, coords))
    for text in opts.measurements:
        items.measurements.append(parse_measurement(text, coords))
    for kind in ("trajectories", "landmarks", "measurements"):
        used: set[str] = set()
        setattr(
            items,
            kind,
            [
                replace(x, id=_unique_id(x.name, used), name=_text(x.name))
                for x in getattr(items, kind)
            ],
        )
    return items


def _label_overrides(texts: list[str]) -> dict[int, tuple[str, tuple | None]]:
    out = {}
    for text in texts:
        parts = text.split(":")
        if len(parts) not in (2, 3) or not parts[1].strip():
            raise BuildError(f"--label {text!r}: expected VALUE:NAME[:COLOUR]")
        try:
            value = int(parts[0])
        except ValueError as exc:
            raise BuildError(f"--label {text!r}: VALUE {parts[0]!r} is not an integer") from exc
        color = parse_color(parts[2], f"--label {text!r}: colour") if len(parts) == 3 else None
        out[value] = (parts[1].strip(), color)
    return out


def run_build(opts: BuildOptions, progress: Progress | None = None) -> BuildResult:
    from orkiosk.plan.package import load_package, write_package

    progress = progress or Progress(enabled=False)
    watch = Stopwatch()
    notes: list[str] = []
    out = Path(opts.out)
    if out.exists() and not opts.overwrite:
        raise BuildError(f"{out}: already exists; choose a new folder or use --force to replace it")
    src = Path(opts.dicom_dir).resolve()
    if src == out.resolve() or out.resolve() in src.parents:
        raise BuildError(
            f"{out}: holds the DICOM input {opts.dicom_dir}; choose another output folder"
        )
    laterality = (opts.laterality or "none").lower()
    if laterality not in LATERALITIES:
        raise BuildError(
            f"--laterality {opts.laterality!r}: choose one of {', '.join(LATERALITIES)}"
        )
    if opts.plan_version < 1:
        raise BuildError(f"--plan-version {opts.plan_version}: must be 1 or more")
    if opts.triangles is not None and opts.triangles < 100:
        raise BuildError(f"--triangles {opts.triangles}: at least 100 per structure")
    if opts.sign is not None and not Path(opts.sign).is_file():
        raise BuildError(f"--sign {opts.sign}: no such key file")

    # Everything given on the command line is parsed before the long work starts.
    specs = [seg.preset(p) for p in opts.presets]
    specs += [seg.parse_structure(t, n) for n, t in enumerate(opts.structures)]
    label_names = _label_overrides(opts.label_names)
    mesh_args = []
    for text in opts.meshes:
        name, sep, rest = text.partition("=")
        if not sep or not name.strip() or not rest.strip():
            raise BuildError(f"--mesh {text!r}: expected NAME=FILE[:RAS|:LPS]")
        space = None
        head, colon, tail = rest.rpartition(":")
        if colon and tail.upper() in ("RAS", "LPS"):
            rest, space = head, tail.upper()
        mesh_args.append((name.strip(), Path(rest), space))
    items = collect_plan_items(opts)

    with watch("read"):
        volume = read_series(opts.dicom_dir, opts.series, progress.update)
    progress.clear()
    notes += list(volume.notes)
    if not specs and not opts.labels and not mesh_args:
        if (volume.info.modality or "").upper() != "CT":
            raise BuildError(
                f"the series is {volume.info.modality or 'of unknown modality'}, not CT: the "
                "presets (skin, bone...) are in Hounsfield units; give --structure NAME:LOW:HIGH, "
                "--labels FILE or --mesh NAME=FILE"
            )
        specs = [seg.preset("skin"), seg.preset("bone")]
        notes.append("no structures asked for: built the CT presets skin and bone")

    for t in items.trajectories:
        _check_inside(volume, f"trajectory {t.name!r}", [t.entry, t.target])
    for lm in items.landmarks:
        _check_inside(volume, f"landmark {lm.name!r}", [lm.position])
    for m in items.measurements:
        _check_inside(volume, f"measurement {m.name!r}", [m.a, m.b])
    notes += _check_laterality(laterality, items)

    # Work list: (name, make-segmentation) for thresholds and labels; meshes read directly.
    jobs = [(s, lambda s=s: seg.segment_threshold(volume, s), "threshold") for s in specs]
    for path in opts.labels:
        with watch("labels"):
            lv = read_labels(path)
        lo_hi = _label_bounds(lv)
        _check_overlap(volume, f"{path}", *lo_hi)
        for layer, value, spec in seg.label_specs(lv, len(specs)):
            if value in label_names:
                name, color = label_names[value]
                spec = replace(spec, name=name, color=color or spec.color)
            jobs.append(
                (
                    spec,
                    lambda lv=lv, v=value, s=spec, la=layer: seg.segment_labels(lv, v, s, la),
                    f"labels {Path(path).name}",
                )
            )

    meshes: dict[str, Mesh] = {}
    structures: list[Structure] = []
    results: list[StructureResult] = []
    used_ids: set[str] = set()
    steps = len(jobs) + len(mesh_args)
    for n, (spec, make, source) in enumerate(jobs):
        spec = seg.with_budget(spec, opts.triangles)
        progress.update(f"structure {spec.name}: segmenting", n, steps)
        with watch("segment"):
            segm = make()
        progress.update(f"structure {spec.name}: surface", n, steps)
        mesh, stats = build_mesh(segm, spec.triangles, opts.smooth, timer=watch)
        sid = _unique_id(spec.name, used_ids)
        meshes[sid] = mesh
        structures.append(
            _structure(sid, spec.name, spec.color, spec.opacity, spec.category, spec.critical)
        )
        results.append(
            StructureResult(
                sid,
                spec.name,
                source,
                mesh.triangle_count,
                mesh.vertex_count,
                stats.triangles_raw,
                segm.volume_ml,
            )
        )
        if stats.reduced > 1:
            notes.append(
                f"{spec.name}: surface taken at 1/{stats.reduced} resolution "
                f"(the full one would be far above {spec.triangles} triangles)"
            )
    for m, (name, path, space) in enumerate(mesh_args):
        progress.update(f"mesh {name}", len(jobs) + m, steps)
        with watch("meshes"):
            mesh, used_space = read_mesh_file(path, space)
            lo2, hi2 = mesh.bounds()
            _check_overlap(volume, f"--mesh {name}={path} ({used_space})", lo2, hi2)
            budget = opts.triangles or 100_000
            raw = mesh.triangle_count
            if raw > budget:
                v, f = decimate(
                    mesh.positions.astype(np.float64), mesh.indices.astype(np.int64), budget
                )
                mesh = Mesh.from_triangles(v.astype(np.float32), f.astype(np.uint32))
        sid = _unique_id(name, used_ids)
        category, critical = _category(name)
        color = linear(NAMED[name.lower()]) if name.lower() in NAMED else palette(len(structures))
        meshes[sid] = mesh
        structures.append(_structure(sid, name, color, 1.0, category, critical))
        results.append(
            StructureResult(
                sid,
                name,
                f"mesh {path.name} ({used_space})",
                mesh.triangle_count,
                mesh.vertex_count,
                raw,
            )
        )
    progress.update("writing the package", steps, steps)
    progress.clear()

    info = volume.info
    created = _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    case_id = opts.case_id or "-".join(
        x for x in (info.patient_id or "CASE", (info.study_date or "").replace("-", "")) if x
    )
    if opts.case_id and _safe_case_id(opts.case_id) != opts.case_id:
        raise BuildError(
            f"--case-id {opts.case_id!r}: use letters, digits, '.', '_' and '-' only (max 64)"
        )
    structures = _apply_opacity(structures, opts.opacity)
    plan = Plan(
        case_id=_safe_case_id(case_id),
        plan_version=int(opts.plan_version),
        created=created,
        planner=_text(opts.planner or _user()),
        patient=Patient(
            _text(info.patient_name), _text(info.patient_id), info.birth_date, info.sex
        ),
        study=Study(
            info.study_uid if re.fullmatch(r"[0-9.]{0,64}", info.study_uid) else "",
            info.study_date,
            _text(info.study_description),
            info.modality[:16],
        ),
        procedure=_text(opts.procedure),
        laterality=laterality,
        structures=tuple(structures),
        trajectories=tuple(items.trajectories),
        landmarks=tuple(items.landmarks),
        measurements=tuple(items.measurements),
        views=tuple(named_views(items)),
    )
    notes += items.notes
    try:
        with watch("write"):
            pkg = write_package(plan, meshes, out, overwrite=opts.overwrite)
        signed = False
        if opts.sign is not None:
            from orkiosk.plan.signing import sign_package

            with watch("sign"):
                sign_package(pkg, Path(opts.sign))
            signed = True
    except OSError as exc:
        raise BuildError(f"{out}: cannot write the package ({exc.strerror or exc})") from exc
    with watch("verify"):
        loaded = load_package(pkg)
    sizes = {f.path: f.size for f in loaded.plan.files}
    for r in results:
        r.bytes = sizes.get(f"meshes/{r.id}.glb", 0)
    return BuildResult(pkg, loaded.plan, volume, results, dict(watch.seconds), notes, signed)


def _apply_opacity(structures: list[Structure], specs: list[str]) -> list[Structure]:
    """--opacity ID=VALUE: the opacity a structure is shown with by default (0..1)."""
    out = list(structures)
    ids = [s.id for s in out]
    for spec in specs:
        sid, sep, value = spec.partition("=")
        try:
            opacity = float(value)
        except ValueError:
            opacity = float("nan")
        if not sep or not 0.0 <= opacity <= 1.0:
            raise BuildError(f"--opacity {spec!r}: expected ID=VALUE with VALUE from 0 to 1")
        if sid not in ids:
            raise BuildError(f"--opacity {spec!r}: no structure {sid!r} (known: {', '.join(ids)})")
        i = ids.index(sid)
        out[i] = replace(out[i], opacity=opacity)
    return out


def _structure(sid, name, color, opacity, category, critical) -> Structure:
    return Structure(
        id=sid,
        name=_text(name),
        mesh=f"meshes/{sid}.glb",
        color=tuple(float(min(max(c, 0.0), 1.0)) for c in color),
        opacity=float(opacity),
        visible=True,
        category=category[:32],
        critical=bool(critical),
    )


def _label_bounds(lv) -> tuple[np.ndarray, np.ndarray]:
    nz = np.argwhere(lv.array if lv.array.ndim == 3 else lv.array.any(axis=0))
    if nz.size == 0:
        raise BuildError(f"{lv.path}: the label volume is empty (all zero)")
    kji_lo, kji_hi = nz.min(axis=0), nz.max(axis=0)
    corners = np.array(
        [
            [i, j, k]
            for i in (kji_lo[2], kji_hi[2])
            for j in (kji_lo[1], kji_hi[1])
            for k in (kji_lo[0], kji_hi[0])
        ],
        dtype=np.float64,
    )
    pts = corners @ lv.affine[:3, :3].T + lv.affine[:3, 3]
    return pts.min(axis=0), pts.max(axis=0)


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment
        return "unknown"


def format_summary(res: BuildResult) -> str:
    p = res.plan
    lines = [
        f"package   {res.package}{'  (signed)' if res.signed else ''}",
        f"patient   {p.patient.name}  id {p.patient.id}  born {p.patient.birth_date or '-'}",
        f"study     {p.study.modality} {p.study.date or '-'}  {p.study.description}",
        f"series    {res.volume.info.series_uid}  {res.volume.info.series_description}",
        "volume    {} x {} x {} voxels, {:.3g} x {:.3g} x {:.3g} mm".format(
            *res.volume.shape_ijk, *res.volume.spacing
        ),
        f"case      {p.case_id}  plan version {p.plan_version}  planner {p.planner}",
        f"procedure {p.procedure or '-'}  laterality {p.laterality}",
        "",
    ]
    head = ("structure", "source", "volume", "triangles", "from", "glb")
    rows = [
        (
            r.name,
            r.source,
            f"{r.volume_ml:.1f} ml" if r.volume_ml is not None else "",
            f"{r.triangles:,}",
            f"{r.raw_triangles:,}" if r.raw_triangles else "",
            _size(r.bytes),
        )
        for r in res.structures
    ]
    total_tri = sum(r.triangles for r in res.structures)
    total_bytes = sum(r.bytes for r in res.structures)
    rows.append(("total", "", "", f"{total_tri:,}", "", _size(total_bytes)))
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
    fmt = [str.ljust, str.ljust, str.rjust, str.rjust, str.rjust, str.rjust]
    for row in [head, *rows]:
        lines.append("  ".join(f(str(x), w) for f, x, w in zip(fmt, row, widths, strict=True)))
    lines.append("")
    for t in p.trajectories:
        length = float(np.linalg.norm(np.subtract(t.target, t.entry)))
        lines.append(
            f"trajectory {t.name}: entry ({', '.join(f'{v:.1f}' for v in t.entry)}) -> target "
            f"({', '.join(f'{v:.1f}' for v in t.target)}) LPS mm, {length:.1f} mm"
        )
    if p.landmarks:
        lines.append("landmarks  " + ", ".join(lm.name for lm in p.landmarks))
    lines.append(
        "seconds   "
        + "  ".join(f"{k} {v:.2f}" for k, v in res.seconds.items())
        + f"  (total {sum(res.seconds.values()):.2f})"
    )
    for note in res.notes:
        lines.append(f"note      {note}")
    return "\n".join(lines)


def _size(n: int) -> str:
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MB"
    if n >= 1 << 10:
        return f"{n / 1024:.0f} kB"
    return f"{n} B"
