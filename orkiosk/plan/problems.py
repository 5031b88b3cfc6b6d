"""What makes a package unusable: PackageError, one readable line per problem, with the one
decisive sentence the OR screen shows (`headline`) and the lines the log may keep (`log_lines`)."""

from __future__ import annotations

import re

from orkiosk.errors import OrkioskError

MANIFEST_NAME = "plan.json"
MAX_PROBLEMS = 25
_PLACE = r"\(top level\)|[A-Za-z_][\w.\[\]-]*( \([^)]*\))?"  # "structures[2].mesh", ...


class PackageError(OrkioskError):
    """A package that must not be shown. `problems` holds one line per thing found wrong."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__(
            self.problems[0]
            if len(self.problems) == 1
            else f"{len(self.problems)} problems: " + "; ".join(self.problems)
        )

    @property
    def headline(self) -> str:
        """The decisive problem as one short clause for the OR screen ("the file X is damaged
        (SHA-256 checksum mismatch)"); `problems` keeps every line for the log. Damaged or
        missing files and signatures come before manifest details; manifest lines are named by
        their place only, never by their values (they may hold another patient's name)."""
        lines = self.problems or ["unknown problem"]
        rules = (
            (
                " SHA-256 mismatch",
                "the file {f} is damaged or was changed (SHA-256 checksum mismatch)",
            ),
            ("plan.sig:", "{r}"),
            (": listed in plan.json but missing", "the file {f} is missing"),
            (": size is ", "the file {f} has the wrong size (damaged or incomplete)"),
            (": bad mesh", "the file {f} is not a readable 3D mesh"),
            (": bad image", "the file {f} is not a usable image volume"),
            (": is a symbolic link", "the file {f} is a link, which a package may not hold"),
            (": path leaves the package", "the file {f} lies outside the package"),
        )
        for marker, text in rules:
            for line in lines:
                if marker in line:
                    f, _, r = line.partition(": ")
                    return text.format(f=f, r=f"the signature check failed ({r})")
        first = lines[0]
        where = first.split(": ", 2)[1] if first.count(": ") >= 2 else ""
        if first.startswith(f"{MANIFEST_NAME}: ") and re.fullmatch(_PLACE, where):
            rest = first.split(": ", 2)[2]
            private = where.startswith(("patient", "(top level)"))
            many = (
                f"{len(lines)} problems, the first at {where}"
                if len(lines) > 1
                else where
                if private
                else f"{where}: {rest}"
            )
            return f"the plan file {MANIFEST_NAME} is not valid ({many})"
        return first if len(lines) == 1 else f"{first} (and {len(lines) - 1} more problems)"

    @property
    def log_lines(self) -> list[str]:
        """Every problem for the log, with the quoted values of patient fields (and of whole
        documents) blanked: names and birth dates do not belong in a log."""
        out = []
        for line in self.problems:
            if line.startswith((f"{MANIFEST_NAME}: patient", f"{MANIFEST_NAME}: (top level)")):
                line = re.sub(r"'[^']*'|\"[^\"]*\"|\{.*\}", "'...'", line)
            out.append(line)
        return out
