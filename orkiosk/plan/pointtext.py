"""Points typed on a command line, in patient LPS mm (or RAS, as 3D Slicer shows them):
`x,y,z`, `NAME:x,y,z` (a landmark), `NAME:x,y,z:x,y,z[:DIAMETER]` (a trajectory, entry then
target), `NAME:x,y,z:x,y,z` (a measurement). `orkiosk build` and `orkiosk edit` read the same
text. Each problem is one line that quotes the option and the text."""

from __future__ import annotations

import math

from orkiosk.errors import OrkioskError
from orkiosk.plan.coords import ras_to_lps
from orkiosk.plan.model import Landmark, Measurement, Trajectory, Vec3

SYSTEMS = ("LPS", "RAS")
MAX_MM = 5000.0  # 5 m from the origin: a typing slip, not anatomy


class PointTextError(OrkioskError):
    """A point or item typed on the command line that cannot be used."""


def parse_point(text: str, system: str = "LPS", what: str = "point") -> Vec3:
    """'x,y,z' in `system` -> LPS."""
    parts = text.split(",")
    if len(parts) != 3:
        raise PointTextError(f"{what}: {text!r} is not x,y,z")
    try:
        p = [float(v) for v in parts]
    except ValueError:
        raise PointTextError(f"{what}: {text!r} is not three numbers") from None
    if not all(math.isfinite(v) for v in p):
        raise PointTextError(f"{what}: {text!r} is not finite")
    if max(abs(v) for v in p) > MAX_MM:
        raise PointTextError(f"{what}: {text!r} is more than 5 m from the origin")
    x, y, z = (float(c) for c in (ras_to_lps(p) if system == "RAS" else p))
    return (x, y, z)


def parse_diameter(text: str, what: str) -> float:
    try:
        diameter = float(text)
    except ValueError:
        raise PointTextError(f"{what}: diameter {text!r} is not a number") from None
    if not 0 < diameter < 50:
        raise PointTextError(f"{what}: diameter {diameter:g} mm is not plausible")
    return diameter


def parse_trajectory(text: str, system: str = "LPS", option: str = "--trajectory") -> Trajectory:
    """'NAME:x,y,z:x,y,z[:DIAMETER]' (entry, then target) -> Trajectory in LPS (id left empty)."""
    parts = text.split(":")
    what = f"{option} {text!r}"
    if len(parts) not in (3, 4) or not parts[0].strip():
        raise PointTextError(f"{what}: expected NAME:x,y,z:x,y,z (entry then target), in mm")
    entry = parse_point(parts[1], system, what)
    target = parse_point(parts[2], system, what)
    if math.dist(entry, target) < 1.0:
        raise PointTextError(f"{what}: entry and target are less than 1 mm apart")
    diameter = parse_diameter(parts[3], what) if len(parts) == 4 else 2.0
    return Trajectory(id="", name=parts[0].strip(), entry=entry, target=target, diameter=diameter)


def parse_landmark(text: str, system: str = "LPS", option: str = "--landmark") -> Landmark:
    parts = text.split(":")
    what = f"{option} {text!r}"
    if len(parts) != 2 or not parts[0].strip():
        raise PointTextError(f"{what}: expected NAME:x,y,z in mm")
    return Landmark(id="", name=parts[0].strip(), position=parse_point(parts[1], system, what))


def parse_measurement(text: str, system: str = "LPS", option: str = "--measurement") -> Measurement:
    parts = text.split(":")
    what = f"{option} {text!r}"
    if len(parts) != 3 or not parts[0].strip():
        raise PointTextError(f"{what}: expected NAME:x,y,z:x,y,z in mm")
    return Measurement(
        id="",
        name=parts[0].strip(),
        a=parse_point(parts[1], system, what),
        b=parse_point(parts[2], system, what),
    )
