"""What to show and how well: plain data (no GL), copied out of the app's state every frame.

DisplayState holds the per-structure overrides (visibility, opacity, colour), the clipping plane
and the marker switches; ClipPlane and cut_plane() build the cuts of CUT_PLANES (the one cut
vocabulary of orkiosk: the kiosk and `orkiosk snapshot --cut` both use it); Quality says how much
effort a frame gets (full at rest, interactive while the view moves).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from orkiosk.plan.model import Plan, Structure, Trajectory
from orkiosk.render.camera import Camera
from orkiosk.render.errors import RenderError

AXIS_CUTS = ("axial", "sagittal", "coronal")  # through the plan's centre, OFFSET mm along +z/+x/+y
TRAJECTORY_CUTS = ("along", "perp")  # containing a trajectory / across it, OFFSET mm before target
CUT_PLANES = AXIS_CUTS + TRAJECTORY_CUTS


@dataclass(frozen=True)
class ClipPlane:
    """A cut: everything on the side the normal points to is removed (the kept side is behind).

    `point` and `normal` are LPS (mm, unit vector). Look at the cut from the removed side (the
    normal points towards the camera) to see the capped section.
    """

    point: tuple[float, float, float]
    normal: tuple[float, float, float]
    name: str = ""

    def __post_init__(self):
        n = np.asarray(self.normal, dtype=np.float64)
        length = float(np.linalg.norm(n))
        if not np.isfinite(length) or length < 1e-9:
            raise RenderError(f"clipping plane normal {self.normal} has no length")
        object.__setattr__(self, "normal", tuple(float(x) for x in n / length))
        object.__setattr__(self, "point", tuple(float(x) for x in self.point))

    def equation(self) -> np.ndarray:
        """(a, b, c, d) with a*x + b*y + c*z + d >= 0 on the kept side."""
        n = np.asarray(self.normal)
        return np.append(-n, float(np.dot(n, self.point)))

    def signed_distance(self, points) -> np.ndarray:
        """mm along the normal: > 0 removed, <= 0 kept."""
        p = np.asarray(points, dtype=np.float64)
        return (p - np.asarray(self.point)) @ np.asarray(self.normal)

    def moved(self, mm: float) -> ClipPlane:
        """The same plane shifted by `mm` along its normal (towards the removed side)."""
        p = np.asarray(self.point) + np.asarray(self.normal) * mm
        return replace(self, point=tuple(p))

    def flipped(self) -> ClipPlane:
        """Keep the other side."""
        return replace(self, normal=tuple(-np.asarray(self.normal)))

    # ----------------------------------------------------------------- factories
    @classmethod
    def axial(cls, center, offset: float = 0.0) -> ClipPlane:
        """Removes what lies superior of z = center.z + offset (look from superior)."""
        c = np.asarray(center, dtype=np.float64)
        return cls(tuple(c + [0, 0, offset]), (0.0, 0.0, 1.0), "axial")

    @classmethod
    def sagittal(cls, center, offset: float = 0.0) -> ClipPlane:
        """Removes what lies left (+x) of x = center.x + offset (look from the left)."""
        c = np.asarray(center, dtype=np.float64)
        return cls(tuple(c + [offset, 0, 0]), (1.0, 0.0, 0.0), "sagittal")

    @classmethod
    def coronal(cls, center, offset: float = 0.0) -> ClipPlane:
        """Removes what lies anterior (-y) of y = center.y + offset (look from anterior)."""
        c = np.asarray(center, dtype=np.float64)
        return cls(tuple(c + [0, offset, 0]), (0.0, -1.0, 0.0), "coronal")

    @classmethod
    def perpendicular_to(cls, trajectory: Trajectory, offset: float = 0.0) -> ClipPlane:
        """Perpendicular to the path, `offset` mm before the target; removes the entry side."""
        entry = np.asarray(trajectory.entry, dtype=np.float64)
        target = np.asarray(trajectory.target, dtype=np.float64)
        f = (target - entry) / np.linalg.norm(target - entry)
        return cls(tuple(target - f * offset), tuple(-f), f"perp:{trajectory.id}")

    @classmethod
    def along(cls, trajectory: Trajectory, bounds, offset: float = 0.0) -> ClipPlane:
        """Contains the path (offset 0); seen face-on from Camera.perpendicular's direction."""
        cam = Camera.perpendicular(trajectory.entry, trajectory.target, bounds)
        mid = (np.asarray(trajectory.entry) + np.asarray(trajectory.target)) / 2
        n = -cam.forward
        return cls(tuple(mid + n * offset), tuple(n), f"along:{trajectory.id}")


