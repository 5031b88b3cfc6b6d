"""A synthetic head plan made of smooth parametric surfaces (numpy only), for tests and benchmarks.

Placed so that left and right cannot be confused: the lesion and the trajectory are on the
patient's LEFT (+x in LPS), the nose points anterior (-y). No patient data is involved.
"""

from __future__ import annotations

import numpy as np

from orkiosk.plan.mesh import Mesh
from orkiosk.plan.model import Landmark, Patient, Plan, Structure, Study, Trajectory, View


def sphere_grid(n_lat: int, n_lon: int) -> tuple[np.ndarray, np.ndarray]:
    """The latitude/longitude sphere every generated surface is made from.

    Unit directions (float64): the +z pole, n_lat - 1 rings of n_lon vertices from +z towards
    -z, the -z pole (one vertex per pole: a closed surface); and faces (uint32) wound
    counter-clockwise seen from outside.
    """
    n_lat = max(n_lat, 2)
    theta = np.linspace(0.0, np.pi, n_lat + 1)[1:-1]  # rings between the poles
    phi = np.linspace(0.0, 2.0 * np.pi, n_lon, endpoint=False)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    ring = np.stack([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)], axis=-1)
    dirs = np.concatenate([[[0.0, 0.0, 1.0]], ring.reshape(-1, 3), [[0.0, 0.0, -1.0]]])
    c = np.arange(n_lon)
    c1 = (c + 1) % n_lon
    south = len(dirs) - 1
    faces = [np.stack([np.zeros(n_lon, np.int64), 1 + c, 1 + c1], axis=1)]
    if n_lat > 2:
        faces.append(_grid_faces(n_lat - 2, n_lon) + 1)
    last = 1 + (n_lat - 2) * n_lon
    faces.append(np.stack([np.full(n_lon, south), last + c1, last + c], axis=1))
    return dirs, np.concatenate(faces).astype(np.uint32)


def _grid_faces(rows: int, cols: int) -> np.ndarray:
    """Two triangles per cell of a (rows+1) x cols vertex grid; columns wrap around."""
    r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    c1 = (c + 1) % cols
    a = r * cols + c
    b = (r + 1) * cols + c
    bb = (r + 1) * cols + c1
    d = r * cols + c1
    tri1 = np.stack([a, b, bb], axis=-1).reshape(-1, 3)
    tri2 = np.stack([a, bb, d], axis=-1).reshape(-1, 3)
    return np.concatenate([tri1, tri2]).astype(np.uint32)


def surface(center, radii, n_lat: int, n_lon: int, shape=None) -> Mesh:
    """A closed star-shaped surface around center: radius r(theta, phi) * radii.

    shape(dir) -> radius factor per unit direction (N, 3) in LPS; None gives an ellipsoid.
    Triangles wind counter-clockwise seen from outside, so normals point out.
    """
    dirs, faces = sphere_grid(n_lat, n_lon)
    factor = np.ones(len(dirs)) if shape is None else shape(dirs)
    pos = np.asarray(center) + dirs * factor[:, None] * np.asarray(radii)
    return Mesh.from_triangles(pos, faces)


def _bump(dirs, toward, width, height):
    d = np.asarray(toward, dtype=float)
    d /= np.linalg.norm(d)
    return height * np.exp(-((1.0 - dirs @ d) / width))


def _head_shape(dirs):
    # nose (anterior = -y), slightly lower than centre; ears left (+x) and right (-x); chin.
    return (
        1.0
        + _bump(dirs, (0, -1, -0.15), 0.012, 0.16)
        + _bump(dirs, (1, 0.05, 0), 0.01, 0.06)
        + _bump(dirs, (-1, 0.05, 0), 0.01, 0.06)
        + _bump(dirs, (0, -0.6, -1), 0.05, 0.05)
    )


def _brain_shape(dirs):
    # gyri-like ripples so the lighting reads as brain, flattened at the base
    ripple = 0.025 * np.sin(9 * np.arctan2(dirs[:, 1], dirs[:, 0])) * np.sin(7 * dirs[:, 2])
    return 1.0 + ripple - 0.08 * np.clip(-dirs[:, 2], 0, None) ** 2


LESION = (32.0, -8.0, 38.0)  # patient's left, slightly anterior, above the ventricles
ENTRY = (58.0, -22.0, 92.0)  # on the left parietal scalp
# (id, centre, radii, n_lat, n_lon, shape) at the default resolution
_SURFACES = (
    ("skin", (0, 0, 0), (74, 92, 108), 160, 240, _head_shape),
    ("skull", (0, 2, 8), (68, 84, 96), 140, 200, None),
    ("brain", (0, 4, 16), (60, 76, 78), 120, 180, _brain_shape),
    ("ventricles", (0, 6, 22), (14, 30, 14), 40, 60, None),
    ("lesion", LESION, (11, 10, 12), 40, 60, None),
)
_VESSEL = ((40, -55, 5), (48, -30, 28), (50, 0, 50), (46, 32, 58))
_VESSEL_SIDES, _VESSEL_SAMPLES = 24, 120


