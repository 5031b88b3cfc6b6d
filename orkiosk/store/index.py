"""The store's layout and its record, versions.json.

    state_dir/
      .lock                      held (fcntl.flock) while anything changes
      staging/<sha>/             a package being received (resumable)
      plans/<case_id>/<version>-<sha>/   committed packages, files read-only
      plans/<case_id>/.tmp-<sha>/        a commit in progress (removed at open)
      current -> plans/<case_id>/<version>-<sha>   (relative symbolic link)
      versions.json              highest version ever committed per case, and the kept versions
      quarantine/                committed packages found damaged at open, set aside
      audit/                     (the audit log, to come)

versions.json: {"format": 1, "highest": {case_id: version}, "plans": [entry, ...]}, an entry being
{"case_id", "plan_version", "manifest_sha256", "committed_at", "dir"} with dir relative to
state_dir. "highest" never goes down, even when old versions are pruned or found damaged.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from orkiosk.store.files import StoreError, write_json_atomic

INDEX_NAME = "versions.json"
CURRENT_NAME = "current"
LOCK_NAME = ".lock"
STAGING, PLANS, QUARANTINE, AUDIT = "staging", "plans", "quarantine", "audit"
TMP_PREFIX = ".tmp-"
FORMAT = 1
SHA_RE = re.compile(r"[0-9a-f]{64}")
CASE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # the schema's id pattern
VERSION_DIR_RE = re.compile(r"([1-9][0-9]{0,9})-([0-9a-f]{64})")


@dataclass(frozen=True)
class Committed:
    """One committed plan: what it is, when it was committed (ISO UTC) and where it lies."""

    case_id: str
    plan_version: int
    manifest_sha256: str
    committed_at: str
    path: Path


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_from_timestamp(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_sha(sha: str) -> str:
    if not isinstance(sha, str) or not SHA_RE.fullmatch(sha):
        raise StoreError(
            f"{sha!r} is not a manifest SHA-256 (64 lowercase hexadecimal digits expected)"
        )
    return sha


def check_case_id(case_id: str) -> str:
    """A case id names a folder: only a safe single path component is accepted."""
    if not isinstance(case_id, str) or not CASE_RE.fullmatch(case_id):
        raise StoreError(
            f"case id {case_id!r} cannot be stored: it must be 1 to 64 letters, digits, '.', '_' "
            "or '-' starting with a letter or digit (it names a folder)"
        )
    return case_id


def version_dir_name(version: int, sha: str) -> str:
    return f"{version}-{sha}"


def parse_version_dir(name: str) -> tuple[int, str] | None:
    m = VERSION_DIR_RE.fullmatch(name)
    return (int(m.group(1)), m.group(2)) if m else None


def empty_index() -> dict:
    return {"format": FORMAT, "highest": {}, "plans": []}


def read_index(state_dir: Path) -> dict:
    """versions.json, checked; a missing file is an empty record. Raises StoreError if damaged."""
    path = state_dir / INDEX_NAME
    try:
        doc = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return empty_index()
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise StoreError(f"{path}: cannot be read ({exc})") from None
    problem = _index_problem(doc)
    if problem:
        raise StoreError(f"{path}: damaged ({problem})")
    return doc


def _index_problem(doc) -> str | None:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        return f"not a format {FORMAT} record"
    highest, plans = doc.get("highest"), doc.get("plans")
    if not isinstance(highest, dict) or not isinstance(plans, list):
        return "'highest' must be an object and 'plans' a list"
    for case, v in highest.items():
        if not CASE_RE.fullmatch(case) or not isinstance(v, int) or v < 1:
            return f"bad highest version for {case!r}"
    for e in plans:
        keys = ("case_id", "plan_version", "manifest_sha256", "committed_at", "dir")
        if not isinstance(e, dict) or any(k not in e for k in keys):
            return "a plan entry lacks case_id, plan_version, manifest_sha256, committed_at or dir"
        if e["dir"] != entry_dir(e["case_id"], e["plan_version"], e["manifest_sha256"]):
            return f"the entry for {e['dir']!r} does not match its own fields"
    return None


def write_index(state_dir: Path, doc: dict) -> None:
    doc["plans"].sort(key=lambda e: (e["case_id"], -e["plan_version"]))
    write_json_atomic(state_dir / INDEX_NAME, doc)


def entry_dir(case_id, version, sha) -> str:
    if not (isinstance(case_id, str) and CASE_RE.fullmatch(case_id)):
        return ""
    if not (isinstance(version, int) and isinstance(sha, str) and SHA_RE.fullmatch(sha)):
        return ""
    return f"{PLANS}/{case_id}/{version_dir_name(version, sha)}"


def make_entry(case_id: str, version: int, sha: str, committed_at: str) -> dict:
    return {
        "case_id": case_id,
        "plan_version": version,
        "manifest_sha256": sha,
        "committed_at": committed_at,
        "dir": entry_dir(case_id, version, sha),
    }


def find_entry(doc: dict, *, sha: str | None = None, rel_dir: str | None = None) -> dict | None:
    for e in doc["plans"]:
        if (sha is not None and e["manifest_sha256"] == sha) or (
            rel_dir is not None and e["dir"] == rel_dir
        ):
            return e
    return None


def to_committed(state_dir: Path, entry: dict) -> Committed:
    return Committed(
        case_id=entry["case_id"],
        plan_version=entry["plan_version"],
        manifest_sha256=entry["manifest_sha256"],
        committed_at=entry["committed_at"],
        path=state_dir / entry["dir"],
    )


def current_rel(state_dir: Path) -> str | None:
    """Where `current` points (relative to state_dir), or None when there is no current plan.

    Raises StoreError when the link is not one the store made."""
    link = state_dir / CURRENT_NAME
    try:
        target = link.readlink()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"{link}: not a link made by the plan store ({exc.strerror})") from None
    parts = target.parts
    if (
        len(parts) != 3
        or parts[0] != PLANS
        or not CASE_RE.fullmatch(parts[1])
        or not parse_version_dir(parts[2])
    ):
        raise StoreError(f"{link}: points to {str(target)!r}, not to a committed plan")
    return target.as_posix()


def entry_from_rel(state_dir: Path, rel: str, doc: dict) -> dict:
    """The record of a committed folder; one not (yet) recorded gets its folder's time."""
    found = find_entry(doc, rel_dir=rel)
    if found is not None:
        return found
    _, case_id, name = rel.split("/")
    version, sha = parse_version_dir(name)
    try:
        when = utc_from_timestamp((state_dir / rel).stat().st_mtime)
    except OSError:
        when = ""
    return make_entry(case_id, version, sha, when)
