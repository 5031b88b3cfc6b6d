"""A fast "certainly valid" test for plan.json, in front of jsonschema.

jsonschema spends a few milliseconds on a small plan.json (a validator object per keyword and
per item). `compile_schema` turns the plan schema into plain Python predicates that answer only
"this document is certainly valid": each keyword is checked at least as strictly as JSON Schema
2020-12 does (exact JSON types only: a bool is no number, 1.0 is no integer here, a subclass of
dict is no object), so a True is a proof of validity and the caller skips jsonschema. Anything
else (False) goes to jsonschema, which finds and words the problems as before. A schema keyword
this module does not know makes `compile_schema` raise Unsupported: then every document goes to
jsonschema.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Check = Callable[[object], bool]

_ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "title", "description", "$comment"})
_JSON_TYPES = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "null": (type(None),),
}
_SCALARS = (str, int, float)


class Unsupported(ValueError):
    """The schema uses something compile_schema cannot check exactly or more strictly."""


def compile_schema(root: dict) -> Check:
    """Predicate: True only for documents that certainly satisfy `root`."""
    refs: dict[str, Check] = {}

    def ref_check(ref: str) -> Check:
        if not ref.startswith("#/$defs/") or "/" in ref[len("#/$defs/") :]:
            raise Unsupported(f"$ref {ref!r}")
        if ref not in refs:
            slot: list[Check] = []
            refs[ref] = lambda x: slot[0](x)  # placeholder while compiling (recursion)
            target = root.get("$defs", {}).get(ref[len("#/$defs/") :])
            if not isinstance(target, dict):
                raise Unsupported(f"$ref {ref!r} names no definition")
            slot.append(compile_node(target))
            refs[ref] = slot[0]
        return refs[ref]

    def compile_node(schema) -> Check:
        if schema is True:
            return lambda x: True
        if not isinstance(schema, dict):
            raise Unsupported(f"schema {schema!r}")
        checks = [_keyword(k, v, schema, compile_node, ref_check) for k, v in schema.items()]
        checks = [c for c in checks if c is not None]
        if len(checks) == 1:
            return checks[0]
        return lambda x: all(c(x) for c in checks)

    return compile_node(root)


def _keyword(key, value, schema, compile_node, ref_check) -> Check | None:  # noqa: C901, PLR0911, PLR0912
    if key in _ANNOTATIONS:
        return None
    if key == "$ref":
        return ref_check(value)
    if key == "type":
        if not isinstance(value, str) or value not in _JSON_TYPES:
            raise Unsupported(f"type {value!r}")
        types = _JSON_TYPES[value]
        return lambda x: type(x) in types
    if key in ("const", "enum"):
        options = [value] if key == "const" else value
        if not isinstance(options, list) or not all(type(o) in _SCALARS for o in options):
            raise Unsupported(f"{key} {value!r}")
        # JSON Schema equality of scalars: strings equal strings, numbers (not bools) equal
        # numbers by value. Accept exactly those; a bool or anything else goes to jsonschema.
        allowed = [(str, o) if type(o) is str else (float, o) for o in options]
        return lambda x: (
            type(x) in _SCALARS
            and any((t is str) == (type(x) is str) and x == o for t, o in allowed)
        )
    if key == "required":
        names = tuple(value)
        return lambda x: type(x) is dict and all(n in x for n in names)
    if key == "properties":
        props = {name: compile_node(sub) for name, sub in value.items()}
        return lambda x: (
            type(x) is dict and all(c(x[name]) for name, c in props.items() if name in x)
        )
    if key == "additionalProperties":
        if value is not False or "patternProperties" in schema:
            raise Unsupported("additionalProperties other than false")
        known = frozenset(schema.get("properties", {}))
        return lambda x: type(x) is dict and known.issuperset(x)
    if key == "items":
        if "prefixItems" in schema:
            raise Unsupported("prefixItems")
        item = compile_node(value)
        return lambda x: type(x) is list and all(item(e) for e in x)
    if key in ("minItems", "maxItems"):
        n = _count(key, value)
        if key == "minItems":
            return lambda x: type(x) is list and len(x) >= n
        return lambda x: type(x) is list and len(x) <= n
    if key in ("minLength", "maxLength"):
        n = _count(key, value)
        if key == "minLength":
            return lambda x: type(x) is str and len(x) >= n
        return lambda x: type(x) is str and len(x) <= n
    if key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        if type(value) not in (int, float):
            raise Unsupported(f"{key} {value!r}")
        return _bound(key, value)
    if key == "pattern":
        search = re.compile(value).search  # jsonschema: re.search(pattern, instance)
        return lambda x: type(x) is str and search(x) is not None
    if key == "if":
        return _if_then(value, schema, compile_node)
    if key in ("then", "else"):
        return None  # checked with "if"
    raise Unsupported(f"keyword {key!r}")


def _count(key, value) -> int:
    if type(value) is not int or value < 0:
        raise Unsupported(f"{key} {value!r}")
    return value


def _bound(key, limit) -> Check:
    num = (int, float)
    if key == "minimum":
        return lambda x: type(x) in num and x >= limit
    if key == "maximum":
        return lambda x: type(x) in num and x <= limit
    if key == "exclusiveMinimum":
        return lambda x: type(x) in num and x > limit
    return lambda x: type(x) in num and x < limit


def _if_then(condition, schema, compile_node) -> Check:
    """ "if" must be decided exactly (a stricter answer could skip "then"): only
    {"required": [...]} is, and anything but a dict satisfies it."""
    if "else" in schema or not isinstance(condition, dict) or set(condition) != {"required"}:
        raise Unsupported("if other than {required: [...]} with then")
    names = tuple(condition["required"])
    then = compile_node(schema.get("then", True))
    return lambda x: (type(x) is dict and not all(n in x for n in names)) or then(x)
