"""The kiosk's readout line as pure functions of the model (no Kivy): each text says what it
measures. Kivy markup ([color=...]) marks the clearance to critical structures.

Clearance: the shortest distance between a trajectory's straight path (entry to target) and a
critical structure's surface (orkiosk.plan.metrics.CriticalDistance).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from orkiosk.app.model.values import Cut, Pick
from orkiosk.plan.diff import PlanDiff
from orkiosk.plan.metrics import CriticalDistance, TrajectoryMetrics
from orkiosk.plan.model import Plan, Trajectory

CLEARANCE_DANGER_MM = 3.0  # closer than this: red
CLEARANCE_CAUTION_MM = 5.0  # closer than this: amber; otherwise green
DANGER_COLOUR = "ff5040"
CAUTION_COLOUR = "ffd040"
CLEAR_COLOUR = "80e080"
CUT_LABELS = {
    "axial": "AXIAL",
    "sagittal": "SAGITTAL",
    "coronal": "CORONAL",
    "along": "ALONG PATH",
    "perp": "ACROSS PATH",
}
SEPARATOR = "\n"  # one statement a line: a line break never splits a phrase
CHANGES_SHOWN = 4  # lines of the "what changed" banner; more become "... and N more changes"


def clearance_colour(distance_mm: float) -> str:
    """Hex RGB for a clearance: red under 3 mm, amber under 5 mm, green otherwise."""
    if distance_mm < CLEARANCE_DANGER_MM:
        return DANGER_COLOUR
    if distance_mm < CLEARANCE_CAUTION_MM:
        return CAUTION_COLOUR
    return CLEAR_COLOUR


def _before_target(mm: float) -> str:
    return "at the target" if mm < 0.5 else f"{mm:.0f} mm before the target"


def clearance_text(c: CriticalDistance, length_mm: float, markup: bool = True) -> str:
    """e.g. "nearest critical: Ventricles 2.7 mm from the path, 30 mm before the target"."""
    where = _before_target(max(0.0, length_mm - c.along))
    if c.crosses:
        text = f"PATH CROSSES {c.name}, {where}"
    elif c.inside:
        text = f"path runs INSIDE {c.name}, {where}"
    else:
        text = f"nearest critical: {c.name} {c.distance:.1f} mm from the path, {where}"
    return f"[color={clearance_colour(c.distance)}]{text}[/color]" if markup else text


def trajectory_text(m: TrajectoryMetrics, markup: bool = True) -> str:
    """e.g. "Biopsy: path 62.0 mm, 35° to axial, 20° to sagittal", then on its own line
    "nearest critical: ..."."""
    text = (
        f"{m.name}: path {m.length:.1f} mm, {m.angle_axial:.0f}\u00b0 to axial, "
        f"{m.angle_sagittal:.0f}\u00b0 to sagittal"
    )
    if m.closest is not None:
        text += SEPARATOR + clearance_text(m.closest, m.length, markup)
    return text


def measure_text(picks: Iterable[Pick]) -> str:
    """e.g. "A-B distance 42.3 mm", or which point to tap next."""
    picks = list(picks)
    if len(picks) >= 2:
        a, b = (np.asarray(p.point, dtype=np.float64) for p in picks[:2])
        return f"A-B distance {float(np.linalg.norm(a - b)):.1f} mm"
    return f"MEASURE: tap point {'B' if picks else 'A'}"


def named_text(pick: Pick, trajectories: Iterable[Trajectory]) -> str:
    """e.g. "Tumour: 12.4 mm to Biopsy target" (straight-line distance from the touched point)."""
    p = np.asarray(pick.point, dtype=np.float64)
    parts = [
        f"{float(np.linalg.norm(p - np.asarray(t.target))):.1f} mm to {t.name} target"
        for t in trajectories
    ]
    label = pick.name or pick.id
    return f"{label}: {', '.join(parts)}" if parts else label


def cut_text(cut: Cut, plan: Plan | None = None) -> str:
    """e.g. "CUT axial +12 mm (drag to move)", "CUT across Biopsy path 10 mm before the target"."""
    name = cut.trajectory_id
    if plan is not None and cut.trajectory_id is not None:
        name = next((t.name for t in plan.trajectories if t.id == cut.trajectory_id), name)
    if cut.plane == "perp" and name and cut.offset < -0.5:
        where = f"across {name} path {-cut.offset:.0f} mm beyond the target"
    elif cut.plane == "perp" and name:
        where = f"across {name} path {_before_target(cut.offset)}"
    elif cut.plane == "along" and name:
        where = f"along {name} path {cut.offset:+.0f} mm"
    else:
        where = f"{cut.plane} {cut.offset:+.0f} mm"
    return f"CUT {where} (drag to move)"


def readout_text(state) -> str:
    """The readout lines for a KioskState: measure result, a named structure, or the selected
    trajectory's metrics (then one more, outside cut mode); plus the cut in cut mode."""
    parts = []
    plan = state.package.plan if state.package is not None else None
    if state.mode == "measure":
        parts.append(measure_text(state.picks))
    elif state.named is not None:
        parts.append(named_text(state.named, plan.trajectories if plan else ()))
    else:
        metrics = sorted(state.metrics, key=lambda m: m.trajectory_id != state.selected)
        parts.extend(trajectory_text(m) for m in metrics[: 1 if state.mode == "cut" else 2])
    if state.mode == "cut":
        parts.append(cut_text(state.cut, plan))
    return SEPARATOR.join(parts)


def changes_text(diff: PlanDiff, shown: int = CHANGES_SHOWN) -> str:
    """The "what changed" banner: e.g. "Plan v2 (was v1), what changed:" then one change a
    line, loud ones (patient, case, side, procedure) first: "Trajectory Biopsy: target moved
    3.2 mm", "Structure Vessels changed (mesh)"; at most `shown` lines of changes."""
    lines = diff.lines()
    if diff.empty:
        return f"{diff.version_text}: no changes"
    if len(lines) > shown:
        lines = lines[: shown - 1] + [f"... and {len(lines) - shown + 1} more changes"]
    return SEPARATOR.join([f"{diff.version_text}, what changed:", *lines])


def slice_text(sl, plan: Plan | None) -> str:
    """The slice view's position: "ACROSS Biopsy: 12 mm to target", "ALONG Biopsy path, 3 mm
    beside it", "AXIAL slice +12 mm (drag to move)"."""
    name = sl.trajectory_id
    if plan is not None and name is not None:
        name = next((t.name for t in plan.trajectories if t.id == name), name)
    if sl.plane == "perp" and name:
        if sl.offset < -0.5:
            return f"ACROSS {name}: {-sl.offset:.0f} mm beyond the target"
        if sl.offset < 0.5:
            return f"ACROSS {name}: at the target"
        return f"ACROSS {name}: {sl.offset:.0f} mm to target"
    if sl.plane == "along" and name:
        side = (
            "in the path's plane" if abs(sl.offset) < 0.5 else f"{abs(sl.offset):.0f} mm beside it"
        )
        return f"ALONG {name} path, {side}"
    return f"{CUT_LABELS.get(sl.plane, sl.plane.upper())} slice {sl.offset:+.0f} mm (drag to move)"
