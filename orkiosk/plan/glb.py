"""glTF 2.0 binary (.glb) for one triangle mesh, in glTF's own frame (metres, +Y up, +Z front).

The writer produces exactly one mesh with one indexed triangle primitive (POSITION, NORMAL as
float32 VEC3, indices as uint32) and a PBR material carrying the structure's colour, so that any
glTF viewer shows the anatomy upright and coloured. The reader accepts that shape only, checks
every offset and count against the real buffer before taking numpy views, and converts to
patient LPS mm (see coords.py).
"""

from __future__ import annotations

import json
import struct

import numpy as np

from orkiosk import __version__
from orkiosk.plan.coords import gltf_dir_to_lps, gltf_to_lps, lps_dir_to_gltf, lps_to_gltf
from orkiosk.plan.mesh import Mesh, MeshError

GLB_MAGIC = 0x46546C67  # b"glTF"
CHUNK_JSON = 0x4E4F534A
CHUNK_BIN = 0x004E4942
FLOAT, UINT = 5126, 5125
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963
MAX_JSON_CHUNK = 1 << 20  # a one-mesh GLB needs a few kilobytes of JSON


class GlbError(MeshError):
    """A .glb file that is not the shape orkiosk writes, or is damaged."""


def _material(name: str, color, opacity: float) -> dict:
    r, g, b = (float(c) for c in color)
    material = {
        "name": name,
        "pbrMetallicRoughness": {
            "baseColorFactor": [r, g, b, float(opacity)],
            "metallicFactor": 0.0,
            "roughnessFactor": 0.6,
        },
        "doubleSided": True,
    }
    if opacity < 1.0:
        material["alphaMode"] = "BLEND"
    return material


