"""The surgical plan: plain data objects that mirror plan.json (format orkiosk-plan v1).

All coordinates are patient LPS millimetres. Objects are frozen; build a new Plan to change one
(dataclasses.replace). Conversion to and from plan.json dictionaries lives here, next to the
fields, so that the two can never drift apart; the JSON Schema (schema/plan.schema.json) checks
the dictionaries before from_dict sees them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from orkiosk.plan.image import ImageEntry

FORMAT = "orkiosk-plan"
FORMAT_VERSION = 1
FORMAT_VERSION_IMAGE = 1.1  # format 1.1: 1 plus an optional image volume (plan/image.py)
DEFAULT_PLACEMENT_ERROR = 2.0  # mm: frame-based SEEG reports ~1.4 mm at entry, ~2.7 at target
LATERALITIES = ("left", "right", "bilateral", "midline", "none")
SEXES = ("F", "M", "O", "")

Vec3 = tuple[float, float, float]
RGB = tuple[float, float, float]


def _vec(values) -> Vec3:
    x, y, z = (float(v) for v in values)
    return (x, y, z)


@dataclass(frozen=True)
class Patient:
    name: str
    id: str
    birth_date: str = ""  # ISO date YYYY-MM-DD, or "" when unknown
    sex: str = ""  # "F", "M", "O" or ""


@dataclass(frozen=True)
class Study:
    uid: str
    date: str = ""  # ISO date
    description: str = ""
    modality: str = ""  # DICOM modality: CT, MR, ...


@dataclass(frozen=True)
class Structure:
    id: str
    name: str
    mesh: str  # package-relative path of the .glb file
    color: RGB = (0.8, 0.8, 0.8)  # linear 0..1
    opacity: float = 1.0
    visible: bool = True
    category: str = "anatomy"  # e.g. skin, bone, vessel, tumour, organ, implant
    critical: bool = False  # a structure that trajectories must keep clear of


@dataclass(frozen=True)
class Trajectory:
    id: str
    name: str
    entry: Vec3
    target: Vec3
    diameter: float = 2.0  # mm
    color: RGB | None = None  # linear 0..1; None: the product's path colour


@dataclass(frozen=True)
class Landmark:
    id: str
    name: str
    position: Vec3


@dataclass(frozen=True)
class Measurement:
    id: str
    name: str
    a: Vec3
    b: Vec3


@dataclass(frozen=True)
class View:
    """A named camera: looking along `look` (LPS direction) towards `center`, `up` pointing up."""

    id: str
    name: str
    look: Vec3
    up: Vec3
    center: Vec3 | None = None  # None: the centre of the plan's bounds
    distance: float | None = None  # mm from centre; None: fit the plan


@dataclass(frozen=True)
class FileEntry:
    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Plan:
    case_id: str
    plan_version: int
    created: str  # ISO 8601 timestamp with zone, e.g. 2026-11-28T09:30:00Z
    planner: str
    patient: Patient
    study: Study
    procedure: str
    laterality: str
    structures: tuple[Structure, ...] = ()
    trajectories: tuple[Trajectory, ...] = ()
    landmarks: tuple[Landmark, ...] = ()
    measurements: tuple[Measurement, ...] = ()
    views: tuple[View, ...] = ()
    files: tuple[FileEntry, ...] = ()
    coordinate_system: str = "LPS"
    units: str = "mm"
    format: str = FORMAT
    format_version: int | float = FORMAT_VERSION  # 1, or 1.1 with an image
    image: ImageEntry | None = None  # format 1.1
    placement_error: float | None = None  # mm; None: DEFAULT_PLACEMENT_ERROR

    @property
    def safety_placement_error(self) -> float:
        """The placement error that safety margins use (mm): the plan's, or the default."""
        pe = self.placement_error
        return DEFAULT_PLACEMENT_ERROR if pe is None else float(pe)

    def safety_margin(self, trajectory: Trajectory) -> float:
        """How far (mm) a path must keep from critical structures: instrument radius plus
        placement error. Computed clearance is never a guarantee (what is not segmented is not
        seen); the margin only says how close is too close."""
        return trajectory.diameter / 2 + self.safety_placement_error

    def structure(self, sid: str) -> Structure:
        for s in self.structures:
            if s.id == sid:
                return s
        raise KeyError(sid)

    def trajectory(self, tid: str) -> Trajectory:
        for t in self.trajectories:
            if t.id == tid:
                return t
        raise KeyError(tid)

    def to_dict(self) -> dict:
        """The plan.json dictionary, keys in a stable, readable order."""
        d = {
            "format": self.format,
            "format_version": self.format_version,
            "case_id": self.case_id,
            "plan_version": self.plan_version,
            "created": self.created,
            "planner": self.planner,
            "patient": asdict(self.patient),
            "study": asdict(self.study),
            "procedure": self.procedure,
            "laterality": self.laterality,
            "coordinate_system": self.coordinate_system,
            "units": self.units,
            "structures": [_plain(asdict(s)) for s in self.structures],
            "trajectories": [_trajectory_dict(t) for t in self.trajectories],
            "landmarks": [_plain(asdict(m)) for m in self.landmarks],
            "measurements": [_plain(asdict(m)) for m in self.measurements],
            "views": [_view_dict(v) for v in self.views],
            "files": [asdict(f) for f in self.files],
        }
        if self.placement_error is not None:
            d["placement_error"] = self.placement_error
        if self.image is not None:
            d["image"] = self.image.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Plan:
        """Build a Plan from a plan.json dictionary that already passed the schema."""
        return cls(
            format=d["format"],
            format_version=d["format_version"],
            case_id=d["case_id"],
            plan_version=d["plan_version"],
            created=d["created"],
            planner=d["planner"],
            patient=Patient(**d["patient"]),
            study=Study(**d["study"]),
            procedure=d["procedure"],
            laterality=d["laterality"],
            coordinate_system=d["coordinate_system"],
            units=d["units"],
            structures=tuple(
                Structure(**{**s, "color": _vec(s["color"])}) for s in d["structures"]
            ),
            trajectories=tuple(_trajectory_from(t) for t in d["trajectories"]),
            landmarks=tuple(
                Landmark(**{**m, "position": _vec(m["position"])}) for m in d["landmarks"]
            ),
            measurements=tuple(
                Measurement(**{**m, "a": _vec(m["a"]), "b": _vec(m["b"])})
                for m in d["measurements"]
            ),
            views=tuple(_view_from(v) for v in d["views"]),
            files=tuple(FileEntry(**f) for f in d["files"]),
            image=ImageEntry.from_dict(d["image"]) if "image" in d else None,
            placement_error=float(d["placement_error"]) if "placement_error" in d else None,
        )


def _plain(d: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def _trajectory_dict(t: Trajectory) -> dict:
    d = _plain(asdict(t))
    if t.color is None:
        del d["color"]
    return d


def _trajectory_from(t: dict) -> Trajectory:
    extra = {"color": _vec(t["color"])} if "color" in t else {}
    return Trajectory(**{**t, "entry": _vec(t["entry"]), "target": _vec(t["target"]), **extra})


def _view_dict(v: View) -> dict:
    d = _plain(asdict(v))
    return {k: val for k, val in d.items() if val is not None}


def _view_from(v: dict) -> View:
    return View(
        id=v["id"],
        name=v["name"],
        look=_vec(v["look"]),
        up=_vec(v["up"]),
        center=_vec(v["center"]) if "center" in v else None,
        distance=float(v["distance"]) if "distance" in v else None,
    )
