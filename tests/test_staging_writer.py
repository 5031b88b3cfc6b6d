"""The store's staging writer (orkiosk.store.staging) and the digests it hands the commit: the
commit skips hashing only files this very writer wrote and hashed, still unchanged; anything
else (changed, resumed, foreign) is hashed as before, and damage is refused either way."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from pathlib import Path

import pytest

from conftest import small_plan
from orkiosk.plan import package as package_mod
from orkiosk.plan.package import (
    KnownDigest,
    PackageError,
    file_identity,
    load_package,
    write_package,
)
from orkiosk.store import PlanStore, StoreError
from orkiosk.store import store as store_mod
from orkiosk.store.staging import StagingWriter
from orkiosk.sync import codec
from orkiosk.sync.keys import SyncError
from orkiosk.sync.rooms import Upload

CHUNK = 1000  # small chunks: several per file


@pytest.fixture
def pkg(tmp_path) -> Path:
    plan, meshes = small_plan()
    return write_package(plan, meshes, tmp_path / "pkg")


@pytest.fixture
def hashed(monkeypatch) -> list:
    """The files load_package hashes itself (by size; each is hashed on its pool)."""
    seen = []
    real = package_mod._sha256

    def counting(data):
        seen.append(len(data))
        return real(data)

    monkeypatch.setattr(package_mod, "_sha256", counting)
    return seen


def files_of(pkg: Path) -> dict[str, bytes]:
    return {
        p.relative_to(pkg).as_posix(): p.read_bytes() for p in sorted(pkg.rglob("*")) if p.is_file()
    }


def send(writer: StagingWriter, files: dict[str, bytes], chunk: int = CHUNK) -> None:
    for rel, data in files.items():
        for off in range(0, max(len(data), 1), chunk):
            writer.write(rel, off, data[off : off + chunk], len(data))


def sha_of(pkg: Path) -> str:
    return hashlib.sha256((pkg / "plan.json").read_bytes()).hexdigest()


def staged_by_writer(store: PlanStore, pkg: Path) -> StagingWriter:
    writer = store.stage_writer(sha_of(pkg))
    send(writer, files_of(pkg))
    return writer


# ---------------------------------------------------------------- the writer itself


def test_in_order_file_gets_its_digest_and_identity(tmp_path):
    data = os.urandom(10 * CHUNK + 17)
    w = StagingWriter(tmp_path)
    ends = [
        w.write("meshes/a.glb", off, data[off : off + CHUNK], len(data))
        for off in range(0, len(data), CHUNK)
    ]
    assert ends[-1] == len(data) and ends[0] == CHUNK
    final = tmp_path / "meshes" / "a.glb"
    assert final.read_bytes() == data and not (tmp_path / "meshes" / "a.glb.part").exists()
    known = w.known_digests()["meshes/a.glb"]
    assert known.size == len(data)
    assert known.sha256 == hashlib.sha256(data).hexdigest()
    assert known.identity == file_identity(os.stat(final))


def test_a_part_is_visible_only_under_its_temporary_name_until_complete(tmp_path):
    w = StagingWriter(tmp_path)
    assert w.write("f", 0, b"x" * 10, 25) == 10
    assert (tmp_path / "f.part").stat().st_size == 10 and not (tmp_path / "f").exists()
    assert w.have("f", 25) == 10 and w.known_digests() == {}
    assert w.write("f", 10, b"y" * 15, 25) == 25
    assert (tmp_path / "f").read_bytes() == b"x" * 10 + b"y" * 15


def test_read_serves_what_is_written_from_the_part_and_then_the_file(tmp_path):
    """The hub serves an upload's bytes to kiosks while it arrives (cut-through)."""
    data = os.urandom(3 * CHUNK)
    w = StagingWriter(tmp_path)
    w.write("f", 0, data[:CHUNK], len(data))
    assert w.read("f", 0, CHUNK) == data[:CHUNK]
    assert w.read("f", 10, 2 * CHUNK) == data[10:CHUNK]  # never past what is written
    w.close_files()  # its .part closed: still read from there
    assert w.read("f", 5, 10) == data[5:15]
    w.write("f", CHUNK, data[CHUNK:], len(data))
    assert w.read("f", CHUNK, 2 * CHUNK) == data[CHUNK:]  # complete: from the file itself
    assert w.read("f", len(data) - 4, CHUNK) == data[-4:]


