"""Property-based tests: damaged packages raise PackageError and nothing else.

Each example starts from a valid, signed package, damages it one way, and loads it. Damage that
was not re-hashed must be refused: a mesh by its size/SHA-256 in plan.json, plan.json itself by
the signature. Mutations that keep the hashes consistent (re-hashing the damaged mesh, which
voids the signature, so those load unsigned) reach the mesh decoder, where either a refusal or a
sound mesh is right. Run more examples with `-m slow`.
"""

import hashlib
import json
import os
import shutil
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import small_plan
from orkiosk.plan.mesh import Mesh
from orkiosk.plan.package import Package, PackageError, load_package, write_package
from orkiosk.plan.signing import generate_keypair, load_trust_dir, sign_package

_BASE = None
_TRUST = None
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SOAK = settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def base_package() -> Path:
    global _BASE, _TRUST
    if _BASE is None:
        root = Path(tempfile.mkdtemp(prefix="orkiosk-fuzz-"))
        plan, meshes = small_plan()
        _BASE = write_package(plan, meshes, root / "pkg")
        private, _public = generate_keypair(root / "keys")
        sign_package(_BASE, private)
        _TRUST = load_trust_dir(root / "keys")
    return _BASE


def fresh_copy() -> Path:
    dst = Path(tempfile.mkdtemp(prefix="orkiosk-fuzz-")) / "pkg"
    shutil.copytree(base_package(), dst)
    return dst


def load_must_be_safe(pkg: Path) -> None:
    try:
        result = load_package(pkg)
    except PackageError as exc:
        assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)
        assert "Traceback" not in str(exc)
    else:
        assert isinstance(result, Package)
        for mesh in result.meshes.values():
            mesh.check()
    finally:
        shutil.rmtree(pkg.parent, ignore_errors=True)


def load_must_refuse(pkg: Path) -> None:
    """Tampering that was not re-hashed: refused, with readable reasons (signature required)."""
    try:
        with pytest.raises(PackageError) as caught:
            load_package(pkg, trusted=_TRUST, require_signature=True)
        assert caught.value.problems and all(
            isinstance(p, str) and p for p in caught.value.problems
        )
    finally:
        shutil.rmtree(pkg.parent, ignore_errors=True)


def rehash(pkg: Path, rel: str) -> None:
    doc = json.loads((pkg / "plan.json").read_text())
    data = (pkg / rel).read_bytes()
    for f in doc["files"]:
        if f["path"] == rel:
            f["size"], f["sha256"] = len(data), hashlib.sha256(data).hexdigest()
    (pkg / "plan.json").write_text(json.dumps(doc))


FILES = st.sampled_from(["plan.json", "meshes/head.glb", "meshes/target.glb"])


@FUZZ
@given(
    rel=FILES,
    where=st.floats(0, 1, exclude_max=True),
    bit=st.integers(0, 7),
    keep_hash=st.booleans(),
)
def test_bit_flips(rel, where, bit, keep_hash):
    pkg = fresh_copy()
    data = bytearray((pkg / rel).read_bytes())
    data[int(where * len(data))] ^= 1 << bit
    (pkg / rel).write_bytes(bytes(data))
    if keep_hash and rel != "plan.json":
        rehash(pkg, rel)
        load_must_be_safe(pkg)
    else:
        load_must_refuse(pkg)


@FUZZ
@given(rel=FILES, where=st.floats(0, 1, exclude_max=True), keep_hash=st.booleans())
def test_truncation(rel, where, keep_hash):
    pkg = fresh_copy()
    data = (pkg / rel).read_bytes()
    (pkg / rel).write_bytes(data[: int(where * len(data))])
    if keep_hash and rel != "plan.json":
        rehash(pkg, rel)
        load_must_be_safe(pkg)
    else:
        load_must_refuse(pkg)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from(["../../etc/passwd", "/etc/passwd", "meshes/../../x", "meshes/head.glb"]),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, (*prefix, i))


@FUZZ
@given(data=st.data(), value=JSON_VALUES)
def test_wrong_json_types_and_values(data, value):
    pkg = fresh_copy()
    doc = json.loads((pkg / "plan.json").read_text())
    paths = [p for p in _paths(doc) if p]
    path = data.draw(st.sampled_from(paths))
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    (pkg / "plan.json").write_text(json.dumps(doc))
    load_must_be_safe(pkg)


