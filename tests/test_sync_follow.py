"""Follow mode in the kiosk model (no Kivy, no sockets): what a planner points at is applied
only while following, through the typed views; a highlight dims the others; a touch ends it."""

from __future__ import annotations

from conftest import small_plan
from orkiosk.app.model import KioskState, NamedView, TrajectoryView, events
from orkiosk.app.model.follow import HIGHLIGHT_DIM, resolve_view
from orkiosk.plan.package import load_package, write_package


def shown(tmp_path) -> tuple[KioskState, list]:
    plan, meshes = small_plan()
    st = KioskState()
    st.set_viewport(800, 600)
    st.offer(load_package(write_package(plan, meshes, tmp_path / "p")))
    seen: list = []
    st.subscribe(seen.append)
    return st, seen


def test_pointing_does_nothing_until_following(tmp_path):
    st, seen = shown(tmp_path)
    assert st.follow("view", "left") == "follow mode is off"
    assert st.view == NamedView("anterior") and not seen


def test_following_applies_views_trajectories_and_highlights(tmp_path):
    st, seen = shown(tmp_path)
    st.set_following(True)
    assert st.follow("view", "LEFT") == "" and st.view == NamedView("left")
    assert st.follow("trajectory", "Needle", side=True) == ""  # by name as well as by id
    assert st.view == TrajectoryView("t1", True) and st.selected == "t1"
    assert st.follow("highlight", "target") == ""
    ds = st.display_state()
    assert ds.opacity["target"] == 1.0
    assert abs(ds.opacity["head"] - 0.5 * HIGHLIGHT_DIM) < 1e-9  # the plan's 0.5, dimmed
    assert st.follow("highlight", "nothing-such") == "no such structure in the shown plan"
    assert st.follow("view", "nowhere") == "no such view in the shown plan"
    follows = [e for e in seen if isinstance(e, events.FollowChanged)]
    assert follows[0] == events.FollowChanged(True)
    assert follows[-1].highlight == "target" and follows[-1].showing == "Target highlighted"


def test_a_touch_ends_follow_mode_and_drops_the_highlight(tmp_path):
    st, seen = shown(tmp_path)
    st.touched()  # not following: nothing
    assert not seen
    st.set_following(True)
    st.follow("highlight", "target")
    st.touched()
    assert not st.following and st.highlight is None
    assert seen[-1] == events.FollowChanged(False, "touch", "", None)
    assert st.display_state().opacity["head"] == 0.5


def test_resolve_view_needs_the_plan_to_have_it(tmp_path):
    plan, _ = small_plan()
    assert resolve_view(plan, "view", "superior") == NamedView("superior")
    assert resolve_view(plan, "trajectory", "t9") is None
    assert resolve_view(plan, "highlight", "head") is None
