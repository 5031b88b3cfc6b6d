"""The plan data model, coordinate frames and the plan.json schema."""

import json

import numpy as np
import pytest

from conftest import small_plan
from orkiosk.plan.coords import (
    gltf_dir_to_lps,
    gltf_to_lps,
    lps_dir_to_gltf,
    lps_to_gltf,
    ras_to_lps,
)
from orkiosk.plan.manifest import (
    encode_manifest,
    parse_manifest,
    schema_problems,
    semantic_problems,
)
from orkiosk.plan.mesh import Mesh, MeshError
from orkiosk.plan.model import Plan, View


def test_lps_to_gltf_follows_architecture():
    # glTF (X, Y, Z) = (L, S, A) / 1000 = (x, z, -y)_LPS / 1000
    left, posterior, superior = [10.0, 0, 0], [0, 10.0, 0], [0, 0, 10.0]
    np.testing.assert_allclose(lps_to_gltf(left), [0.01, 0, 0])
    np.testing.assert_allclose(lps_to_gltf(superior), [0, 0.01, 0])  # up is +Y
    np.testing.assert_allclose(lps_to_gltf(posterior), [0, 0, -0.01])  # anterior is +Z
    pts = np.random.default_rng(1).normal(size=(50, 3)) * 100
    np.testing.assert_allclose(gltf_to_lps(lps_to_gltf(pts)), pts, rtol=1e-5, atol=1e-4)
    dirs = pts / np.linalg.norm(pts, axis=1, keepdims=True)
    np.testing.assert_allclose(gltf_dir_to_lps(lps_dir_to_gltf(dirs)), dirs, atol=1e-6)


def test_ras_to_lps_negates_x_and_y():
    np.testing.assert_allclose(ras_to_lps([1.0, 2.0, 3.0]), [-1.0, -2.0, 3.0])


def test_plan_round_trips_through_json():
    plan, _ = small_plan(views=(View("v", "Surgeon", (0, 1, 0), (0, 0, 1), (1, 2, 3), 400.0),))
    doc = parse_manifest(encode_manifest(plan))
    assert schema_problems(doc) == []
    assert Plan.from_dict(doc) == plan
    assert doc["coordinate_system"] == "LPS" and doc["units"] == "mm"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.update(plan_version=0), "plan_version"),
        (lambda d: d.update(laterality="sinister"), "laterality"),
        (lambda d: d["structures"][0].update(opacity=1.5), "structures[0].opacity"),
        (lambda d: d["trajectories"][0].update(entry=[1, 2]), "trajectories[0].entry"),
        (lambda d: d.update(unknown_field=1), "(top level)"),
        (lambda d: d["patient"].pop("name"), "patient"),
        (lambda d: d.update(coordinate_system="RAS"), "coordinate_system"),
    ],
)
def test_schema_names_the_bad_field(change, expected):
    plan, _ = small_plan()
    doc = plan.to_dict()
    change(doc)
    problems = schema_problems(doc)
    assert problems and any(expected in p for p in problems), problems


def test_manifest_rejects_nan_and_duplicate_keys():
    from orkiosk.plan.package import PackageError

    with pytest.raises(PackageError, match="NaN"):
        parse_manifest(b'{"a": NaN}')
    with pytest.raises(PackageError, match="duplicate key"):
        parse_manifest(b'{"a": 1, "a": 2}')
    with pytest.raises(PackageError, match="not valid JSON"):
        parse_manifest(b'{"a": ')


def test_semantic_rules():
    plan, _ = small_plan()
    doc = plan.to_dict()
    doc["structures"].append(dict(doc["structures"][0]))
    doc["trajectories"][0]["target"] = doc["trajectories"][0]["entry"]
    problems = semantic_problems(Plan.from_dict(doc))
    text = "\n".join(problems)
    assert "duplicate id 'head'" in text
    assert "entry and target" in text
    assert "'meshes/head.glb' is not in files" in text


def test_mesh_check_catches_bad_arrays():
    good = Mesh.from_triangles([[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 1, 2]])
    np.testing.assert_allclose(good.normals, [[0, 0, 1]] * 3)
    with pytest.raises(MeshError, match="out of range"):
        Mesh.from_triangles([[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 1, 3]])
    with pytest.raises(MeshError, match="NaN"):
        Mesh.from_triangles([[0, 0, np.nan], [1, 0, 0], [0, 1, 0]], [[0, 1, 2]])
    with pytest.raises(MeshError, match="empty"):
        Mesh.from_triangles(np.zeros((0, 3)), np.zeros((0, 3)))


def test_schema_file_is_valid_json_schema():
    import jsonschema

    from orkiosk.plan.manifest import plan_schema

    jsonschema.Draft202012Validator.check_schema(plan_schema())
    assert json.dumps(plan_schema())
