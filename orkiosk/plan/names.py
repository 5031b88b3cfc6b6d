"""How a person's name is written on screen and in plan.json (one rule for the whole product),
and how an item's id is made from its name."""

from __future__ import annotations

import re


def slug(name: str) -> str:
    """'Left Tragus' -> 'left-tragus' ('structure' when nothing is left)."""
    s = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return s or "structure"


def unique_id(base: str, used: set[str]) -> str:
    """A plan id from a name, not in `used` (which it joins): 'biopsy', 'biopsy-2', ..."""
    base = slug(base)[:56] or "item"
    candidate = base
    n = 2
    while candidate in used:
        candidate = f"{base}-{n}"
        n += 1
    used.add(candidate)
    return candidate


def person_name(value) -> str:
    """DICOM PN 'FAMILY^Given^Middle^Prefix^Suffix' -> 'FAMILY, Given Middle'.

    Only the alphabetic group (before any '=') is used; the family name is upper-cased, as on
    clinical labels, so that family and given names cannot be swapped at a glance. A name that
    is not in PN form ('Family, Given', or one word) is kept as written.
    """
    s = str(value or "").strip()
    alphabetic = s.split("=")[0]
    if "^" not in alphabetic:
        return alphabetic.strip()
    parts = [p.strip() for p in alphabetic.split("^")]
    family = parts[0].upper()
    given = " ".join(p for p in parts[1:3] if p)
    if family and given:
        return f"{family}, {given}"
    return family or given