def _synthetic_meshes(triangles: int | None) -> dict[str, Mesh]:
    """The plan's meshes at their default resolution, or scaled to about `triangles` in all
    (each structure keeps its share; a few hundred at the least)."""
    default = [2 * n_lon * (n_lat - 1) for _id, _c, _r, n_lat, n_lon, _s in _SURFACES]
    tube = 2 * _VESSEL_SIDES * (_VESSEL_SAMPLES + 1)
    k = 1.0 if triangles is None else max(triangles, 1) / (sum(default) + tube)
    meshes = {}
    for (sid, centre, radii, n_lat, n_lon, shape), n in zip(_SURFACES, default, strict=True):
        if triangles is not None:
            n_lon = max(8, round(n_lon * k**0.5))
            n_lat = max(3, round(n * k / (2 * n_lon)) + 1)
        meshes[sid] = surface(centre, radii, n_lat, n_lon, shape)
    sides, samples = _VESSEL_SIDES, _VESSEL_SAMPLES
    if triangles is not None:
        sides = max(6, round(sides * k**0.5))
        samples = max(8, round(tube * k / (2 * sides)) - 1)
    meshes["vessel"] = _tube(_VESSEL, radius=2.5, sides=sides, samples=samples)
    return meshes


def make_synthetic_plan(
    triangles: int | None = None, created: str = "2026-11-28T08:00:00Z"
) -> tuple[Plan, dict[str, Mesh]]:
    """A biopsy plan for a synthetic head, with its meshes (LPS mm): the one plan factory of
    tests and benchmarks. triangles: about this many in all (None: the default ~190k)."""
    lesion, entry = LESION, ENTRY
    meshes = _synthetic_meshes(triangles)
    structures = (
        Structure("skin", "Skin", "meshes/skin.glb", (0.93, 0.72, 0.60), 0.25, True, "skin"),
        Structure("skull", "Skull", "meshes/skull.glb", (0.95, 0.93, 0.85), 0.35, True, "bone"),
        Structure("brain", "Brain", "meshes/brain.glb", (0.90, 0.55, 0.60), 0.30, True, "organ"),
        Structure(
            "ventricles",
            "Ventricles",
            "meshes/ventricles.glb",
            (0.35, 0.6, 1.0),
            0.9,
            True,
            "organ",
        ),
        Structure(
            "lesion", "Lesion (target)", "meshes/lesion.glb", (1.0, 0.85, 0.1), 1.0, True, "tumour"
        ),
        Structure(
            "vessel",
            "Left MCA branch",
            "meshes/vessel.glb",
            (0.9, 0.1, 0.1),
            1.0,
            True,
            "vessel",
            True,
        ),
    )
    plan = Plan(
        case_id="DEMO-0001",
        plan_version=1,
        created=created,
        planner="Demo Planner",
        patient=Patient("DEMO^PHANTOM", "DEMO-0001", "1970-01-01", "O"),
        study=Study("1.2.826.0.1.3680043.8.498.1", "2026-11-27", "Synthetic head (demo)", "CT"),
        procedure="Stereotactic biopsy",
        laterality="left",
        structures=structures,
        trajectories=(Trajectory("biopsy", "Biopsy needle", entry, lesion, 2.1),),
        landmarks=(
            Landmark("nasion", "Nasion", (0.0, -96.0, 8.0)),
            Landmark("tragus-l", "Left tragus", (78.0, 4.0, 0.0)),
            Landmark("tragus-r", "Right tragus", (-78.0, 4.0, 0.0)),
        ),
        views=(View("surgeon", "Surgeon (left, from above)", (-0.6, 0.2, -0.77), (0, -1, 0)),),
    )
    return plan, meshes


def _tube(points, radius: float, sides: int, samples: int = 120) -> Mesh:
    """A closed tube of constant radius along a Catmull-Rom curve through points."""
    p = np.asarray(points, dtype=float)
    p = np.vstack([2 * p[0] - p[1], p, 2 * p[-1] - p[-2]])
    s = np.linspace(0, len(p) - 3, samples, endpoint=False)
    s = np.append(s, len(p) - 3 - 1e-9)
    i = np.floor(s).astype(int)
    u = (s - i)[:, None]
    p0, p1, p2, p3 = p[i], p[i + 1], p[i + 2], p[i + 3]
    curve = 0.5 * (
        2 * p1
        + (-p0 + p2) * u
        + (2 * p0 - 5 * p1 + 4 * p2 - p3) * u**2
        + (-p0 + 3 * p1 - 3 * p2 + p3) * u**3
    )
    tangent = np.gradient(curve, axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    ref = np.array([0.0, 0.0, 1.0])
    n1 = np.cross(tangent, ref)
    n1 /= np.linalg.norm(n1, axis=1, keepdims=True)
    n2 = np.cross(tangent, n1)
    ang = np.linspace(0, 2 * np.pi, sides, endpoint=False)
    ring = (
        curve[:, None, :]
        + radius * np.cos(ang)[None, :, None] * n1[:, None, :]
        + radius * np.sin(ang)[None, :, None] * n2[:, None, :]
    )
    m = len(curve)
    pos = np.vstack([ring.reshape(-1, 3), curve[0], curve[-1]])
    start, end = m * sides, m * sides + 1
    c = np.arange(sides)
    faces = []
    for k in range(m - 1):
        a, b = k * sides + c, k * sides + (c + 1) % sides
        a2, b2 = a + sides, b + sides
        faces += [np.stack([a, b, b2], 1), np.stack([a, b2, a2], 1)]
    faces.append(np.stack([np.full(sides, start), (c + 1) % sides, c], 1))
    last = (m - 1) * sides
    faces.append(np.stack([np.full(sides, end), last + c, last + (c + 1) % sides], 1))
    return Mesh.from_triangles(pos, np.concatenate(faces))
