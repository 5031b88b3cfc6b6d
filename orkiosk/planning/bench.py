"""Build benchmark: a 512x512x300 synthetic CT head through segmentation -> marching cubes ->
smoothing -> decimation (skin and bone presets), as `orkiosk build` does it. Goal: <= 10 s on a
2-core machine. When the `vtk` package happens to be installed, the same surfaces are also made the
3D Slicer way (vtkFlyingEdges3D + vtkWindowedSincPolyDataFilter + vtkQuadricDecimation) for
comparison; vtk is not a dependency and is skipped cleanly when absent.
"""

from __future__ import annotations

import time

import numpy as np

from orkiosk.planning import segment as seg
from orkiosk.planning.phantom.head import make_head_volume
from orkiosk.planning.progress import Stopwatch
from orkiosk.planning.specs import preset
from orkiosk.planning.surface import build_mesh

SHAPE = (300, 512, 512)  # slices, rows, columns
SPACING = (0.45, 0.45, 0.7)  # column, row, slice mm: a 230 mm field of view, 210 mm long
GOAL_S = 10.0


STAGES = ("read", "segment", "surface", "smooth", "decimate", "normals", "write")


def bench_build(shape=SHAPE, spacing=SPACING, with_vtk: bool = True, with_io: bool = True) -> dict:
    """Seconds per stage of building skin + bone from a synthetic CT; plus triangle counts.

    Keys: make_volume (making the synthetic data, not part of the build), read (DICOM series ->
    volume; with_io only), segment, surface (marching cubes), smooth, decimate, normals, write
    (the package; with_io only), total (the build stages), triangles_raw / triangles (summed),
    and, when vtk is importable, vtk_total and its triangle counts.
    """
    import tempfile
    from pathlib import Path

    from orkiosk.planning.dicom.series import read_series
    from orkiosk.planning.phantom.series import write_series

    t = time.perf_counter()
    volume, _labels = make_head_volume(shape, spacing, blur=False)
    out: dict = {"make_volume": time.perf_counter() - t}
    watch = Stopwatch()
    raw = tri = 0
    fields = []
    meshes = {}
    with tempfile.TemporaryDirectory(prefix="orkiosk-bench-") as tmp:
        if with_io:
            t = time.perf_counter()
            write_series(volume.array, volume.affine, Path(tmp) / "dicom")
            out["make_volume"] += time.perf_counter() - t
            with watch("read"):
                volume = read_series(Path(tmp) / "dicom")
        for name in ("skin", "bone"):
            spec = preset(name)
            with watch("segment"):
                s = seg.segment_threshold(volume, spec)
            fields.append((spec, s))
            mesh, stats = build_mesh(s, spec.triangles, timer=watch)
            meshes[name] = mesh
            raw += stats.triangles_raw
            tri += mesh.triangle_count
        if with_io:
            with watch("write"):
                _write(meshes, volume, Path(tmp) / "pkg")
    for stage in STAGES:
        out[stage] = watch.seconds.get(stage, 0.0)
    out["total"] = sum(out[s] for s in STAGES)
    out["triangles_raw"] = raw
    out["triangles"] = tri
    out["voxels"] = int(np.prod(shape))
    if with_vtk:
        out.update(_bench_vtk(volume, fields))
    return out


def _write(meshes, volume, out):
    from orkiosk.plan.model import Patient, Plan, Structure, Study
    from orkiosk.plan.package import write_package

    plan = Plan(
        case_id="BENCH",
        plan_version=1,
        created="2026-01-01T00:00:00Z",
        planner="bench",
        patient=Patient("PHANTOM, HEAD", "PHANTOM-0001"),
        study=Study("1.2.3", modality="CT"),
        procedure="benchmark",
        laterality="none",
        structures=tuple(Structure(k, k, f"meshes/{k}.glb") for k in meshes),
    )
    return write_package(plan, meshes, out)


