"""The plan-editing layer (orkiosk/edit/: operations, session, save) and `orkiosk edit`, without a
window: edits on the demo plan, undo and redo, the saved version's files and signature, every
refusal leaving nothing behind, and a property test that no sequence of edits saves a package the
kiosk's verifier refuses."""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orkiosk.app.model.plans import judge
from orkiosk.cli import main
from orkiosk.edit import operations as ops
from orkiosk.edit.save import save_version
from orkiosk.edit.session import EditSession, HistoryChanged, PlanEdited
from orkiosk.plan.demo import bundled_demo_path
from orkiosk.plan.diff import diff_plans
from orkiosk.plan.package import load_package
from orkiosk.plan.signing import generate_keypair, load_trust_dir

TARGET = (38.0, -18.0, 38.0)  # the demo's biopsy target (patient's left)


@pytest.fixture(scope="module")
def demo():
    return load_package(bundled_demo_path())


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    generate_keypair(d, "planner")
    return d


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------ operations


def test_moves_and_adds_are_checked_against_the_image(demo):
    b = ops.Bounds.of(demo.plan, demo.meshes)
    assert b.what == "the image"
    plan = ops.move_end(demo.plan, "biopsy", "target", (41.0, -18.0, 38.0), b)
    assert plan.trajectory("biopsy").target == (41.0, -18.0, 38.0)
    assert demo.plan.trajectory("biopsy").target == TARGET  # the old plan is untouched
    with pytest.raises(ops.EditError, match=r"Biopsy target: .* lies 396\.8 mm outside the image"):
        ops.move_end(demo.plan, "biopsy", "target", (38.0, -18.0, 500.0), b)
    with pytest.raises(ops.EditError, match="no trajectory has the id 'nope'.*biopsy"):
        ops.move_end(demo.plan, "nope", "target", TARGET, b)
    with pytest.raises(ops.EditError, match="at least 1 mm"):
        ops.move_end(demo.plan, "biopsy", "entry", (38.2, -18.0, 38.0), b)
    plan, tid = ops.add_trajectory(plan, "Biopsy", (60, -20, 50), TARGET, b, 1.8)
    assert tid == "biopsy-2" and plan.trajectory(tid).diameter == 1.8
    plan, lid = ops.add_landmark(plan, "Burr hole", (55, -10, 58), b)
    assert lid == "burr-hole"
    assert [t.id for t in ops.remove(plan, "biopsy").trajectories] == ["biopsy-2"]
    with pytest.raises(ops.EditError, match="cannot be removed.*hide it"):
        ops.remove(plan, "skin")
    plan = ops.set_structure(plan, "vessels", opacity=0.5, critical=False, visible=False)
    v = plan.structure("vessels")
    assert (v.opacity, v.critical, v.visible) == (0.5, False, False)
    with pytest.raises(ops.EditError, match="opacity 1.5 is not between 0 and 1"):
        ops.set_structure(plan, "vessels", opacity=1.5)
    assert ops.rename(plan, "burr-hole", "  Kocher  point ").landmarks[-1].name == "Kocher point"
    with pytest.raises(ops.EditError, match="diameter"):
        ops.set_diameter(plan, "biopsy", 0.0)


def test_plan_problems_name_the_wrong_side(demo):
    b = ops.Bounds.of(demo.plan, demo.meshes)
    plan = ops.move_end(demo.plan, "biopsy", "target", (-38.0, -18.0, 38.0), b)
    (problem,) = ops.plan_problems(plan, b)
    assert "laterality is 'left'" in problem and "RIGHT side" in problem
    assert ops.plan_problems(demo.plan, b) == []


# ------------------------------------------------------------------ session


