"""Plan-store benchmark: commit the 1M-triangle package (about 24 MB) and re-open the store.

A commit verifies the package, copies it with a hash check, fsyncs every file and folder, renames
it into place and switches `current`; opening verifies the current plan again. Both use the same
package as `orkiosk bench load` (built the same way as in orkiosk.plan.bench)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from orkiosk.plan.bench import row
from orkiosk.plan.package import write_package
from orkiosk.plan.synthetic import make_synthetic_plan, surface


def _big_package(out: Path, triangles: int) -> Path:
    plan, meshes = make_synthetic_plan()
    other = sum(m.triangle_count for k, m in meshes.items() if k != "skin")
    n_lon = 1200
    n_lat = max(8, (triangles - other) // (2 * n_lon) + 2)
    meshes["skin"] = surface((0, 0, 0), (74, 92, 108), n_lat, n_lon)
    return write_package(plan, meshes, out)


def bench_store(repeat: int = 3, triangles: int = 1_000_000) -> list[dict]:
    from orkiosk.store import PlanStore

    with tempfile.TemporaryDirectory(prefix="orkiosk-bench-store-") as tmp:
        pkg = _big_package(Path(tmp) / "pkg", triangles)
        size = sum(p.stat().st_size for p in pkg.rglob("*") if p.is_file())
        t_commit = t_open = float("inf")
        for i in range(repeat):
            state = Path(tmp) / f"state-{i}"
            store = PlanStore(state)
            t = time.perf_counter()
            store.commit(pkg)
            t_commit = min(t_commit, time.perf_counter() - t)
            t = time.perf_counter()
            PlanStore(state)
            t_open = min(t_open, time.perf_counter() - t)
    mb = size / 1e6
    return [
        row(
            "store",
            f"commit {mb:.1f} MB (verify, copy, fsync, switch)",
            t_commit * 1e3,
            "ms",
            goal="< 2 s",
            ok=t_commit < 2.0,
            note=f"{mb / t_commit:.0f} MB/s",
        ),
        row("store", f"open with a {mb:.1f} MB current plan (verified)", t_open * 1e3, "ms"),
    ]
