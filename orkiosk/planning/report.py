"""The summary `orkiosk build` prints: package, patient, study, series, volume, a table of the
structures (source, volume, triangles, .glb size), trajectories, landmarks, seconds per stage,
notes."""

from __future__ import annotations

import numpy as np

from orkiosk.planning.pipeline import BuildResult


def format_summary(res: BuildResult) -> str:
    p = res.plan
    lines = [
        f"package   {res.package}{'  (signed)' if res.signed else ''}",
        f"patient   {p.patient.name}  id {p.patient.id}  born {p.patient.birth_date or '-'}",
        f"study     {p.study.modality} {p.study.date or '-'}  {p.study.description}",
        f"series    {res.volume.info.series_uid}  {res.volume.info.series_description}",
        "volume    {} x {} x {} voxels, {:.3g} x {:.3g} x {:.3g} mm".format(
            *res.volume.shape_ijk, *res.volume.spacing
        ),
        f"case      {p.case_id}  plan version {p.plan_version}  planner {p.planner}",
        f"procedure {p.procedure or '-'}  laterality {p.laterality}",
        "",
    ]
    head = ("structure", "source", "volume", "triangles", "from", "glb")
    rows = [
        (
            r.name,
            r.source,
            f"{r.volume_ml:.1f} ml" if r.volume_ml is not None else "",
            f"{r.triangles:,}",
            f"{r.raw_triangles:,}" if r.raw_triangles else "",
            _size(r.bytes),
        )
        for r in res.structures
    ]
    total_tri = sum(r.triangles for r in res.structures)
    total_bytes = sum(r.bytes for r in res.structures)
    rows.append(("total", "", "", f"{total_tri:,}", "", _size(total_bytes)))
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
    fmt = [str.ljust, str.ljust, str.rjust, str.rjust, str.rjust, str.rjust]
    for row in [head, *rows]:
        lines.append("  ".join(f(str(x), w) for f, x, w in zip(fmt, row, widths, strict=True)))
    for r in res.structures:
        if r.dropped:
            lines.append(f"left out   {r.name}: {r.dropped}")
    if p.image is not None:
        im = p.image
        size = next((f.size for f in p.files if f.path == im.path), 0)
        sp = ", ".join(f"{v:.2f}" for v in np.linalg.norm(im.matrix[:3, :3], axis=0))
        lines.append(
            f"image     {im.path}: {im.modality} {im.dims[0]}x{im.dims[1]}x{im.dims[2]} voxels "
            f"of {sp} mm, {_size(size)} (format {p.format_version})"
        )
    lines.append("")
    for t in p.trajectories:
        length = float(np.linalg.norm(np.subtract(t.target, t.entry)))
        lines.append(
            f"trajectory {t.name}: entry ({', '.join(f'{v:.1f}' for v in t.entry)}) -> target "
            f"({', '.join(f'{v:.1f}' for v in t.target)}) LPS mm, {length:.1f} mm"
        )
    if p.landmarks:
        lines.append("landmarks  " + ", ".join(lm.name for lm in p.landmarks))
    lines.append(
        "seconds   "
        + "  ".join(f"{k} {v:.2f}" for k, v in res.seconds.items())
        + f"  (total {sum(res.seconds.values()):.2f})"
    )
    for note in res.notes:
        lines.append(f"note      {note}")
    return "\n".join(lines)


def _size(n: int) -> str:
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MB"
    if n >= 1 << 10:
        return f"{n / 1024:.0f} kB"
    return f"{n} B"
