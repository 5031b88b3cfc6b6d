"""Cut-through in one process with real sockets on 127.0.0.1: a hub thread, kiosk receivers with
their own stores, and a planner driven message by message, so the tests can stop an upload at
any chunk. Kiosks prefetch an incoming plan while it uploads, but commit it only after the hub
committed it (and they verified it themselves); an upload the hub refuses or gives up leaves
nothing on the kiosks: no commit, no staging, the old plan stays."""

import hashlib
import shutil
import threading
import time
from pathlib import Path

import pytest
import zmq

from conftest import small_plan
from orkiosk.plan.package import write_package
from orkiosk.plan.signing import load_trust_dir, sign_package
from orkiosk.plan.synthetic import surface
from orkiosk.store import PlanStore
from orkiosk.sync import codec
from orkiosk.sync.hub import Hub, HubConfig
from orkiosk.sync.keys import generate_identity, load_identity
from orkiosk.sync.link import client_socket, recv_client, send
from orkiosk.sync.planner import Pusher, outline
from orkiosk.sync.receiver import Outcome, Receiver

ROOM = "OR-1"


def wait_for(cond, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class Site:
    """A hub (thread), kiosks (receivers with their own stores) and planners under root."""

    def __init__(self, root: Path, peer_timeout_s: float = 10.0):
        self.root = root
        self.keys = root / "keys"
        for name in ("hub", "alice", "mallory", "k1", "k2"):
            generate_identity(self.keys, name)
        for folder, names in (("planners", ["alice"]), ("kiosks", ["k1", "k2"])):
            (root / folder).mkdir()
            for n in names:
                shutil.copy(self.keys / f"{n}.pub", root / folder)
        self.trusted = load_trust_dir(root / "planners")
        self.stop = threading.Event()
        self.hub = Hub(
            HubConfig(
                bind="tcp://127.0.0.1:*",
                identity=self.keys / "hub",
                planners=root / "planners",
                kiosks=root / "kiosks",
                state=root / "hub",
                open_store=lambda f: PlanStore(f, lock_wait=5.0),
                peer_timeout_s=peer_timeout_s,
            )
        )
        ready = threading.Event()
        self.thread = threading.Thread(
            target=self.hub.serve, args=(self.stop, lambda ep: ready.set()), daemon=True
        )
        self.thread.start()
        assert ready.wait(10)
        self.hub_key = load_identity(self.keys / "hub").curve_public
        self.receivers: list[Receiver] = []
        self.delivered: dict[str, list] = {}
        self.early: dict[str, list] = {}  # folders each kiosk verified ahead of the State
        self.ctx = zmq.Context()
        self.socks: list = []

    def kiosk(self, name: str) -> tuple[Receiver, PlanStore]:
        store = PlanStore(self.root / name)
        self.delivered[name] = []

        def deliver(folder, state):
            # the hub committed it before any kiosk is handed it
            hub_cur = self.hub.rooms.current(ROOM)
            c = store.commit(folder, trusted=self.trusted, require_signature=True)
            self.delivered[name].append((state.sha, hub_cur and hub_cur.manifest_sha256))
            return Outcome("shown", c.case_id, c.plan_version)

        def early(folder):  # as the kiosks do: verified while the hub verifies and commits
            self.early[name].append((folder.name, self.hub.rooms.current(ROOM)))
            store.verify_early(folder, trusted=self.trusted, require_signature=True)

        self.early[name] = []
        me = load_identity(self.keys / name)
        r = Receiver(
            self.hub.endpoint, self.hub_key, me, ROOM, store, deliver, verify_early=early
        ).start()
        self.receivers.append(r)
        wait_for(
            lambda: any(s.peer.name == name and s.room for s in list(self.hub.sessions.values())),
            what=f"{name} to ask for the state",
        )
        return r, store

    def planner(self, who: str = "alice"):
        sock = client_socket(
            self.ctx, self.hub.endpoint, self.hub_key, load_identity(self.keys / who)
        )
        self.socks.append(sock)
        return Planner(sock)

    def push(self, pkg: Path) -> None:
        """A whole push by `orkiosk push`'s own client."""
        lines = []
        pusher = Pusher(
            self.hub.endpoint, self.hub_key, load_identity(self.keys / "alice"), lines.append
        )
        try:
            assert pusher.push(pkg, ROOM, 10.0) == 0
        finally:
            pusher.close()

    def close(self) -> None:
        for r in self.receivers:
            r.stop()
        for s in self.socks:
            s.close(0)
        self.ctx.term()
        self.stop.set()
        self.thread.join(10)


class Planner:
    """A planner driven message by message."""

    def __init__(self, sock):
        self.sock = sock

    def recv(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.sock.poll(100):
                msg = recv_client(self.sock)
                if not isinstance(msg, codec.Pong):
                    return msg
        raise AssertionError("no answer from the hub")

    def begin(self, pkg: Path):
        self.pkg, self.o = pkg, outline(pkg)
        o = self.o
        send(self.sock, codec.Push(ROOM, o.sha, o.case_id, o.plan_version, o.files))
        assert isinstance(self.recv(), codec.Ready)
        self.chunks = [
            (path, off)
            for path, size in o.files
            for off in (range(0, size, codec.CHUNK_MAX) if size else [0])
        ]

    def put(self, count: int) -> None:
        """Upload the next `count` chunks, each acknowledged."""
        for _ in range(count):
            path, off = self.chunks.pop(0)
            with open(self.pkg / path, "rb") as f:
                f.seek(off)
                data = f.read(codec.CHUNK_MAX)
            send(self.sock, codec.Put(self.o.sha, path, off, data))
            ok = self.recv()
            assert isinstance(ok, codec.PutOk), ok

    def commit(self):
        send(self.sock, codec.Commit(self.o.sha))
        return self.recv(60)


@pytest.fixture
def site(tmp_path):
    s = Site(tmp_path)
    yield s
    s.close()


def package(site: Site, version: int, signer: str | None = "alice", flip: bool = False) -> Path:
    """A signed package with a ~8 MB head mesh (several 1 MiB chunks)."""
    plan, meshes = small_plan(plan_version=version)
    meshes["head"] = surface((0, 0, 0), (60, 70, 80), 400, 400)
    out = write_package(plan, meshes, site.root / "pkgs" / f"v{version}-{signer}-{flip}")
    if signer:
        sign_package(out, site.keys / f"{signer}.key")
    if flip:
        mesh = out / "meshes" / "head.glb"
        data = bytearray(mesh.read_bytes())
        data[len(data) // 2] ^= 0x01
        mesh.write_bytes(bytes(data))
    return out


def sha_of(pkg: Path) -> str:
    return hashlib.sha256((pkg / "plan.json").read_bytes()).hexdigest()


def staged(store: PlanStore, sha: str) -> int:
    """Bytes in the kiosk's staging of `sha` (complete files and .part ones)."""
    folder = store.root / "staging" / sha
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def n_chunks(files) -> int:
    return sum(-(-size // codec.CHUNK_MAX) for _, size in files)


def test_kiosk_prefetches_while_the_planner_uploads_and_commits_after_the_hub(site):
    r1, store1 = site.kiosk("k1")
    r2, store2 = site.kiosk("k2")
    pkg = package(site, 1)
    sha = sha_of(pkg)
    planner = site.planner()
    planner.begin(pkg)
    assert len(planner.chunks) >= 8
    planner.put(len(planner.chunks) - 1)  # all but the last chunk
    path, off = planner.chunks[0]
    uploaded = sum(size for _, size in planner.o.files) - (dict(planner.o.files)[path] - off)
    for store in (store1, store2):  # everything uploaded so far is on the kiosks already
        wait_for(lambda store=store: staged(store, sha) == uploaded, what="the prefetch")
    assert site.delivered == {"k1": [], "k2": []}  # nothing delivered, nothing committed
    assert store1.current() is None and store2.current() is None
    planner.put(1)
    accepted = planner.commit()
    assert isinstance(accepted, codec.Accepted), accepted
    wait_for(lambda: all(site.delivered.values()), what="both kiosks to commit")
    for name, store in (("k1", store1), ("k2", store2)):
        assert site.delivered[name] == [(sha, sha)]  # handed over after the hub's commit
        assert store.current().manifest_sha256 == sha
        assert not (store.root / "staging" / sha).exists()
    for r in (r1, r2):  # every chunk fetched once: the prefetch went on, nothing again
        assert r._chunks == n_chunks(planner.o.files)


def test_a_complete_prefetch_is_verified_before_the_hub_commits_it_and_not_again(site, monkeypatch):
    from orkiosk.store import store as store_mod

    verified = []
    real = store_mod._verify

    def counting(staged, *args, **kwargs):
        verified.append(Path(staged))
        return real(staged, *args, **kwargs)

    monkeypatch.setattr(store_mod, "_verify", counting)
    _, store1 = site.kiosk("k1")
    pkg = package(site, 1)
    sha = sha_of(pkg)
    planner = site.planner()
    planner.begin(pkg)
    planner.put(len(planner.chunks))  # all uploaded, not yet committed at the hub
    wait_for(lambda: site.early["k1"], what="the kiosk to verify the complete prefetch")
    assert site.early["k1"] == [(sha, None)]  # before the hub committed anything
    mine = [v for v in verified if v.is_relative_to(store1.root)]
    assert len(mine) == 1 and store1.current() is None and not site.delivered["k1"]
    assert isinstance(planner.commit(), codec.Accepted)
    wait_for(lambda: site.delivered["k1"], what="the kiosk to commit")
    assert store1.current().manifest_sha256 == sha
    assert [v for v in verified if v.is_relative_to(store1.root)] == mine  # not again


@pytest.mark.parametrize("bad", ["flipped byte", "untrusted signer", "unsigned"])
def test_refused_upload_that_kiosks_prefetched_leaves_nothing(site, bad):
    _, store1 = site.kiosk("k1")
    v1 = package(site, 1)
    site.push(v1)
    wait_for(lambda: site.delivered["k1"], what="v1 on the kiosk")
    kw = {"flipped byte": {"flip": True}, "untrusted signer": {"signer": "mallory"}}
    pkg = package(site, 2, **kw.get(bad, {"signer": None}))
    sha = sha_of(pkg)
    planner = site.planner()
    planner.begin(pkg)
    planner.put(len(planner.chunks))
    total = sum(size for _, size in planner.o.files)
    wait_for(lambda: staged(store1, sha) == total, what="the whole prefetch")
    refused = planner.commit()
    assert isinstance(refused, codec.Refused), refused
    wait_for(lambda: not (store1.root / "staging" / sha).exists(), what="the staging dropped")
    assert store1.current().manifest_sha256 == sha_of(v1)  # the old plan stays
    assert site.hub.rooms.current(ROOM).manifest_sha256 == sha_of(v1)
    assert [s for s, _ in site.delivered["k1"]] == [sha_of(v1)]  # nothing else committed
    ok = package(site, 3)  # and the next good push goes through
    site.push(ok)
    wait_for(lambda: store1.current().manifest_sha256 == sha_of(ok), what="v3 on the kiosk")


def test_planner_gone_mid_upload_while_kiosks_prefetch(tmp_path):
    site = Site(tmp_path, peer_timeout_s=1.0)
    try:
        _, store1 = site.kiosk("k1")
        v1 = package(site, 1)
        site.push(v1)
        wait_for(lambda: site.delivered["k1"], what="v1 on the kiosk")
        big = package(site, 2)
        sha = sha_of(big)
        planner = site.planner()
        planner.begin(big)
        planner.put(4)
        wait_for(lambda: staged(store1, sha) > 0, what="the prefetch to start")
        planner.sock.close(0)  # the planner is gone: silent, then forgotten by the hub
        site.socks.remove(planner.sock)
        wait_for(lambda: not (store1.root / "staging" / sha).exists(), what="the staging dropped")
        assert store1.current().manifest_sha256 == sha_of(v1)
        assert site.hub.rooms.current(ROOM).manifest_sha256 == sha_of(v1)
        site.push(big)  # the next push of it succeeds, the hub resuming its own staging
        wait_for(lambda: store1.current().manifest_sha256 == sha, what="v2 on the kiosk")
    finally:
        site.close()


def test_the_same_plan_pushed_again_mid_upload_restarts_the_prefetch(site):
    """A planner restarted mid-upload pushes the same plan again: kiosks drop what they got
    from the first upload (the hub gave it up) and fetch it again from the second."""
    _, store1 = site.kiosk("k1")
    big = package(site, 1)
    sha = sha_of(big)
    first = site.planner()
    first.begin(big)
    first.put(3)
    wait_for(lambda: staged(store1, sha) > 0, what="the prefetch to start")
    second = site.planner()
    second.begin(big)
    second.put(len(second.chunks))
    assert isinstance(second.commit(), codec.Accepted)
    wait_for(lambda: site.delivered["k1"], what="the plan on the kiosk")
    assert store1.current().manifest_sha256 == sha
    assert site.delivered["k1"] == [(sha, sha)]


def test_a_kiosk_that_connects_mid_upload_is_told_and_prefetches(site):
    pkg = package(site, 1)
    sha = sha_of(pkg)
    planner = site.planner()
    planner.begin(pkg)
    planner.put(2)
    _, store1 = site.kiosk("k1")  # asks for the state: the hub adds the incoming plan
    wait_for(lambda: staged(store1, sha) > 0, what="the prefetch to start")
    planner.put(len(planner.chunks))
    assert isinstance(planner.commit(), codec.Accepted)
    wait_for(lambda: store1.current() is not None, what="the plan on the kiosk")
    assert store1.current().manifest_sha256 == sha


def test_a_file_put_again_from_its_start_ends_the_cut_through(site):
    """Kiosks may hold the first bytes of a file the planner starts again: the hub stops serving
    that upload early, kiosks drop what they got and fetch the plan once it is committed."""
    _, store1 = site.kiosk("k1")
    pkg = package(site, 1)
    sha = sha_of(pkg)
    planner = site.planner()
    planner.begin(pkg)
    head = [c for c in planner.chunks if c[0] == "meshes/head.glb"]
    while planner.chunks[0] != head[2]:
        planner.put(1)
    wait_for(lambda: staged(store1, sha) > 0, what="the prefetch to start")
    planner.chunks[:0] = head[:2]  # the head mesh from its start again
    planner.put(1)
    wait_for(lambda: not (store1.root / "staging" / sha).exists(), what="the prefetch dropped")
    planner.put(len(planner.chunks))
    assert isinstance(planner.commit(), codec.Accepted)
    wait_for(lambda: site.delivered["k1"], what="the plan on the kiosk")
    assert store1.current().manifest_sha256 == sha
    assert site.delivered["k1"] == [(sha, sha)]
