"""What changed between two plans: a pure comparison for the kiosk's "what changed" banner and
`orkiosk diff`.

Items are matched by id (a renamed trajectory is the same trajectory, and says so). Coordinates
are LPS mm; a point that moved less than MOVE_MM has not moved. A structure's mesh counts as
changed when its file's SHA-256 in the manifest differs; given the meshes (or their MeshShape
summaries), the diff also says how far it moved: the shift of its centroid and the largest
shift of a face of its bounding box.

The sentences never quote a patient's name, birth date or sex (they may end up in a log): a
change there is named, its values are not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields

import numpy as np

from orkiosk.plan.mesh import Mesh, column_mean, column_range
from orkiosk.plan.model import Plan, Structure, Trajectory

MOVE_MM = 0.05  # a point, centroid or bounds face that moved less than this has not moved
DIAMETER_MM = 0.05
COLOUR_STEP = 0.5 / 255  # half an 8-bit step: the same colour
OPACITY_STEP = 0.005

KINDS = ("trajectory", "structure", "landmark", "measurement", "view")


@dataclass(frozen=True)
class MeshShape:
    """Where a mesh is: its vertex centroid and bounding box (LPS mm), enough to say how far a
    replaced mesh moved without keeping the mesh."""

    centroid: tuple[float, float, float]
    lo: tuple[float, float, float]
    hi: tuple[float, float, float]

    @classmethod
    def of(cls, mesh: Mesh | MeshShape) -> MeshShape:
        if isinstance(mesh, MeshShape):
            return mesh
        p = np.asarray(mesh.positions)
        lo, hi = column_range(p)
        return cls(_t(column_mean(p)), _t(lo), _t(hi))


def mesh_shapes(meshes: Mapping[str, Mesh | MeshShape] | None) -> dict[str, MeshShape]:
    """Structure id -> MeshShape, for keeping after the meshes themselves are freed."""
    return {sid: MeshShape.of(m) for sid, m in (meshes or {}).items()}


@dataclass(frozen=True)
class ItemChange:
    """One structure, trajectory, landmark, measurement or view that was added, removed or
    changed. `fields` names what changed ("target", "mesh", "colour", ...); `moved` gives the
    distances in mm ("entry", "target", "position", "a", "b", "mesh centroid", "mesh bounds");
    `notes` says each change in words."""

    kind: str  # one of KINDS
    id: str
    name: str  # the new name (the old one when removed)
    action: str  # "added" | "removed" | "changed"
    fields: tuple[str, ...] = ()
    moved: tuple[tuple[str, float], ...] = ()
    notes: tuple[str, ...] = ()

    def moved_mm(self, what: str) -> float | None:
        return next((mm for w, mm in self.moved if w == what), None)

    def sentence(self) -> str:
        label = f"{self.kind.capitalize()} {self.name}"
        if self.action != "changed":
            return f"{label} {self.action}"
        if self.kind in ("trajectory", "measurement"):
            return f"{label}: {', '.join(self.notes)}"
        if self.kind == "landmark" and self.fields == ("position",):
            return f"{label} {self.notes[0]}"
        return f"{label} changed ({', '.join(self.notes)})"


@dataclass(frozen=True)
class PlanDiff:
    old_version: int
    new_version: int
    identity: tuple[str, ...] = ()  # loud: patient, case, procedure, side, study (in capitals)
    items: tuple[ItemChange, ...] = ()
    quiet: tuple[str, ...] = ()  # the planner, the format

    @property
    def empty(self) -> bool:
        return not (self.identity or self.items or self.quiet)

    @property
    def version_text(self) -> str:
        """e.g. "Plan v2 (was v1)"."""
        if self.new_version == self.old_version:
            return f"Plan v{self.new_version} (same version)"
        return f"Plan v{self.new_version} (was v{self.old_version})"

    def lines(self) -> list[str]:
        """Short sentences, the loud ones first: "SIDE CHANGED: LEFT -> RIGHT",
        "Trajectory Biopsy: target moved 3.2 mm", "Structure Vessels changed (mesh)"; an
        empty diff is ["no changes"]."""
        out = list(self.identity) + [c.sentence() for c in self.items] + list(self.quiet)
        return out or ["no changes"]

    def changed_ids(self, kind: str) -> set[str]:
        """Ids of the added or changed items of a kind (what the kiosk may highlight)."""
        return {c.id for c in self.items if c.kind == kind and c.action != "removed"}

    def item(self, kind: str, iid: str) -> ItemChange | None:
        return next((c for c in self.items if c.kind == kind and c.id == iid), None)


def diff_plans(
    old: Plan,
    new: Plan,
    old_meshes: Mapping[str, Mesh | MeshShape] | None = None,
    new_meshes: Mapping[str, Mesh | MeshShape] | None = None,
) -> PlanDiff:
    """Everything that differs from `old` to `new` that a person at the table should know."""
    shapes = (mesh_shapes(old_meshes), mesh_shapes(new_meshes))
    old_sha, new_sha = _hashes(old), _hashes(new)

    def structure(a: Structure, b: Structure) -> ItemChange | None:
        return _structure_change(a, b, old_sha, new_sha, shapes)

    items = (
        _compare("trajectory", old.trajectories, new.trajectories, _trajectory_change)
        + _compare("structure", old.structures, new.structures, structure)
        + _compare("landmark", old.landmarks, new.landmarks, _landmark_change)
        + _compare("measurement", old.measurements, new.measurements, _measurement_change)
        + _compare("view", old.views, new.views, _view_change)
    )
    quiet = []
    if old.safety_placement_error != new.safety_placement_error:
        quiet.append(
            f"Placement error {old.safety_placement_error:g} -> "
            f"{new.safety_placement_error:g} mm (safety margins)"
        )
    if old.planner != new.planner:
        quiet.append(f"Planner {old.planner} -> {new.planner}")
    if (old.format, old.format_version) != (new.format, new.format_version):
        quiet.append(f"Format {old.format} {old.format_version} -> {new.format_version}")
    return PlanDiff(
        old.plan_version, new.plan_version, _identity(old, new), tuple(items), tuple(quiet)
    )


def _identity(old: Plan, new: Plan) -> tuple[str, ...]:
    out = []
    if old.patient.id != new.patient.id:
        out.append(f"PATIENT CHANGED: ID {old.patient.id} -> {new.patient.id}")
    private = [
        label
        for label, f in (("name", "name"), ("birth date", "birth_date"), ("sex", "sex"))
        if getattr(old.patient, f) != getattr(new.patient, f)
    ]
    if private:  # named, never quoted
        out.append(f"PATIENT DETAILS CHANGED: {', '.join(private)}")
    if old.case_id != new.case_id:
        out.append(f"CASE CHANGED: {old.case_id} -> {new.case_id}")
    if old.laterality != new.laterality:
        out.append(f"SIDE CHANGED: {old.laterality.upper()} -> {new.laterality.upper()}")
    if old.procedure != new.procedure:
        out.append(f"PROCEDURE CHANGED: {old.procedure} -> {new.procedure}")
    if old.study.uid != new.study.uid:
        out.append("STUDY CHANGED: the plan is made on other images")
    if (old.coordinate_system, old.units) != (new.coordinate_system, new.units):
        out.append(
            f"COORDINATES CHANGED: {old.coordinate_system} {old.units} -> "
            f"{new.coordinate_system} {new.units}"
        )
    return tuple(out)


def _compare(kind: str, old: Iterable, new: Iterable, change: Callable) -> list[ItemChange]:
    """Added, removed and changed items of one kind, in the new plan's order (removed last)."""
    before = {x.id: x for x in old}
    after = {x.id: x for x in new}
    out = []
    for iid, b in after.items():
        a = before.get(iid)
        if a is None:
            out.append(ItemChange(kind, iid, b.name, "added"))
            continue
        c = change(a, b)
        if c is not None:
            out.append(c)
    out.extend(
        ItemChange(kind, iid, a.name, "removed") for iid, a in before.items() if iid not in after
    )
    return out


