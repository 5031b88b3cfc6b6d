"""Thin-slice build benchmark (issue 17, point 7): a 512x512x600 CT with 0.5 mm slices, four CT
presets (skin, bone, vessels, airway), built as `orkiosk build` does it, against the VTK way.

- Ours runs in a child process (read the DICOM series, segment, surfaces, write the package), so
  its peak resident memory (VmHWM) is the build's own and not the phantom maker's.
- The VTK way (vtkFlyingEdges3D + vtkWindowedSincPolyDataFilter + vtkQuadricDecimation + normals,
  as 3D Slicer does it) runs per structure on the same segmentation field, in this process.
- Accuracy: every surface against the full-resolution isosurface of the same field (marching cubes,
  no reduction, no smoothing): points sampled uniformly on both surfaces, exact point-to-triangle
  distances both ways, mean and 95th percentile in mm; points within 2 mm of the volume's edges
  (the faces that close a structure cut by the edge: padding, not anatomy) left out.

The phantom head has no air inside the body, so the bench paints a trachea, a pharynx and two
maxillary sinuses (-1000 HU) for the airway preset.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from orkiosk.planning.specs import SegmentError, preset

SHAPE = (600, 512, 512)
SPACING = (0.45, 0.45, 0.5)  # column, row, slice mm
PRESETS = ("skin", "bone", "vessels", "airway")
GOAL_SPEEDUP = 4.0
GOAL_RSS_MB = 2048.0
GOAL_P95_MM = 0.5
SURFACE_STAGES = ("surface", "smooth", "decimate", "normals")


def add_airway(volume) -> None:
    """Air (-1000 HU) inside the phantom's neck and face, in place (LPS mm, head_affine)."""
    arr, a = volume.array, volume.affine
    nk, nj, ni = arr.shape
    x = a[0, 0] * np.arange(ni) + a[0, 3]
    y = a[1, 1] * np.arange(nj) + a[1, 3]
    yy, xx = np.meshgrid(y, x, indexing="ij")
    for k in range(nk):
        z = a[2, 2] * k + a[2, 3]
        air = np.zeros((nj, ni), dtype=bool)
        if z < -45.0:  # trachea
            air |= (xx / 8.0) ** 2 + ((yy + 5.0) / 8.0) ** 2 <= 1.0
        for cx, cy, cz, rx, ry, rz in (
            (0, -5, -45, 11, 13, 16),
            (24, -58, -20, 10, 12, 14),
            (-24, -58, -20, 10, 12, 14),
        ):
            h = 1.0 - ((z - cz) / rz) ** 2
            if h > 0:
                air |= ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= h
        arr[k][air] = -1000


def bench_thin(
    shape=SHAPE, spacing=SPACING, with_vtk: bool = True, accuracy: bool = True, samples=300_000
) -> dict:
    """Figures of the thin-slice bench (see the module docstring); keys per structure name."""
    from orkiosk.planning import segment as seg
    from orkiosk.planning.bodymask import body_mask
    from orkiosk.planning.phantom.head import make_head_volume
    from orkiosk.planning.phantom.series import write_series

    t = time.perf_counter()
    volume, _ = make_head_volume(shape, spacing, blur=False)
    add_airway(volume)
    out: dict = {"shape": list(shape), "spacing": list(spacing), "structures": {}}
    with tempfile.TemporaryDirectory(prefix="orkiosk-benchthin-") as tmp:
        write_series(volume.array, volume.affine, Path(tmp) / "dicom")
        out["make_volume"] = time.perf_counter() - t
        result = Path(tmp) / "child.json"
        proc = subprocess.run(
            [sys.executable, "-c", f"from {__name__} import _child; _child({tmp!r})"],
            capture_output=True,
            text=True,
            timeout=3600,
        )
        if proc.returncode != 0 or not result.is_file():
            raise RuntimeError(f"bench child failed: {proc.stderr.strip()[-2000:]}")
        child = json.loads(result.read_text())
        meshes = dict(np.load(Path(tmp) / "meshes.npz"))
    out.update({k: v for k, v in child.items() if k != "structures"})
    keep = inside_volume(volume)
    body = body_mask(volume)
    for name in PRESETS:
        r = dict(child["structures"][name])
        out["structures"][name] = r
        if r.get("empty"):
            continue
        s = seg.segment_threshold(volume, preset(name), body=body)
        ours = (meshes[f"{name}_v"], meshes[f"{name}_f"])
        full = None
        if accuracy:
            from orkiosk.planning.surface import marching_cubes

            full = marching_cubes(s.field, s.field_affine())
            r["triangles_full"] = int(full[1].shape[0])
            r.update(_prefixed("ours", surface_distance(ours, full, samples, keep)))
        if with_vtk:
            v = vtk_way(s, preset(name).triangles)
            if v is None:
                continue
            (vv, vf), secs, _raw = v
            r["vtk_seconds"] = secs
            r["vtk_triangles"] = int(vf.shape[0])
            if full is not None:
                r.update(_prefixed("vtk", surface_distance((vv, vf), full, samples, keep)))
    st = out["structures"].values()
    out["ours_surface_s"] = sum(r.get("seconds", 0.0) for r in st)
    if with_vtk and any("vtk_seconds" in r for r in st):
        out["vtk_surface_s"] = sum(r.get("vtk_seconds", 0.0) for r in st)
    return out


