"""A kiosk with a window (offscreen SDL) in the room beside headless ones: it shows the pushed
plan and answers; another patient's plan waits for confirmation everywhere and is not committed."""

import pytest
from sync_support import Net, Proc, manifest_sha

from orkiosk.plan.model import Patient


@pytest.fixture
def net(tmp_path):
    n = Net(tmp_path, kiosks=("k1", "kw"))
    n.start_hub()
    yield n
    n.close()


def start_window_kiosk(net, name="kw") -> Proc:
    env = {
        "SDL_VIDEODRIVER": "offscreen",
        "KIVY_NO_ARGS": "1",
        "KIVY_HOME": str(net.root / "kivy-home"),
        "ORKIOSK_SETTINGS": str(net.root / "none.toml"),
    }
    (net.root / "none.toml").write_text("[sync]\nstale_after_s = 5.0\n")
    k = Proc(
        [
            "run", "--windowed", "--size", "800x600", "--hub", net.endpoint,
            "--hub-key", net.keys / "hub.pub", "--identity", net.keys / name, "--room", "OR-1",
            "--trust", net.root / "trust", "--state", net.state(name),
        ],
        name,
        env,
    )  # fmt: skip
    net.procs.append(k)
    k.wait_line("hub link: connected", timeout=60)
    return k


def test_window_kiosk_shows_answers_and_waits_for_confirmation(net):
    net.start_kiosk("k1")
    kw = start_window_kiosk(net)
    v1 = net.package(1)
    result = net.push(v1, wait=60)
    assert result.returncode == 0, result.stderr
    assert "k1: shown v1" in result.stdout and "kw: shown v1" in result.stdout, result.stdout
    assert net.status("kw")["manifest_sha256"] == manifest_sha(v1)

    other = net.package(1, case_id="CASE-2", patient=Patient("OTHER^ONE", "P-2", "", ""))
    result = net.push(other, wait=60)
    assert result.returncode == 0, result.stderr
    assert "k1: waiting for confirmation" in result.stdout, result.stdout
    assert "kw: waiting for confirmation" in result.stdout, result.stdout
    for name in ("k1", "kw"):  # nothing of it committed, the old plan stays
        assert net.status(name)["manifest_sha256"] == manifest_sha(v1)
    assert "OTHER" not in kw.text()  # no patient name in any log


def other_case(net, version=1, case="CASE-2", pid="P-2"):
    return net.package(version, case_id=case, patient=Patient("OTHER^ONE", pid, "", ""))


def test_confirming_another_case_commits_it_and_a_restart_resumes_it(net):
    from sync_window import WindowKiosk

    hub = net.procs[0]
    kw = WindowKiosk(net)
    v1 = net.package(1)
    assert net.push(v1, wait=60).returncode == 0
    kw.until(lambda s: s["case_id"] == "CASE-1", "showed CASE-1 v1")

    other = other_case(net)
    result = net.push(other, wait=60)
    assert "kw: waiting for confirmation" in result.stdout, result.stdout
    st = kw.until(lambda s: s["pending_case"] == "CASE-2", "offered CASE-2")
    assert st["case_id"] == "CASE-1" and st["alert_kind"] == "confirm"
    assert net.status("kw")["case_id"] == "CASE-1"  # nothing of it committed yet

    kw.ask("tap alert_confirm")  # a person confirms on the kiosk
    st = kw.until(lambda s: s["case_id"] == "CASE-2", "showed CASE-2 after confirmation")
    assert st["pending_case"] is None and not st["error"]
    status = net.status("kw")
    assert (status["case_id"], status["manifest_sha256"]) == ("CASE-2", manifest_sha(other))
    hub.wait_line(r"kiosk kw in OR-1: shown v1", timeout=60)  # the hub heard "shown"

    third = other_case(net, case="CASE-3", pid="P-3")
    assert "kw: waiting for confirmation" in net.push(third, wait=60).stdout
    kw.until(lambda s: s["pending_case"] == "CASE-3", "offered CASE-3")
    kw.ask("tap alert_dismiss")  # KEEP CURRENT: declined, dropped from staging
    hub.wait_line(r"kiosk kw in OR-1: refused v1", timeout=60)
    assert not (net.state("kw") / "staging" / manifest_sha(third)).exists()
    assert net.status("kw")["case_id"] == "CASE-2"

    kw.proc.stop()  # restarted, the kiosk resumes what was confirmed and committed
    kw = WindowKiosk(net)
    st = kw.until(lambda s: s["case_id"] == "CASE-2", "resumed CASE-2")
    assert "OTHER" not in kw.proc.text()  # no patient name in any log


def point(net, *args, who="alice"):
    import subprocess
    import sys

    from sync_support import ENV

    return subprocess.run(
        [sys.executable, "-m", "orkiosk", "point", "--hub", net.endpoint, "--hub-key",
         str(net.keys / "hub.pub"), "--identity", str(net.keys / who), "--room", "OR-1", *args],
        capture_output=True, text=True, timeout=120, env=ENV,
    )  # fmt: skip


