"""Kiosk logic without a window: display rules, settings, plan intake."""

from __future__ import annotations

import socket
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import ROOT, small_plan
from orkiosk.app.kiosk.intake import ControlSocket, FolderWatcher, send_path
from orkiosk.app.model import KioskState, Pick, events
from orkiosk.app.settings import KioskSettings, SettingsError, load_settings, with_overrides
from orkiosk.plan.model import Patient
from orkiosk.plan.package import load_package, write_package
from orkiosk.touch import GestureSettingsError


def pkg(tmp_path, name, **changes):
    plan, meshes = small_plan(**changes)
    return load_package(write_package(plan, meshes, tmp_path / name))


def test_first_plan_is_shown_and_versions_only_grow(tmp_path):
    st = KioskState()
    seen = []
    st.subscribe(seen.append)
    v1, v2 = pkg(tmp_path, "v1"), pkg(tmp_path, "v2", plan_version=2)
    assert st.offer(v1).outcome == "shown"
    assert st.offer(v2).outcome == "shown" and st.package is v2
    refused = st.offer(pkg(tmp_path, "v1b", planner="Someone"))
    assert refused.outcome == "refused" and "not newer" in refused.reason
    assert st.package is v2 and "not newer" in st.error
    assert st.offer(v2).outcome == "refused"  # the same plan again changes nothing
    assert events.PlanShown(v2) in seen
    assert events.ErrorChanged(st.error) in seen


def test_other_patient_waits_for_confirmation(tmp_path):
    st = KioskState()
    mine = pkg(tmp_path, "mine")
    other = pkg(tmp_path, "other", patient=Patient("OTHER^ONE", "P-2", "", ""), case_id="C-2")
    st.offer(mine)
    offer = st.offer(other)
    assert offer.outcome == "confirm" and "P-2" in offer.reason
    assert st.package is mine and st.pending is other
    st.reject_pending()
    assert st.package is mine and st.pending is None
    st.offer(other)
    assert st.confirm_pending() and st.package is other


def test_same_case_keeps_choices_other_case_resets(tmp_path):
    st = KioskState()
    st.offer(pkg(tmp_path, "v1"))
    st.toggle_visible("head")
    st.step_opacity("target")
    st.offer(pkg(tmp_path, "v2", plan_version=2))
    assert st.hidden == {"head"} and st.opacity == {"target": 0.5}
    other = pkg(tmp_path, "o", case_id="C-9", patient=Patient("X^Y", "P-9", "", ""))
    st.offer(other)
    st.confirm_pending()
    assert st.hidden == set() and st.opacity == {}


def test_opacity_steps_and_measure(tmp_path):
    st = KioskState()
    st.offer(pkg(tmp_path, "v1"))
    assert [st.step_opacity("head") for _ in range(3)] == [0.5, 0.2, 1.0]
    assert st.effective_opacity("head") == pytest.approx(0.5)  # the plan's own 50 %
    st.set_mode("measure")
    st.add_pick(Pick("head", (0, 0, 0)))
    assert st.distance_mm is None
    st.add_pick(Pick("head", (3, 4, 0)))
    assert st.distance_mm == pytest.approx(5.0)
    st.add_pick(Pick("head", (1, 1, 1)))  # a third tap starts again
    assert len(st.picks) == 1
    st.set_mode("view")
    assert st.picks == []
    with pytest.raises(ValueError):
        st.set_mode("dance")


def test_settings_file_env_and_options(tmp_path):
    f = tmp_path / "kiosk.toml"
    f.write_text(
        '[kiosk]\nplan = "/p"\nwindowed = true\n[display]\nmsaa = 0\n'
        '[touch]\ndevice = "/dev/input/event7"\n[gestures]\ntap_slop_mm = 9.0\n'
    )
    s = load_settings(f, environ={"ORKIOSK_WINDOWED": "no", "ORKIOSK_TRUST": "/keys"})
    assert s.plan == Path("/p") and s.windowed is False and s.msaa == 0
    assert s.touch_device == "/dev/input/event7" and s.trust == Path("/keys")
    assert s.gestures.tap_slop_mm == 9.0
    assert with_overrides(s, windowed=True, plan=None).windowed is True


