"""`orkiosk bench image`: what the image volume (package format 1.1) costs.

- bytes added to a package by a 512x512x300 head CT (0.5 x 0.5 x 1.0 mm, the synthetic phantom
  sampled on that grid) at the default --image-spacing, cropped to a whole-head plan;
- load (verify + decode) time of that package;
- kiosk resident memory with it shown (the real kiosk in a child process, app/kiosk/bench.py);
- slice drag: frames per second of the slice view at 1920x1080 while its position changes
  every frame, as the kiosk draws it while a finger moves (half the pixels, contours of the
  lighter meshes; headless EGL, glFinish per frame), and at full quality every frame.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np


def _big_ct_package(folder: Path) -> tuple[Path, dict]:
    """A package whose image comes from a 512x512x300 CT; returns (package, figures)."""
    from orkiosk.plan.bounds import plan_bounds
    from orkiosk.plan.demo import demo_package_path
    from orkiosk.plan.package import load_package, write_package
    from orkiosk.planning.imageexport import DEFAULT_SPACING, export_image
    from orkiosk.planning.phantom.head import make_head_volume

    demo = load_package(demo_package_path())
    t = time.perf_counter()
    volume, _labels = make_head_volume(shape_kji=(300, 512, 512), spacing_ijk=(0.5, 0.5, 1.0))
    image = export_image(volume, plan_bounds(demo.plan, demo.meshes), DEFAULT_SPACING)
    export_s = time.perf_counter() - t
    del volume
    pkg = write_package(demo.plan, demo.meshes, folder / "pkg", image=image)
    size = next(f.size for f in load_package(pkg).plan.files if f.path == image.entry.path)
    t = time.perf_counter()
    load_package(pkg)
    load_s = time.perf_counter() - t
    return pkg, {
        "dims": image.entry.dims,
        "bytes": size,
        "raw": image.entry.raw_bytes,
        "export_s": export_s,
        "load_s": load_s,
    }


def slice_drag_fps(
    pkg_path, size=(1920, 1080), frames: int = 60, scale: float = 0.5, lod: bool = True
) -> dict:
    """Frames per second of a slice moving 1 mm a frame, as the kiosk draws it while the
    finger moves: `scale` of the pixels (shown stretched), contours of the lighter meshes
    (`lod`, the 3D view's interactive ones). scale=1, lod=False: full quality every frame."""
    from orkiosk.plan.bounds import plan_bounds
    from orkiosk.plan.package import load_package
    from orkiosk.render.context import create_headless_context
    from orkiosk.render.prepare import DEFAULT_LOD_BUDGET
    from orkiosk.render.renderer import Renderer
    from orkiosk.render.slice import SliceRenderer
    from orkiosk.render.slicegeom import slice_frame

    pkg = load_package(pkg_path)
    bounds = plan_bounds(pkg.plan, pkg.meshes)
    vw, vh = max(1, int(size[0] * scale)), max(1, int(size[1] * scale))
    budget = DEFAULT_LOD_BUDGET if lod else 0
    ctx = create_headless_context()
    try:
        with (
            Renderer(ctx) as renderer,
            renderer.create_scene(pkg.plan, pkg.meshes, lod_budget=budget, image=pkg.image) as sc,
        ):
            slices = SliceRenderer(renderer)
            fbo = ctx.simple_framebuffer(size)
            try:
                times = []
                for n in range(frames + 5):
                    frame = slice_frame("axial", -30 + n, bounds, size[0] / size[1])
                    t = time.perf_counter()
                    slices.render(sc, frame, framebuffer=fbo, viewport=(0, 0, vw, vh), lod=lod)
                    ctx.finish()
                    times.append(time.perf_counter() - t)
            finally:
                slices.release()
                fbo.release()
    finally:
        ctx.release()
    ms = float(np.median(times[5:]) * 1000)
    return {"ms": ms, "fps": 1000.0 / ms, "p90_ms": float(np.percentile(times[5:], 90) * 1000)}


def bench_image() -> list[dict]:
    from orkiosk.app.kiosk.bench import _child
    from orkiosk.plan.bench import row

    rows = []
    with tempfile.TemporaryDirectory(prefix="orkiosk-bench-image-") as tmp:
        pkg, f = _big_ct_package(Path(tmp))
        dims = "x".join(map(str, f["dims"]))
        mb = f["bytes"] / 1e6
        rows.append(
            row(
                "image",
                "image bytes added, 512x512x300 CT at the default 1.0 mm",
                mb,
                "MB",
                "<= 50 MB",
                mb <= 50,
                f"{dims} voxels, {f['raw'] / 1e6:.1f} MB before gzip, export {f['export_s']:.1f} s",
            )
        )
        rows.append(
            row("image", "load + verify that package", f["load_s"], "s", "<= 2 s", f["load_s"] <= 2)
        )
        fps = slice_drag_fps(pkg)
        full = slice_drag_fps(pkg, frames=30, scale=1.0, lod=False)
        rows.append(
            row(
                "image",
                "slice drag at 1920x1080 (axial, contours, image), headless",
                fps["fps"],
                "fps",
                ">= 30 fps",
                fps["fps"] >= 30,
                f"median {fps['ms']:.1f} ms, p90 {fps['p90_ms']:.1f} ms (half the pixels, "
                f"lighter meshes); every frame at full quality {full['fps']:.1f} fps",
            )
        )
        kiosk = _child(pkg, "1920x1080")
        rows.append(
            row(
                "image",
                "kiosk resident memory, demo plan with that image",
                kiosk["rss_mb"],
                "MB",
                "<= 600 MB",
                kiosk["rss_mb"] <= 600,
                f"rotate {kiosk['rotate_fps']:.1f} fps",
            )
        )
    return rows
