"""The kiosk model's "what changed" value: set once when a newer version of the same case
replaces the shown plan, kept until dismissed, never for another case or the first plan; and
the banner's text (readouts.changes_text)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from conftest import small_plan
from orkiosk.app.model import KioskState, events
from orkiosk.app.readouts import CHANGES_SHOWN, changes_text
from orkiosk.plan.diff import PlanDiff, diff_plans
from orkiosk.plan.model import Landmark, Patient, Trajectory
from orkiosk.plan.package import load_package, write_package
from orkiosk.plan.synthetic import surface

NEEDLE = Trajectory("t1", "Needle", (60, 0, 60), (30, 0, 10), 2.0)


def pkg(tmp_path, name, meshes=None, **changes):
    plan, default = small_plan(**changes)
    return load_package(write_package(plan, meshes or default, tmp_path / name))


def moved_target(mm: float) -> tuple[Trajectory, ...]:
    return (replace(NEEDLE, target=(30 + mm, 0, 10)),)


@pytest.fixture
def shown(tmp_path):
    st = KioskState()
    st.set_viewport(800, 600, 4.0)
    st.offer(pkg(tmp_path, "v1"))
    st.drop_meshes()  # as the kiosk does once the plan is on the GPU
    seen = []
    st.subscribe(seen.append)
    return st, seen


def changes_events(seen):
    return [e for e in seen if isinstance(e, events.ChangesChanged)]


def test_first_plan_has_no_changes(tmp_path):
    st = KioskState()
    seen = []
    st.subscribe(seen.append)
    st.offer(pkg(tmp_path, "v1"))
    assert st.changes is None and changes_events(seen) == []


def test_same_case_replacement_sets_the_diff_once_until_dismissed(tmp_path, shown):
    st, seen = shown
    st.offer(pkg(tmp_path, "v2", plan_version=2, trajectories=moved_target(3.2)))
    (event,) = changes_events(seen)
    assert event.changes is st.changes and isinstance(st.changes, PlanDiff)
    assert st.changes.version_text == "Plan v2 (was v1)"
    assert st.changes.lines() == ["Trajectory Needle: target moved 3.2 mm"]
    names = [type(e).__name__ for e in seen]
    assert names.index("PlanShown") < names.index("ChangesChanged"), "after the plan is in"
    seen.clear()
    st.dismiss_changes()
    assert st.changes is None and seen == [events.ChangesChanged(None)]
    st.dismiss_changes()
    assert len(seen) == 1, "no event without a change"
    # the next version is compared with the one the team saw (v2), not v1
    st.offer(pkg(tmp_path, "v3", plan_version=3, trajectories=moved_target(4.2)))
    assert st.changes.version_text == "Plan v3 (was v2)"
    assert st.changes.lines() == ["Trajectory Needle: target moved 1.0 mm"]


def test_undismissed_changes_keep_their_base(tmp_path, shown):
    """Two replacements before anyone tapped the banner: the diff covers both."""
    st, seen = shown
    st.offer(pkg(tmp_path, "v2", plan_version=2, trajectories=moved_target(3.0)))
    st.offer(
        pkg(
            tmp_path,
            "v3",
            plan_version=3,
            trajectories=moved_target(3.0),
            landmarks=(Landmark("n", "Nasion", (0, -70, 1.5)),),
        )
    )
    assert len(changes_events(seen)) == 2
    assert st.changes.version_text == "Plan v3 (was v1)"
    assert st.changes.lines() == [
        "Trajectory Needle: target moved 3.0 mm",
        "Landmark Nasion moved 1.5 mm",
    ]


def test_moved_mesh_is_measured_after_the_meshes_were_freed(tmp_path, shown):
    st, _ = shown
    _, meshes = small_plan()
    moved = dict(meshes, target=surface((32, 0, 10), (5, 5, 5), 8, 10))
    st.offer(pkg(tmp_path, "v2", moved, plan_version=2))
    (line,) = st.changes.lines()
    assert line.startswith("Structure Target changed (mesh: centre moved 2.0 mm")


def test_no_changes_for_another_patient_or_case(tmp_path, shown):
    st, seen = shown
    st.offer(pkg(tmp_path, "v2", plan_version=2, trajectories=moved_target(2.0)))
    assert st.changes is not None
    seen.clear()
    other = pkg(tmp_path, "o", case_id="C-9", patient=Patient("X^Y", "P-9", "", ""))
    st.offer(other)
    assert st.changes is not None and changes_events(seen) == [], "waiting: nothing shown yet"
    assert st.confirm_pending()
    assert st.changes is None and changes_events(seen) == [events.ChangesChanged(None)]
    # another case of the same patient is no replacement either
    st.offer(pkg(tmp_path, "c2", case_id="CASE-2", patient=Patient("X^Y", "P-9", "", "")))
    assert st.confirm_pending() and st.changes is None
    assert changes_events(seen) == [events.ChangesChanged(None)]


def test_refused_or_repeated_plans_leave_the_changes(tmp_path, shown):
    st, seen = shown
    v2 = pkg(tmp_path, "v2", plan_version=2, trajectories=moved_target(2.0))
    st.offer(v2)
    diff = st.changes
    seen.clear()
    st.offer(v2)  # the same plan again
    st.offer(pkg(tmp_path, "old", plan_version=1, procedure="Other"))  # not newer: refused
    assert st.changes is diff and changes_events(seen) == []

    def broken(p):
        raise RuntimeError("no GPU memory")

    with pytest.raises(RuntimeError):
        st.offer(pkg(tmp_path, "v3", plan_version=3), prepare=broken)
    assert st.changes is diff and changes_events(seen) == []


def test_changes_text_is_the_banner():
    plan, _ = small_plan()
    v2 = replace(plan, plan_version=2, trajectories=moved_target(3.2))
    assert changes_text(diff_plans(plan, v2)) == (
        "Plan v2 (was v1), what changed:\nTrajectory Needle: target moved 3.2 mm"
    )
    assert changes_text(diff_plans(plan, replace(plan, plan_version=2))) == (
        "Plan v2 (was v1): no changes"
    )
    many = replace(
        v2,
        laterality="right",
        landmarks=tuple(Landmark(f"l{i}", f"Point {i}", (i, 0, 0)) for i in range(6)),
    )
    lines = changes_text(diff_plans(plan, many)).splitlines()
    assert len(lines) == 1 + CHANGES_SHOWN
    assert lines[1] == "SIDE CHANGED: LEFT -> RIGHT", "the loud ones first"
    total = len(diff_plans(plan, many).lines())
    assert lines[-1] == f"... and {total - CHANGES_SHOWN + 1} more changes"
