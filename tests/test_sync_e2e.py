"""End to end with real processes on 127.0.0.1: a hub, headless kiosks, pushes."""

import pytest
from sync_support import Net, manifest_sha


@pytest.fixture
def net(tmp_path):
    n = Net(tmp_path)
    n.start_hub()
    yield n
    n.close()


def test_push_reaches_every_kiosk_and_a_late_one_converges(net):
    kiosks = {name: net.start_kiosk(name) for name in ("k1", "k2")}
    v1 = net.package(1)
    result = net.push(v1)
    assert result.returncode == 0, result.stderr
    assert "hub accepted case CASE-1 v1 for room OR-1" in result.stdout
    for name in kiosks:
        assert f"{name}: shown v1" in result.stdout, result.stdout
        assert net.status(name)["manifest_sha256"] == manifest_sha(v1)

    kiosks["k3"] = net.start_kiosk("k3")  # started after the push: converges by itself
    kiosks["k3"].wait_line("case CASE-1 v1 shown")
    assert net.status("k3")["manifest_sha256"] == manifest_sha(v1)

    v2 = net.package(2)
    result = net.push(v2)
    assert result.returncode == 0, result.stderr
    for name in kiosks:
        assert f"{name}: shown v2" in result.stdout, result.stdout
        status = net.status(name)
        assert (status["plan_version"], status["manifest_sha256"]) == (2, manifest_sha(v2))
    assert net.status("../hub-state/rooms/OR-1")["manifest_sha256"] == manifest_sha(v2)


def test_kiosk_restarted_resumes_its_plan_and_converges_after_a_hub_restart(net):
    hub = net.procs[0]
    k1 = net.start_kiosk("k1")
    assert net.push(net.package(1)).returncode == 0
    k1.wait_line("v1 shown")
    k1.stop()
    hub.stop()
    k1 = net.start_kiosk("k1")  # no hub: it still has its committed plan
    k1.wait_line("showing case CASE-1 v1")
    port = net.endpoint.rsplit(":", 1)[1]
    net.procs.remove(hub)
    net.start_hub(bind=f"tcp://127.0.0.1:{port}")  # the same hub state, back again
    v2 = net.package(2)
    result = net.push(v2)
    assert result.returncode == 0, result.stderr
    k1.wait_line("case CASE-1 v2 shown")
    assert net.status("k1")["manifest_sha256"] == manifest_sha(v2)