def test_out_of_order_chunks_land_in_place_and_are_hashed_once_reached(tmp_path):
    data = os.urandom(6 * CHUNK)
    w = StagingWriter(tmp_path)
    order = [3, 1, 0, 5, 2, 4]
    ends = [w.write("f", i * CHUNK, data[i * CHUNK : (i + 1) * CHUNK], len(data)) for i in order]
    assert ends == [0, 0, 2 * CHUNK, 2 * CHUNK, 4 * CHUNK, 6 * CHUNK]
    assert (tmp_path / "f").read_bytes() == data
    assert w.known_digests()["f"].sha256 == hashlib.sha256(data).hexdigest()


def test_bytes_written_again_leave_the_digest_unknown(tmp_path):
    w = StagingWriter(tmp_path)
    w.write("f", 0, b"a" * 10, 20)
    w.write("f", 5, b"b" * 5, 20)  # over bytes already hashed
    assert w.write("f", 10, b"c" * 10, 20) == 20
    assert (tmp_path / "f").read_bytes() == b"a" * 5 + b"b" * 5 + b"c" * 10
    assert "f" not in w.known_digests()  # the commit hashes it itself


def test_a_buffer_changed_after_writing_does_not_change_the_digest(tmp_path):
    buf = bytearray(b"q" * 64)
    w = StagingWriter(tmp_path)
    w.write("f", 0, buf, 64)
    buf[:] = b"z" * 64  # the caller reuses its buffer: the bytes on disk were the q's
    assert w.known_digests()["f"].sha256 == hashlib.sha256(b"q" * 64).hexdigest()


def test_a_part_from_an_earlier_process_resumes_without_a_digest(tmp_path):
    data = os.urandom(3 * CHUNK)
    (tmp_path / "f.part").write_bytes(data[:CHUNK])  # left by a killed process
    w = StagingWriter(tmp_path)
    assert w.have("f", len(data)) == CHUNK
    w.write("f", CHUNK, data[CHUNK : 2 * CHUNK], len(data))
    assert w.write("f", 2 * CHUNK, data[2 * CHUNK :], len(data)) == len(data)
    assert (tmp_path / "f").read_bytes() == data and w.known_digests() == {}


def test_a_part_longer_than_declared_is_started_afresh(tmp_path):
    (tmp_path / "f.part").write_bytes(b"x" * 50)
    w = StagingWriter(tmp_path)
    assert w.have("f", 20) == 0 and not (tmp_path / "f.part").exists()
    assert w.write("f", 0, b"y" * 20, 20) == 20
    assert w.known_digests()["f"].sha256 == hashlib.sha256(b"y" * 20).hexdigest()


def test_a_part_removed_under_the_writer_is_not_completed_from_the_old_file(tmp_path):
    w = StagingWriter(tmp_path)
    w.write("f", 0, b"a" * 10, 20)
    (tmp_path / "f.part").unlink()  # someone cleaned the staging folder
    assert w.have("f", 20) == 0  # starts again from what is on disk
    assert w.write("f", 0, b"b" * 20, 20) == 20
    assert (tmp_path / "f").read_bytes() == b"b" * 20


def test_empty_files_and_chunks_that_do_not_fit(tmp_path):
    w = StagingWriter(tmp_path)
    assert w.write("empty", 0, b"", 0) == 0 and (tmp_path / "empty").read_bytes() == b""
    assert w.known_digests()["empty"].sha256 == hashlib.sha256(b"").hexdigest()
    with pytest.raises(ValueError, match="do not fit"):
        w.write("g", 5, b"x" * 10, 12)
    w.discard()
    assert not tmp_path.exists()
    with pytest.raises(ValueError, match="closed"):
        w.write("g", 0, b"x", 1)


def test_restart_truncates_and_hashes_afresh(tmp_path):
    w = StagingWriter(tmp_path)
    w.write("f", 0, b"a" * 10, 20)
    w.restart("f", 20)
    assert w.have("f", 20) == 0
    assert w.write("f", 0, b"b" * 20, 20) == 20
    assert w.known_digests()["f"].sha256 == hashlib.sha256(b"b" * 20).hexdigest()


# ---------------------------------------------------------------- load_package with digests


def test_load_package_uses_a_known_digest_only_for_the_identical_file(pkg, hashed):
    files = files_of(pkg)
    meshes = [r for r in files if r.endswith(".glb")]
    known = {
        r: KnownDigest(
            len(files[r]), hashlib.sha256(files[r]).hexdigest(), file_identity(os.stat(pkg / r))
        )
        for r in meshes
    }
    load_package(pkg, known=known)
    assert hashed == []  # every listed file had its digest
    # a wrong digest with the right identity is compared with plan.json like any other
    bad = dict(known)
    bad[meshes[0]] = KnownDigest(len(files[meshes[0]]), "0" * 64, known[meshes[0]].identity)
    with pytest.raises(PackageError, match=f"{meshes[0]}: SHA-256 mismatch"):
        load_package(pkg, known=bad)
    # a digest recorded for another identity is not used: that file is hashed again
    hashed.clear()
    other = dict(known)
    ident = list(known[meshes[0]].identity)
    ident[4] += 1  # another ctime
    other[meshes[0]] = KnownDigest(len(files[meshes[0]]), "0" * 64, tuple(ident))
    load_package(pkg, known=other)
    assert hashed == [len(files[meshes[0]])]


