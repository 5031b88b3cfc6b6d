"""Names and categories of what goes into a plan: bounded texts, the case id, the category a
mesh's name suggests, the planner's login name."""

from __future__ import annotations

import getpass
import re


def safe_case_id(case_id: str) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", case_id).strip("-._")
    return (s or "CASE")[:64]


def short_text(value: str) -> str:
    """A text field of the plan, cut to 256 characters."""
    return (value or "")[:256]


def category(name: str) -> tuple[str, bool]:
    """(category, critical) that a structure's name suggests."""
    n = name.lower()
    if any(w in n for w in ("tumour", "tumor", "lesion", "target")):
        return "tumour", False
    if any(w in n for w in ("vessel", "artery", "vein", "sinus", "aorta")):
        return "vessel", True
    if any(w in n for w in ("implant", "electrode", "screw", "plate", "catheter")):
        return "implant", False
    if "ventric" in n or "nerve" in n or "tract" in n:
        return "organ", True
    return "anatomy", False


def user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment
        return "unknown"
