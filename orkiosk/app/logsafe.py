"""Package paths for the general log, without what a person typed into them.

Whoever makes a package folder names it, often after the patient ("DOE_JOHN_v2"), so a path is
never logged as given: a folder of a plan store keeps its store-relative name (made by the store
from the verified plan: plans/<case id>/<version>-<sha>, staging/<sha>), anything else becomes
"package <8 hex>" (from the SHA-256 of the absolute path, so the lines about one folder can
still be matched up). The audit log, the clinical record, names patients and keeps paths.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

_SHA = re.compile(r"[0-9a-f]{64}")
_VERSION_DIR = re.compile(r"(\d+)-([0-9a-f]{64})")


def path_for_log(path) -> str:
    p = Path(path).absolute()
    parts = p.parts
    if len(parts) >= 3 and parts[-3] == "plans" and _VERSION_DIR.fullmatch(parts[-1]):
        version, sha = _VERSION_DIR.fullmatch(parts[-1]).groups()
        return f"plans/{parts[-2]}/{version}-{sha[:12]}"
    if len(parts) >= 2 and parts[-2] == "staging" and _SHA.fullmatch(parts[-1]):
        return f"staging/{parts[-1][:12]}"
    return "package " + hashlib.sha256(str(p).encode("utf-8", "surrogateescape")).hexdigest()[:8]
