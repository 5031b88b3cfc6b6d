"""Draft plans on arrival: each series the node declares complete is matched against a few
rules (modality, body part, series description -> the build's presets) and built, on a worker,
into a draft package beside the inbox with the build's report picture, for the planner to open
in the workbench. A failed build is recorded with its reason; a series no rule matches is
recorded as such. Nothing here runs inside a C-STORE.

    DRAFTS/<series>/            the draft package (unsigned: the planner signs what they save)
    DRAFTS/<series>.png         the build's report picture
    DRAFTS/<series>.json        what happened: state built / failed / no-rule, reason, rule

Rules (`--rules FILE`, TOML; the first that matches wins):

    [[rule]]
    modality = "CT"                   # optional, exact (any case)
    body_part = "HEAD"                # optional, a part of BodyPartExamined (any case)
    description = "head|brain"        # optional, a regular expression on SeriesDescription
    presets = ["skin", "bone", "vessels"]
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from orkiosk.errors import OrkioskError
from orkiosk.planning.specs import PRESETS

DEFAULT_RULES = (
    {"modality": "CT", "presets": ["skin", "bone"]},
    {"modality": "MR", "presets": ["skin"]},
)
BUILD_TIMEOUT_S = 1800


class RulesError(OrkioskError):
    """A rules file that cannot be used."""


@dataclass(frozen=True)
class Rule:
    presets: tuple[str, ...]
    modality: str = ""
    body_part: str = ""
    description: str = ""

    def matches(self, s: dict) -> bool:
        if self.modality and s.get("modality", "").upper() != self.modality.upper():
            return False
        if self.body_part and self.body_part.upper() not in s.get("body_part", "").upper():
            return False
        return not self.description or bool(
            re.search(self.description, s.get("description", ""), re.IGNORECASE)
        )

    def text(self) -> str:
        keys = [f"{k}={getattr(self, k)!r}" for k in ("modality", "body_part", "description")]
        return " ".join(k for k in keys if not k.endswith("=''")) + f" -> {', '.join(self.presets)}"


def load_rules(path: Path | None) -> tuple[Rule, ...]:
    if path is None:
        docs = DEFAULT_RULES
    else:
        try:
            docs = tomllib.loads(Path(path).read_text("utf-8")).get("rule", [])
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise RulesError(f"{path}: not a readable rules file ({exc})") from None
    rules = []
    for n, d in enumerate(docs, 1):
        where = f"{path or 'default rules'}: rule {n}"
        presets = d.get("presets")
        if not isinstance(presets, list) or not presets:
            raise RulesError(f"{where}: needs presets = [...] (of {', '.join(PRESETS)})")
        unknown = [p for p in presets if p not in PRESETS]
        if unknown:
            raise RulesError(f"{where}: unknown presets {unknown} (known: {', '.join(PRESETS)})")
        extra = set(d) - {"modality", "body_part", "description", "presets"}
        if extra:
            raise RulesError(f"{where}: unknown keys {sorted(extra)}")
        try:
            re.compile(d.get("description", ""))
        except re.error as exc:
            raise RulesError(f"{where}: description is not a regular expression ({exc})") from None
        rules.append(
            Rule(
                tuple(presets),
                str(d.get("modality", "")),
                str(d.get("body_part", "")),
                str(d.get("description", "")),
            )
        )
    return tuple(rules)


class Drafts:
    """Builds drafts of complete series, one at a time, on a worker thread."""

    def __init__(self, inbox: Path, out: Path, rules: tuple[Rule, ...], log=print):
        self.inbox, self.out, self.rules, self.log = Path(inbox), Path(out), rules, log
        self.out.mkdir(parents=True, exist_ok=True)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="orkiosk-draft")
        self._asked: dict[str, int] = {}

    def record(self, series: str) -> dict | None:
        try:
            return json.loads((self.out / f"{series}.json").read_text("utf-8"))
        except (OSError, ValueError):
            return None

    def submit(self, s: dict):
        """A series just declared complete (a row of Inbox.series): build its draft, once per
        instance count."""
        done = self.record(s["series"])
        if self._asked.get(s["series"]) == s["instances"] or (
            done and done.get("instances") == s["instances"]
        ):
            return None
        self._asked[s["series"]] = s["instances"]
        return self._pool.submit(self._build, dict(s))

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def _build(self, s: dict) -> dict:
        series = s["series"]
        rule = next((r for r in self.rules if r.matches(s)), None)
        rec = {"series": series, "study": s["study"], "instances": s["instances"]}
        if rule is None:
            rec |= {"state": "no-rule", "reason": "no rule matches this series"}
            return self._write(rec)
        pkg = self.out / series
        cmd = [
            sys.executable,
            "-m",
            "orkiosk",
            "build",
            str(self.inbox / s["study"] / series),
            "-o",
            str(pkg),
            "--force",
            "--report",
            str(self.out / f"{series}.png"),
            "--quiet",
        ]
        for p in rule.presets:
            cmd += ["--preset", p]
        self.log(f"draft of series {series}: building ({rule.text()})")
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
            ok, reason = r.returncode == 0, _last_line(r.stderr)
        except subprocess.TimeoutExpired:
            ok, reason = False, f"the build took longer than {BUILD_TIMEOUT_S} s"
        rec |= {"rule": rule.text()}
        if ok:
            rec |= {
                "state": "built",
                "package": str(pkg),
                "report": str(self.out / f"{series}.png"),
            }
            self.log(f"draft of series {series}: ready at {pkg}")
        else:
            rec |= {"state": "failed", "reason": reason}
            self.log(f"draft of series {series}: FAILED: {reason}")
        return self._write(rec)

    def _write(self, rec: dict) -> dict:
        path = self.out / f"{rec['series']}.json"
        tmp = path.with_name(path.name + ".part")
        tmp.write_text(json.dumps(rec, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        return rec


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1][:500] if lines else "the build failed without a message"
