"""diff_plans: what changed between two plans, item by item, with thresholds, in short sentences;
and `orkiosk diff OLD NEW` on real packages."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from conftest import small_plan
from orkiosk.cli import main
from orkiosk.plan.diff import MOVE_MM, MeshShape, diff_plans, mesh_shapes
from orkiosk.plan.mesh import Mesh
from orkiosk.plan.model import (
    FileEntry,
    Landmark,
    Measurement,
    Patient,
    Structure,
    Study,
    View,
)
from orkiosk.plan.package import load_package, write_package
from orkiosk.plan.synthetic import surface


@pytest.fixture(scope="module")
def base():
    plan, meshes = small_plan(
        measurements=(Measurement("m1", "Width", (0, 0, 0), (10, 0, 0)),),
        views=(View("v1", "Oblique", (1, 0, 0), (0, 0, 1)),),
        files=(
            FileEntry("meshes/head.glb", 10, "a" * 64),
            FileEntry("meshes/target.glb", 10, "b" * 64),
        ),
    )
    return plan, meshes


def with_(plan, kind: str, iid: str, **changes):
    """The plan with one item of `kind` ("trajectories", ...) changed."""
    items = tuple(replace(x, **changes) if x.id == iid else x for x in getattr(plan, kind))
    return replace(plan, plan_version=plan.plan_version + 1, **{kind: items})


def moved(point, mm: float, axis: int = 0):
    return tuple(c + (mm if i == axis else 0.0) for i, c in enumerate(point))


def test_identical_plans_have_no_changes(base):
    plan, meshes = base
    d = diff_plans(plan, plan, meshes, meshes)
    assert d.empty and d.items == () and d.lines() == ["no changes"]
    assert d.version_text == "Plan v1 (same version)"
    v2 = diff_plans(plan, replace(plan, plan_version=2, created="2026-11-29T10:00:00Z"))
    assert v2.empty and v2.version_text == "Plan v2 (was v1)", "a new timestamp is no change"


def test_trajectory_target_and_entry_moves_in_mm(base):
    plan, _ = base
    t = plan.trajectories[0]
    d = diff_plans(plan, with_(plan, "trajectories", "t1", target=moved(t.target, 3.2)))
    (c,) = d.items
    assert (c.kind, c.id, c.action, c.fields) == ("trajectory", "t1", "changed", ("target",))
    assert c.moved_mm("target") == pytest.approx(3.2) and c.moved_mm("entry") is None
    assert d.lines() == ["Trajectory Needle: target moved 3.2 mm"]
    # a 3-4-5 move in two axes is 5 mm; the entry and the diameter too
    both = with_(
        plan,
        "trajectories",
        "t1",
        entry=(t.entry[0] + 3, t.entry[1] + 4, t.entry[2]),
        target=moved(t.target, 1.5, 2),
        diameter=3.0,
    )
    assert diff_plans(plan, both).lines() == [
        "Trajectory Needle: entry moved 5.0 mm, target moved 1.5 mm, diameter 2 -> 3 mm"
    ]


def test_thresholds_below_which_nothing_moved(base):
    plan, _ = base
    t, lm = plan.trajectories[0], plan.landmarks[0]
    tiny = MOVE_MM * 0.8
    small = with_(plan, "trajectories", "t1", target=moved(t.target, tiny), diameter=2.04)
    small = with_(small, "landmarks", "n", position=moved(lm.position, tiny, 1))
    small = with_(small, "structures", "head", color=(0.7, 0.7, 0.701), opacity=0.502)
    assert diff_plans(plan, small).empty
    just = with_(plan, "trajectories", "t1", target=moved(t.target, MOVE_MM * 1.2))
    assert diff_plans(plan, just).item("trajectory", "t1").fields == ("target",)


def test_added_removed_and_renamed_items(base):
    plan, _ = base
    new = replace(
        plan,
        plan_version=2,
        structures=plan.structures[:1]
        + (Structure("tumour", "Tumour", "meshes/tumour.glb", (1, 0, 0)),),
        trajectories=(replace(plan.trajectories[0], name="Biopsy"),),
        landmarks=(Landmark("tr", "Left tragus", (70, 0, 0)),),
    )
    lines = diff_plans(plan, new).lines()
    assert lines == [
        "Trajectory Biopsy: renamed from Needle",
        "Structure Tumour added",
        "Structure Target removed",
        "Landmark Left tragus added",
        "Landmark Nasion removed",
    ]
    d = diff_plans(plan, new)
    assert d.changed_ids("structure") == {"tumour"} and d.changed_ids("trajectory") == {"t1"}


def test_structure_properties_each_named(base):
    plan, _ = base
    new = with_(
        plan,
        "structures",
        "head",
        color=(0.2, 0.7, 0.7),
        opacity=1.0,
        visible=False,
        critical=True,
        category="bone",
    )
    (c,) = diff_plans(plan, new).items
    assert c.fields == ("colour", "opacity", "visible", "critical", "category")
    assert c.sentence() == (
        "Structure Head changed (colour, opacity 50 % -> 100 %, now hidden, now CRITICAL, now bone)"
    )
    back = diff_plans(new, plan).item("structure", "head")
    assert "no longer critical" in back.notes and "now shown" in back.notes


def test_mesh_change_is_the_manifest_hash(base):
    plan, meshes = base
    other_hash = tuple(
        replace(f, sha256="c" * 64) if f.path == "meshes/head.glb" else f for f in plan.files
    )
    new = replace(plan, plan_version=2, files=other_hash)
    assert diff_plans(plan, new).lines() == ["Structure Head changed (mesh)"]
    # the same bytes under another path are the same mesh
    renamed = replace(
        plan,
        files=tuple(
            replace(f, path="meshes/h2.glb") if f.path == "meshes/head.glb" else f
            for f in plan.files
        ),
    )
    renamed = with_(renamed, "structures", "head", mesh="meshes/h2.glb")
    assert diff_plans(plan, renamed).empty
    # given the meshes: how far it moved; the same shape remade in place says so
    shifted = dict(meshes, head=surface((0, 0, 2.5), (60, 70, 80), 12, 16))
    d = diff_plans(plan, new, meshes, shifted)
    (c,) = d.items
    assert c.moved_mm("mesh centroid") == pytest.approx(2.5, abs=0.01)
    assert c.moved_mm("mesh bounds") == pytest.approx(2.5, abs=0.01)
    assert d.lines() == ["Structure Head changed (mesh: centre moved 2.5 mm, bounds up to 2.5 mm)"]
    grown = dict(meshes, head=surface((0, 0, 0), (60, 70, 84), 12, 16))
    c = diff_plans(plan, new, meshes, grown).items[0]
    assert c.moved_mm("mesh centroid") is None and c.moved_mm("mesh bounds") == pytest.approx(4)
    same = diff_plans(plan, new, meshes, meshes).items[0]
    assert same.notes == ("mesh, same place and size",) and same.moved == ()


def test_mesh_shapes_stand_in_for_meshes(base):
    plan, meshes = base
    shapes = mesh_shapes(meshes)
    head = shapes["head"]
    lo, hi = meshes["head"].bounds()
    np.testing.assert_allclose(head.lo, lo, atol=1e-4)
    np.testing.assert_allclose(head.hi, hi, atol=1e-4)
    np.testing.assert_allclose(head.centroid, (0, 0, 0), atol=0.5)
    assert MeshShape.of(head) is head
    cube = Mesh.from_triangles([(0, 0, 0), (2, 0, 0), (0, 4, 0), (0, 0, 6)], [(0, 2, 1), (0, 1, 3)])
    assert MeshShape.of(cube) == MeshShape((0.5, 1.0, 1.5), (0, 0, 0), (2, 4, 6))
    new = replace(
        plan,
        files=tuple(replace(f, sha256="d" * 64) for f in plan.files),
        plan_version=2,
    )
    moved_head = dict(meshes, head=surface((1, 0, 0), (60, 70, 80), 12, 16))
    d = diff_plans(plan, new, shapes, moved_head)
    assert d.item("structure", "head").moved_mm("mesh centroid") == pytest.approx(1.0, abs=0.01)
    assert d.item("structure", "target").notes == ("mesh, same place and size",)


def test_landmarks_measurements_and_views(base):
    plan, _ = base
    lm = plan.landmarks[0]
    new = with_(plan, "landmarks", "n", position=moved(lm.position, 1.5, 2))
    new = with_(new, "measurements", "m1", b=(10, 2, 0))
    new = with_(new, "views", "v1", look=(0, 1, 0))
    assert diff_plans(plan, new).lines() == [
        "Landmark Nasion moved 1.5 mm",
        "Measurement Width: point B moved 2.0 mm",
        "View Oblique changed (camera)",
    ]
    both = with_(plan, "landmarks", "n", name="Nasion (soft)", position=moved(lm.position, 2))
    assert diff_plans(plan, both).lines() == [
        "Landmark Nasion (soft) changed (renamed from Nasion, moved 2.0 mm)"
    ]


def test_identity_changes_are_loud_first_and_never_quote_the_name(base):
    plan, _ = base
    t = plan.trajectories[0]
    new = replace(
        with_(plan, "trajectories", "t1", target=moved(t.target, 1)),
        patient=Patient("OTHER^NAME", "P-2", "1999-09-09", "F"),
        case_id="CASE-2",
        laterality="right",
        procedure="Resection",
        study=Study("9.9.9"),
        planner="Second Planner",
    )
    lines = diff_plans(plan, new).lines()
    assert lines == [
        "PATIENT CHANGED: ID P-1 -> P-2",
        "PATIENT DETAILS CHANGED: name, birth date",
        "CASE CHANGED: CASE-1 -> CASE-2",
        "SIDE CHANGED: LEFT -> RIGHT",
        "PROCEDURE CHANGED: Biopsy -> Resection",
        "STUDY CHANGED: the plan is made on other images",
        "Trajectory Needle: target moved 1.0 mm",
        "Planner Test Planner -> Second Planner",
    ]
    text = " ".join(lines)
    for private in ("OTHER", "TEST", "PATIENT^", "1999", "1980"):
        assert private not in text.replace("PATIENT CHANGED", "").replace("PATIENT DETAILS", "")


# ---------------------------------------------------------------- orkiosk diff


def _pkg(tmp_path, name, plan, meshes):
    return write_package(plan, meshes, tmp_path / name)


def test_cli_prints_the_lines(tmp_path, capsys):
    plan, meshes = small_plan()
    old = _pkg(tmp_path, "v1", plan, meshes)
    t = plan.trajectories[0]
    plan2 = replace(plan, plan_version=2, trajectories=(replace(t, target=moved(t.target, 3.2)),))
    meshes2 = dict(meshes, target=surface((31, 0, 10), (5, 5, 5), 8, 10))
    new = _pkg(tmp_path, "v2", plan2, meshes2)
    assert main(["diff", str(old), str(new)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Plan v2 (was v1)"
    assert out[1] == "Trajectory Needle: target moved 3.2 mm"
    assert out[2].startswith("Structure Target changed (mesh: centre moved 1.0 mm")
    assert len(out) == 3
    assert main(["diff", str(old), str(old)]) == 0
    assert capsys.readouterr().out.splitlines() == ["Plan v1 (same version)", "no changes"]
    # the loader's verdict is kept: same meshes loaded and compared
    assert load_package(new).plan.plan_version == 2


def test_cli_bad_package_is_one_line_and_exit_2(tmp_path, capsys):
    plan, meshes = small_plan()
    good = _pkg(tmp_path, "v1", plan, meshes)
    bad = _pkg(tmp_path, "bad", replace(plan, plan_version=2), meshes)
    data = bytearray((bad / "meshes" / "head.glb").read_bytes())
    data[100] ^= 0xFF
    (bad / "meshes" / "head.glb").write_bytes(bytes(data))
    assert main(["diff", str(good), str(bad)]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    (line,) = out.err.splitlines()
    assert "meshes/head.glb" in line and "SHA-256" in line and str(bad) in line
    assert main(["diff", str(tmp_path / "missing"), str(good)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.count(str(tmp_path / "missing")) == 1 and "not a package directory" in line
