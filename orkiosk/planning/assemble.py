"""The plan put together from the series header, the options and the built structures: case id,
patient and study fields, structures with their default look, trajectories, named views."""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import replace

from orkiosk.plan.model import Patient, Plan, Structure, Study, View
from orkiosk.plan.names import unique_id
from orkiosk.plan.views import along_trajectory, anatomical_views
from orkiosk.planning.dicom.header import SeriesInfo
from orkiosk.planning.markups import PlanItems
from orkiosk.planning.naming import safe_case_id, short_text, user
from orkiosk.planning.options import BuildError, BuildOptions


def named_views(plan_items: PlanItems) -> list[View]:
    """The anatomical views plus one along each trajectory."""
    views = anatomical_views()
    used = {v.id for v in views}
    for t in plan_items.trajectories:
        views.append(along_trajectory(t, unique_id(f"along-{t.id}", used)))
    return views


def make_structure(sid, name, color, opacity, category, critical, visible=True) -> Structure:
    return Structure(
        id=sid,
        name=short_text(name),
        mesh=f"meshes/{sid}.glb",
        color=tuple(float(min(max(c, 0.0), 1.0)) for c in color),
        opacity=float(opacity),
        visible=bool(visible),
        category=category[:32],
        critical=bool(critical),
    )


def apply_opacity(structures: list[Structure], specs: list[str]) -> list[Structure]:
    """--opacity ID=VALUE: the opacity a structure is shown with by default (0..1)."""
    out = list(structures)
    ids = [s.id for s in out]
    for spec in specs:
        sid, sep, value = spec.partition("=")
        try:
            opacity = float(value)
        except ValueError:
            opacity = float("nan")
        if not sep or not 0.0 <= opacity <= 1.0:
            raise BuildError(f"--opacity {spec!r}: expected ID=VALUE with VALUE from 0 to 1")
        if sid not in ids:
            raise BuildError(f"--opacity {spec!r}: no structure {sid!r} (known: {', '.join(ids)})")
        i = ids.index(sid)
        out[i] = replace(out[i], opacity=opacity)
    return out


def make_plan(
    opts: BuildOptions,
    info: SeriesInfo,
    laterality: str,
    structures: list[Structure],
    items: PlanItems,
) -> Plan:
    created = _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    case_id = opts.case_id or "-".join(
        x for x in (info.patient_id or "CASE", (info.study_date or "").replace("-", "")) if x
    )
    if opts.case_id and safe_case_id(opts.case_id) != opts.case_id:
        raise BuildError(
            f"--case-id {opts.case_id!r}: use letters, digits, '.', '_' and '-' only (max 64)"
        )
    structures = apply_opacity(structures, opts.opacity)
    return Plan(
        case_id=safe_case_id(case_id),
        plan_version=int(opts.plan_version),
        created=created,
        planner=short_text(opts.planner or user()),
        patient=Patient(
            short_text(info.patient_name), short_text(info.patient_id), info.birth_date, info.sex
        ),
        study=Study(
            info.study_uid if re.fullmatch(r"[0-9.]{0,64}", info.study_uid) else "",
            info.study_date,
            short_text(info.study_description),
            info.modality[:16],
        ),
        procedure=short_text(opts.procedure),
        laterality=laterality,
        structures=tuple(structures),
        trajectories=tuple(items.trajectories),
        landmarks=tuple(items.landmarks),
        measurements=tuple(items.measurements),
        views=tuple(named_views(items)),
    )
