"""What the workbench's model announces (model.py), for the widgets that draw it."""

from __future__ import annotations

from dataclasses import dataclass

from orkiosk.edit.entrymap import EntryScores
from orkiosk.edit.readout import PathReadout


@dataclass(frozen=True)
class ToolChanged:
    tool: str
    hint: str


@dataclass(frozen=True)
class ReadoutChanged:
    readout: PathReadout | None


@dataclass(frozen=True)
class ItemSelected:
    """The item the name field and DELETE act on: ("trajectory" | "landmark", id) or None."""

    item: tuple[str, str] | None


@dataclass(frozen=True)
class EntryMapChanged:
    """The "where to enter" map: scores for every skin vertex (None: not shown)."""

    scores: EntryScores | None


@dataclass(frozen=True)
class StatusChanged:
    text: str
    level: str = "info"  # "info", "warn" or "error"


WorkbenchEvent = ToolChanged | ReadoutChanged | StatusChanged | EntryMapChanged | ItemSelected
