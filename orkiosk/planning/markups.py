"""Plan content from 3D Slicer markups files, in patient LPS mm.

- `.mrk.json` (Slicer 4.11+): a Line becomes a trajectory (entry = the point labelled entry, else the
  first; target = the point labelled target, else the second), a Fiducial (point list) becomes
  landmarks, one per defined control point. Each markup declares `coordinateSystem` LPS or RAS; RAS
  points have x and y negated. Units must be mm. Other markup types (curves, angles, planes, ROIs) are
  reported and left out.
- `.fcsv` (older Slicer point lists): landmarks; the `# CoordinateSystem` line says LPS (1) or RAS (0).

Command-line points (`NAME:x,y,z:x,y,z`) are read by orkiosk.plan.pointtext, shared with `orkiosk edit`.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from orkiosk.errors import OrkioskError
from orkiosk.plan.coords import ras_to_lps
from orkiosk.plan.model import Landmark, Measurement, Trajectory

Vec3 = tuple[float, float, float]


class MarkupsError(OrkioskError):
    """A markups file or command-line point that cannot be used."""


@dataclass
class PlanItems:
    trajectories: list[Trajectory] = field(default_factory=list)
    landmarks: list[Landmark] = field(default_factory=list)
    measurements: list[Measurement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def extend(self, other: PlanItems) -> None:
        self.trajectories += other.trajectories
        self.landmarks += other.landmarks
        self.measurements += other.measurements
        self.notes += other.notes


def _to_lps(p, system: str) -> Vec3:
    v = ras_to_lps(p) if system == "RAS" else p
    x, y, z = (float(c) for c in v)
    return (x, y, z)


def _point(value, where: str) -> tuple[float, float, float]:
    if not isinstance(value, list | tuple) or len(value) != 3:
        raise MarkupsError(f"{where}: position must be three numbers, got {value!r}")
    try:
        p = tuple(float(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise MarkupsError(f"{where}: position {value!r} is not three numbers") from exc
    if not all(math.isfinite(v) for v in p):
        raise MarkupsError(f"{where}: position {value!r} is not finite")
    if max(abs(v) for v in p) > 5000:
        raise MarkupsError(f"{where}: position {value!r} is more than 5 m from the origin")
    return p


def read_markups(path) -> PlanItems:
    p = Path(path)
    if not p.is_file():
        raise MarkupsError(f"{p}: no such markups file")
    if p.name.lower().endswith(".fcsv"):
        return _read_fcsv(p)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise MarkupsError(f"{p}: not a text file ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise MarkupsError(f"{p}: not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("markups"), list):
        raise MarkupsError(f"{p}: not a 3D Slicer markups file (no 'markups' list)")
    items = PlanItems()
    for n, mk in enumerate(doc["markups"]):
        where = f"{p}: markup {n + 1}"
        if not isinstance(mk, dict):
            raise MarkupsError(f"{where}: not an object")
        mtype = str(mk.get("type", ""))
        name = str(mk.get("name") or mtype or f"markup {n + 1}").strip()
        where = f"{p}: markup {name!r}"
        system = str(mk.get("coordinateSystem", "")).upper()
        if system not in ("LPS", "RAS"):
            raise MarkupsError(
                f"{where}: coordinateSystem {mk.get('coordinateSystem')!r} must be LPS or RAS "
                "(without it, left and right cannot be told)"
            )
        units = str(mk.get("coordinateUnits", "mm"))
        if units != "mm":
            raise MarkupsError(f"{where}: coordinateUnits {units!r} is not supported (mm only)")
        points = mk.get("controlPoints") or []
        if not isinstance(points, list):
            raise MarkupsError(f"{where}: controlPoints is not a list")
        defined = []
        for m, cp in enumerate(points):
            if not isinstance(cp, dict):
                raise MarkupsError(f"{where}: control point {m + 1} is not an object")
            label = str(cp.get("label") or f"{name}-{m + 1}")
            status = str(cp.get("positionStatus", "defined"))
            if status != "defined":
                defined.append((label, None, status))
                continue
            pos = _point(cp.get("position"), f"{where} point {label!r}")
            defined.append((label, _to_lps(pos, system), status))
        if mtype == "Line":
            items.trajectories.append(_trajectory(name, defined, where))
        elif mtype == "Fiducial":
            for label, pos, status in defined:
                if pos is None:
                    items.notes.append(f"{where}: point {label!r} left out ({status})")
                    continue
                items.landmarks.append(Landmark(id="", name=label, position=pos))
        else:
            items.notes.append(f"{where}: markup type {mtype!r} is not used in a plan; left out")
    return items


def _trajectory(name: str, points, where: str) -> Trajectory:
    if len(points) != 2:
        raise MarkupsError(
            f"{where}: a Line for a trajectory needs exactly 2 points (entry, target); "
            f"it has {len(points)}"
        )
    for label, pos, status in points:
        if pos is None:
            raise MarkupsError(f"{where}: point {label!r} is not placed ({status})")
    labels = [lbl.lower() for lbl, _p, _s in points]
    order = (0, 1)
    if "target" in labels[0] or "entry" in labels[1]:
        order = (1, 0)
    entry, target = points[order[0]][1], points[order[1]][1]
    if math.dist(entry, target) < 1.0:
        raise MarkupsError(f"{where}: entry and target are less than 1 mm apart")
    return Trajectory(id="", name=name, entry=entry, target=target)


def _read_fcsv(p: Path) -> PlanItems:
    text = p.read_text(encoding="utf-8", errors="replace")
    system = None
    columns = None
    rows = []
    for line in text.splitlines():
        if line.startswith("#"):
            body = line[1:].strip()
            if body.lower().startswith("coordinatesystem"):
                value = body.split("=", 1)[-1].strip().upper()
                system = {"0": "RAS", "RAS": "RAS", "1": "LPS", "LPS": "LPS"}.get(value)
                if system is None:
                    raise MarkupsError(f"{p}: CoordinateSystem {value!r} must be LPS or RAS")
            elif body.lower().startswith("columns"):
                columns = [c.strip() for c in body.split("=", 1)[-1].split(",")]
            continue
        if line.strip():
            rows.append(line)
    if system is None:
        raise MarkupsError(f"{p}: no '# CoordinateSystem' line; left and right cannot be told")
    columns = columns or [
        "id",
        "x",
        "y",
        "z",
        "ow",
        "ox",
        "oy",
        "oz",
        "vis",
        "sel",
        "lock",
        "label",
        "desc",
        "associatedNodeID",
    ]
    items = PlanItems()
    for n, row in enumerate(csv.reader(io.StringIO("\n".join(rows)))):
        rec = dict(zip(columns, row, strict=False))
        label = rec.get("label") or f"F-{n + 1}"
        try:
            pos = _point([rec.get("x"), rec.get("y"), rec.get("z")], f"{p}: point {label!r}")
        except MarkupsError:
            raise
        items.landmarks.append(Landmark(id="", name=label, position=_to_lps(pos, system)))
    return items