class _Notes:
    """Collects what changed about one item, then makes the ItemChange (or None)."""

    def __init__(self, kind: str, a, b):
        self.kind, self.a, self.b = kind, a, b
        self.fields: list[str] = []
        self.moved: list[tuple[str, float]] = []
        self.notes: list[str] = []
        if a.name != b.name:
            self.add("name", f"renamed from {a.name}")

    def add(self, field: str, note: str) -> None:
        self.fields.append(field)
        self.notes.append(note)

    def point(self, field: str, label: str | None = None) -> None:
        mm = _distance(getattr(self.a, field), getattr(self.b, field))
        if mm >= MOVE_MM:
            self.moved.append((field, mm))
            self.add(field, f"{field if label is None else label} moved {mm:.1f} mm".strip())

    def done(self) -> ItemChange | None:
        if not self.fields:
            return None
        b = self.b
        return ItemChange(
            self.kind,
            b.id,
            b.name,
            "changed",
            tuple(self.fields),
            tuple(self.moved),
            tuple(self.notes),
        )


def _trajectory_change(a: Trajectory, b: Trajectory) -> ItemChange | None:
    n = _Notes("trajectory", a, b)
    n.point("entry")
    n.point("target")
    if abs(a.diameter - b.diameter) >= DIAMETER_MM:
        n.add("diameter", f"diameter {a.diameter:g} -> {b.diameter:g} mm")
    if a.color != b.color:
        n.add("colour", "colour changed")
    return n.done()


