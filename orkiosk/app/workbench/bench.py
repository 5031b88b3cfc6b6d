"""`orkiosk bench workbench`: the readout and the entry map against their frame budgets
(orkiosk.edit.bench), a whole drag step of the workbench's model, and saving a version."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from orkiosk.app.workbench.model import Workbench
from orkiosk.edit.bench import (
    DRAG_STEP_MM,
    DRAG_STEPS,
    bench_geometry_rows,
    bench_save_rows,
    curve,
    refine,
)
from orkiosk.plan.bench import row
from orkiosk.plan.demo import bundled_demo_path
from orkiosk.plan.package import load_package


def bench_workbench() -> list[dict]:
    return bench_geometry_rows() + bench_drag_rows() + bench_save_rows()


def bench_drag_rows() -> list[dict]:
    """One drag step as the workbench takes it, without drawing: the edit and its undo entry,
    the readout of the dragged path, the display model's update and every listener (the
    slices, the metrics of the other paths), on the demo with >= 1M critical triangles and a
    second path."""
    pkg = load_package(bundled_demo_path())
    fine = {s.id: refine(pkg.meshes[s.id], 4) for s in pkg.plan.structures if s.critical}
    triangles = sum(m.triangle_count for m in fine.values())
    wb = Workbench(replace(pkg, meshes={**pkg.meshes, **fine}))
    wb.new_path()
    wb.place((20.0, -30.0, 38.0))
    wb.place((60.0, -20.0, 60.0))
    tid = wb.selected
    wb.grab(tid, "target")
    times = []
    for target in curve(wb.plan.trajectory(tid).target, DRAG_STEPS):
        t0 = time.perf_counter()
        wb.drag_to(tuple(float(v) for v in target))
        times.append((time.perf_counter() - t0) * 1e3)
    wb.release()
    p50, p95 = np.percentile(times, [50, 95])
    return [
        row(
            "workbench",
            f"a whole drag step of the workbench model (edit, readout, display model), "
            f"{triangles:,} critical triangles, 2 paths",
            float(p95),
            "ms",
            goal="<= 16 ms p95",
            ok=bool(p95 <= 16.0),
            note=f"p50 {p50:.2f} ms over {DRAG_STEPS} steps of {DRAG_STEP_MM} mm; drawing excluded",
        )
    ]
