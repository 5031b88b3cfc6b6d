"""How each structure is cut out of the image (StructureSpec): the CT presets in Hounsfield units,
custom thresholds from the command line (NAME:LOW[:HIGH][:COLOUR]), triangle budgets."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from orkiosk.errors import OrkioskError
from orkiosk.plan.colors import linear
from orkiosk.plan.names import slug
from orkiosk.planning.colors import NAMED, RGB, palette, parse_color


class SegmentError(OrkioskError):
    """A structure definition that is wrong, or a structure that comes out empty."""


@dataclass(frozen=True)
class StructureSpec:
    """How to cut one structure out of the image."""

    name: str
    low: float | None = None  # inside when value >= low (None: no lower bound)
    high: float | None = None  # and value <= high (None: no upper bound)
    color: RGB = (0.8, 0.8, 0.8)  # linear RGB
    category: str = "anatomy"
    opacity: float = 1.0
    critical: bool = False
    # Keep pieces >= this fraction of the largest (1.0: the largest only). 0 for custom
    # thresholds: every piece above min_volume_mm3 is kept (the summary lists what was dropped).
    keep_fraction: float = 0.0
    min_volume_mm3: float = 20.0  # drop components smaller than this
    connectivity26: bool = False
    fill_holes: bool = True  # fill cavities enclosed in 3-D
    exclude_above: float | None = None  # leave out voxels near values >= this (bone) ...
    exclude_mm: float = 0.0  # ... within this distance
    triangles: int = 100_000  # decimation budget
    hu: bool = False  # thresholds are Hounsfield units: CT only
    not_outside: bool = False  # leave out pieces that reach a corner of the volume (outside air)
    visible: bool = True  # shown by default (a 3D Slicer scene may hide a structure)

    @property
    def id(self) -> str:
        return slug(self.name)


PRESETS: dict[str, StructureSpec] = {
    "skin": StructureSpec(
        "Skin",
        low=-300,
        color=linear(NAMED["skin"]),
        category="skin",
        opacity=0.35,
        keep_fraction=1.0,
        fill_holes=True,
        triangles=150_000,
        hu=True,
    ),
    "bone": StructureSpec(
        "Bone",
        low=400,
        color=linear(NAMED["bone"]),
        category="bone",
        opacity=1.0,
        keep_fraction=0.0,  # real bones come in many pieces (ribs, vertebrae): keep them all
        min_volume_mm3=100.0,
        fill_holes=False,
        triangles=200_000,
        hu=True,
    ),
    "vessels": StructureSpec(
        "Vessels",
        low=150,
        high=400,
        color=linear(NAMED["vessel"]),
        category="vessel",
        critical=True,
        keep_fraction=0.0,
        min_volume_mm3=30.0,
        connectivity26=True,
        fill_holes=False,
        exclude_above=400,
        exclude_mm=2.0,
        triangles=100_000,
        hu=True,
    ),
    "airway": StructureSpec(
        "Airway",
        low=-1100,
        high=-400,
        color=linear(NAMED["airway"]),
        category="organ",
        opacity=0.6,
        keep_fraction=0.05,
        min_volume_mm3=200.0,
        fill_holes=False,
        triangles=60_000,
        hu=True,
        not_outside=True,
    ),
}
PRESET_HELP = {
    "skin": "air/soft tissue boundary (> -300 HU), largest piece, cavities filled",
    "bone": "bone (> 400 HU, above contrast-filled vessels), every piece over 100 mm^3",
    "vessels": "contrast-filled vessels (150..400 HU), 2 mm clear of bone, critical",
    "airway": "air inside the body (-1100..-400 HU, not the air around it): airways, sinuses",
}


def parse_structure(text: str, index: int = 0) -> StructureSpec:
    """'NAME:LOW[:HIGH][:COLOUR]' -> StructureSpec. LOW or HIGH may be left empty."""
    parts = text.split(":")
    if len(parts) < 2 or not parts[0].strip():
        raise SegmentError(
            f"--structure {text!r}: expected NAME:LOW[:HIGH][:COLOUR], e.g. Lesion:60:160:orange"
        )
    name = parts[0].strip()

    def number(s: str, what: str) -> float | None:
        s = s.strip()
        if s == "":
            return None
        try:
            v = float(s)
        except ValueError as exc:
            raise SegmentError(f"--structure {text!r}: {what} {s!r} is not a number") from exc
        if not np.isfinite(v):
            raise SegmentError(f"--structure {text!r}: {what} must be finite")
        return v

    low = number(parts[1], "LOW")
    high = None
    color = None
    rest = parts[2:]
    if rest:
        try:
            high = number(rest[0], "HIGH")
            rest = rest[1:]
        except SegmentError:
            if len(rest) > 1:
                raise
    if rest:
        color = parse_color(rest[0], f"--structure {text!r}: colour")
        rest = rest[1:]
    if rest:
        raise SegmentError(f"--structure {text!r}: too many ':' fields")
    if low is None and high is None:
        raise SegmentError(f"--structure {text!r}: give LOW, HIGH or both")
    if low is not None and high is not None and high < low:
        raise SegmentError(f"--structure {text!r}: HIGH {high:g} is below LOW {low:g}")
    if color is None:
        color = linear(NAMED[name.lower()]) if name.lower() in NAMED else palette(index)
    return StructureSpec(name=name, low=low, high=high, color=color)


def preset(name: str) -> StructureSpec:
    spec = PRESETS.get(name.strip().lower())
    if spec is None:
        raise SegmentError(
            f"unknown preset {name!r}; presets: "
            + "; ".join(f"{k} ({v})" for k, v in PRESET_HELP.items())
        )
    return spec


def with_budget(spec: StructureSpec, triangles: int | None) -> StructureSpec:
    return spec if triangles is None else replace(spec, triangles=int(triangles))
