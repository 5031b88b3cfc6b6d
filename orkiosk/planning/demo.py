"""The kiosk's demo plan, made the way a hospital would make one: `orkiosk phantom` writes a
synthetic CT head as DICOM, and the ordinary `orkiosk build` command turns it into a package
(skin, bone and vessel presets; brain, ventricles and lesion from the phantom's labelmap; a biopsy
trajectory to the lesion that keeps clear of the vessels and landmarks from its 3D Slicer
markups file).

    python -m orkiosk.planning.demo OUT_PKG [--triangles N]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

DEMO_TRIANGLES = 50_000  # per structure: about 220k in all, light enough for a software renderer


def build_args(phantom_dir: Path, out: Path, triangles: int = DEMO_TRIANGLES) -> list[str]:
    return [
        "build", str(phantom_dir), "-o", str(out), "--force",
        "--preset", "skin", "--preset", "bone", "--preset", "vessels",
        "--labels", str(phantom_dir / "phantom-labels.nrrd"),
        "--markups", str(phantom_dir / "phantom.mrk.json"),
        "--procedure", "Stereotactic biopsy", "--laterality", "left",
        "--planner", "Demo Planner", "--case-id", "PHANTOM-DEMO",
        "--triangles", str(triangles),
        "--opacity", "bone=0.4",  # the lesion and the path show through at a glance
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    from orkiosk.cli import main as cli

    args = list(sys.argv[1:] if argv is None else argv)
    triangles = DEMO_TRIANGLES
    if "--triangles" in args:
        n = args.index("--triangles")
        triangles = int(args[n + 1])
        del args[n : n + 2]
    if len(args) != 1:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="orkiosk-phantom-") as tmp:
        rc = cli(["phantom", str(Path(tmp) / "ct")])
        if rc:
            return rc
        return cli(build_args(Path(tmp) / "ct", Path(args[0]), triangles))


if __name__ == "__main__":
    sys.exit(main())