def encode_glb(mesh: Mesh, name: str = "mesh", color=(0.8, 0.8, 0.8), opacity=1.0) -> bytes:
    """Serialise a mesh (LPS mm) to GLB bytes (glTF frame)."""
    mesh.check()
    pos = np.ascontiguousarray(lps_to_gltf(mesh.positions), dtype="<f4")
    nrm = np.ascontiguousarray(lps_dir_to_gltf(mesh.normals), dtype="<f4")
    idx = np.ascontiguousarray(mesh.indices, dtype="<u4")
    blobs = [pos.tobytes(), nrm.tobytes(), idx.tobytes()]  # each a multiple of 4 bytes
    offsets = np.cumsum([0] + [len(b) for b in blobs[:-1]]).tolist()
    n, m = mesh.vertex_count, mesh.triangle_count
    doc = {
        "asset": {"version": "2.0", "generator": f"orkiosk {__version__}"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": name}],
        "meshes": [
            {
                "name": name,
                "primitives": [
                    {
                        "attributes": {"POSITION": 0, "NORMAL": 1},
                        "indices": 2,
                        "material": 0,
                        "mode": 4,
                    }
                ],
            }
        ],
        "materials": [_material(name, color, opacity)],
        "buffers": [{"byteLength": sum(len(b) for b in blobs)}],
        "bufferViews": [
            {"buffer": 0, "byteOffset": off, "byteLength": len(blob), "target": target}
            for off, blob, target in zip(
                offsets, blobs, (ARRAY_BUFFER, ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER), strict=True
            )
        ],
        "accessors": [
            {
                "bufferView": 0,
                "componentType": FLOAT,
                "count": n,
                "type": "VEC3",
                "min": pos.min(axis=0).tolist(),
                "max": pos.max(axis=0).tolist(),
            },
            {"bufferView": 1, "componentType": FLOAT, "count": n, "type": "VEC3"},
            {"bufferView": 2, "componentType": UINT, "count": 3 * m, "type": "SCALAR"},
        ],
    }
    js = json.dumps(doc, separators=(",", ":")).encode("utf-8")
    js += b" " * (-len(js) % 4)
    binary = b"".join(blobs)
    total = 12 + 8 + len(js) + 8 + len(binary)
    return b"".join(
        [
            struct.pack("<III", GLB_MAGIC, 2, total),
            struct.pack("<II", len(js), CHUNK_JSON),
            js,
            struct.pack("<II", len(binary), CHUNK_BIN),
            binary,
        ]
    )


def decode_glb(data: bytes | bytearray | memoryview) -> Mesh:
    """Parse GLB bytes written by encode_glb into a checked Mesh in LPS mm.

    Raises GlbError naming the first thing that is wrong. Positions and normals are converted
    (copied); indices are a zero-copy view of `data`.
    """
    buf = memoryview(data).cast("B")
    if len(buf) < 28:
        raise GlbError(f"too short for a GLB file ({len(buf)} bytes)")
    magic, version, length = struct.unpack_from("<III", buf, 0)
    if magic != GLB_MAGIC:
        raise GlbError("not a GLB file (bad magic)")
    if version != 2:
        raise GlbError(f"GLB version {version}, expected 2")
    if length != len(buf):
        raise GlbError(f"header says {length} bytes, file has {len(buf)}")
    json_len, json_type = struct.unpack_from("<II", buf, 12)
    if json_type != CHUNK_JSON or json_len > MAX_JSON_CHUNK or 20 + json_len + 8 > len(buf):
        raise GlbError("first chunk is not a JSON chunk of sane size")
    try:
        doc = json.loads(bytes(buf[20 : 20 + json_len]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise GlbError(f"JSON chunk is not valid JSON ({exc})") from None
    bin_off = 20 + json_len
    bin_len, bin_type = struct.unpack_from("<II", buf, bin_off)
    bin_start = bin_off + 8
    if bin_type != CHUNK_BIN or bin_start + bin_len > len(buf):
        raise GlbError("second chunk is not a BIN chunk inside the file")
    binary = buf[bin_start : bin_start + bin_len]
    try:
        prim = _single_primitive(doc)
        pos = _accessor(doc, binary, prim["attributes"]["POSITION"], FLOAT, "VEC3")
        nrm = _accessor(doc, binary, prim["attributes"]["NORMAL"], FLOAT, "VEC3")
        idx = _accessor(doc, binary, prim["indices"], UINT, "SCALAR")
    except (KeyError, TypeError, IndexError) as exc:
        raise GlbError(f"glTF structure is not a single indexed triangle mesh ({exc!r})") from None
    if pos.shape != nrm.shape:
        raise GlbError("POSITION and NORMAL counts differ")
    if idx.size % 3:
        raise GlbError(f"index count {idx.size} is not a multiple of 3")
    with np.errstate(over="ignore", invalid="ignore"):  # check() reports non-finite values
        mesh = Mesh(gltf_to_lps(pos), gltf_dir_to_lps(nrm), idx.reshape(-1, 3))
    mesh.check()
    return mesh


def _single_primitive(doc: dict) -> dict:
    meshes = doc["meshes"]
    if len(meshes) != 1 or len(meshes[0]["primitives"]) != 1:
        raise GlbError("expected exactly one mesh with one primitive")
    prim = meshes[0]["primitives"][0]
    if prim.get("mode", 4) != 4:
        raise GlbError("primitive is not a triangle list (mode 4)")
    return prim


_COMPONENTS = {"SCALAR": 1, "VEC3": 3}


def _accessor(doc: dict, binary: memoryview, index, ctype: int, atype: str) -> np.ndarray:
    if not isinstance(index, int) or isinstance(index, bool):
        raise GlbError(f"accessor reference {index!r} is not an integer")
    acc = doc["accessors"][index]
    if acc.get("componentType") != ctype or acc.get("type") != atype:
        raise GlbError(f"accessor {index} is not {atype} of component type {ctype}")
    if acc.get("sparse") is not None:
        raise GlbError(f"accessor {index} is sparse (not supported)")
    view = doc["bufferViews"][acc["bufferView"]]
    if view.get("buffer") != 0:
        raise GlbError(f"accessor {index} refers to an external buffer")
    count, comps = acc["count"], _COMPONENTS[atype]
    if not isinstance(count, int) or count < 0:
        raise GlbError(f"accessor {index} has an invalid count {count!r}")
    stride = view.get("byteStride", 4 * comps)
    if stride != 4 * comps:
        raise GlbError(f"accessor {index} uses an interleaved stride {stride}")
    v_off, v_len = view.get("byteOffset", 0), view["byteLength"]
    a_off = acc.get("byteOffset", 0)
    for name, value in (
        ("byteOffset", v_off),
        ("byteLength", v_len),
        ("accessor byteOffset", a_off),
    ):
        if not isinstance(value, int) or value < 0:
            raise GlbError(f"accessor {index}: {name} {value!r} is invalid")
    nbytes = count * comps * 4
    if v_off + v_len > len(binary) or a_off + nbytes > v_len or (v_off + a_off) % 4:
        raise GlbError(f"accessor {index} ({count} x {atype}) does not fit its buffer")
    dtype = "<f4" if ctype == FLOAT else "<u4"
    arr = np.frombuffer(binary, dtype=dtype, count=count * comps, offset=v_off + a_off)
    return arr.reshape(-1, comps) if comps > 1 else arr
