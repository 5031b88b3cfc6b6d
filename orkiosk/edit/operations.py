"""Edits of a plan: pure functions from one Plan to the next, each checked.

Every operation takes the plan and returns a new one (plans are frozen), or raises EditError with
one line that names the item and the reason; the plan given is never changed. Points are patient
LPS mm and must lie inside the plan's `Bounds` (the image, else the models with a margin): a point
outside the image is a slip of the hand or of the coordinate system, never a plan.

Structures keep their meshes: an edit changes how a structure is shown (name, colour, opacity,
visibility, critical flag), never its file, so a saved version reuses every file unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from orkiosk.errors import OrkioskError
from orkiosk.plan.image import image_box
from orkiosk.plan.mesh import Mesh
from orkiosk.plan.model import RGB, Landmark, Plan, Trajectory, Vec3, View
from orkiosk.plan.names import unique_id
from orkiosk.plan.sides import laterality_conflicts

MIN_LENGTH_MM = 1.0  # the package's own rule (plan/manifest.py)
MODEL_MARGIN_MM = 30.0  # without an image: how far outside the models a point may lie
MAX_NAME = 64
MAX_DIAMETER_MM = 20.0
MAX_PLACEMENT_ERROR_MM = 20.0
ENDS = ("entry", "target")


class EditError(OrkioskError):
    """An edit that cannot be made; the plan is left as it was."""


@dataclass(frozen=True)
class Bounds:
    """Where points of this plan may lie (LPS mm), and what that box is, for messages."""

    lo: tuple[float, float, float]
    hi: tuple[float, float, float]
    what: str  # "the image" or "the models"

    @classmethod
    def of(cls, plan: Plan, meshes: dict[str, Mesh]) -> Bounds:
        if plan.image is not None:
            lo, hi = image_box(plan.image)
            tol = 0.5 * float(max(np.linalg.norm(plan.image.matrix[:3, :3], axis=0)))
            return cls(_t(lo - tol), _t(hi + tol), "the image")
        boxes = [meshes[s.id].bounds() for s in plan.structures if s.id in meshes]
        if not boxes:
            return cls((-1000.0,) * 3, (1000.0,) * 3, "the working volume")
        lo = np.min([b[0] for b in boxes], axis=0) - MODEL_MARGIN_MM
        hi = np.max([b[1] for b in boxes], axis=0) + MODEL_MARGIN_MM
        return cls(_t(lo), _t(hi), "the models")

    def contains(self, p) -> bool:
        return all(a <= v <= b for a, v, b in zip(self.lo, p, self.hi, strict=True))

    def check(self, p, what: str) -> Vec3:
        """p as a plain LPS tuple, or EditError naming `what` and how far outside it lies."""
        q = _point(p, what)
        if not self.contains(q):
            out = np.maximum(0.0, np.maximum(np.subtract(self.lo, q), np.subtract(q, self.hi)))
            raise EditError(
                f"{what}: ({_fmt(q)}) LPS mm lies {float(np.linalg.norm(out)):.1f} mm outside "
                f"{self.what}"
            )
        return q


# ---------------------------------------------------------------- trajectories


def move_end(plan: Plan, tid: str, end: str, point, bounds: Bounds) -> Plan:
    """Move a trajectory's entry or target to `point`."""
    if end not in ENDS:
        raise EditError(f"{end!r} is not an end of a trajectory (entry or target)")
    t = trajectory(plan, tid)
    p = bounds.check(point, f"{t.name} {end}")
    moved = replace(t, **{end: p})
    _check_length(moved)
    return _with_trajectory(plan, moved)


def add_trajectory(
    plan: Plan, name: str, entry, target, bounds: Bounds, diameter: float = 2.0
) -> tuple[Plan, str]:
    """A new trajectory; returns the plan and the new id (made from the name)."""
    name = _name(name, "trajectory")
    used = {t.id for t in plan.trajectories}
    t = Trajectory(
        id=unique_id(name, used),
        name=name,
        entry=bounds.check(entry, f"{name} entry"),
        target=bounds.check(target, f"{name} target"),
        diameter=_diameter(diameter, name),
    )
    _check_length(t)
    return replace(plan, trajectories=plan.trajectories + (t,)), t.id


