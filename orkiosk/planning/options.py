"""What `orkiosk build` is asked for (BuildOptions), checked and parsed before the long work
starts: output folder, laterality, budgets, structure and label definitions, meshes, plan items."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from orkiosk.errors import OrkioskError
from orkiosk.plan.model import LATERALITIES
from orkiosk.plan.names import unique_id
from orkiosk.plan.pointtext import parse_landmark, parse_measurement, parse_trajectory
from orkiosk.planning.colors import parse_color
from orkiosk.planning.markups import PlanItems, read_markups
from orkiosk.planning.naming import short_text
from orkiosk.planning.specs import StructureSpec, parse_structure, preset


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
    scenes: list[Path] = field(default_factory=list)  # 3D Slicer .mrb bundles
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
    image: bool = True  # format 1.1: carry the cropped, resampled series (--no-image: not)
    image_spacing: float = 1.0  # mm (--image-spacing)
    keep_table: bool = False  # CT thresholds not limited to the patient's body (--keep-table)


def check_options(opts: BuildOptions) -> str:
    """Refuse options that cannot work (before anything is read); return the laterality."""
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
    if opts.image and not (0.1 <= opts.image_spacing <= 10.0):
        raise BuildError(f"--image-spacing {opts.image_spacing}: choose 0.1 to 10 mm")
    if opts.sign is not None and not Path(opts.sign).is_file():
        raise BuildError(f"--sign {opts.sign}: no such key file")
    return laterality


def structure_specs(opts: BuildOptions) -> list[StructureSpec]:
    """--preset and --structure, in that order."""
    specs = [preset(p) for p in opts.presets]
    specs += [parse_structure(t, n) for n, t in enumerate(opts.structures)]
    return specs


def label_overrides(texts: list[str]) -> dict[int, tuple[str, tuple | None]]:
    """--label VALUE:NAME[:COLOUR] -> {value: (name, colour or None)}."""
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


def mesh_args(texts: list[str]) -> list[tuple[str, Path, str | None]]:
    """--mesh NAME=FILE[:RAS|:LPS] -> (name, path, space or None)."""
    out = []
    for text in texts:
        name, sep, rest = text.partition("=")
        if not sep or not name.strip() or not rest.strip():
            raise BuildError(f"--mesh {text!r}: expected NAME=FILE[:RAS|:LPS]")
        space = None
        head, colon, tail = rest.rpartition(":")
        if colon and tail.upper() in ("RAS", "LPS"):
            rest, space = head, tail.upper()
        out.append((name.strip(), Path(rest), space))
    return out


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
                replace(x, id=unique_id(x.name, used), name=short_text(x.name))
                for x in getattr(items, kind)
            ],
        )
    return items
