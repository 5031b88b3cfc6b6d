"""`orkiosk bench intake`: a 300-slice 512x512 CT pushed by a real archive (a local Orthanc) to
the node, beside the same push to dcmtk's storescp in the same run (the node must not be slower),
and how long after the last instance the node declares the series complete and its draft plan is
ready."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from orkiosk.node.orthanc import AET, Orthanc, free_port, orthanc_executable
from orkiosk.plan.bench import row

SLICES, SIZE = 300, 512
QUIET_S = 2.0


def bench_intake() -> list[dict]:
    storescp = shutil.which("storescp")
    if orthanc_executable() is None or storescp is None:
        missing = "Orthanc" if orthanc_executable() is None else "dcmtk's storescp"
        return [row("intake", f"not run: {missing} is not installed", 0.0, "s", note="apt install")]
    with tempfile.TemporaryDirectory(prefix="orkiosk-bench-intake-") as tmp:
        root = Path(tmp)
        files = _series(root / "series")
        mb = sum(f.stat().st_size for f in files) / 1e6
        node_port, scp_port = free_port(), free_port()
        node = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "orkiosk",
                "node",
                "--inbox",
                str(root / "inbox"),
                "--port",
                str(node_port),
                "--bind",
                "127.0.0.1",
                "--allow",
                f"{AET}@127.0.0.1",
                "--quiet-s",
                str(QUIET_S),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        (root / "scp").mkdir()
        scp = subprocess.Popen(
            [
                storescp,
                "-aet",
                "STORESCP",
                "--max-pdu",
                "131072",
                "-od",
                str(root / "scp"),
                str(scp_port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        orthanc = Orthanc(
            root / "orthanc",
            {
                "node": ("ORKIOSK", "127.0.0.1", node_port),
                "storescp": ("STORESCP", "127.0.0.1", scp_port),
            },
        )
        try:
            node.stdout.readline()  # "node ... listening on ..."
            (series_id,) = orthanc.upload(files)
            times = {"storescp": [], "node": []}
            declared = gap = drafted = float("nan")
            for k in range(2):  # alternate, so neither always runs on a warmer cache
                for name in ("storescp", "node"):
                    shutil.rmtree(root / ("inbox" if name == "node" else "scp"), ignore_errors=True)
                    (root / ("inbox" if name == "node" else "scp")).mkdir()
                    t = time.perf_counter()
                    orthanc.store(name, [series_id])
                    times[name].append(time.perf_counter() - t)
                    if name == "node" and k == 0:  # declared once: the first push
                        start = time.monotonic()
                        declared = _line_after(node, start, r"series \S+ complete: ")
                        gap = _largest_gap(root / "inbox")
                        drafted = _line_after(node, start, r"draft of series \S+: (ready|FAILED)")
        finally:
            orthanc.close()
            for p in (node, scp):
                p.terminate()
                p.wait(timeout=20)
    node_s, scp_s = min(times["node"]), min(times["storescp"])
    case = f"{SLICES}x{SIZE}x{SIZE} CT ({mb:.0f} MB), Orthanc ->"
    return [
        row(
            "intake",
            f"{case} node (durable, fsync each)",
            node_s,
            "s",
            goal="<= storescp x 1.1",
            ok=bool(node_s <= scp_s * 1.1),
            note=f"{mb / node_s:.0f} MB/s; best of 2",
        ),
        row(
            "intake",
            f"{case} dcmtk storescp",
            scp_s,
            "s",
            note=f"{mb / scp_s:.0f} MB/s; best of 2; Debian's storescp, --max-pdu 131072",
        ),
        row(
            "intake",
            "last instance -> series declared complete",
            declared,
            "s",
            note=f"quiet period {QUIET_S:g} s (the default is 20 s)",
        ),
        row(
            "intake",
            "largest gap between two instances of the push",
            gap,
            "s",
            note="what a quiet period must exceed (a busy archive pauses longer)",
        ),
        row(
            "intake",
            "last instance -> draft package ready (CT: skin and bone, report picture)",
            drafted,
            "s",
            note="the build of the whole series, in a child process",
        ),
    ]


def _line_after(node: subprocess.Popen, start: float, pattern: str) -> float:
    """Seconds from `start` until the node prints a line matching `pattern` (NaN if that line
    says FAILED: a failed draft is no figure)."""
    for line in node.stdout:
        if re.search(pattern, line):
            return float("nan") if "FAILED" in line else time.monotonic() - start
    return float("nan")


def _largest_gap(inbox: Path) -> float:
    times = sorted(p.stat().st_mtime for p in inbox.rglob("*.dcm"))
    return float(np.max(np.diff(times))) if len(times) > 1 else float("nan")


def _series(out: Path) -> list[Path]:
    """A body-shaped CT of SLICES x 512 x 512 (an ellipse of soft tissue with a bone ring)."""
    from orkiosk.planning.phantom.series import write_series

    j, i = np.mgrid[:SIZE, :SIZE]
    r = ((i - 256) / 200.0) ** 2 + ((j - 256) / 150.0) ** 2
    slab = np.where(r < 1, 40, -1000).astype(np.int16)
    slab[(r > 0.85) & (r < 1)] = 900
    noise = np.random.default_rng(7).integers(-20, 20, (SLICES, SIZE, SIZE), dtype=np.int16)
    affine = np.diag([0.7, 0.7, 1.0, 1.0])
    return write_series(slab[None] + noise, affine, out, series_description="Bench CT 300")