def set_diameter(plan: Plan, tid: str, diameter: float) -> Plan:
    t = trajectory(plan, tid)
    return _with_trajectory(plan, replace(t, diameter=_diameter(diameter, t.name)))


def set_path_color(plan: Plan, tid: str, color: RGB | None) -> Plan:
    """A path's colour (linear RGB 0..1), or None for the product's path colour."""
    t = trajectory(plan, tid)
    return _with_trajectory(plan, replace(t, color=None if color is None else _rgb(color, t.name)))


# ---------------------------------------------------------------- landmarks and views


def add_landmark(plan: Plan, name: str, point, bounds: Bounds) -> tuple[Plan, str]:
    name = _name(name, "landmark")
    used = {m.id for m in plan.landmarks}
    m = Landmark(id=unique_id(name, used), name=name, position=bounds.check(point, name))
    return replace(plan, landmarks=plan.landmarks + (m,)), m.id


def move_landmark(plan: Plan, lid: str, point, bounds: Bounds) -> Plan:
    m = _find(plan.landmarks, lid, "landmark")
    moved = replace(m, position=bounds.check(point, m.name))
    return replace(plan, landmarks=_swap(plan.landmarks, moved))


def add_view(plan: Plan, name: str, look, up, center=None, distance=None) -> tuple[Plan, str]:
    """A named camera saved with the plan (the workbench's SAVE VIEW)."""
    name = _name(name, "view")
    look_v, up_v = _point(look, f"view {name} look"), _point(up, f"view {name} up")
    if np.linalg.norm(np.cross(look_v, up_v)) < 1e-6 * max(1e-12, np.linalg.norm(look_v)):
        raise EditError(f"view {name}: look must be non-zero and not parallel to up")
    used = {v.id for v in plan.views}
    v = View(
        id=unique_id(name, used),
        name=name,
        look=look_v,
        up=up_v,
        center=None if center is None else _point(center, f"view {name} centre"),
        distance=None if distance is None else float(distance),
    )
    return replace(plan, views=plan.views + (v,)), v.id


# ---------------------------------------------------------------- any item


def remove(plan: Plan, iid: str) -> Plan:
    """Remove the trajectory, landmark, measurement or view with this id. Structures cannot be
    removed (their files stay in the package): hide them."""
    for kind in ("trajectories", "landmarks", "measurements", "views"):
        items = getattr(plan, kind)
        if any(x.id == iid for x in items):
            return replace(plan, **{kind: tuple(x for x in items if x.id != iid)})
    if any(s.id == iid for s in plan.structures):
        raise EditError(f"structure {iid!r} cannot be removed by an edit (hide it instead)")
    raise EditError(f"no trajectory, landmark, measurement or view has the id {iid!r}{_ids(plan)}")


def rename(plan: Plan, iid: str, name: str) -> Plan:
    """Rename any item by id (its id stays: the kiosk's diff and selection follow the id)."""
    for kind in ("trajectories", "structures", "landmarks", "measurements", "views"):
        items = getattr(plan, kind)
        for x in items:
            if x.id == iid:
                return replace(plan, **{kind: _swap(items, replace(x, name=_name(name, iid)))})
    raise EditError(f"no item has the id {iid!r}{_ids(plan)}")


# ---------------------------------------------------------------- structures


def set_structure(
    plan: Plan,
    sid: str,
    *,
    opacity: float | None = None,
    visible: bool | None = None,
    critical: bool | None = None,
    color: RGB | None = None,
) -> Plan:
    """How a structure is shown and whether paths must keep clear of it."""
    s = _find(plan.structures, sid, "structure")
    changes: dict = {}
    if opacity is not None:
        if not (math.isfinite(opacity) and 0.0 <= opacity <= 1.0):
            raise EditError(f"structure {sid!r}: opacity {opacity:g} is not between 0 and 1")
        changes["opacity"] = float(opacity)
    if visible is not None:
        changes["visible"] = bool(visible)
    if critical is not None:
        changes["critical"] = bool(critical)
    if color is not None:
        changes["color"] = _rgb(color, f"structure {sid!r}")
    return replace(plan, structures=_swap(plan.structures, replace(s, **changes)))


