"""The fast plan.json predicates (schemafast) never accept what jsonschema refuses."""

from __future__ import annotations

import copy
import json
import random

import pytest
from test_image_package import ct_box

from conftest import small_plan
from orkiosk.plan.manifest import _certainly_valid, _validator, plan_schema, schema_problems
from orkiosk.plan.package import read_manifest, write_package
from orkiosk.plan.schemafast import Unsupported, compile_schema
from orkiosk.plan.synthetic import make_synthetic_plan

ODD_VALUES = [
    None, True, False, 0, 1, -1, 1.0, 1.1, 0.5, -0.0, 2**31, 2**32 + 1, 1e6, -1e6, 1e300, "",
    "x", "1", "a" * 300, "../up", "/abs", "meshes/a.glb", "1.1", "LPS", "mm", "orkiosk-plan",
    "2024-01-02", "2024-01-02T03:04:05Z", "F", [], [0, 0, 0], [1, 2], [0.5, 0.5, 0.5, 0.5], {},
    {"path": "a"}, [[1, 0, 0, 0]] * 4,
]  # fmt: skip


def _valid_docs(tmp_path) -> list[dict]:
    plan, meshes = make_synthetic_plan()
    docs = [json.loads(read_manifest(write_package(plan, meshes, tmp_path / "synth")))]
    plan, meshes = small_plan()
    docs.append(json.loads(read_manifest(write_package(plan, meshes, tmp_path / "small"))))
    pkg = write_package(plan, meshes, tmp_path / "img", image=ct_box())
    docs.append(json.loads(read_manifest(pkg)))
    return docs


def _places(node, path=()):
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _places(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _places(v, (*path, i))


def _mutate(doc, rng: random.Random) -> dict:
    doc = copy.deepcopy(doc)
    for _ in range(rng.choice((1, 1, 2, 3))):
        places = [p for p in _places(doc) if p]
        path = rng.choice(places)
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        last, how = path[-1], rng.random()
        if how < 0.25 and isinstance(parent, dict):
            del parent[last]
        elif how < 0.35 and isinstance(parent, dict):
            parent[rng.choice(("extra", "image", "center", "distance", last + "_"))] = rng.choice(
                ODD_VALUES
            )
        elif how < 0.45 and isinstance(parent, list):
            parent.append(copy.deepcopy(rng.choice(parent + ODD_VALUES)))
        elif how < 0.5 and isinstance(parent, list):
            del parent[last]
        else:
            parent[last] = copy.deepcopy(rng.choice(ODD_VALUES))
    return doc


def test_valid_plans_take_the_fast_path(tmp_path):
    fast = _certainly_valid()
    assert fast is not None
    for doc in _valid_docs(tmp_path):
        assert not list(_validator().iter_errors(doc))
        assert fast(doc)
        assert schema_problems(doc) == []


def test_fast_path_never_accepts_an_invalid_plan(tmp_path):
    fast = _certainly_valid()
    rng = random.Random(1234)
    docs = _valid_docs(tmp_path)
    accepted = refused = 0
    for i in range(3000):
        doc = _mutate(docs[i % len(docs)], rng)
        if fast(doc):
            assert not list(_validator().iter_errors(doc)), doc
            accepted += 1
        else:
            refused += 1
    assert accepted > 100 and refused > 1000  # both sides were exercised


@pytest.mark.parametrize(
    "doc",
    [
        {"format_version": True},  # a bool is not 1
        {"format_version": 1.0},  # equals 1: valid, and accepted
        {"plan_version": 1.0},  # an integer to JSON Schema, refused here: jsonschema decides
        {"format_version": 1, "image": None},  # image requires format 1.1
    ],
)
def test_edge_values_agree_or_fall_back(tmp_path, doc):
    base = _valid_docs(tmp_path)[1]
    changed = {**base, **doc}
    if _certainly_valid()(changed):
        assert not list(_validator().iter_errors(changed))


def test_unknown_keyword_makes_everything_go_to_jsonschema():
    schema = copy.deepcopy(plan_schema())
    schema["properties"]["case_id"] = {"type": "string", "format": "uuid"}
    with pytest.raises(Unsupported):
        compile_schema(schema)
    with pytest.raises(Unsupported):
        compile_schema({"if": {"type": "object"}, "then": {"required": ["a"]}})