def test_shipped_example_settings_parse():
    s = load_settings(ROOT / "systemd" / "kiosk.toml.example", environ={})
    assert s.require_signature is True and s.control_socket == Path("/run/orkiosk/control.sock")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[kiosk]\nplan = ", "cannot read settings"),
        ("[screen]\nx = 1", "unknown section [screen]"),
        ("[kiosk]\nplann = 1", "unknown setting kiosk.plann"),
        ("[display]\nmsaa = 'lots'", "display.msaa: expected a number"),
        ("[kiosk]\nwindowed = 'maybe'", "kiosk.windowed: expected true or false"),
    ],
)
def test_bad_settings_are_named(tmp_path, text, message):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(SettingsError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_settings(f, environ={})


def test_bad_gesture_setting_is_named(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text("[gestures]\ntap_slop = 3\n")
    with pytest.raises(GestureSettingsError, match="tap_slop"):
        load_settings(f, environ={})


def test_missing_explicit_settings_file(tmp_path):
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", environ={})
    env = {"ORKIOSK_SETTINGS": str(tmp_path / "gone.toml")}
    with pytest.raises(SettingsError, match="gone.toml"):
        load_settings(None, environ=env)
    assert KioskSettings().msaa == 4


def test_folder_watcher_offers_complete_packages_once(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    plan, meshes = small_plan()
    write_package(plan, meshes, inbox / "old")
    w = FolderWatcher(inbox, lambda p: None)
    w._seen = w._scan()
    assert w.poll() == []  # what was there at start is not new
    write_package(replace(plan, plan_version=2), meshes, inbox / "new")
    (inbox / "half").mkdir()  # no plan.json yet: not a package
    assert w.poll() == []  # seen once: wait one interval for it to be stable
    assert w.poll() == [inbox / "new"]
    assert w.poll() == []


def test_control_socket_queues_paths(tmp_path):
    got = []
    done = threading.Event()

    def offer(p):
        got.append(p)
        done.set()

    sock = tmp_path / "ctl.sock"
    server = ControlSocket(sock, offer).start()
    try:
        assert send_path(sock, tmp_path / "pkg") == "queued"
        assert done.wait(5) and got == [(tmp_path / "pkg").resolve()]
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(str(sock))
            s.sendall(b"\n")
            assert s.recv(100).startswith(b"error")
    finally:
        server.stop()
    assert not sock.exists()


def test_loading_fails_closed_when_the_trust_folder_is_unusable(tmp_path):
    from orkiosk.app.kiosk.loading import load_for_display
    from orkiosk.errors import OrkioskError
    from orkiosk.plan.signing import generate_keypair, load_trust_dir, sign_package

    p = pkg(tmp_path, "p").path
    priv, _ = generate_keypair(tmp_path / "keys")
    sign_package(p, priv)
    settings = KioskSettings(trust=tmp_path / "missing")
    with pytest.raises(OrkioskError, match="unusable"):
        load_for_display(p, settings, None)
    trusted = load_trust_dir(tmp_path / "keys")
    ok = load_for_display(p, KioskSettings(trust=tmp_path / "keys"), trusted)
    assert ok.package.signed_by is not None and ok.prepared is not None
    text = (p / "plan.json").read_text().replace("Test Planner", "Test Plannex")
    (p / "plan.json").write_text(text)
    with pytest.raises(OrkioskError, match="does not match"):
        load_for_display(p, KioskSettings(trust=tmp_path / "keys"), trusted)


def test_panel_size_is_spread_over_the_full_screen_windows_real_resolution():
    from orkiosk.app.settings import panel_dpi

    # settings written for a 24-inch 1920x1080 panel
    s = KioskSettings(width=1920, height=1080, panel_diagonal_in=24.0)
    assert panel_dpi(s) == pytest.approx(91.79, abs=0.01)
    # the kiosk finds itself full screen on a 1280x720 output of the same diagonal: text must
    # shrink with the pixels, or the rail runs over the patient banner (seen under cage in CI)
    assert panel_dpi(s, (1280, 720)) == pytest.approx(61.19, abs=0.01)
    # an explicit dpi is a measurement of the panel itself: it wins
    assert panel_dpi(KioskSettings(panel_dpi=100.0), (1280, 720)) == 100.0
    assert panel_dpi(KioskSettings(), (1280, 720)) is None  # believe the display
    with pytest.raises(SettingsError, match="1280x720"):
        panel_dpi(KioskSettings(panel_diagonal_in=200.0), (1280, 720))
