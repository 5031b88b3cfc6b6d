"""Which side of the patient a point lies on, and whether a plan's declared laterality agrees with
its trajectory targets. `orkiosk build` and every plan edit apply the same rule. Pure Python."""

from __future__ import annotations

from collections.abc import Iterable

MIDLINE_MM = 5.0  # |x| within this of the midline (LPS x = 0) counts as midline


def side_of(x: float) -> str:
    """'left', 'right' or 'midline' for an LPS x (+ is the patient's left)."""
    return "left" if x > MIDLINE_MM else "right" if x < -MIDLINE_MM else "midline"


def laterality_conflicts(laterality: str, targets: Iterable[tuple[str, tuple]]) -> list[str]:
    """One sentence per (name, target) on the other side from a declared left or right."""
    out = []
    for name, target in targets:
        x = float(target[0])
        side = side_of(x)
        if laterality in ("left", "right") and side in ("left", "right") and side != laterality:
            out.append(
                f"laterality is {laterality!r}, but trajectory {name!r} targets the patient's "
                f"{side.upper()} side (x = {x:+.1f} mm LPS; + is the patient's left)"
            )
    return out


def sided_targets(laterality: str, targets: Iterable[tuple[str, tuple]]) -> list[tuple[str, str]]:
    """(name, side) of each target off the midline in a plan declared without a side."""
    if laterality != "none":
        return []
    return [(name, side_of(t[0])) for name, t in targets if side_of(t[0]) != "midline"]