def inside_volume(volume, margin_mm: float = 2.0):
    """keep(points): points farther than margin_mm inside the volume's edges. Where a structure
    is cut by the edge of the volume, the closing face is padding, not anatomy."""
    inv = np.linalg.inv(volume.affine)
    spacing = np.linalg.norm(volume.affine[:3, :3], axis=0)
    hi = np.array(volume.array.shape[::-1], dtype=np.float64) - 0.5
    m = margin_mm / spacing

    def keep(points):
        ijk = points @ inv[:3, :3].T + inv[:3, 3]
        return np.all((ijk > -0.5 + m) & (ijk < hi - m), axis=1)

    return keep


def _prefixed(prefix: str, d: dict) -> dict:
    return {f"{prefix}_{k}": v for k, v in d.items()}


def _child(tmp: str) -> None:
    """The build as `orkiosk build` runs it, in a fresh process: read, segment, surfaces, write."""
    from orkiosk.planning import segment as seg
    from orkiosk.planning.bench import _write
    from orkiosk.planning.bodymask import body_mask
    from orkiosk.planning.dicom.series import read_series
    from orkiosk.planning.progress import Stopwatch
    from orkiosk.planning.surface import build_mesh

    watch = Stopwatch()
    with watch("read"):
        volume = read_series(Path(tmp) / "dicom")
    rss_read = _rss_mb()
    with watch("body"):  # as the build does: every CT preset keeps to the patient's body
        body = body_mask(volume)
    structures, meshes, arrays = {}, {}, {}
    for name in PRESETS:
        spec = preset(name)
        mw = Stopwatch()
        try:
            with mw("segment"):
                s = seg.segment_threshold(volume, spec, body=body)
        except SegmentError as exc:
            structures[name] = {"empty": str(exc)}
            continue
        rss_segment = _rss_mb()
        mesh, stats = build_mesh(s, spec.triangles, timer=mw)
        del s
        for k, v in mw.seconds.items():
            watch.seconds[k] = watch.seconds.get(k, 0.0) + v
        structures[name] = {
            "segment_s": mw.seconds["segment"],
            "seconds": sum(mw.seconds.get(k, 0.0) for k in SURFACE_STAGES),
            "triangles_raw": stats.triangles_raw,
            "triangles": stats.triangles,
            "reduced": stats.reduced,
            "rss_after_segment_mb": rss_segment,
            "rss_after_surface_mb": _rss_mb(),
        }
        meshes[name] = mesh
        arrays[f"{name}_v"] = mesh.positions.astype(np.float64)
        arrays[f"{name}_f"] = mesh.indices.astype(np.int64).reshape(-1, 3)
    with watch("write"):
        _write(meshes, volume, Path(tmp) / "pkg")
    np.savez(Path(tmp) / "meshes.npz", **arrays)
    result = {"seconds": dict(watch.seconds), "total": watch.total, "peak_rss_mb": _rss_mb()}
    result["rss_after_read_mb"] = rss_read
    result["structures"] = structures
    (Path(tmp) / "child.json").write_text(json.dumps(result))


def _rss_mb() -> float:
    """Peak resident memory of this process so far, MB: VmHWM (Linux), else ru_maxrss.

    Not ru_maxrss on Linux: it survives exec, so a child started from a big parent would report
    the parent's resident memory at the fork."""
    import resource

    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024.0 * 1024.0) if sys.platform == "darwin" else rss / 1024.0


def vtk_way(s, budget: int):
    """((vertices LPS, faces), seconds, raw triangles) of the 3D Slicer way on segmentation `s`:
    flying edges, windowed sinc, quadric decimation, normals; None without vtk."""
    try:
        import vtk  # noqa: F401  (the distribution; vtkmodules comes with it)
        from vtkmodules.util import numpy_support
        from vtkmodules.vtkCommonDataModel import vtkImageData
        from vtkmodules.vtkFiltersCore import (
            vtkFlyingEdges3D,
            vtkPolyDataNormals,
            vtkQuadricDecimation,
            vtkWindowedSincPolyDataFilter,
        )
    except ImportError:
        return None
    field = np.ascontiguousarray(s.field)
    a = s.field_affine()
    img = vtkImageData()
    k, j, i = field.shape
    img.SetDimensions(i, j, k)
    img.SetSpacing(*np.linalg.norm(a[:3, :3], axis=0))
    img.SetOrigin(*a[:3, 3])
    img.GetPointData().SetScalars(numpy_support.numpy_to_vtk(field.ravel(), deep=False))
    t = time.perf_counter()
    fe = vtkFlyingEdges3D()
    fe.SetInputData(img)
    fe.SetValue(0, 0.0)
    fe.ComputeNormalsOff()
    fe.ComputeGradientsOff()
    fe.ComputeScalarsOff()
    fe.Update()
    raw = fe.GetOutput().GetNumberOfCells()
    sm = vtkWindowedSincPolyDataFilter()
    sm.SetInputData(fe.GetOutput())
    sm.SetNumberOfIterations(10)
    sm.SetPassBand(0.1)
    sm.NormalizeCoordinatesOn()
    sm.Update()
    poly = sm.GetOutput()
    dec = vtkQuadricDecimation()
    dec.SetInputData(poly)
    dec.SetTargetReduction(max(0.0, 1.0 - budget / max(1, poly.GetNumberOfCells())))
    dec.VolumePreservationOn()
    dec.Update()
    nf = vtkPolyDataNormals()
    nf.SetInputData(dec.GetOutput())
    nf.SplittingOff()
    nf.Update()
    secs = time.perf_counter() - t
    out = nf.GetOutput()
    pts = numpy_support.vtk_to_numpy(out.GetPoints().GetData()).astype(np.float64)
    cells = numpy_support.vtk_to_numpy(out.GetPolys().GetConnectivityArray()).astype(np.int64)
    return (pts, cells.reshape(-1, 3)), secs, raw