def test_session_undo_redo_and_one_step_per_drag(demo):
    s = EditSession(demo)
    events = []
    s.subscribe(events.append)
    for k in range(5):  # one drag: five steps, one undo
        p = (38.0 + k, -18.0, 38.0)
        s.apply(
            "move target",
            lambda plan, p=p: ops.move_end(plan, "biopsy", "target", p, s.bounds),
            merge="drag:biopsy:target",
        )
    s.end_merge()
    s.apply("opacity", lambda plan: ops.set_structure(plan, "skin", opacity=0.9))
    assert s.dirty and s.plan.trajectory("biopsy").target == (42.0, -18.0, 38.0)
    assert isinstance(events[-1], HistoryChanged) and events[-1].undo_label == "opacity"
    assert s.undo() and s.plan.structure("skin").opacity == 0.35
    assert s.undo() and s.plan.trajectory("biopsy").target == TARGET and not s.dirty
    assert not s.undo()
    assert s.redo() and s.plan.trajectory("biopsy").target == (42.0, -18.0, 38.0)
    assert [e.how for e in events if isinstance(e, PlanEdited)][-3:] == ["undo", "undo", "redo"]
    # a refused edit changes nothing and says nothing
    n = len(events)
    with pytest.raises(ops.EditError):
        s.apply("bad", lambda plan: ops.move_end(plan, "biopsy", "target", (0, 0, 999), s.bounds))
    assert len(events) == n and s.plan.trajectory("biopsy").target == (42.0, -18.0, 38.0)
    assert s.diff().lines() == ["Trajectory Biopsy: target moved 4.0 mm"]


# ------------------------------------------------------------------ save


def test_save_reuses_every_file_and_verifies_signed(demo, keys, tmp_path):
    s = EditSession(demo)
    s.apply("t", lambda plan: ops.move_end(plan, "biopsy", "target", (41.0, -18.0, 38.0), s.bounds))
    saved = save_version(demo, s.plan, tmp_path / "v2", key_file=keys / "planner.key")
    assert saved.package.plan.plan_version == 2 and saved.package.plan.planner == "planner"
    assert saved.reused == len(demo.plan.files) == 7
    for f in demo.plan.files:
        assert _sha(tmp_path / "v2" / f.path) == f.sha256 == _sha(demo.path / f.path)
    assert sorted(p.name for p in (tmp_path / "v2").iterdir()) == [
        "image",
        "meshes",
        "plan.json",
        "plan.sig",
    ]
    again = load_package(tmp_path / "v2", load_trust_dir(keys), require_signature=True)
    assert again.signed_by is not None
    d = diff_plans(demo.plan, again.plan, demo.meshes, again.meshes)
    assert d.item("trajectory", "biopsy").moved_mm("target") == pytest.approx(3.0)
    assert [p.name for p in tmp_path.iterdir()] == ["v2"]  # no temporary left
    s.saved(saved.package)
    assert not s.dirty


@pytest.mark.parametrize(
    ("change", "kwargs", "why"),
    [
        (lambda p, b: ops.move_end(p, "biopsy", "target", (-38, -18, 38), b), {}, "RIGHT side"),
        (lambda p, b: p, {"version": 1}, "version 1 would not grow"),
    ],
)
def test_refused_saves_leave_nothing(demo, tmp_path, change, kwargs, why):
    plan = change(demo.plan, ops.Bounds.of(demo.plan, demo.meshes))
    with pytest.raises(ops.EditError, match=why):
        save_version(demo, plan, tmp_path / "v2", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_an_existing_folder_and_a_changed_base(demo, tmp_path):
    (tmp_path / "v2").mkdir()
    with pytest.raises(ops.EditError, match="already exists"):
        save_version(demo, demo.plan, tmp_path / "v2")
    # the base changed on disk after it was loaded: the copy does not verify, nothing is left
    base_dir = shutil.copytree(demo.path, tmp_path / "base")
    base = load_package(base_dir)
    with open(base_dir / "meshes" / "lesion.glb", "r+b") as f:
        f.seek(100)
        f.write(b"\xff")
    with pytest.raises(ops.EditError, match="does not verify: the file meshes/lesion.glb"):
        save_version(base, base.plan, tmp_path / "v3")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base", "v2"]


# ------------------------------------------------------------------ orkiosk edit


def test_cli_edit_signs_a_v2_that_verify_and_diff_accept(keys, tmp_path, capsys):
    out = tmp_path / "v2"
    rc = main(
        [
            "edit",
            "-o",
            str(out),
            "--move-target",
            "biopsy:41,-18,38",
            "--add-trajectory",
            "Second:60,-25,50:40,-20,35:1.5",
            "--add-landmark",
            "Burr hole:55,-10,58",
            "--opacity",
            "skin=0.5",
            "--sign",
            str(keys / "planner.key"),
        ]
    )
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "Plan v2 (was v1)" in text and "Trajectory Biopsy: target moved 3.0 mm" in text
    assert "Trajectory Second added" in text and "7 files reused unchanged" in text
    assert main(["verify", str(out), "--trust", str(keys), "--require-signature"]) == 0
    assert main(["diff", str(bundled_demo_path()), str(out)]) == 0
    assert "target moved 3.0 mm" in capsys.readouterr().out
    # RAS coordinates, as 3D Slicer shows them, land at the same LPS point
    rc = main(
        [
            "edit",
            str(out),
            "-o",
            str(tmp_path / "v3"),
            "--coords",
            "RAS",
            "--move-target",
            "biopsy:-42,18,38",
        ]
    )
    assert rc == 0
    assert load_package(tmp_path / "v3").plan.trajectory("biopsy").target == (42.0, -18.0, 38.0)


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (
            ["--move-target", "nope:41,-18,38"],
            "--move-target nope:41,-18,38: no trajectory has the id 'nope'",
        ),
        (["--move-target", "biopsy:41,-18,400"], "lies 296.8 mm outside the image"),
        (["--move-target", "biopsy:41,-18"], "is not x,y,z"),
        (["--move-target", "biopsy:-41,-18,38"], "laterality is 'left'.*RIGHT side"),
        (["--remove", "skin"], "cannot be removed"),
        (["--opacity", "skin=2"], "not between 0 and 1"),
        (["--opacity", "skin"], "expected ID=VALUE"),
        (["--add-trajectory", "X:1,2,3:1,2,3.5"], "less than 1 mm apart"),
        (["--version", "1", "--remove", "nasion"], "version 1 would not grow"),
        ([], "no edits given"),
    ],
)
def test_cli_refusals_are_one_line_and_write_nothing(tmp_path, capsys, args, why):
    rc = main(["edit", "-o", str(tmp_path / "v2"), *args])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1, err
    assert err.startswith("orkiosk edit: ")
    assert re.search(why, err), err
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ property


