"""The camera: pure numpy, no GL. World coordinates are patient LPS millimetres.

A Camera orbits around `center` at `distance`; `rotation` holds the camera axes in world
coordinates as rows: right, up and back (the camera looks along -back). Screen coordinates in
this package are pixels with the origin at the TOP-LEFT corner, y growing downwards (as in an
image); Kivy's touch.y grows upwards, so pass `height - touch.y`.

Named views (orkiosk.plan.views): "anterior" looks at the face with superior up, so the
patient's LEFT (+x) is on the screen's RIGHT; "posterior" the reverse; "left"/"right" look from
that side; "superior" looks down from above the head with anterior at the top; "inferior" looks up
from the feet, anterior at the top (radiological convention: patient's left on screen right).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from orkiosk.plan.views import NAMED_VIEWS, unit, up_for


def rotation_matrix(axis, angle: float) -> np.ndarray:
    """3x3 rotation by `angle` radians about `axis` (right-hand rule)."""
    x, y, z = unit(axis)
    c, s = math.cos(angle), math.sin(angle)
    C = 1.0 - c
    return np.array(
        [
            [c + x * x * C, x * y * C - z * s, x * z * C + y * s],
            [y * x * C + z * s, c + y * y * C, y * z * C - x * s],
            [z * x * C - y * s, z * y * C + x * s, c + z * z * C],
        ]
    )


def look_rotation(look, up) -> np.ndarray:
    """Camera axes (rows right, up, back) for a view direction and an approximate up."""
    f = unit(look)
    u = np.asarray(up, dtype=np.float64)
    u = u - f * float(np.dot(u, f))
    if np.linalg.norm(u) < 1e-6:
        raise ValueError("the up direction is parallel to the view direction")
    u = unit(u)
    r = np.cross(f, u)
    return np.array([r, u, -f])


@dataclass
class Camera:
    center: np.ndarray = field(default_factory=lambda: np.zeros(3))
    rotation: np.ndarray = field(default_factory=lambda: look_rotation(*NAMED_VIEWS["anterior"]))
    distance: float = 500.0
    fov_y: float = 30.0  # degrees; perspective
    orthographic: bool = False

    def copy(self) -> Camera:
        return Camera(
            self.center.copy(), self.rotation.copy(), self.distance, self.fov_y, self.orthographic
        )

    # ------------------------------------------------------------------ axes
    @property
    def right(self) -> np.ndarray:
        return self.rotation[0]

    @property
    def up(self) -> np.ndarray:
        return self.rotation[1]

    @property
    def forward(self) -> np.ndarray:
        return -self.rotation[2]

    @property
    def eye(self) -> np.ndarray:
        return self.center + self.rotation[2] * self.distance

    # ------------------------------------------------------------------ matrices
    def view_matrix(self) -> np.ndarray:
        m = np.eye(4)
        m[:3, :3] = self.rotation
        m[:3, 3] = -self.rotation @ self.eye
        return m

    def clip_range(self, bounds) -> tuple[float, float]:
        """Near and far planes (mm) that enclose `bounds` = (min, max) as seen from the eye."""
        lo, hi = (np.asarray(b, dtype=np.float64) for b in bounds)
        c = (lo + hi) / 2
        r = max(float(np.linalg.norm(hi - lo)) / 2, 1.0)
        depth = float(np.dot(c - self.eye, self.forward))
        far = depth + r * 1.05
        near = max(depth - r * 1.05, far / 2000.0, 0.1)
        if far <= near:
            far = near * 2
        return near, far

    def projection_matrix(self, aspect: float, near: float, far: float) -> np.ndarray:
        t = math.tan(math.radians(self.fov_y) / 2)
        m = np.zeros((4, 4))
        if self.orthographic:
            h = self.distance * t
            w = h * aspect
            m[0, 0] = 1 / w
            m[1, 1] = 1 / h
            m[2, 2] = -2 / (far - near)
            m[2, 3] = -(far + near) / (far - near)
            m[3, 3] = 1
        else:
            m[0, 0] = 1 / (t * aspect)
            m[1, 1] = 1 / t
            m[2, 2] = -(far + near) / (far - near)
            m[2, 3] = -2 * far * near / (far - near)
            m[3, 2] = -1
        return m

    def view_projection(self, width: int, height: int, bounds) -> np.ndarray:
        near, far = self.clip_range(bounds)
        return self.projection_matrix(width / max(height, 1), near, far) @ self.view_matrix()

    def project(self, points, width: int, height: int, bounds=None) -> np.ndarray:
        """World points (..., 3) -> (..., 3): pixel x, pixel y (top-left origin), view depth (mm).

        Depth is the distance in front of the eye along the view axis; <= 0 is behind it.
        """
        p = np.asarray(points, dtype=np.float64)
        flat = p.reshape(-1, 3)
        v = (flat - self.eye) @ self.rotation.T  # camera coordinates
        depth = -v[:, 2]
        t = math.tan(math.radians(self.fov_y) / 2)
        aspect = width / max(height, 1)
        if self.orthographic:
            h = self.distance * t
            ndc_x = v[:, 0] / (h * aspect)
            ndc_y = v[:, 1] / h
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                ndc_x = v[:, 0] / (depth * t * aspect)
                ndc_y = v[:, 1] / (depth * t)
        out = np.stack([(ndc_x + 1) / 2 * width, (1 - ndc_y) / 2 * height, depth], axis=-1)
        return out.reshape(p.shape[:-1] + (3,))

    def ray(self, x: float, y: float, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        """The world ray (origin, unit direction) through pixel (x, y), top-left origin."""
        t = math.tan(math.radians(self.fov_y) / 2)
        aspect = width / max(height, 1)
        ndc_x = 2 * x / width - 1
        ndc_y = 1 - 2 * y / height
        if self.orthographic:
            h = self.distance * t
            origin = self.eye + self.right * ndc_x * h * aspect + self.up * ndc_y * h
            return origin, self.forward.copy()
        d = self.forward + self.right * ndc_x * t * aspect + self.up * ndc_y * t
        return self.eye.copy(), unit(d)

    def mm_per_pixel(self, height: int) -> float:
        """Size of one pixel at the orbit centre."""
        return 2 * self.distance * math.tan(math.radians(self.fov_y) / 2) / max(height, 1)

    # ------------------------------------------------------------------ moves
    def orbit(self, dx: float, dy: float, width: int, height: int) -> None:
        """Trackball: a drag of (dx, dy) pixels turns the scene with the finger.

        Dragging right moves the front of the scene to the right; a drag across the whole
        shorter side of the viewport turns it by 180 degrees.
        """
        length = math.hypot(dx, dy)
        if length == 0:
            return
        angle = math.pi * length / max(min(width, height), 1)
        # object rotation axis in camera space is (dy, dx, 0); express it in world space
        axis = (self.right * dy + self.up * dx) / length
        self.rotate_scene(axis, angle)

    def turn(self, right_deg: float, up_deg: float) -> None:
        """Turn the scene the way a finger drags its surface: `right_deg` towards the screen's
        right (about the screen's vertical axis), `up_deg` towards its top (about its horizontal
        axis); the total angle is their hypotenuse."""
        angle = math.radians(math.hypot(right_deg, up_deg))
        if angle > 0:
            self.rotate_scene(self.up * right_deg - self.right * up_deg, angle)

    def rotate_scene(self, axis, angle: float) -> None:
        """Turn the scene by `angle` radians about a world `axis` through the orbit centre."""
        q = rotation_matrix(axis, -angle)  # the camera turns the other way
        self.rotation = _orthonormalize(self.rotation @ q.T)

    def roll(self, degrees: float) -> None:
        """Turn the picture clockwise on the screen by `degrees`."""
        self.rotate_scene(self.forward, math.radians(degrees))

    def zoom(self, factor: float, anchor=None, width: int = 0, height: int = 0) -> None:
        """Zoom in by `factor` (> 1 magnifies). With anchor=(x, y) that point stays put."""
        if factor <= 0 or not math.isfinite(factor):
            raise ValueError(f"zoom factor must be positive, got {factor}")
        if anchor is not None and width and height:
            x, y = anchor
            s = self.mm_per_pixel(height)
            offset = self.right * (x - width / 2) * s - self.up * (y - height / 2) * s
            self.center = self.center + offset * (1 - 1 / factor)
        self.distance = max(self.distance / factor, 1.0)

    def pan(self, dx: float, dy: float, width: int, height: int) -> None:
        """Move the scene with the finger by (dx, dy) pixels."""
        s = self.mm_per_pixel(height)
        self.center = self.center - self.right * dx * s + self.up * dy * s

    # ------------------------------------------------------------------ placement
    def fit(self, bounds, aspect: float = 1.0, margin: float = 1.06, center=None) -> None:
        """Centre on `bounds` = (min, max) (or on `center`) and back off until the box fits
        the viewport as seen from the current direction."""
        lo, hi = (np.asarray(b, dtype=np.float64) for b in bounds)
        self.center = (lo + hi) / 2 if center is None else np.asarray(center, dtype=np.float64)
        self.distance = self.fit_distance(bounds, aspect, margin)

    def fit_distance(self, bounds, aspect: float = 1.0, margin: float = 1.06) -> float:
        """Smallest eye distance from `center` at which every corner of `bounds` is in view."""
        lo, hi = (np.asarray(b, dtype=np.float64) for b in bounds)
        corners = np.array(
            [[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
        )
        rel = (corners - self.center) @ self.rotation.T  # camera axes: right, up, back
        tan_y = math.tan(math.radians(self.fov_y) / 2)
        tan_x = tan_y * aspect
        if self.orthographic:
            half = max(np.abs(rel[:, 0]).max() / aspect, np.abs(rel[:, 1]).max()) * margin
            return max(float(half / tan_y), float(rel[:, 2].max()) + 1.0, 1.0)
        need = (
            np.maximum(np.abs(rel[:, 0]) * margin / tan_x, np.abs(rel[:, 1]) * margin / tan_y)
            + rel[:, 2]
        )
        return max(float(need.max()), float(rel[:, 2].max()) + 1.0, 1.0)

    def look_along(self, look, up, center=None, distance=None) -> None:
        self.rotation = look_rotation(look, up)
        if center is not None:
            self.center = np.asarray(center, dtype=np.float64)
        if distance is not None:
            self.distance = float(distance)

    @classmethod
    def named(cls, name: str, bounds, aspect: float = 1.0) -> Camera:
        """One of NAMED_VIEWS, fitted to `bounds`."""
        key = name.lower()
        if key not in NAMED_VIEWS:
            raise KeyError(f"unknown view {name!r}; known: {', '.join(NAMED_VIEWS)}")
        cam = cls()
        cam.look_along(*NAMED_VIEWS[key])
        cam.fit(bounds, aspect)
        return cam

    @classmethod
    def from_view(cls, view, bounds, aspect: float = 1.0) -> Camera:
        """A camera from a plan's orkiosk.plan.model.View."""
        cam = cls()
        cam.look_along(view.look, view.up)
        cam.fit(bounds, aspect, center=view.center)
        if view.distance is not None:
            cam.distance = float(view.distance)
        return cam

    @classmethod
    def probe(cls, entry, target, bounds=None, aspect: float = 1.0, radius=None) -> Camera:
        """Probe's-eye view: looking from entry to target, the target at the image centre.

        Framed on the target's surroundings: `radius` mm around it (default half the path,
        at least 30 mm). `bounds` is accepted for symmetry with the other views.
        """
        entry = np.asarray(entry, dtype=np.float64)
        target = np.asarray(target, dtype=np.float64)
        f = unit(target - entry)
        r = _frame_radius(entry, target, radius)
        cam = cls()
        cam.look_along(f, up_for(f))
        cam.fit((target - r, target + r), aspect, center=target)
        return cam

    @classmethod
    def perpendicular(cls, entry, target, bounds=None, aspect: float = 1.0, radius=None) -> Camera:
        """Side view of a trajectory: the path vertical on screen, entry at the top.

        Looks from the anterior side when it can (from the patient's left otherwise), framed
        on the path plus `radius` mm (default half the path, at least 30 mm).
        """
        entry = np.asarray(entry, dtype=np.float64)
        target = np.asarray(target, dtype=np.float64)
        f = unit(target - entry)
        look = None
        for cand in ((0.0, 1.0, 0.0), (-1.0, 0.0, 0.0)):
            c = np.asarray(cand)
            g = c - f * float(np.dot(c, f))
            if np.linalg.norm(g) > 0.3:
                look = unit(g)
                break
        assert look is not None
        r = _frame_radius(entry, target, radius)
        cam = cls()
        cam.look_along(look, -f)
        lo = np.minimum(entry, target) - r
        hi = np.maximum(entry, target) + r
        cam.fit((lo, hi), aspect, center=(entry + target) / 2)
        return cam


def _frame_radius(entry, target, radius) -> float:
    if radius is not None:
        return float(radius)
    return max(30.0, 0.5 * float(np.linalg.norm(np.asarray(target) - np.asarray(entry))))


def _orthonormalize(m: np.ndarray) -> np.ndarray:
    r, u = m[0], m[1]
    r = r / np.linalg.norm(r)
    u = u - r * np.dot(u, r)
    u = u / np.linalg.norm(u)
    return np.array([r, u, np.cross(r, u)])
