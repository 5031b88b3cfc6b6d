"""Package format 1.1: the optional image volume, written, loaded and refused (real files)."""

from __future__ import annotations

import gzip
import hashlib
import json

import numpy as np
import pytest

from conftest import edit_manifest, small_plan
from orkiosk.plan.image import (
    CT_PRESETS,
    IMAGE_PATH,
    ImageEntry,
    ImageVolume,
    default_presets,
)
from orkiosk.plan.package import PackageError, load_package, write_package


def ct_box(spacing=2.0, origin=(-70.0, -80.0, -90.0), dims=(71, 81, 91)) -> ImageVolume:
    """A CT around small_plan's head: -1000 HU air, a 40 HU ellipsoid, 1000 HU at the target."""
    ni, nj, nk = dims
    affine = np.eye(4)
    affine[:3, :3] *= spacing
    affine[:3, 3] = origin
    k, j, i = np.mgrid[0:nk, 0:nj, 0:ni]
    x, y, z = (origin[a] + spacing * g for a, g in enumerate((i, j, k)))
    hu = np.full(x.shape, -1000, np.int16)
    hu[(x / 60) ** 2 + (y / 70) ** 2 + (z / 80) ** 2 < 1] = 40
    hu[(x - 30) ** 2 + y**2 + (z - 10) ** 2 < 25] = 1000
    entry = ImageEntry(
        path=IMAGE_PATH,
        dims=dims,
        affine=tuple(tuple(r) for r in affine.tolist()),
        modality="CT",
        units="HU",
        presets=CT_PRESETS,
    )
    return ImageVolume(hu, entry)


@pytest.fixture
def imaged(tmp_path):
    plan, meshes = small_plan()
    return write_package(plan, meshes, tmp_path / "img", image=ct_box())


def test_format_1_0_still_loads_and_is_written_without_image(package):
    doc = json.loads((package / "plan.json").read_text())
    assert doc["format_version"] == 1 and "image" not in doc
    pkg = load_package(package)
    assert pkg.image is None and pkg.plan.image is None


def test_image_round_trip(imaged):
    doc = json.loads((imaged / "plan.json").read_text())
    assert doc["format_version"] == 1.1
    assert doc["image"]["dims"] == [71, 81, 91]
    listed = {f["path"]: f for f in doc["files"]}
    data = (imaged / IMAGE_PATH).read_bytes()
    assert listed[IMAGE_PATH]["size"] == len(data)
    assert listed[IMAGE_PATH]["sha256"] == hashlib.sha256(data).hexdigest()
    pkg = load_package(imaged)
    want = ct_box()
    assert pkg.image is not None and pkg.plan.format_version == 1.1
    np.testing.assert_array_equal(pkg.image.array, want.array)
    np.testing.assert_allclose(pkg.image.affine, want.affine)
    # the voxel at the target (30, 0, 10) holds the 1000 HU bead
    i, j, k = np.rint(pkg.image.lps_to_index((30.0, 0.0, 10.0))).astype(int)
    assert pkg.image.array[k, j, i] == 1000
    assert [p.name for p in pkg.image.entry.presets] == ["Brain", "Soft tissue", "Bone", "Lung"]


def _rewrite_image(pkg, raw: bytes, compress=True) -> None:
    """Replace the image file and its size/hash in plan.json (a consistent but bad package)."""
    data = gzip.compress(raw, mtime=0) if compress else raw
    (pkg / IMAGE_PATH).write_bytes(data)

    def fix(doc):
        for f in doc["files"]:
            if f["path"] == IMAGE_PATH:
                f["size"], f["sha256"] = len(data), hashlib.sha256(data).hexdigest()

    edit_manifest(pkg, fix)


def _refusal(pkg) -> PackageError:
    with pytest.raises(PackageError) as err:
        load_package(pkg)
    return err.value


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda a: a[0].__setitem__(0, 0.0), "not invertible"),
        (lambda a: a[0].__setitem__(1, 1.0), "not perpendicular"),
        (lambda a: [a[r].__setitem__(r, 0.01) for r in range(3)], "outside 0.05..20"),
        (lambda a: a[3].__setitem__(0, 1.0), "last row"),
    ],
)
def test_bad_affine_refused(imaged, change, words):
    edit_manifest(imaged, lambda d: change(d["image"]["affine"]))
    err = _refusal(imaged)
    assert any(words in p and "image.affine" in p for p in err.problems), err.problems


def test_dims_mismatch_refused(imaged):
    edit_manifest(imaged, lambda d: d["image"].__setitem__("dims", [71, 81, 90]))
    err = _refusal(imaged)
    assert "holds more voxels than dims 71x81x90" in str(err)
    assert err.headline == f"the file {IMAGE_PATH} is not a usable image volume"


def test_fewer_voxels_than_dims_refused(imaged):
    _rewrite_image(imaged, ct_box().array.tobytes()[:-1000])
    assert "bytes of voxels, but dims 71x81x91 need" in str(_refusal(imaged))


def test_truncated_stream_refused(imaged):
    data = (imaged / IMAGE_PATH).read_bytes()[:-100]
    _rewrite_image(imaged, data, compress=False)
    assert "truncated" in str(_refusal(imaged))


def test_image_elsewhere_refused(imaged):
    edit_manifest(imaged, lambda d: d["image"]["affine"][1].__setitem__(3, 900.0))
    err = _refusal(imaged)
    assert "lies 8" in str(err) and "mm away from the plan" in str(err), err.problems


def test_target_outside_image_refused(tmp_path):
    plan, meshes = small_plan()
    small = ct_box(dims=(40, 81, 91))  # x from -70 to +8 mm: the target (x = 30) is outside
    err = _refusal(write_package(plan, meshes, tmp_path / "p", image=small))
    assert "trajectory t1's target lies outside the image" in str(err)


def test_oversize_refused_before_reading(imaged):
    edit_manifest(imaged, lambda d: d["image"].__setitem__("dims", [1024, 1024, 1000]))
    err = _refusal(imaged)
    assert any("voxels is over the limit" in p for p in err.problems)
    assert not any("bytes of voxels" in p for p in err.problems)  # not decoded at all


def test_image_needs_format_1_1(imaged):
    edit_manifest(imaged, lambda d: d.__setitem__("format_version", 1))
    assert "format_version" in str(_refusal(imaged))


def test_image_must_be_listed(imaged):
    edit_manifest(imaged, lambda d: d["image"].__setitem__("path", "image/other.gz"))
    assert "image.path: 'image/other.gz' is not in files" in str(_refusal(imaged))


def test_flipped_image_byte_is_a_checksum_refusal(imaged):
    data = bytearray((imaged / IMAGE_PATH).read_bytes())
    data[len(data) // 2] ^= 0x40
    (imaged / IMAGE_PATH).write_bytes(bytes(data))
    err = _refusal(imaged)
    assert "SHA-256 checksum mismatch" in err.headline and IMAGE_PATH in err.headline


def test_mr_presets_from_percentiles():
    rng = np.random.default_rng(1)
    mr = np.zeros((20, 30, 30), np.uint16)
    mr[5:15, 5:25, 5:25] = rng.normal(800, 100, (10, 20, 20)).clip(1, None).astype(np.uint16)
    presets = default_presets("MR", mr)
    assert presets[0].name == "Default"
    assert 700 < presets[0].level < 900 and 400 < presets[0].window < 900
