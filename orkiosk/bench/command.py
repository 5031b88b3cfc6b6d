"""`orkiosk bench`: run the benchmarks, print a table, write the rows as JSON."""

from __future__ import annotations

import importlib
import json
import platform
import sys
import time
from pathlib import Path

from orkiosk.errors import OrkioskError

# name -> "module:function"; each function returns a list of rows (orkiosk.plan.bench.row).
BENCHMARKS = {
    "load": "orkiosk.plan.bench:bench_load",
    "touch": "orkiosk.bench.command:bench_touch_rows",
    "build": "orkiosk.planning.bench:bench_rows",
    "render": "orkiosk.render.bench:bench_rows",
    "kiosk": "orkiosk.app.kiosk.bench:bench_kiosk",
    "sync": "orkiosk.app.kiosk.syncbench:bench_sync",
    "store": "orkiosk.store.bench:bench_store",
    "image": "orkiosk.bench.image:bench_image",
    "workbench": "orkiosk.app.workbench.bench:bench_workbench",
    "intake": "orkiosk.node.bench:bench_intake",
}


def bench_touch_rows() -> list[dict]:
    from orkiosk.plan.bench import row
    from orkiosk.touch.bench import bench_touch

    bench_touch(5_000)  # warm up
    us = bench_touch(200_000).mean_us
    return [
        row("touch", "one touch event -> gesture command", us / 1000, "ms", "< 0.2 ms", us < 200)
    ]


def register(sub) -> None:
    p = sub.add_parser(
        "bench",
        help="run the performance benchmarks (table on stdout, JSON file)",
        description="Run the project's benchmarks and compare them with their goals. "
        f"Benchmarks: {', '.join(BENCHMARKS)}.",
    )
    p.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"benchmarks to run (default: all of {', '.join(BENCHMARKS)})",
    )
    p.add_argument(
        "--json",
        type=Path,
        default=Path("bench-results.json"),
        metavar="FILE",
        help="where to write the results (default: bench-results.json)",
    )
    p.set_defaults(func=run)


def run(args) -> int:
    names = args.names or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise OrkioskError(
            f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}"
        )
    if not args.json.parent.is_dir():
        raise OrkioskError(f"{args.json}: its folder does not exist (results could not be written)")
    rows = []
    for name in names:
        module, func = BENCHMARKS[name].split(":")
        print(f"running {name} ...", file=sys.stderr, flush=True)
        t = time.perf_counter()
        rows += getattr(importlib.import_module(module), func)()
        print(f"  {name} done in {time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True)
    print(format_table(rows))
    result = {
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpu": platform.processor(),
        },
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "rows": rows,
    }
    args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.json}")
    return 0


def format_table(rows: list[dict]) -> str:
    head = ("benchmark", "case", "value", "goal", "ok", "note")
    table = [
        (
            r["benchmark"],
            r["case"],
            f"{r['value']:.3g} {r['unit']}"
            if abs(r["value"]) < 1000
            else f"{r['value']:,.0f} {r['unit']}",
            r["goal"] or "",
            {True: "yes", False: "NO", None: ""}[r["ok"]],
            r["note"],
        )
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *table, strict=True)]
    lines = [
        "  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)).rstrip()
        for line in [head, *table]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
