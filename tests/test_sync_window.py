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
