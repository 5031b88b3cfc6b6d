"""decode_glb and Mesh.check against the straightforward implementations they replaced: the same
arrays bit for bit (dtype, layout, signed zeros), the same errors word for word."""

from __future__ import annotations

import numpy as np
import pytest

from orkiosk.plan.coords import gltf_dir_to_lps, gltf_to_lps
from orkiosk.plan.glb import decode_glb, encode_glb
from orkiosk.plan.mesh import MAX_COORDINATE_MM, Mesh, MeshError
from orkiosk.plan.synthetic import surface


def ref_gltf_to_lps(p):
    p = np.asarray(p, dtype=np.float32)
    out = np.empty(p.shape, dtype=np.float32)
    np.multiply(p[..., 0], 1000.0, out=out[..., 0])
    np.multiply(p[..., 2], -1000.0, out=out[..., 1])
    np.multiply(p[..., 1], 1000.0, out=out[..., 2])
    return out


def ref_gltf_dir_to_lps(v):
    v = np.asarray(v, dtype=np.float32)
    out = np.empty(v.shape, dtype=np.float32)
    out[..., 0] = v[..., 0]
    np.negative(v[..., 2], out=out[..., 1])
    out[..., 2] = v[..., 1]
    return out


def ref_check(p, n, i) -> str | None:
    if not np.isfinite(p).all():
        return "positions contain NaN or infinite values"
    if np.abs(p).max() > MAX_COORDINATE_MM:
        return f"positions reach {float(np.abs(p).max()):.3g} mm (limit {MAX_COORDINATE_MM:g})"
    if not np.isfinite(n).all():
        return "normals contain NaN or infinite values"
    if int(i.max()) >= p.shape[0]:
        return f"index {int(i.max())} out of range for {p.shape[0]} vertices"
    return None


def _same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.flags.c_contiguous and b.flags.c_contiguous
    assert a.tobytes() == b.tobytes()  # bit for bit: -0.0 and NaN payloads too


EDGE = np.array(
    [0.0, -0.0, 1e-45, -1e-45, 1e-30, 0.1, -0.1, 99.99, -99.99, 3.4e35, -3.4e35, 1.0, -1.0],
    dtype=np.float32,
)


@pytest.mark.parametrize(
    "points",
    [
        np.random.default_rng(1).standard_normal((1000, 3)).astype(np.float32),
        np.random.default_rng(2).standard_normal((7, 3)),  # float64 in
        np.random.default_rng(3).standard_normal((50, 6)).astype(np.float32)[:, ::2],  # strided
        np.stack(np.meshgrid(EDGE, EDGE, EDGE), -1).reshape(-1, 3),
        np.array([0.25, -0.0, 7.0], dtype=np.float32),  # one point
        np.array([[np.nan, np.inf, -np.inf]], dtype=np.float32),
    ],
)
def test_conversions_match_reference(points):
    with np.errstate(over="ignore", invalid="ignore"):
        _same(gltf_to_lps(points), ref_gltf_to_lps(points))
        _same(gltf_dir_to_lps(points), ref_gltf_dir_to_lps(points))
    assert isinstance(points, np.ndarray) and points.flags.writeable  # input left alone


@pytest.mark.parametrize(
    "mesh",
    [
        surface((0, 0, 0), (60, 70, 80), 12, 16),
        surface((30, -5, 10), (5, 4, 3), 40, 60),
        surface((-9e4, 0, 9e4), (1e3, 1e3, 1e3), 6, 8),
    ],
)
def test_decode_matches_reference(mesh):
    data = bytearray(encode_glb(mesh))
    got = decode_glb(data)
    raw = decode_raw(data)
    _same(got.positions, ref_gltf_to_lps(raw[0]))
    _same(got.normals, ref_gltf_dir_to_lps(raw[1]))
    assert got.indices.dtype == np.uint32 and got.indices.flags.c_contiguous
    assert np.array_equal(got.indices, raw[2].reshape(-1, 3))
    assert data == bytearray(encode_glb(mesh))  # the input bytes are not modified


def decode_raw(data):
    """POSITION, NORMAL and indices of a GLB written by encode_glb, as stored (glTF frame)."""
    import json
    import struct

    json_len = struct.unpack_from("<I", data, 12)[0]
    doc = json.loads(bytes(data[20 : 20 + json_len]))
    start = 20 + json_len + 8
    out = []
    for acc, dtype, comps in zip(doc["accessors"], ("<f4", "<f4", "<u4"), (3, 3, 1), strict=True):
        view = doc["bufferViews"][acc["bufferView"]]
        arr = np.frombuffer(
            data, dtype=dtype, count=acc["count"] * comps, offset=start + view["byteOffset"]
        )
        out.append(arr.reshape(-1, comps) if comps > 1 else arr)
    return out


def _bad(kind: str):
    m = surface((0, 0, 0), (60, 70, 80), 6, 8)
    p, n, i = m.positions.copy(), m.normals.copy(), m.indices.copy()
    if kind == "nan":
        p[3, 1] = np.nan
    elif kind == "inf":
        p[0, 2] = -np.inf
    elif kind == "far":
        p[5, 0] = -2.5e5
    elif kind == "far+":
        p[5, 2] = 1.000001e5
    elif kind == "limit":
        p[5, 2] = -1e5  # exactly at the limit: allowed
    elif kind == "normal":
        n[2, 0] = np.nan
    elif kind == "normal-inf":
        n[2, 1] = np.inf
    elif kind == "index":
        i[4, 2] = p.shape[0]
    elif kind == "far-and-nan-normal":
        p[1, 1] = 3e5
        n[0, 0] = np.nan
    return p, n, i


@pytest.mark.parametrize(
    "kind",
    [
        "ok",
        "nan",
        "inf",
        "far",
        "far+",
        "limit",
        "normal",
        "normal-inf",
        "index",
        "far-and-nan-normal",
    ],
)
def test_check_messages_match_reference(kind):
    p, n, i = _bad(kind)
    want = ref_check(p, n, i)
    if want is None:
        Mesh(p, n, i).check()
        return
    with pytest.raises(MeshError) as err:
        Mesh(p, n, i).check()
    assert str(err.value) == want
