"""The sync wire format without sockets: round trips, clear refusals, and garbage fuzzing."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orkiosk.sync import codec
from orkiosk.sync.codec import ProtocolError, decode, encode

SHA = "ab" * 32
SAMPLES = [
    codec.Ping(),
    codec.Pong(),
    codec.GetState("OR-3"),
    codec.State("OR-3", SHA, "CASE-1", 4, (("plan.json", 900), ("meshes/head.glb", 12345))),
    codec.State("OR-3", "", "", 0, ()),
    codec.Notice("OR-3"),
    codec.Incoming("OR-3", SHA, "CASE-1", 5, (("plan.json", 900), ("plan.sig", 64))),
    codec.Fetch(SHA, "meshes/head.glb", 1 << 20, codec.CHUNK_MAX),
    codec.Chunk(SHA, "meshes/head.glb", 0, b"\x00\xff" * 10),
    codec.Answer("OR-3", SHA, "CASE-1", 4, "refused", "the signature check failed"),
    codec.Push("OR-3", SHA, "CASE-1", 4, (("plan.json", 900),)),
    codec.Ready(SHA, (("plan.json", 900),)),
    codec.Put(SHA, "plan.json", 0, b"{}"),
    codec.PutOk(SHA, "plan.json", 2),
    codec.Commit(SHA),
    codec.Accepted("OR-3", SHA, 4, ("kiosk-a", "kiosk-b")),
    codec.Refused("", "older than the room's plan"),
    codec.Report("OR-3", "kiosk-a", SHA, 4, "shown", ""),
    codec.Point("OR-3", "view", "anterior", False),
    codec.Point("OR-3", "trajectory", "t1", True),
    codec.Pointed("OR-3", ("kiosk-a",)),
    codec.Follow("OR-3", "alice", "highlight", "Ventricles", False),
    codec.Error("unexpected message"),
]


@pytest.mark.parametrize("msg", SAMPLES, ids=lambda m: codec.kind_of(m))
def test_round_trip(msg):
    frames = encode(msg)
    assert frames[0] == codec.MAGIC
    assert decode(frames) == msg


def test_every_kind_has_a_sample():
    assert {codec.kind_of(m) for m in SAMPLES} == set(codec.KINDS)


def header(**doc) -> list[bytes]:
    return [codec.MAGIC, json.dumps(doc).encode()]


@pytest.mark.parametrize(
    ("frames", "needle"),
    [
        ([], "not an orkiosk/1 message"),
        ([b"orkiosk/2", b"{}"], "not an orkiosk/1 message"),
        ([codec.MAGIC], "expected 2 or 3 frames"),
        ([codec.MAGIC, b"\xff\xfe"], "not UTF-8 JSON"),
        ([codec.MAGIC, b"[1]"], "kind 't'"),
        (header(t="launch"), "unknown message kind 'launch'"),
        (header(t="getstate"), "missing field 'room'"),
        (header(t="getstate", room="OR 3"), "field 'room' must be a short word"),
        (header(t="getstate", room="a", x=1), "unexpected field 'x'"),
        (header(t="commit", sha="AB" * 32), "64 lower-case hex"),
        (header(t="fetch", sha=SHA, path="../etc/passwd", offset=0, length=1), "plain relative"),
        (header(t="fetch", sha=SHA, path="/etc/passwd", offset=0, length=1), "plain relative"),
        (header(t="fetch", sha=SHA, path="a", offset=-1, length=1), "'offset' must be an int"),
        (header(t="fetch", sha=SHA, path="a", offset=0, length=2 << 20), "'length'"),
        (header(t="fetch", sha=SHA, path="a", offset=True, length=1), "'offset'"),
        (header(t="put", sha=SHA, path="a", offset=0), "data frame is missing"),
        (header(t="ping") + [b"x"], "carries no data frame"),
        ([*header(t="put", sha=SHA, path="a", offset=0), b"x" * (codec.CHUNK_MAX + 1)], "exceeds"),
        ([codec.MAGIC, b" " * (codec.MAX_HEADER + 1)], "exceeds"),
        (header(t="error", reason="x" * 1000), "at most 400"),
        (
            header(t="incoming", room="a", sha="", case_id="c", plan_version=1, files=[]),
            "'sha' must be 64 lower-case hex",
        ),
        (
            header(t="incoming", room="a", sha=SHA, case_id="c", plan_version=1, files=[["a"]]),
            "each file must be [path, size]",
        ),
        (
            header(t="incoming", room="a", sha=SHA, case_id="c", plan_version=-1, files=[]),
            "'plan_version' must be an int",
        ),
        (
            header(t="incoming", room="a", sha=SHA, case_id="c", plan_version=1, files=[]) + [b"x"],
            "carries no data frame",
        ),
        (
            header(t="push", room="a", sha=SHA, case_id="c", plan_version=1, files=[["a", 1]] * 2),
            "lists a twice",
        ),
        (
            header(
                t="push",
                room="a",
                sha=SHA,
                case_id="c",
                plan_version=1,
                files=[[f"f{i}", 1] for i in range(codec.MAX_FILES + 1)],
            ),
            "at most 256 files",
        ),
        (
            header(
                t="push",
                room="a",
                sha=SHA,
                case_id="c",
                plan_version=1,
                files=[[f"f{i}", codec.MAX_FILE_SIZE] for i in range(3)],
            ),
            "more than 1024 MiB",
        ),
        (
            header(
                t="answer",
                room="a",
                sha=SHA,
                case_id="c",
                plan_version=1,
                outcome="maybe",
                reason="",
            ),
            "must be one of shown, confirm, refused",
        ),
        (header(t="point", room="a", kind="zoom", target="x", side=False), "'kind' must be one"),
        (header(t="point", room="a", kind="view", target="", side=False), "'target' must be"),
        (header(t="point", room="a", kind="view", target="x" * 65, side=False), "1 to 64"),
        (header(t="point", room="a", kind="view", target="a\nb", side=False), "printable"),
        (header(t="point", room="a", kind="view", target="x", side=1), "true or false"),
        (
            header(t="follow", room="a", planner="a b", kind="view", target="x", side=False),
            "'planner' must be a short word",
        ),
    ],
)
def test_refusals_name_what_and_why(frames, needle):
    with pytest.raises(ProtocolError, match=None) as info:
        decode(frames)
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


def test_encode_refuses_what_decode_would():
    with pytest.raises(ProtocolError, match="room"):
        encode(codec.GetState("bad room"))
    with pytest.raises(ProtocolError, match="not a sync message"):
        encode(object())


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=4))
def test_garbage_frames_give_protocol_error_only(frames):
    # _decode: the checks themselves, without decode()'s catch-all, must hold
    try:
        codec._decode(frames)
    except ProtocolError as exc:
        assert str(exc) and "\n" not in str(exc)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(sorted(codec.KINDS)),
    st.dictionaries(st.text(max_size=12), _json, max_size=6),
    st.booleans(),
)
def test_garbage_fields_give_protocol_error_only(kind, doc, data):
    doc = {**doc, "t": kind}
    frames = [codec.MAGIC, json.dumps(doc).encode()] + ([b"data"] if data else [])
    try:
        msg = codec._decode(frames)
    except ProtocolError:
        return
    assert encode(msg) == [codec.MAGIC, *frames[1:]] or decode(encode(msg)) == msg


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SAMPLES), st.data())
def test_mutated_valid_messages_never_escape(msg, data):
    frames = encode(msg)
    i = data.draw(st.integers(0, len(frames) - 1))
    raw = bytearray(frames[i])
    if raw:
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    frames[i] = bytes(raw)
    try:
        out = codec._decode(frames)
    except ProtocolError:
        return
    assert decode(encode(out)) == out


def test_a_chunk_of_a_received_buffer_is_sent_uncopied():
    """The hub answers a waiting fetch with a slice of the planner's received put (cut-through)."""
    view = memoryview(b"\x01\x02" * 1000)[10:1010]
    frames = encode(codec.Chunk(SHA, "meshes/head.glb", 0, view))
    assert frames[2] is view
    assert bytes(decode(frames).data) == bytes(view)