def test_follow_mode_applies_the_planners_view_until_a_touch(net):
    from sync_window import WindowKiosk

    k1 = net.start_kiosk("k1")  # headless: ignores pointing
    kw = WindowKiosk(net)
    assert net.push(net.package(1), wait=60).returncode == 0
    kw.until(lambda s: s["case_id"] == "CASE-1", "showed v1")
    k1.wait_line("case CASE-1 v1 shown")

    result = point(net, "--view", "left")  # follow mode is off by default: nothing moves
    assert result.returncode == 0, result.stderr
    assert "kw" in result.stdout and "k1" in result.stdout, result.stdout
    st = kw.state()
    assert not st["following"] and st["view"] == "NamedView(name='anterior')"

    st = kw.ask("tap follow")  # the FOLLOW PLANNER toggle on the VIEWS tab
    assert st["following"] and st["follow_toggle"] == "down"
    assert point(net, "--view", "left").returncode == 0
    kw.until(lambda s: s["view"] == "NamedView(name='left')", "followed to the left view")
    assert point(net, "--trajectory", "t1", "--side").returncode == 0
    kw.until(lambda s: s["view"] == "TrajectoryView(trajectory_id='t1', side=True)", "followed t1")
    assert point(net, "--highlight", "Target").returncode == 0
    st = kw.until(lambda s: s["highlight"] == "target", "highlighted the target")
    assert st["opacity"]["target"] == 1.0 and st["opacity"]["head"] < 0.1  # others dimmed
    assert "Target highlighted" in st["follow_banner"]

    st = kw.ask("touchview")  # any touch on the 3D view ends follow mode, and says so
    assert not st["following"] and st["highlight"] is None and st["follow_toggle"] == "normal"
    assert st["follow_banner"] == "Follow mode ended by touch"
    assert point(net, "--view", "posterior").returncode == 0
    kw.proc.wait_line("planner alice points view: follow mode is off", timeout=60)
    assert kw.state()["view"] != "NamedView(name='posterior')"

    result = point(net, "--view", "left", who="k1")  # a kiosk's key may not point
    assert result.returncode != 0 and "a kiosk may not send point" in result.stderr


def test_stale_hub_banner_comes_and_goes_with_the_hub(net):
    from sync_window import WindowKiosk

    hub = net.procs[0]
    kw = WindowKiosk(net, size=(1920, 1080), diagonal=24.0, stale_after_s=2.0)
    assert net.push(net.package(1), wait=60).returncode == 0
    st = kw.until(lambda s: s["case_id"] == "CASE-1", "showed v1")
    assert st["hub_banner"] == ""
    hub.stop()  # the hub goes away: the banner after stale_after_s
    st = kw.until(lambda s: s["hub_banner"], "showed the stale-hub banner", timeout=90)
    assert st["hub_banner"].startswith("NO CONTACT WITH THE PLANNING HUB since ")
    assert "the plan shown may not be the latest" in st["hub_banner"]
    assert st["case_id"] == "CASE-1"  # the last good plan stays
    check_banner_layout(kw.ask(f"shot {net.root / 'stale-1920x1080.png'}"), (1920, 1080))

    kw.proc.stop()  # restarted without a hub: its stored plan, and the banner once stale
    kw = WindowKiosk(net, size=(1280, 1024), diagonal=19.0, stale_after_s=2.0)
    kw.until(lambda s: s["case_id"] == "CASE-1" and s["hub_banner"], "resumed, banner", 90)
    check_banner_layout(kw.ask(f"shot {net.root / 'stale-1280x1024.png'}"), (1280, 1024))

    net.procs.remove(hub)
    net.start_hub(bind=f"tcp://127.0.0.1:{net.endpoint.rsplit(':', 1)[1]}")
    kw.until(lambda s: s["hub_banner"] == "", "cleared the banner once the hub is back", 90)


def check_banner_layout(shot: dict, size) -> None:
    """Above the 3D view only: the rail and the patient banner are never covered."""
    r = shot["rects"]
    assert shot["window"] == list(size) and shot["hub_banner"], shot
    assert r["hub_banner"][3] > 0 and not _overlap(r["hub_banner"], r["rail"])
    assert not _overlap(r["hub_banner"], r["banner"])
    assert not _overlap(r["hub_banner"], r["view"])  # it pushes the view down, never covers it
    assert shot["view_lit"] > 0.08, f"the 3D view shows no anatomy: {shot['view_lit']:.1%} lit"


def _overlap(a, b) -> bool:
    return (
        a[0] < b[0] + b[2] - 0.5
        and b[0] < a[0] + a[2] - 0.5
        and (a[1] < b[1] + b[3] - 0.5 and b[1] < a[1] + a[3] - 0.5)
    )


def test_acceptance_three_headless_and_one_window_kiosk_agree(tmp_path):
    from sync_window import WindowKiosk

    net = Net(tmp_path, kiosks=("k1", "k2", "k3", "kw"))
    try:
        net.start_hub()
        for name in ("k1", "k2", "k3"):
            net.start_kiosk(name)
        kw = WindowKiosk(net)
        for version in (1, 2):
            pkg = net.package(version)
            result = net.push(pkg, wait=90)
            assert result.returncode == 0, result.stderr
            for name in ("k1", "k2", "k3", "kw"):  # push reports each one's version
                assert f"{name}: shown v{version}" in result.stdout, result.stdout
            states = {n: net.status(n) for n in ("k1", "k2", "k3", "kw")}
            assert {
                (s["case_id"], s["plan_version"], s["manifest_sha256"]) for s in states.values()
            } == {("CASE-1", version, manifest_sha(pkg))}, states
            kw.until(lambda s, v=version: s["plan_version"] == v, f"showed v{version}")
    finally:
        net.close()
