"""Socket setup shared by the hub and its clients: CurveZMQ, LINGER 0, ZeroMQ heartbeats, size
bounds, and the one way messages go out and come in (through the codec).

A socket belongs to the thread that made it; nothing here is shared between threads.
"""

from __future__ import annotations

import logging

import zmq

from orkiosk.sync import codec
from orkiosk.sync.keys import Identity

log = logging.getLogger("orkiosk.sync")

# a frame larger than this drops the connection inside libzmq (ZMQ_MAXMSGSIZE)
MAX_FRAME = codec.CHUNK_MAX + (64 << 10)
HEARTBEAT_S = 1.0


def tune(sock: zmq.Socket, heartbeat_s: float = HEARTBEAT_S) -> None:
    ivl = max(100, int(heartbeat_s * 1000))
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME)
    sock.setsockopt(zmq.HEARTBEAT_IVL, ivl)
    sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, ivl * 3)
    sock.setsockopt(zmq.HEARTBEAT_TTL, ivl * 3)
    sock.setsockopt(zmq.SNDHWM, 1000)
    sock.setsockopt(zmq.RCVHWM, 1000)


def client_socket(
    ctx: zmq.Context, hub: str, hub_key: bytes, me: Identity, heartbeat_s: float = HEARTBEAT_S
) -> zmq.Socket:
    """A DEALER connected to the hub, authenticated by CurveZMQ both ways."""
    sock = ctx.socket(zmq.DEALER)
    tune(sock, heartbeat_s)
    sock.setsockopt(zmq.RECONNECT_IVL, 200)
    sock.setsockopt(zmq.RECONNECT_IVL_MAX, 2000)
    sock.curve_serverkey = hub_key
    sock.curve_publickey = me.curve_public
    sock.curve_secretkey = me.curve_secret
    try:
        sock.connect(hub)
    except zmq.ZMQError as exc:
        sock.close(0)
        from orkiosk.sync.keys import SyncError

        raise SyncError(f"--hub {hub}: cannot connect ({exc})") from None
    return sock


def send(sock: zmq.Socket, msg, route: bytes | None = None) -> bool:
    """Send without blocking; False when the message could not be queued (peer gone, full)."""
    frames = codec.encode(msg)
    if route is not None:
        frames = [route, *frames]
    try:
        sock.send_multipart(frames, flags=zmq.NOBLOCK, copy=len(frames[-1]) < 65536)
        return True
    except zmq.Again:
        return False
    except zmq.ZMQError as exc:
        log.debug("send failed: %s", exc)
        return False


def recv_client(sock: zmq.Socket):
    """One message from the hub: the decoded message (may raise codec.ProtocolError)."""
    return codec.decode(uncopied(sock.recv_multipart(flags=zmq.NOBLOCK, copy=False)))


def uncopied(frames: list) -> list:
    """Received frames for codec.decode: the header frames as bytes, a data frame (a chunk of
    up to 1 MiB) as a memoryview of the message libzmq received, without copying it."""
    return [f.bytes if i < 2 else f.buffer for i, f in enumerate(frames)]
