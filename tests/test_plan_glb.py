"""glTF binary meshes: round trip, upright orientation, Khronos validator."""

import json
import struct

import numpy as np
import pytest

from orkiosk.plan.glb import GlbError, decode_glb, encode_glb
from orkiosk.plan.mesh import MeshError
from orkiosk.plan.package import load_package
from orkiosk.plan.synthetic import surface


def test_round_trip_is_exact_in_lps():
    mesh = surface((10, -20, 30), (5, 6, 7), 10, 14)
    back = decode_glb(encode_glb(mesh))
    np.testing.assert_allclose(back.positions, mesh.positions, rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(back.normals, mesh.normals, atol=1e-6)
    np.testing.assert_array_equal(back.indices, mesh.indices)


def _gltf_doc(data: bytes) -> dict:
    (json_len,) = struct.unpack_from("<I", data, 12)
    return json.loads(data[20 : 20 + json_len])


def test_glb_is_in_gltf_frame_upright():
    # A tall thin ellipsoid along superior (LPS z) with its centre on the patient's left (+x)
    # and anterior (-y): in glTF it is tall along +Y, left is +X, anterior is +Z, in metres.
    mesh = surface((50, -30, 0), (5, 5, 100), 8, 12)
    doc = _gltf_doc(encode_glb(mesh))
    lo, hi = np.array(doc["accessors"][0]["min"]), np.array(doc["accessors"][0]["max"])
    extent = hi - lo
    assert extent[1] == pytest.approx(0.2, rel=1e-3)  # 200 mm tall along +Y
    assert extent[0] < 0.011 and extent[2] < 0.011
    centre = (lo + hi) / 2
    assert centre[0] == pytest.approx(0.05, abs=1e-4)  # patient's left: +X
    assert centre[2] == pytest.approx(0.03, abs=1e-4)  # anterior: +Z


def test_demo_meshes_pass_khronos_validator(gltf_validator):
    from orkiosk.plan.demo import demo_package_path

    files = sorted((demo_package_path() / "meshes").glob("*.glb"))
    assert files
    for report in gltf_validator(*files):
        assert report["errors"] == 0, report


def test_written_meshes_pass_khronos_validator(package, gltf_validator):
    files = sorted((package / "meshes").glob("*.glb"))
    for report in gltf_validator(*files):
        assert report["errors"] == 0, report


def test_validator_would_catch_a_broken_file(package, gltf_validator, tmp_path):
    # Proof that the validator check can fail: an index past the vertex count is an error.
    data = bytearray((package / "meshes" / "target.glb").read_bytes())
    doc = _gltf_doc(bytes(data))
    view = doc["bufferViews"][doc["accessors"][2]["bufferView"]]
    (json_len,) = struct.unpack_from("<I", data, 12)
    start = 20 + json_len + 8 + view["byteOffset"]
    struct.pack_into("<I", data, start, 10_000_000)
    bad = tmp_path / "bad.glb"
    bad.write_bytes(bytes(data))
    (report,) = gltf_validator(bad)
    assert report["errors"] > 0


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b[:10], "too short"),
        (lambda b: b"XXXX" + b[4:], "bad magic"),
        (lambda b: b[:-4], "header says"),
        (lambda b: b[:8] + struct.pack("<I", 10**9) + b[12:], "header says"),
    ],
)
def test_decode_refuses_damaged_headers(package, mutate, message):
    data = (package / "meshes" / "head.glb").read_bytes()
    with pytest.raises(GlbError, match=message):
        decode_glb(mutate(data))


def test_indices_out_of_range_are_refused(package):
    data = bytearray((package / "meshes" / "target.glb").read_bytes())
    doc = _gltf_doc(bytes(data))
    view = doc["bufferViews"][2]
    (json_len,) = struct.unpack_from("<I", data, 12)
    struct.pack_into("<I", data, 20 + json_len + 8 + view["byteOffset"], 99999)
    with pytest.raises(MeshError, match="out of range"):
        decode_glb(bytes(data))


def test_loaded_arrays_are_gl_ready(package):
    pkg = load_package(package)
    for mesh in pkg.meshes.values():
        assert mesh.positions.dtype == np.float32 and mesh.positions.flags.c_contiguous
        assert mesh.normals.dtype == np.float32 and mesh.normals.flags.c_contiguous
        assert mesh.indices.dtype == np.uint32 and mesh.indices.flags.c_contiguous
