"""What opening a plan store checks and repairs (run under the store's lock).

- versions.json damaged: rebuilt from the committed folders (rollback protection then starts from
  the versions still on disk; said in the log).
- A commit cut short: plans/<case>/.tmp-<sha>/ is removed; a committed folder that never became
  current (and is not recorded) is removed; a folder that did become current but was not yet
  recorded is recorded (the commit had reached its switch, so the new plan stands).
- The current plan is verified (load_package). A damaged one is moved to quarantine/ and the newest
  good kept version of the same case becomes current (or none is current).
- History beyond `history` versions per case is pruned (never the current one).
- Stale staging is removed: older than 24 h, a plan not newer than what is committed, or
  unreadable. Everything else is kept so a transfer can resume.

Returns one log line per repair; the lines name case ids and versions, never patient data.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from pathlib import Path

from orkiosk.plan.package import MANIFEST_NAME, PackageError, load_package
from orkiosk.store.files import StoreError, newest_mtime, remove_tree, replace_symlink
from orkiosk.store.index import (
    CASE_RE,
    CURRENT_NAME,
    PLANS,
    QUARANTINE,
    SHA_RE,
    STAGING,
    TMP_PREFIX,
    current_rel,
    entry_from_rel,
    find_entry,
    parse_version_dir,
    read_index,
    write_index,
)

STAGING_MAX_AGE_S = 24 * 3600


def recover(root: Path, history: int) -> list[str]:
    notes: list[str] = []
    doc, changed = _index_or_rebuild(root, notes)
    for stray in root.glob(".*.tmp-*"):  # a link or versions.json cut short before its rename
        remove_tree(stray)
    on_disk = _committed_dirs(root, notes)
    rel = _current_or_none(root, notes)
    if rel is not None and find_entry(doc, rel_dir=rel) is None and rel in on_disk:
        entry = entry_from_rel(root, rel, doc)
        doc["plans"].append(entry)
        _raise_highest(doc, entry)
        notes.append(f"recorded {rel}: the commit was cut short after it became current")
        changed = True
    if rel is not None:
        changed |= _check_current(root, doc, rel, notes)
        rel = current_rel(root)
        on_disk = {d for d in on_disk if (root / d).is_dir()}
    for e in list(doc["plans"]):
        if e["dir"] not in on_disk:
            doc["plans"].remove(e)
            notes.append(f"{e['dir']}: recorded but missing; dropped from the record")
            changed = True
    for d in sorted(on_disk - {e["dir"] for e in doc["plans"]} - {rel}):
        remove_tree(root / d)
        notes.append(f"{d}: removed (a commit cut short before it became current)")
    doomed = prune(doc, history, rel)
    if changed or doomed:
        write_index(root, doc)
    for d in doomed:
        remove_tree(root / d)
    _clean_staging(root, doc, notes)
    return notes


def prune(doc: dict, history: int, current: str | None) -> list[str]:
    """Drop all but the newest `history` versions of each case from the record (never the
    current one); returns the folders to remove once the record is written."""
    doomed = []
    for case in {e["case_id"] for e in doc["plans"]}:
        entries = sorted(
            (e for e in doc["plans"] if e["case_id"] == case), key=lambda e: -e["plan_version"]
        )
        for e in entries[history:]:
            if e["dir"] != current:
                doc["plans"].remove(e)
                doomed.append(e["dir"])
    return doomed


def _raise_highest(doc: dict, entry: dict) -> None:
    case, v = entry["case_id"], entry["plan_version"]
    doc["highest"][case] = max(doc["highest"].get(case, 0), v)


def _index_or_rebuild(root: Path, notes: list[str]) -> tuple[dict, bool]:
    try:
        return read_index(root), False
    except StoreError as exc:
        notes.append(
            f"{exc}; rebuilt from the committed folders (rollback protection restarts "
            "from the versions still on disk)"
        )
    doc = {"format": 1, "highest": {}, "plans": []}
    for rel in sorted(_committed_dirs(root, [])):
        entry = entry_from_rel(root, rel, doc)
        doc["plans"].append(entry)
        _raise_highest(doc, entry)
    return doc, True


def _committed_dirs(root: Path, notes: list[str]) -> set[str]:
    """Committed folders on disk (relative); removes half-written ones (.tmp-*) on the way."""
    found = set()
    for case_dir in sorted((root / PLANS).iterdir()):
        if not case_dir.is_dir() or case_dir.is_symlink() or not CASE_RE.fullmatch(case_dir.name):
            continue
        for child in sorted(case_dir.iterdir()):
            if child.name.startswith(TMP_PREFIX):
                remove_tree(child)
                notes.append(f"{child.relative_to(root)}: half-written commit removed")
            elif parse_version_dir(child.name) and child.is_dir() and not child.is_symlink():
                found.add(child.relative_to(root).as_posix())
    return found


def _current_or_none(root: Path, notes: list[str]) -> str | None:
    try:
        return current_rel(root)
    except StoreError as exc:
        (root / CURRENT_NAME).unlink()
        notes.append(f"{exc}; removed")
        return None


def _check_current(root: Path, doc: dict, rel: str, notes: list[str]) -> bool:
    """Verify the current plan; set a damaged one aside and fall back. True if anything changed."""
    reason = _damage(root / rel)
    if reason is None:
        return False
    case = rel.split("/")[1]
    fallback = None
    for e in sorted(doc["plans"], key=lambda e: -e["plan_version"]):
        if e["case_id"] == case and e["dir"] != rel and _damage(root / e["dir"]) is None:
            fallback = e
            break
    if fallback is not None:
        replace_symlink(root / CURRENT_NAME, fallback["dir"])
    else:
        (root / CURRENT_NAME).unlink()
    aside = root / QUARANTINE / f"{case}-{Path(rel).name}-{int(time.time())}"
    with contextlib.suppress(FileNotFoundError):
        os.rename(root / rel, aside)
    entry = find_entry(doc, rel_dir=rel)
    if entry is not None:
        doc["plans"].remove(entry)
    instead = (
        f"version {fallback['plan_version']} is current again"
        if fallback
        else "no good version is left, so no plan is current"
    )
    notes.append(f"the current plan {rel} is damaged ({reason}); set aside in {aside}; {instead}")
    return True


def _damage(path: Path) -> str | None:
    if not path.is_dir():
        return "its folder is missing"
    try:
        load_package(path)
    except PackageError as exc:
        return exc.headline
    return None


def _clean_staging(root: Path, doc: dict, notes: list[str]) -> None:
    now = time.time()
    for d in sorted((root / STAGING).iterdir()):
        reason = _stale_reason(d, doc, now)
        if reason:
            remove_tree(d)
            notes.append(f"staging {d.name[:12]}: removed ({reason})")


def _stale_reason(d: Path, doc: dict, now: float) -> str | None:
    if d.is_symlink() or not d.is_dir() or not SHA_RE.fullmatch(d.name):
        return "not a staging folder"
    try:
        if now - newest_mtime(d) > STAGING_MAX_AGE_S:
            return "older than 24 h"
        manifest = d / MANIFEST_NAME
        if not manifest.exists():
            return None
        data = manifest.read_bytes()
    except OSError as exc:
        return f"unreadable: {exc.strerror}"
    if hashlib.sha256(data).hexdigest() != d.name:
        return "its plan.json is not the manifest it is named after"
    try:
        m = json.loads(data)
        case, version = m["case_id"], m["plan_version"]
    except (ValueError, TypeError, KeyError):
        return "its plan.json is unreadable"
    if not isinstance(case, str) or not isinstance(version, int):
        return "its plan.json is unreadable"
    if find_entry(doc, sha=d.name) is not None:
        return "already committed"
    highest = doc["highest"].get(case)
    if highest is not None and version <= highest:
        return f"version {version} is not newer than version {highest} committed"
    return None
