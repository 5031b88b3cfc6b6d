"""Package-load benchmark: disk -> verified, GL-ready numpy arrays, against a plain read."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from orkiosk.plan.package import load_package, write_package
from orkiosk.plan.synthetic import make_synthetic_plan, surface


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def bench_load(repeat: int = 7, triangles: int = 1_000_000) -> list[dict]:
    """Load a package of >= `triangles` triangles; compare with reading its bytes from cache."""
    plan, meshes = make_synthetic_plan()
    # Replace the skin with a finely tessellated one so the package reaches the triangle count.
    other = sum(m.triangle_count for k, m in meshes.items() if k != "skin")
    n_lon = 1200
    n_lat = max(8, (triangles - other) // (2 * n_lon) + 2)
    meshes["skin"] = surface((0, 0, 0), (74, 92, 108), n_lat, n_lon)
    with tempfile.TemporaryDirectory(prefix="orkiosk-bench-") as tmp:
        pkg_dir = write_package(plan, meshes, Path(tmp) / "pkg")
        files = [pkg_dir / "plan.json"] + [
            pkg_dir / f.path for f in load_package(pkg_dir).plan.files
        ]
        size = sum(p.stat().st_size for p in files)

        def read_bytes():
            for p in files:
                p.read_bytes()

        def load():
            pkg = load_package(pkg_dir)
            assert pkg.triangle_count >= triangles

        read_bytes()  # warm the page cache
        t_read = _best(read_bytes, repeat)
        t_load = _best(load, repeat)
        tri = load_package(pkg_dir).triangle_count
    ratio = t_load / t_read
    return [
        row("load", f"read {size / 1e6:.1f} MB from warm cache", t_read * 1e3, "ms"),
        row(
            "load",
            f"load + verify {tri:,} triangles",
            t_load * 1e3,
            "ms",
            goal="<= 2x plain read",
            ok=ratio <= 2.0,
            note=f"{ratio:.2f}x plain read",
        ),
    ]


def row(bench: str, case: str, value: float, unit: str, goal=None, ok=None, note="") -> dict:
    """One benchmark result, as every benchmark of `orkiosk bench` reports it."""
    return {
        "benchmark": bench,
        "case": case,
        "value": round(value, 3),
        "unit": unit,
        "goal": goal,
        "ok": ok,
        "note": note,
    }