def sample_surface(vertices, faces, n: int, seed: int = 0) -> np.ndarray:
    """n points uniformly (by area) on a triangle mesh."""
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    area = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)
    rng = np.random.default_rng(seed)
    idx = rng.choice(f.shape[0], n, p=area / area.sum())
    r1, r2 = np.sqrt(rng.random(n)), rng.random(n)
    return (
        (1 - r1)[:, None] * a[idx] + (r1 * (1 - r2))[:, None] * b[idx] + (r1 * r2)[:, None] * c[idx]
    )


def point_triangle_distance(p, a, b, c) -> np.ndarray:
    """Exact distance from points p[n] to triangles (a, b, c)[n] (Ericson's closest-point regions)."""
    ab, ac, ap = b - a, c - a, p - a
    d1, d2 = _dot(ab, ap), _dot(ac, ap)
    bp = p - b
    d3, d4 = _dot(ab, bp), _dot(ac, bp)
    cp = p - c
    d5, d6 = _dot(ab, cp), _dot(ac, cp)
    va, vb, vc = d3 * d6 - d5 * d4, d5 * d2 - d1 * d6, d1 * d4 - d3 * d2
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = va + vb + vc
        v, w = vb / denom, vc / denom  # inside the face
        q = a + ab * v[:, None] + ac * w[:, None]
        regions = [  # (condition, closest point), the first that holds wins
            ((d1 <= 0) & (d2 <= 0), a),
            ((d3 >= 0) & (d4 <= d3), b),
            ((d6 >= 0) & (d5 <= d6), c),
            ((vc <= 0) & (d1 >= 0) & (d3 <= 0), a + ab * (d1 / (d1 - d3))[:, None]),
            ((vb <= 0) & (d2 >= 0) & (d6 <= 0), a + ac * (d2 / (d2 - d6))[:, None]),
            (
                (va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0),
                b + (c - b) * ((d4 - d3) / ((d4 - d3) + (d5 - d6)))[:, None],
            ),
        ]
    for cond, point in reversed(regions):
        q = np.where(cond[:, None], point, q)
    q = np.where(np.isfinite(q), q, a)  # degenerate triangles: their first corner
    return np.linalg.norm(p - q, axis=1)


def _dot(x, y):
    return np.einsum("ij,ij->i", x, y)


def distance_to_mesh(points, vertices, faces, k: int = 12, chunk: int = 200_000) -> np.ndarray:
    """Distance from each point to a triangle mesh: exact over the k triangles nearest by centre."""
    from scipy.spatial import cKDTree

    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    tree = cKDTree(v[f].mean(axis=1))
    k = min(k, f.shape[0])
    out = np.empty(points.shape[0])
    for s in range(0, points.shape[0], chunk):
        p = points[s : s + chunk]
        _, idx = tree.query(p, k=k)
        idx = idx.reshape(p.shape[0], k)
        best = np.full(p.shape[0], np.inf)
        for col in range(k):
            t = f[idx[:, col]]
            best = np.minimum(best, point_triangle_distance(p, v[t[:, 0]], v[t[:, 1]], v[t[:, 2]]))
        out[s : s + chunk] = best
    return out


def surface_distance(test, ref, n: int = 300_000, keep=None) -> dict:
    """Mean and 95th percentile (mm) of point-to-surface distances, both ways (sampled points);
    `keep(points) -> bool mask` leaves points out (e.g. the cut faces at the volume's edges)."""
    pt, pr = sample_surface(*test, n), sample_surface(*ref, n, seed=1)
    if keep is not None:
        pt, pr = pt[keep(pt)], pr[keep(pr)]
    d = np.concatenate([distance_to_mesh(pt, *ref), distance_to_mesh(pr, *test)])
    return {"mean_mm": float(d.mean()), "p95_mm": float(np.percentile(d, 95))}