def _bench_vtk(volume, fields) -> dict:
    """The same fields the 3D Slicer way (benchthin.vtk_way); {} without vtk."""
    from orkiosk.planning.benchthin import vtk_way

    total = 0.0
    raw = tri = 0
    for spec, s in fields:
        done = vtk_way(s, spec.triangles)
        if done is None:
            return {}
        (_v, faces), seconds, n_raw = done
        total += seconds
        raw += n_raw
        tri += int(faces.shape[0])
    return {"vtk_total": total, "vtk_triangles_raw": raw, "vtk_triangles": tri}


def bench_rows() -> list[dict]:
    """Rows for `orkiosk bench` (the format of orkiosk.plan.bench.row): 512x512x300, then the
    512x512x600 thin-slice rows (benchthin.py)."""
    from orkiosk.plan.bench import row

    r = bench_build()
    note = f"{r['triangles_raw']:,} -> {r['triangles']:,} triangles, 512x512x300 synthetic CT"
    rows = [
        row(
            "build",
            "skin+bone 512x512x300: total",
            r["total"],
            "s",
            f"<= {GOAL_S:g} s",
            r["total"] <= GOAL_S,
            note,
        )
    ]
    for stage in STAGES:
        rows.append(row("build", f"  {stage}", r[stage], "s"))
    if "vtk_total" in r:
        rows.append(
            row(
                "build",
                "same, VTK way (flying edges + quadric decimation)",
                r["vtk_total"],
                "s",
                None,
                None,
                f"{r['vtk_triangles_raw']:,} -> {r['vtk_triangles']:,} triangles",
            )
        )
    rows.extend(thin_rows())
    return rows


def thin_rows(shape=None, spacing=None) -> list[dict]:
    """Rows of the 512x512x600 (0.5 mm slices) bench: speed against VTK, memory, accuracy."""
    from orkiosk.plan.bench import row
    from orkiosk.planning import benchthin as bt

    shape = shape or bt.SHAPE
    r = bt.bench_thin(shape, spacing or bt.SPACING)
    size = "x".join(str(n) for n in shape[::-1])
    st = r["structures"]
    built = [n for n in bt.PRESETS if not st[n].get("empty")]
    segment_s = sum(st[n]["segment_s"] for n in built)
    rows = [
        row(
            "build",
            f"{'+'.join(built)} {size}: total",
            r["total"],
            "s",
            None,
            None,
            f"read {r['seconds'].get('read', 0):.1f} s, segment {segment_s:.1f} s, "
            f"surfaces {r['ours_surface_s']:.1f} s",
        )
    ]
    for n in bt.PRESETS:
        if st[n].get("empty"):
            rows.append(row("build", f"  {n}", 0.0, "s", None, False, st[n]["empty"]))
    if "vtk_surface_s" in r:
        speedup = r["vtk_surface_s"] / max(r["ours_surface_s"], 1e-9)
        rows.append(
            row(
                "build",
                f"  surfaces {size}: VTK way / ours",
                speedup,
                "x",
                f">= {bt.GOAL_SPEEDUP:g} x",
                speedup >= bt.GOAL_SPEEDUP,
                f"VTK {r['vtk_surface_s']:.1f} s vs ours {r['ours_surface_s']:.1f} s "
                "(same fields; segmentation not counted)",
            )
        )
    rss = r["peak_rss_mb"]
    rows.append(
        row(
            "build",
            f"  peak memory {size}",
            rss,
            "MB",
            f"<= {bt.GOAL_RSS_MB:g} MB",
            rss <= bt.GOAL_RSS_MB,
            "peak resident memory (VmHWM) of a child process running the build",
        )
    )
    for n in built:
        p95 = st[n].get("ours_p95_mm")
        if p95 is not None:
            rows.append(
                row(
                    "build",
                    f"  {n}: 95th pct distance to full-res surface",
                    p95,
                    "mm",
                    f"<= {bt.GOAL_P95_MM:g} mm",
                    p95 <= bt.GOAL_P95_MM,
                    f"mean {st[n]['ours_mean_mm']:.3f} mm; {st[n]['triangles']:,} of "
                    f"{st[n]['triangles_full']:,} triangles",
                )
            )
    return rows
