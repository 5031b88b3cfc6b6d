"""Refusals and faults, with real processes and sockets on 127.0.0.1: every bad plan or peer is
refused with the reason, the previous plan stays, and the hub keeps serving the others."""

import json
import signal
import socket

import pytest
import zmq
from sync_support import Net, manifest_sha

from orkiosk.sync import codec
from orkiosk.sync.keys import load_identity, load_public_curve
from orkiosk.sync.link import client_socket


@pytest.fixture
def net(tmp_path):
    n = Net(tmp_path, kiosks=("k1", "k2"))
    hub = n.start_hub()
    n.k1 = n.start_kiosk("k1")
    v1 = n.package(1)
    result = n.push(v1)
    assert result.returncode == 0 and "k1: shown v1" in result.stdout, result.stdout
    n.v1, n.hub = manifest_sha(v1), hub
    yield n
    n.close()


def refused(net, pkg, *needles):
    result = net.push(pkg, wait=2)
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr
    assert "the hub refused the plan" in result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr
    assert net.status("k1")["manifest_sha256"] == net.v1  # the previous plan stays
    return result


def test_bad_packages_are_refused_by_the_hub_with_the_reason(net):
    refused(net, net.package(2, signer=None), "a signature is required")
    refused(net, net.package(2, signer="mallory"), "not in the trust directory")
    flipped = net.package(2)
    mesh = flipped / "meshes" / "head.glb"
    data = bytearray(mesh.read_bytes())
    data[len(data) // 2] ^= 0x01
    mesh.write_bytes(bytes(data))
    refused(net, flipped, "meshes/head.glb", "SHA-256")
    refused(net, net.package(1, planner="Someone Else"), "never goes back")
    ok = net.push(net.package(3))  # and the hub still takes a good one
    assert ok.returncode == 0 and "k1: shown v3" in ok.stdout, ok.stdout + ok.stderr


def test_kiosk_verifies_itself_and_answers_refused(net):
    (net.root / "trust-mallory").mkdir()
    (net.root / "trust-mallory" / "m.pub").write_bytes((net.keys / "mallory.pub").read_bytes())
    net.start_kiosk("k2", trust="trust-mallory")  # trusts another planner only
    result = net.push(net.package(2))
    assert result.returncode == 0, result.stderr
    assert "k1: shown v2" in result.stdout
    assert "k2: refused: the signature check failed" in result.stdout, result.stdout
    assert net.status("k2") == {"current": None}


def test_unknown_curve_key_reaches_nothing(net):
    mallory = net.start_kiosk("mallory")  # a kiosk whose key is in no allow-list
    with pytest.raises(AssertionError):
        mallory.wait_line("fetching", timeout=3)
    net.hub.wait_line("refused .* connection\\(s\\) with an unknown key")
    assert "kiosk mallory" not in net.hub.text()  # no message of it reached the application
    assert net.status("mallory") == {"current": None}


def raw_client(net, who="alice"):
    ctx = zmq.Context()
    me = load_identity(net.keys / who)
    sock = client_socket(ctx, net.endpoint, load_public_curve(net.keys / "hub.pub", "hub"), me)
    return ctx, sock


def test_oversize_malformed_and_garbage_drop_that_peer_only(net):
    ctx, sock = raw_client(net)
    try:
        sock.send_multipart([codec.MAGIC, b"{}", b"x" * (4 << 20)])  # over ZMQ_MAXMSGSIZE
        assert sock.poll(1500) == 0  # libzmq dropped the connection: no answer
        net.hub.wait_line("hub listening")  # still running

        ctx2, sock2 = raw_client(net)
        sock2.send_multipart([codec.MAGIC, json.dumps({"t": "launch"}).encode()])
        assert sock2.poll(5000)
        err = codec.decode(sock2.recv_multipart())
        assert isinstance(err, codec.Error) and "unknown message kind" in err.reason
        sock2.send_multipart(codec.encode(codec.Ping()))  # dropped: ignored from now on
        assert sock2.poll(1000) == 0
        sock2.close(0)
        ctx2.term()
    finally:
        sock.close(0)
        ctx.term()
    host, port = net.endpoint.rsplit("/", 1)[1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b"\xff" * 64 + b"GET / HTTP/1.0\r\n\r\n" + bytes(range(256)) * 8)
    ok = net.push(net.package(2))  # the hub keeps serving everyone else
    assert ok.returncode == 0 and "k1: shown v2" in ok.stdout, ok.stdout + ok.stderr
    assert net.hub.p.poll() is None


def test_planner_killed_mid_upload_then_the_next_push_succeeds(net):
    big = net.package(2, big=True)
    planner = net.push_proc(big, env={"ORKIOSK_SYNC_HOLD_AFTER_CHUNKS": "3"})
    planner.wait_line("holding after 3 chunks")
    planner.stop(signal.SIGKILL)
    assert net.status("../hub-state/rooms/OR-1")["manifest_sha256"] == net.v1
    assert net.status("k1")["manifest_sha256"] == net.v1
    result = net.push(big)
    assert result.returncode == 0 and "k1: shown v2" in result.stdout, result.stdout


def test_kiosk_killed_mid_fetch_shows_the_old_plan_then_converges(net):
    net.k1.stop()
    k1 = net.start_kiosk("k1", env={"ORKIOSK_SYNC_HOLD_AFTER_CHUNKS": "3"})
    big = net.package(2, big=True)
    assert net.push(big, wait=0).returncode == 0
    first = int(k1.wait_line(r"fetching v2 \(case CASE-1\): (\d+) chunk").group(1))
    k1.wait_line("holding after 3 chunks")
    k1.stop(signal.SIGKILL)
    k1 = net.start_kiosk("k1")
    k1.wait_line("showing case CASE-1 v1")  # the old plan, from its own store
    again = int(k1.wait_line(r"fetching v2 \(case CASE-1\): (\d+) chunk").group(1))
    assert again < first  # what was staged is not fetched again
    k1.wait_line("case CASE-1 v2 shown")
    assert net.status("k1")["manifest_sha256"] == manifest_sha(big)
