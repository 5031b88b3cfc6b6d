"""plan.json: its schema, strict JSON parsing, and the rules the schema cannot express.

Every problem is one readable line naming the field ("structures[2].mesh: ..."); the loader
(orkiosk.plan.package) gathers them into one PackageError.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

import jsonschema

from orkiosk.plan.image import entry_problems
from orkiosk.plan.model import Plan
from orkiosk.plan.problems import MANIFEST_NAME, MAX_PROBLEMS, PackageError
from orkiosk.plan.schemafast import Unsupported, compile_schema
from orkiosk.plan.signing import SIG_NAME

MAX_TOTAL_BYTES = 4 << 30  # all files of a package together


@cache
def plan_schema() -> dict:
    text = resources.files("orkiosk.plan").joinpath("schema/plan-v1.schema.json").read_text("utf-8")
    return json.loads(text)


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(plan_schema())


@cache
def _certainly_valid():
    """The schema as fast predicates (schemafast), or None if it uses a keyword they lack."""
    try:
        return compile_schema(plan_schema())
    except Unsupported:
        return None


def schema_problems(doc) -> list[str]:
    """One readable line per way `doc` breaks the plan.json schema.

    A document the fast predicates prove valid skips jsonschema (milliseconds per plan);
    every other one is validated and its problems worded by jsonschema."""
    fast = _certainly_valid()
    if fast is not None and fast(doc):
        return []
    errors = sorted(_validator().iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    lines = []
    for err in errors[:MAX_PROBLEMS]:
        where = _json_path(err.absolute_path)
        last = err.absolute_path[-1] if err.absolute_path else ""
        if err.validator == "pattern" and last in ("path", "mesh"):
            msg = (
                f"{err.instance!r} is not a safe package-relative path (no leading '/', "
                "no '.' or '..' parts; letters, digits, '.', '_', '-' only); it would leave the package"
                if ".." in str(err.instance) or str(err.instance).startswith("/")
                else f"{err.instance!r} is not a safe package-relative path"
            )
        else:
            msg = err.message if len(err.message) <= 200 else err.message[:200] + "..."
        lines.append(f"{MANIFEST_NAME}: {where}: {msg}")
    return lines


def _json_path(parts) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def parse_manifest(data: bytes) -> dict:
    """JSON bytes -> dict; NaN/Infinity and duplicate keys are refused."""

    def no_duplicates(pairs):
        d = {}
        for k, v in pairs:
            if k in d:
                raise ValueError(f"duplicate key {k!r}")
            d[k] = v
        return d

    try:
        return json.loads(
            data.decode("utf-8"), parse_constant=_reject_constant, object_pairs_hook=no_duplicates
        )
    except UnicodeDecodeError as exc:
        raise PackageError([f"{MANIFEST_NAME}: not UTF-8 text ({exc.reason})"]) from None
    except RecursionError:
        raise PackageError([f"{MANIFEST_NAME}: nested too deeply"]) from None
    except ValueError as exc:
        raise PackageError([f"{MANIFEST_NAME}: not valid JSON ({exc})"]) from None


def semantic_problems(plan: Plan) -> list[str]:
    """Rules the schema cannot express: unique ids, meshes listed, sane geometry."""
    problems = []
    for kind in ("structures", "trajectories", "landmarks", "measurements", "views"):
        seen = set()
        for i, item in enumerate(getattr(plan, kind)):
            if item.id in seen:
                problems.append(f"{MANIFEST_NAME}: {kind}[{i}].id: duplicate id {item.id!r}")
            seen.add(item.id)
    listed = set()
    for i, f in enumerate(plan.files):
        if f.path in listed:
            problems.append(f"{MANIFEST_NAME}: files[{i}].path: {f.path!r} listed twice")
        if f.path in (MANIFEST_NAME, SIG_NAME):
            problems.append(f"{MANIFEST_NAME}: files[{i}].path: {f.path!r} cannot list itself")
        listed.add(f.path)
    meshes_used = {}
    for i, s in enumerate(plan.structures):
        if s.mesh not in listed:
            problems.append(f"{MANIFEST_NAME}: structures[{i}].mesh: {s.mesh!r} is not in files")
        if s.mesh in meshes_used:
            problems.append(
                f"{MANIFEST_NAME}: structures[{i}].mesh: {s.mesh!r} already used by "
                f"{meshes_used[s.mesh]!r}"
            )
        meshes_used[s.mesh] = s.id
    for i, t in enumerate(plan.trajectories):
        length = sum((a - b) ** 2 for a, b in zip(t.entry, t.target, strict=True)) ** 0.5
        if length < 1.0:
            problems.append(
                f"{MANIFEST_NAME}: trajectories[{i}] ({t.id}): entry and target are "
                f"{length:.2f} mm apart (at least 1 mm)"
            )
    for i, v in enumerate(plan.views):
        cross = _cross(v.look, v.up)
        if sum(c * c for c in v.look) < 1e-12 or sum(c * c for c in cross) < 1e-12:
            problems.append(
                f"{MANIFEST_NAME}: views[{i}] ({v.id}): look must be non-zero and not parallel to up"
            )
    if plan.image is not None:
        if plan.image.path not in listed:
            problems.append(f"{MANIFEST_NAME}: image.path: {plan.image.path!r} is not in files")
        if plan.image.path in meshes_used:
            problems.append(f"{MANIFEST_NAME}: image.path: {plan.image.path!r} is a mesh")
        problems += entry_problems(plan.image)
    total = sum(f.size for f in plan.files)
    if total > MAX_TOTAL_BYTES:
        problems.append(f"{MANIFEST_NAME}: files add up to {total} bytes (limit {MAX_TOTAL_BYTES})")
    return problems


def _cross(a, b):
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


# ---------------------------------------------------------------- reading


def encode_manifest(plan: Plan) -> bytes:
    return (json.dumps(plan.to_dict(), indent=2, ensure_ascii=False) + "\n").encode("utf-8")