def set_placement_error(plan: Plan, mm: float) -> Plan:
    if not (math.isfinite(mm) and 0.0 <= mm <= MAX_PLACEMENT_ERROR_MM):
        raise EditError(
            f"placement error {mm:g} mm is not between 0 and {MAX_PLACEMENT_ERROR_MM:g}"
        )
    return replace(plan, placement_error=float(mm))


# ---------------------------------------------------------------- the whole plan


def plan_problems(plan: Plan, bounds: Bounds) -> list[str]:
    """What stops this plan from being saved: a target on the other side from the plan's
    laterality, a target outside the bounds, a path shorter than 1 mm. (Other points were
    checked when they were placed; a build may have put a landmark just outside the image.)"""
    out = laterality_conflicts(plan.laterality, [(t.name, t.target) for t in plan.trajectories])
    for t in plan.trajectories:
        try:
            bounds.check(t.target, f"{t.name} target")
            _check_length(t)
        except EditError as exc:
            out.append(str(exc))
    return out


def trajectory(plan: Plan, tid: str) -> Trajectory:
    return _find(plan.trajectories, tid, "trajectory")


def _find(items, iid: str, kind: str):
    for x in items:
        if x.id == iid:
            return x
    known = ", ".join(x.id for x in items) or "none"
    raise EditError(f"no {kind} has the id {iid!r} (this plan has: {known})")


def _ids(plan: Plan) -> str:
    ids = [x.id for k in ("trajectories", "landmarks") for x in getattr(plan, k)]
    return f" (trajectories and landmarks: {', '.join(ids)})" if ids else ""


def _swap(items: tuple, new) -> tuple:
    return tuple(new if x.id == new.id else x for x in items)


def _with_trajectory(plan: Plan, t: Trajectory) -> Plan:
    return replace(plan, trajectories=_swap(plan.trajectories, t))


def _check_length(t: Trajectory) -> None:
    length = math.dist(t.entry, t.target)
    if length < MIN_LENGTH_MM:
        raise EditError(
            f"{t.name}: entry and target would be {length:.2f} mm apart "
            f"(at least {MIN_LENGTH_MM:g} mm)"
        )


def _diameter(d: float, name: str) -> float:
    if not (math.isfinite(d) and 0.0 < d <= MAX_DIAMETER_MM):
        raise EditError(f"{name}: instrument diameter {d:g} mm is not in (0, {MAX_DIAMETER_MM:g}]")
    return float(d)


def _name(name: str, what: str) -> str:
    n = " ".join(str(name).split())
    if not n:
        raise EditError(f"{what}: a name is needed")
    if len(n) > MAX_NAME:
        raise EditError(f"{what}: the name is longer than {MAX_NAME} characters")
    return n


def _rgb(color, what: str) -> RGB:
    c = tuple(float(v) for v in color)
    if len(c) != 3 or not all(0.0 <= v <= 1.0 for v in c):
        raise EditError(f"{what}: colour {color!r} is not three values 0..1")
    return (c[0], c[1], c[2])


def _point(p, what: str) -> Vec3:
    try:
        x, y, z = (float(v) for v in p)
    except (TypeError, ValueError):
        raise EditError(f"{what}: {p!r} is not three numbers") from None
    if not all(math.isfinite(v) for v in (x, y, z)):
        raise EditError(f"{what}: {p!r} is not finite")
    return (x, y, z)


def _t(a) -> tuple[float, float, float]:
    x, y, z = (float(v) for v in a)
    return (x, y, z)


def _fmt(p) -> str:
    return ", ".join(f"{v:.1f}" for v in p)