@FUZZ
@given(
    kind=st.sampled_from(
        ["count", "byteOffset", "byteLength", "componentType", "bufferView", "indices"]
    ),
    value=st.one_of(st.integers(-(2**40), 2**40), st.none(), st.text(max_size=3), st.floats()),
    which=st.integers(0, 2),
)
def test_absurd_gltf_fields(kind, value, which):
    pkg = fresh_copy()
    rel = "meshes/head.glb"
    data = (pkg / rel).read_bytes()
    (json_len,) = struct.unpack_from("<I", data, 12)
    doc = json.loads(data[20 : 20 + json_len])
    if kind in ("count", "componentType", "bufferView"):
        doc["accessors"][which][kind] = value
    elif kind == "indices":
        doc["meshes"][0]["primitives"][0]["indices"] = value
    else:
        doc["bufferViews"][which][kind] = value
    js = json.dumps(doc, allow_nan=True).encode()
    js += b" " * (-len(js) % 4)
    rest = data[20 + json_len :]
    new = (
        struct.pack("<III", 0x46546C67, 2, 20 + len(js) + len(rest))
        + struct.pack("<II", len(js), 0x4E4F534A)
        + js
        + rest
    )
    (pkg / rel).write_bytes(new)
    rehash(pkg, rel)
    load_must_be_safe(pkg)


@FUZZ
@given(
    index=st.integers(0, 2**32 - 1),
    value=st.sampled_from([np.nan, np.inf, -np.inf, 1e30]),
    field=st.sampled_from(["position", "normal", "index"]),
)
def test_nan_coordinates_and_bad_indices(index, value, field):
    pkg = fresh_copy()
    rel = "meshes/target.glb"
    data = bytearray((pkg / rel).read_bytes())
    (json_len,) = struct.unpack_from("<I", data, 12)
    doc = json.loads(data[20 : 20 + json_len])
    bin_start = 20 + json_len + 8
    acc = {"position": 0, "normal": 1, "index": 2}[field]
    view = doc["bufferViews"][doc["accessors"][acc]["bufferView"]]
    n = view["byteLength"] // 4
    off = bin_start + view["byteOffset"] + 4 * (index % n)
    if field == "index":
        struct.pack_into("<I", data, off, index)
    else:
        struct.pack_into("<f", data, off, value)
    (pkg / rel).write_bytes(bytes(data))
    rehash(pkg, rel)
    load_must_be_safe(pkg)


@FUZZ
@given(
    kind=st.sampled_from(
        ["dup-structure", "dup-file", "symlink-out", "symlink-in", "dir", "traj-nan"]
    )
)
def test_structural_attacks(kind):
    pkg = fresh_copy()
    doc = json.loads((pkg / "plan.json").read_text())
    if kind == "dup-structure":
        doc["structures"].append(doc["structures"][0])
    elif kind == "dup-file":
        doc["files"].append(doc["files"][0])
    elif kind == "symlink-out":
        (pkg / "meshes" / "head.glb").unlink()
        os.symlink("/etc/hostname", pkg / "meshes" / "head.glb")
    elif kind == "symlink-in":
        (pkg / "meshes" / "head.glb").unlink()
        os.symlink("target.glb", pkg / "meshes" / "head.glb")
    elif kind == "dir":
        (pkg / "meshes" / "head.glb").unlink()
        (pkg / "meshes" / "head.glb").mkdir()
    elif kind == "traj-nan":
        text = json.dumps(doc).replace('"diameter": 2.0', '"diameter": NaN')
        (pkg / "plan.json").write_text(text)
        doc = None
    if doc is not None:
        (pkg / "plan.json").write_text(json.dumps(doc))
    with pytest.raises(PackageError):
        load_package(pkg)
    shutil.rmtree(pkg.parent, ignore_errors=True)


@pytest.mark.slow
@SOAK
@given(rel=FILES, where=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7))
def test_bit_flips_soak(rel, where, bit):
    test_bit_flips.hypothesis.inner_test(rel=rel, where=where, bit=bit, keep_hash=True)


def test_a_valid_package_still_loads():
    # The fuzz tests are only meaningful if the untouched base package loads, signed and unsigned.
    assert load_package(base_package(), trusted=_TRUST, require_signature=True).signed_by
    assert isinstance(load_package(base_package()), Package)
    assert all(isinstance(m, Mesh) for m in load_package(base_package()).meshes.values())
