"""What the workbench reads out about the selected path, recomputed at every drag step: length,
angles to the three planes, the entry angle to the skin, and per critical structure the nearest
distance and its depth against the path's safety margin. Pure numpy (no Kivy).

Texts say what they measure and never more than the segmentation can know: `CAVEAT` is on screen
whenever a clearance is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from orkiosk.edit.clearance import ClearanceIndex, PathClearance
from orkiosk.plan.mesh import Mesh
from orkiosk.plan.metrics import CriticalDistance, TrajectoryMetrics, _segment_hits, plane_angle
from orkiosk.plan.model import Plan, Trajectory

ENTRY_ANGLE_WARN = 30.0  # degrees between the path and the skin normal
OFF_SKIN_MM = 3.0  # an entry further than this from the nearest skin vertex is noted
CAVEAT = (
    "Clearance is computed from the segmentation: it cannot show what is not segmented. "
    "Never a guarantee."
)


class Skin:
    """The skin surface: nearest vertex and its normal (the entry angle), fast per drag step."""

    def __init__(self, mesh: Mesh):
        self.positions = mesh.positions.astype(np.float64)
        self.normals = mesh.normals.astype(np.float64)
        self._tree = cKDTree(self.positions)
        self._tri = self.positions[mesh.indices]  # (M, 3, 3)
        tri = self._tri
        area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
        self.spacing = float(np.sqrt(area.sum() / max(1, len(self.positions))))  # mm per vertex

    def first_hit(self, origin, direction, reach: float = 5000.0) -> np.ndarray | None:
        """Where a ray first meets the skin (exact, every triangle), None when it misses: a tap
        places an entry on the skin even where the skin is drawn translucent over bone."""
        a = np.asarray(origin, dtype=np.float64)
        b = a + np.asarray(direction, dtype=np.float64) * reach
        with np.errstate(invalid="ignore"):  # degenerate triangles give NaN: no hit
            t = _segment_hits(a, b, self._tri[:, 0], self._tri[:, 1], self._tri[:, 2])
        if np.all(np.isnan(t)):
            return None
        return a + float(np.nanmin(t)) * (b - a)

    def nearest(self, point) -> tuple[np.ndarray, np.ndarray, float]:
        """(surface point, outward unit normal, distance mm) of the vertex nearest `point`."""
        d, i = self._tree.query(np.asarray(point, dtype=np.float64))
        return self.positions[i], self.normals[i], float(d)


@dataclass(frozen=True, eq=False)
class PathReadout:
    trajectory: Trajectory
    length: float
    angles: tuple[float, float, float]  # to the axial, sagittal and coronal planes (degrees)
    entry_angle: float | None  # degrees between the path and the skin normal at the entry
    entry_off_skin: float | None  # mm from the entry to the skin, when more than OFF_SKIN_MM
    margin: float  # mm: instrument radius + placement error
    clearance: PathClearance

    @property
    def closest(self):
        return self.clearance.closest

    @property
    def entry_warning(self) -> bool:
        """The path meets the skin more than ENTRY_ANGLE_WARN degrees from its normal."""
        return self.entry_angle is not None and self.entry_angle > ENTRY_ANGLE_WARN

    @property
    def too_close(self) -> bool:
        c = self.closest
        return c is not None and c.distance < self.margin

    def lines(self) -> list[str]:
        """The readout, a line a fact: path, entry, then each critical structure."""
        t = self.trajectory
        ax, sag, cor = self.angles
        out = [
            f"{t.name}: {self.length:.1f} mm, {ax:.0f}\N{DEGREE SIGN} to axial, "
            f"{sag:.0f}\N{DEGREE SIGN} to sagittal, {cor:.0f}\N{DEGREE SIGN} to coronal",
        ]
        if self.entry_off_skin is not None:
            out.append(f"Entry {self.entry_off_skin:.1f} mm off the skin (not on its surface)")
        elif self.entry_angle is not None:
            warn = "  STEEP ENTRY" if self.entry_warning else ""
            out.append(f"Entry {self.entry_angle:.0f}\N{DEGREE SIGN} to the skin normal{warn}")
        out.append(f"Margin {self.margin:.1f} mm (instrument radius + placement error)")
        if not self.clearance.structures:
            out.append("No critical structures in this plan: mark them under STRUCTURES")
        for c in self.clearance.structures:
            if c.crosses:
                out.append(f"{c.name}: CROSSED at {c.depth:.1f} mm depth")
                continue
            flag = "  TOO CLOSE" if c.distance < self.margin else ""
            out.append(f"{c.name}: {c.distance:.1f} mm at {c.depth:.1f} mm depth{flag}")
        return out


def path_readout(
    plan: Plan, t: Trajectory, index: ClearanceIndex, skin: Skin | None, step_mm: float = 1.0
) -> PathReadout:
    entry, target = np.asarray(t.entry), np.asarray(t.target)
    v = target - entry
    length = float(np.linalg.norm(v))
    angles = tuple(
        plane_angle(v, n) if length > 0 else 0.0 for n in ((0, 0, 1), (1, 0, 0), (0, 1, 0))
    )
    entry_angle = off = None
    if skin is not None and length > 0:
        _p, normal, off = skin.nearest(entry)
        inward = -normal
        cos = float(np.clip(np.dot(v / length, inward), -1.0, 1.0))
        entry_angle = float(np.degrees(np.arccos(cos)))
        if off > OFF_SKIN_MM:
            entry_angle = None  # the angle to a skin that is not there means nothing
        else:
            off = None
    return PathReadout(
        trajectory=t,
        length=length,
        angles=angles,
        entry_angle=entry_angle,
        entry_off_skin=off,
        margin=plan.safety_margin(t),
        clearance=index.path(t.entry, t.target, step_mm=step_mm),
    )


def as_metrics(r: PathReadout) -> TrajectoryMetrics:
    """The readout in the kiosk model's terms (KioskState.metrics)."""
    t, n = r.trajectory, max(r.length, 1e-9)
    v = (np.asarray(t.target) - np.asarray(t.entry)) / n
    return TrajectoryMetrics(
        trajectory_id=t.id,
        name=t.name,
        length=r.length,
        direction=tuple(float(x) for x in v),
        angle_axial=r.angles[0],
        angle_sagittal=r.angles[1],
        angle_coronal=r.angles[2],
        critical=tuple(
            CriticalDistance(
                c.structure_id,
                c.name,
                c.distance,
                c.depth,
                c.depth / n,
                c.path_point,
                c.surface_point,
                c.crosses,
                False,
            )
            for c in r.clearance.structures
        ),
    )