# ---------------------------------------------------------------- the store's commit


def test_commit_of_what_the_writer_staged_does_not_hash_again(tmp_path, pkg, hashed):
    store = PlanStore(tmp_path / "state")
    writer = staged_by_writer(store, pkg)
    committed = store.commit(writer.folder)
    assert hashed == []
    assert committed.manifest_sha256 == sha_of(pkg) and not writer.folder.exists()
    assert load_package(committed.path).manifest_sha256 == committed.manifest_sha256


def test_a_staged_file_changed_after_it_was_hashed_is_hashed_again_and_refused(
    tmp_path, pkg, hashed
):
    store = PlanStore(tmp_path / "state")
    writer = staged_by_writer(store, pkg)
    mesh = writer.folder / "meshes" / "head.glb"
    before = os.stat(mesh)
    with open(mesh, "r+b") as f:  # same size, one byte changed in place
        f.seek(before.st_size // 2)
        byte = f.read(1)
        f.seek(before.st_size // 2)
        f.write(bytes([byte[0] ^ 1]))
    # the times put back as they were: only the ctime still tells
    os.utime(mesh, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(mesh).st_mtime_ns == before.st_mtime_ns
    with pytest.raises(StoreError, match="meshes/head.glb"):
        store.commit(writer.folder)
    assert before.st_size in hashed
    assert store.current() is None


def test_a_flipped_byte_that_arrived_is_refused(tmp_path, pkg, hashed):
    """What arrives damaged is hashed as written: the digest the writer knows is of the damaged
    bytes, and it does not match plan.json."""
    store = PlanStore(tmp_path / "state")
    files = files_of(pkg)
    data = bytearray(files["meshes/head.glb"])
    data[len(data) // 2] ^= 0x01
    files["meshes/head.glb"] = bytes(data)
    writer = store.stage_writer(sha_of(pkg))
    send(writer, files)
    with pytest.raises(StoreError, match="head.glb"):
        store.commit(writer.folder)
    assert hashed == [] and store.current() is None


def test_a_failed_background_fsync_fails_the_commit(tmp_path, pkg, monkeypatch):
    """Linux reports a writeback error once: the commit must not miss the one the writer's
    background fsync got."""
    from orkiosk.store import staging

    def failing(fd):
        os.close(fd)
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(staging, "_sync_and_close", failing)
    store = PlanStore(tmp_path / "state")
    writer = staged_by_writer(store, pkg)
    with pytest.raises(StoreError, match=r"could not be written to the store: .*\(EIO\)"):
        store.commit(writer.folder)
    assert store.current() is None and not list((tmp_path / "state" / "plans").rglob("*.glb"))


def test_after_a_restart_staged_files_have_no_digest_and_are_hashed(tmp_path, pkg, hashed):
    state = tmp_path / "state"
    store = PlanStore(state)
    writer = staged_by_writer(store, pkg)
    store = PlanStore(state)  # another process: nothing recorded
    store.commit(writer.folder)
    listed = [len(d) for r, d in files_of(pkg).items() if r.endswith(".glb")]
    assert sorted(hashed) == sorted(listed)


def test_digests_are_never_used_for_a_folder_outside_the_stores_staging(tmp_path, pkg, monkeypatch):
    calls = []
    real = store_mod.load_package

    def spy(path, *args, known=None, **kwargs):
        calls.append((Path(path).name, known))
        return real(path, *args, known=known, **kwargs)

    monkeypatch.setattr(store_mod, "load_package", spy)
    store = PlanStore(tmp_path / "state")
    writer = staged_by_writer(store, pkg)
    sha = writer.folder.name
    # the same name elsewhere, a copy, and a link to the staging folder itself
    elsewhere = tmp_path / "elsewhere" / sha
    shutil.copytree(writer.folder, elsewhere)
    link = tmp_path / "staging-link"
    link.symlink_to(writer.folder)
    for foreign in (link, elsewhere):  # the second finds the plan committed, after verifying
        store.commit(foreign)
    assert [known for _, known in calls] == [None, None]
    calls.clear()
    other = PlanStore(tmp_path / "other-state")  # another store's staging of the same plan
    theirs = other.staging_dir(sha)
    shutil.copytree(pkg, theirs, dirs_exist_ok=True)
    other.commit(theirs)
    assert calls == [(sha, {})]  # its own staging, but nothing its writer recorded


def test_one_writer_per_staging_folder(tmp_path, pkg):
    store = PlanStore(tmp_path / "state")
    sha = sha_of(pkg)
    first = store.stage_writer(sha)
    assert store.stage_writer(sha) is first
    first.discard()
    again = store.stage_writer(sha)
    assert again is not first and again.folder.is_dir()
    with pytest.raises(StoreError, match="not a manifest SHA-256"):
        store.stage_writer("../x")


# ---------------------------------------------------------------- the hub's upload


def test_hub_upload_writes_in_order_through_the_store_writer(tmp_path, pkg, hashed):
    store = PlanStore(tmp_path / "state")
    files = files_of(pkg)
    sha = sha_of(pkg)
    up = Upload(
        "OR-1", sha, "CASE-1", 1, {r: len(d) for r, d in files.items()}, store.stage_writer(sha)
    )
    mesh = files["meshes/head.glb"]
    assert up.write("meshes/head.glb", 0, mesh[:CHUNK]) == CHUNK
    with pytest.raises(SyncError, match="out of order"):
        up.write("meshes/head.glb", 2 * CHUNK, mesh[2 * CHUNK : 3 * CHUNK])
    with pytest.raises(SyncError, match="past its declared size"):
        up.write("meshes/head.glb", len(mesh) - 1, b"xx")
    with pytest.raises(SyncError, match="did not declare"):
        up.write("meshes/other.glb", 0, b"x")
    for rel, data in files.items():  # offset 0 starts a file afresh (a re-run push)
        for off in range(0, len(data), codec.CHUNK_MAX):
            up.write(rel, off, memoryview(data[off : off + codec.CHUNK_MAX]).toreadonly())
    assert up.done == set(files) and up.manifest_matches()
    store.commit(up.folder)
    assert hashed == []


# ---------------------------------------------------------------- the kiosk's fetch


class _Sock:
    """Stands in for the receiver's DEALER: what it sends is decoded and kept."""

    def __init__(self):
        self.sent = []

    def send_multipart(self, frames, flags=0, copy=True):
        self.sent.append(codec.decode(frames))


def test_kiosk_fetch_writes_through_the_store_writer_in_any_order(
    tmp_path, pkg, hashed, monkeypatch
):
    from orkiosk.sync.receiver import Outcome, Receiver

    monkeypatch.setattr(codec, "CHUNK_MAX", 1024)  # several chunks per file, in one window
    store = PlanStore(tmp_path / "state")
    files = files_of(pkg)
    delivered = []

    def deliver(folder, state):
        c = store.commit(folder)
        delivered.append(c)
        return Outcome("shown", c.case_id, c.plan_version)

    r = Receiver("tcp://127.0.0.1:1", b"0" * 40, None, "OR-1", store, deliver)  # not started
    try:
        sock = _Sock()
        sizes = tuple((rel, len(d)) for rel, d in files.items())
        state = codec.State("OR-1", sha_of(pkg), "CASE-1", 1, sizes)
        # a partial mesh left by an earlier process: resumed at its size, hashed at commit
        mesh = files["meshes/head.glb"]
        (store.staging_dir(state.sha) / "meshes").mkdir()
        (store.staging_dir(state.sha) / "meshes" / "head.glb.part").write_bytes(mesh[:CHUNK])
        r._on_state(sock, state)
        asked = [m for m in sock.sent if isinstance(m, codec.Fetch)]
        assert ("meshes/head.glb", CHUNK) in {(m.path, m.offset) for m in asked}
        assert all(m.offset == 0 for m in asked if m.path != "meshes/head.glb")
        while not delivered:
            window = [m for m in sock.sent if isinstance(m, codec.Fetch)]
            sock.sent.clear()
            assert window, "the receiver stopped asking"
            for m in reversed(window):  # the answers come back in reverse order
                data = files[m.path][m.offset : m.offset + m.length]
                r._on_chunk(sock, codec.Chunk(m.sha, m.path, m.offset, data))
        assert len(files["meshes/target.glb"]) > 4 * 1024  # its chunks came in reverse
        assert delivered[0].manifest_sha256 == state.sha
        assert hashed == [len(mesh)]  # only the file resumed from an earlier process
        assert r.outcomes[state.sha].outcome == "shown"
    finally:
        os.close(r._wake_r), os.close(r._wake_w)  # never started: no thread to stop


def test_kiosk_refetches_when_the_hub_sends_more_than_a_file_holds(tmp_path, pkg):
    from orkiosk.sync.receiver import Outcome, Receiver

    store = PlanStore(tmp_path / "state")
    files = files_of(pkg)
    r = Receiver(
        "tcp://127.0.0.1:1",
        b"0" * 40,
        None,
        "OR-1",
        store,
        lambda f, s: Outcome("shown", "CASE-1", 1),
    )
    try:
        sock = _Sock()
        state = codec.State(
            "OR-1", sha_of(pkg), "CASE-1", 1, tuple((k, len(v)) for k, v in files.items())
        )
        r._on_state(sock, state)
        m = next(m for m in sock.sent if isinstance(m, codec.Fetch))
        sock.sent.clear()
        r._on_chunk(sock, codec.Chunk(m.sha, m.path, m.offset, b"x" * (m.length + 1)))
        assert r._fetch is None and isinstance(sock.sent[-1], codec.GetState)
        assert not (store.staging_dir(state.sha) / m.path).exists()
    finally:
        os.close(r._wake_r), os.close(r._wake_w)  # never started: no thread to stop


# ---------------------------------------------------------------- verified ahead of the commit


def test_a_folder_verified_early_is_committed_without_verifying_again(tmp_path, pkg, monkeypatch):
    verified = []
    real = store_mod._verify
    monkeypatch.setattr(
        store_mod,
        "_verify",
        lambda staged, *a, **k: verified.append(staged) or real(staged, *a, **k),
    )
    store = PlanStore(tmp_path / "state")
    writer = staged_by_writer(store, pkg)
    store.verify_early(writer.folder)
    assert len(verified) == 1 and store.current() is None  # verified, nothing committed
    committed = store.commit(writer.folder)
    assert len(verified) == 1 and committed.manifest_sha256 == sha_of(pkg)
    assert load_package(committed.path).manifest_sha256 == sha_of(pkg)


@pytest.mark.parametrize("change", ["file replaced", "other trust", "signature rule", "other"])
def test_an_early_verification_is_used_only_for_the_same_files_and_rules(
    tmp_path, pkg, monkeypatch, change
):
    verified = []
    real = store_mod._verify
    monkeypatch.setattr(
        store_mod,
        "_verify",
        lambda staged, *a, **k: verified.append(staged) or real(staged, *a, **k),
    )
    store = PlanStore(tmp_path / "state")
    writer = staged_by_writer(store, pkg)
    trusted, later, signed = {}, {}, False
    store.verify_early(writer.folder, trusted=trusted)
    if change == "file replaced":  # a damaged copy put in its place (a new file, as staging does)
        mesh = writer.folder / "meshes" / "head.glb"
        data = bytearray(mesh.read_bytes())
        data[len(data) // 2] ^= 0x01
        (writer.folder / "meshes" / ".new").write_bytes(bytes(data))
        os.replace(writer.folder / "meshes" / ".new", mesh)
        with pytest.raises(StoreError, match="head.glb"):
            store.commit(writer.folder, trusted=trusted)
        assert len(verified) == 2 and store.current() is None
        return
    if change == "other trust":
        trusted = later  # an equal but other trust set: verified again with it
    elif change == "signature rule":
        signed = True  # unsigned package, signature now required: refused
        with pytest.raises(StoreError, match="signature"):
            store.commit(writer.folder, trusted=trusted, require_signature=signed)
        assert len(verified) == 2
        return
    else:  # another plan verified early in between: the one result kept is of that one
        plan, meshes = small_plan(plan_version=2)
        store.verify_early(
            staged_by_writer(store, write_package(plan, meshes, tmp_path / "v2")).folder
        )
    store.commit(writer.folder, trusted=trusted, require_signature=signed)
    assert len(verified) == 3 if change == "other" else len(verified) == 2


def test_a_failed_early_verification_says_nothing_and_the_commit_says_why(tmp_path, pkg):
    store = PlanStore(tmp_path / "state")
    files = files_of(pkg)
    data = bytearray(files["meshes/head.glb"])
    data[len(data) // 2] ^= 0x01
    files["meshes/head.glb"] = bytes(data)
    writer = store.stage_writer(sha_of(pkg))
    send(writer, files)
    store.verify_early(writer.folder)  # no exception: the commit verifies again
    store.verify_early(tmp_path / "elsewhere")  # not the store's staging: ignored
    with pytest.raises(StoreError, match="head.glb"):
        store.commit(writer.folder)
    assert store.current() is None