def cut_plane(kind: str, offset: float, bounds, trajectory: Trajectory | None = None) -> ClipPlane:
    """The ClipPlane of one of CUT_PLANES. Axis cuts go through the centre of `bounds` moved
    `offset` mm along +z / +x / +y; "along" contains `trajectory` (moved `offset` mm along its
    normal), "perp" crosses it `offset` mm before its target. A trajectory cut without a
    trajectory falls back to the axial cut."""
    if kind not in CUT_PLANES:
        raise RenderError(f"unknown cut plane {kind!r}; known: {', '.join(CUT_PLANES)}")
    if kind in TRAJECTORY_CUTS and trajectory is not None:
        if kind == "perp":
            return ClipPlane.perpendicular_to(trajectory, offset)
        return ClipPlane.along(trajectory, bounds, offset)
    lo, hi = (np.asarray(b, dtype=np.float64) for b in bounds)
    center = (lo + hi) / 2
    return getattr(ClipPlane, kind if kind in AXIS_CUTS else "axial")(center, offset)


def parse_cut(spec: str, plan: Plan, bounds) -> ClipPlane:
    """PLANE:OFFSET[:flip] for axial|sagittal|coronal (OFFSET mm from the centre of the plan's
    bounds along +z / +x / +y), along:TRAJ[:OFFSET] or perp:TRAJ[:OFFSET] (mm before the target)."""
    parts = [p.strip() for p in spec.split(":")]
    flip = bool(parts) and parts[-1].lower() == "flip"
    if flip:
        parts = parts[:-1]
    if not parts or parts[0].lower() not in CUT_PLANES:
        raise RenderError(
            f"cut {spec!r}: the plane must be one of {', '.join(CUT_PLANES)} "
            f"(e.g. axial:20, coronal:-10, perp:TRAJ_ID:5, add :flip to keep the other side)"
        )
    kind = parts[0].lower()

    def number(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise RenderError(f"cut {spec!r}: {text!r} is not a number of mm") from None
        if not np.isfinite(value):
            raise RenderError(f"cut {spec!r}: offset must be finite")
        return value

    traj = None
    if kind in AXIS_CUTS:
        if len(parts) > 2:
            raise RenderError(f"cut {spec!r}: expected {kind}:OFFSET")
        offset = number(parts[1]) if len(parts) == 2 and parts[1] else 0.0
    else:
        if len(parts) < 2 or len(parts) > 3:
            raise RenderError(f"cut {spec!r}: expected {kind}:TRAJECTORY_ID[:OFFSET]")
        try:
            traj = plan.trajectory(parts[1])
        except KeyError:
            known = ", ".join(t.id for t in plan.trajectories) or "none"
            raise RenderError(
                f"cut {spec!r}: no trajectory {parts[1]!r} (known: {known})"
            ) from None
        offset = number(parts[2]) if len(parts) == 3 else 0.0
    plane = cut_plane(kind, offset, bounds, traj)
    return plane.flipped() if flip else plane


@dataclass(frozen=True)
class Quality:
    """How much a frame may cost. FULL at rest; INTERACTIVE while the view moves."""

    scale: float = 1.0  # fraction of the target's pixels per axis that the scene is drawn at
    msaa: int = 4  # samples (0: none); clamped to what the GL offers
    lod: bool = False  # draw the lighter level of detail meshes
    outlines: bool = True  # silhouette lines from depth jumps


FULL = Quality()
INTERACTIVE = Quality(scale=0.5, msaa=0, lod=True, outlines=False)


@dataclass
class DisplayState:
    """Per-frame display choices on top of the plan's own structure settings."""

    visible: dict[str, bool] = field(default_factory=dict)  # overrides Structure.visible
    opacity: dict[str, float] = field(default_factory=dict)  # overrides Structure.opacity
    color: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    clip: ClipPlane | None = None
    show_trajectories: bool = True
    show_landmarks: bool = True
    trajectory_extension: float = 0.0  # mm drawn beyond each target (thinner, dimmer)
    probe_trajectory: str | None = None  # in its probe's-eye view: hide its tube and entry ring
    hidden_trajectories: frozenset[str] = frozenset()
    orientation_marker: bool = True
    show_image: bool = True  # paint cut sections with the package's image, when it has one
    window: tuple[float, float] | None = None  # (width, level) of the image; None: its default
    background: tuple[float, float, float] = (0.07, 0.08, 0.1)  # display RGB, dark

    def hide(self, *ids: str) -> DisplayState:
        for sid in ids:
            self.visible[sid] = False
        return self

    def is_visible(self, s: Structure) -> bool:
        return bool(self.visible.get(s.id, s.visible)) and self.opacity_of(s) > 0.001

    def opacity_of(self, s: Structure) -> float:
        return float(min(1.0, max(0.0, self.opacity.get(s.id, s.opacity))))

    def color_of(self, s: Structure) -> tuple[float, float, float]:
        return tuple(float(c) for c in self.color.get(s.id, s.color))


class InteractionQuality:
    """Chooses the quality of each frame: INTERACTIVE while the view moves, FULL once it rests.

        governor.moved()                 # on every camera change (touch, animation)
        q = governor.quality()           # for the frame about to be drawn
        governor.frame_done(info.cpu_ms or a measured frame time)
        if governor.needs_full_frame():  # the view came to rest: draw once more at FULL
            ...

    While moving, the scene scale adapts (between min_scale and the preset's) so that frames
    stay near target_ms. Pure Python: the app's clock calls it; no GL here.
    """

    def __init__(
        self,
        interactive: Quality = INTERACTIVE,
        full: Quality = FULL,
        settle_s: float = 0.25,
        target_ms: float = 33.0,
        min_scale: float = 0.3,
    ):
        self.interactive = interactive
        self.full = full
        self.settle_s = settle_s
        self.target_ms = target_ms
        self.min_scale = min_scale
        self.scale = interactive.scale
        self._last_move: float | None = None
        self._full_pending = True

    @staticmethod
    def _now(now: float | None) -> float:
        import time

        return time.monotonic() if now is None else now

    def moved(self, now: float | None = None) -> None:
        self._last_move = self._now(now)
        self._full_pending = True

    def moving(self, now: float | None = None) -> bool:
        return self._last_move is not None and self._now(now) - self._last_move < self.settle_s

    def quality(self, now: float | None = None) -> Quality:
        if self.moving(now):
            return replace(self.interactive, scale=self.scale)
        return self.full

    def needs_full_frame(self, now: float | None = None) -> bool:
        """True when the view rests and its last frame was not drawn at full quality."""
        return self._full_pending and not self.moving(now)

    def frame_done(self, ms: float, quality: Quality | None = None) -> None:
        """Tell how long a frame took; adapts the interactive scale, notes full frames."""
        if quality is not None and quality == self.full:
            self._full_pending = False
            return
        if ms <= 0:
            return
        # pixels ~ scale^2; move gently towards the target frame time
        factor = min(1.25, max(0.8, (self.target_ms / ms) ** 0.5))
        self.scale = min(self.interactive.scale, max(self.min_scale, self.scale * factor))