def _landmark_change(a, b) -> ItemChange | None:
    n = _Notes("landmark", a, b)
    n.point("position", "")  # "Landmark Nasion moved 1.5 mm"
    return n.done()


def _measurement_change(a, b) -> ItemChange | None:
    n = _Notes("measurement", a, b)
    n.point("a", "point A")
    n.point("b", "point B")
    return n.done()


def _view_change(a, b) -> ItemChange | None:
    n = _Notes("view", a, b)
    if any(getattr(a, f.name) != getattr(b, f.name) for f in fields(a) if f.name != "name"):
        n.add("camera", "camera")
    return n.done()


def _structure_change(a: Structure, b: Structure, old_sha, new_sha, shapes) -> ItemChange | None:
    n = _Notes("structure", a, b)
    if max(abs(x - y) for x, y in zip(a.color, b.color, strict=True)) >= COLOUR_STEP:
        n.add("colour", "colour")
    if abs(a.opacity - b.opacity) >= OPACITY_STEP:
        n.add("opacity", f"opacity {a.opacity * 100:.0f} % -> {b.opacity * 100:.0f} %")
    if a.visible != b.visible:
        n.add("visible", "now shown" if b.visible else "now hidden")
    if a.critical != b.critical:
        n.add("critical", "now CRITICAL" if b.critical else "no longer critical")
    if a.category != b.category:
        n.add("category", f"now {b.category}")
    sha_a, sha_b = old_sha.get(a.mesh), new_sha.get(b.mesh)
    same_mesh = sha_a == sha_b if sha_a and sha_b else a.mesh == b.mesh  # no hash: by path
    if not same_mesh:
        _mesh_moved(n, shapes[0].get(a.id), shapes[1].get(b.id))
    return n.done()


def _mesh_moved(n: _Notes, before: MeshShape | None, after: MeshShape | None) -> None:
    """A replaced mesh: how far its centroid and the faces of its bounding box moved."""
    if before is None or after is None:
        n.add("mesh", "mesh")
        return
    centroid = _distance(before.centroid, after.centroid)
    faces = np.subtract((*before.lo, *before.hi), (*after.lo, *after.hi))  # the six faces
    bounds = float(np.abs(faces).max())
    n.moved.extend(
        (w, mm) for w, mm in (("mesh centroid", centroid), ("mesh bounds", bounds)) if mm >= MOVE_MM
    )
    if max(centroid, bounds) >= MOVE_MM:
        n.add("mesh", f"mesh: centre moved {centroid:.1f} mm, bounds up to {bounds:.1f} mm")
    else:
        n.add("mesh", "mesh, same place and size")


def _hashes(plan: Plan) -> dict[str, str]:
    return {f.path: f.sha256 for f in plan.files}


def _distance(a, b) -> float:
    return float(np.linalg.norm(np.subtract(a, b, dtype=np.float64)))


def _t(v) -> tuple[float, float, float]:
    x, y, z = (float(c) for c in v)
    return (x, y, z)