_point = st.tuples(st.floats(-120, 120), st.floats(-120, 120), st.floats(-120, 120))
_edit = st.one_of(
    st.tuples(
        st.just("move"),
        st.sampled_from(["biopsy", "biopsy-2", "x"]),
        st.sampled_from(ops.ENDS),
        _point,
    ),
    st.tuples(st.just("add"), st.text(min_size=0, max_size=8), _point, _point),
    st.tuples(st.just("landmark"), st.text(min_size=0, max_size=70), _point),
    st.tuples(st.just("remove"), st.sampled_from(["biopsy", "biopsy-2", "nasion", "skin", "x"])),
    st.tuples(st.just("opacity"), st.sampled_from(["skin", "vessels", "x"]), st.floats(-1, 2)),
    st.tuples(
        st.just("rename"), st.sampled_from(["biopsy", "skin", "nasion"]), st.text(max_size=80)
    ),
    st.tuples(st.just("placement"), st.floats(-5, 30)),
)


def _apply(plan, e, b):
    kind = e[0]
    if kind == "move":
        return ops.move_end(plan, e[1], e[2], e[3], b)
    if kind == "add":
        return ops.add_trajectory(plan, e[1], e[2], e[3], b)[0]
    if kind == "landmark":
        return ops.add_landmark(plan, e[1], e[2], b)[0]
    if kind == "remove":
        return ops.remove(plan, e[1])
    if kind == "opacity":
        return ops.set_structure(plan, e[1], opacity=e[2])
    if kind == "rename":
        return ops.rename(plan, e[1], e[2])
    return ops.set_placement_error(plan, e[1])


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(edits=st.lists(_edit, max_size=12))
def test_no_sequence_of_edits_saves_a_package_the_kiosk_refuses(demo, tmp_path, edits):
    s = EditSession(demo)
    for e in edits:
        with contextlib.suppress(ops.EditError):
            s.apply(e[0], lambda plan, e=e: _apply(plan, e, s.bounds))
        if e[0] == "move" and len(edits) % 3 == 0:
            s.undo()
    out = tmp_path / f"v{abs(hash(tuple(map(str, edits))))}"
    try:
        saved = save_version(demo, s.plan, out)
    except ops.EditError:
        assert not out.exists()  # refused as a whole (e.g. a target on the wrong side)
        return
    loaded = load_package(out)
    assert loaded.plan.plan_version == demo.plan.plan_version + 1
    # the kiosk showing the base shows it at once (same patient and case, a newer version)
    assert judge(demo, loaded).outcome == "shown"
    assert loaded.manifest_sha256 == saved.package.manifest_sha256
    assert all(math.isfinite(c) for t in loaded.plan.trajectories for c in t.entry + t.target)
