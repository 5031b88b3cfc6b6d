"""`orkiosk bench workbench`, geometry part: the clearance readout and the entry map against
their frame budgets, on the demo plan refined to the sizes a real plan reaches."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from orkiosk.edit.clearance import ClearanceIndex
from orkiosk.edit.entrymap import EntryMap
from orkiosk.edit.readout import Skin, path_readout
from orkiosk.plan.bench import row
from orkiosk.plan.demo import bundled_demo_path
from orkiosk.plan.mesh import Mesh
from orkiosk.plan.package import load_package

DRAG_STEPS = 200
DRAG_STEP_MM = 0.5
TARGET_MOVES = 20


def bench_geometry_rows() -> list[dict]:
    """Rows for the drag-step readout at >= 1M critical triangles and the entry map on the
    demo skin and on a ~200k-vertex skin."""
    pkg = load_package(bundled_demo_path())
    plan = pkg.plan
    path = plan.trajectories[0]
    critical = [(s.id, s.name, pkg.meshes[s.id]) for s in plan.structures if s.critical]
    skin = next(pkg.meshes[s.id] for s in plan.structures if s.id == "skin")
    fine = [(sid, name, refine(mesh, 4)) for sid, name, mesh in critical]
    triangles = sum(m.triangle_count for _, _, m in fine)

    t0 = time.perf_counter()
    index = ClearanceIndex(fine)
    build_s = time.perf_counter() - t0
    skin_surface = Skin(skin)
    times = [
        _readout(plan, path, index, skin_surface, target)
        for target in curve(path.target, DRAG_STEPS)
    ]
    p50, p95 = np.percentile(times, [50, 95])
    rows = [
        row("workbench", f"clearance index build, {triangles:,} critical triangles", build_s, "s"),
        row(
            "workbench",
            f"readouts + clearance profile after a drag step, {triangles:,} critical triangles",
            float(p95),
            "ms",
            goal="<= 16 ms p95",
            ok=bool(p95 <= 16.0),
            note=f"p50 {p50:.2f} ms over {DRAG_STEPS} steps of {DRAG_STEP_MM} mm",
        ),
    ]
    meshes = [m for _, _, m in critical]
    for label, surface in (("demo skin", skin), ("refined skin", refine(skin, 3))):
        t0 = time.perf_counter()
        entry_map = EntryMap(surface, meshes)
        build_s = time.perf_counter() - t0
        times = []
        for target in curve(path.target, TARGET_MOVES, step_mm=2.0):
            t0 = time.perf_counter()
            entry_map.compute(target)
            times.append((time.perf_counter() - t0) * 1e3)
        p50, p95 = np.percentile(times, [50, 95])
        rows.append(
            row(
                "workbench",
                f"entry map after the target moves, {label} ({surface.vertex_count:,} vertices)",
                float(p95),
                "ms",
                goal="<= 200 ms p95",
                ok=bool(p95 <= 200.0),
                note=f"p50 {p50:.1f} ms over {TARGET_MOVES} moves; built in {build_s:.2f} s",
            )
        )
    return rows


def _readout(plan, path, index: ClearanceIndex, skin: Skin, target: np.ndarray) -> float:
    """Milliseconds for what the workbench reads out after one drag step (the edit itself,
    then `path_readout`: length, the three plane angles, the entry angle to the skin, per
    structure clearances against the margin, the profile) and its text."""
    t0 = time.perf_counter()
    moved = replace(path, target=tuple(float(v) for v in target))
    path_readout(plan, moved, index, skin).lines()
    return (time.perf_counter() - t0) * 1e3


def bench_save_rows(repeat: int = 7) -> list[dict]:
    """Save of the next version of a ~24 MB package (one target moved, signed): every mesh
    copied unchanged, plan.json and plan.sig written, the result verified by load_package."""
    import tempfile
    from pathlib import Path

    from orkiosk.edit.save import save_version
    from orkiosk.plan.package import write_package
    from orkiosk.plan.signing import generate_keypair
    from orkiosk.plan.synthetic import make_synthetic_plan, surface

    plan, meshes = make_synthetic_plan()
    meshes["skin"] = surface((0, 0, 0), (74, 92, 108), 420, 1200)  # ~1M triangles
    with tempfile.TemporaryDirectory(prefix="orkiosk-bench-save-") as tmp:
        root = Path(tmp)
        base = load_package(write_package(plan, meshes, root / "v1"))
        size = sum(f.size for f in base.plan.files)
        key, _pub = generate_keypair(root / "keys", "planner")
        t = base.plan.trajectories[0]
        times = []
        for k in range(repeat):
            moved = replace(t, target=(t.target[0] + 0.5 * (k + 1), *t.target[1:]))
            edited = replace(base.plan, trajectories=(moved, *base.plan.trajectories[1:]))
            saved = save_version(base, edited, root / f"v2-{k}", key_file=key)
            times.append(saved.seconds)
    p50, worst = float(np.median(times)), max(times)
    return [
        row(
            "workbench",
            f"save the next version of a {size / 1e6:.0f} MB package (no mesh rewritten), "
            "signed and verified",
            worst,
            "s",
            goal="<= 0.3 s",
            ok=bool(worst <= 0.3),
            note=f"median {p50 * 1000:.0f} ms over {repeat} saves",
        )
    ]


def curve(start, count: int, step_mm: float = DRAG_STEP_MM) -> list[np.ndarray]:
    """`count` points `step_mm` apart along a circle of radius 15 mm through `start`."""
    radius = 15.0
    c = np.asarray(start, dtype=np.float64) - (radius, 0.0, 0.0)
    angles = np.arange(count) * step_mm / radius
    return [c + radius * np.array([np.cos(a), np.sin(a), 0.0]) for a in angles]


def refine(mesh: Mesh, k: int) -> Mesh:
    """Split every triangle into k * k (edges into k), welding the new vertices that
    neighbouring triangles share, so the surface stays closed; smooth normals recomputed."""
    pos = mesh.positions.astype(np.float64)
    tri = pos[mesh.indices.astype(np.int64)]
    i, j = np.meshgrid(np.arange(k + 1), np.arange(k + 1), indexing="ij")
    keep = i + j <= k
    bi, bj = i[keep], j[keep]
    lattice = np.full((k + 1, k + 1), -1)
    lattice[bi, bj] = np.arange(len(bi))
    w = np.stack([k - bi - bj, bi, bj], axis=1) / k  # barycentric weights of the lattice
    # float64 sums rounded to float32: a point shared by two triangles comes out bit-identical
    points = np.einsum("lc,tcx->tlx", w, tri).reshape(-1, 3).astype(np.float32)
    faces = []
    for a in range(k):
        for b in range(k - a):
            faces.append((lattice[a, b], lattice[a + 1, b], lattice[a, b + 1]))
            if a + b + 1 < k:
                faces.append((lattice[a + 1, b], lattice[a + 1, b + 1], lattice[a, b + 1]))
    local = np.array(faces)
    offset = (np.arange(len(tri)) * len(bi))[:, None, None]
    faces_all = (local[None] + offset).reshape(-1, 3)
    _, first, weld = np.unique(np.round(points, 4), axis=0, return_index=True, return_inverse=True)
    return Mesh.from_triangles(points[first].astype(np.float32), weld.ravel()[faces_all])
