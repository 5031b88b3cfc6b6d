"""One planner's editing session on one package: the plan being edited, undo and redo, and typed
change events for whoever draws it (the workbench's views, `orkiosk edit`).

Every edit goes through `apply(label, change)`, where `change` is one of the pure operations of
`edit.operations` (Plan -> Plan). A refused edit raises EditError and changes nothing. Edits that
belong together (the steps of one drag) carry the same `merge` key and become one undo step. The
session's base is the package it opened (or last saved); `diff()` says what changed since.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from orkiosk.edit.operations import Bounds
from orkiosk.plan.diff import PlanDiff, diff_plans
from orkiosk.plan.model import Plan
from orkiosk.plan.package import Package

MAX_UNDO = 500


@dataclass(frozen=True)
class PlanEdited:
    """The plan changed: by an edit (`label`), an undo or a redo."""

    plan: Plan
    label: str
    how: str  # "edit", "undo", "redo"


@dataclass(frozen=True)
class HistoryChanged:
    undo_label: str | None  # what UNDO would undo, None when nothing
    redo_label: str | None


@dataclass(frozen=True)
class BaseChanged:
    """A new version was saved (or another package opened): diffs now start from it."""

    package: Package


Event = PlanEdited | HistoryChanged | BaseChanged


class EditSession:
    def __init__(self, package: Package):
        self.base = package
        self.plan = package.plan
        self.bounds = Bounds.of(package.plan, package.meshes)
        self._undo: list[tuple[Plan, str, str | None]] = []  # (plan before, label, merge key)
        self._redo: list[tuple[Plan, str]] = []
        self._listeners: list[Callable[[Event], None]] = []

    def subscribe(self, listener: Callable[[Event], None]) -> None:
        self._listeners.append(listener)

    def _send(self, *events: Event) -> None:
        for e in events:
            for listener in list(self._listeners):
                listener(e)

    # ------------------------------------------------------------ edits

    def apply(self, label: str, change: Callable[[Plan], Plan], merge: str | None = None) -> Plan:
        """Apply `change` to the plan; EditError leaves everything as it was."""
        new = change(self.plan)
        if new == self.plan:
            return self.plan
        before = self.plan
        if merge is not None and self._undo and self._undo[-1][2] == merge and not self._redo:
            before = self._undo.pop()[0]  # one drag, one undo step
        self._undo.append((before, label, merge))
        del self._undo[:-MAX_UNDO]
        self._redo.clear()
        self.plan = new
        self._send(PlanEdited(new, label, "edit"), self._history())
        return new

    def end_merge(self) -> None:
        """The drag ended: the next edit with the same key is a new undo step."""
        if self._undo and self._undo[-1][2] is not None:
            plan, label, _ = self._undo[-1]
            self._undo[-1] = (plan, label, None)

    def undo(self) -> bool:
        if not self._undo:
            return False
        before, label, _ = self._undo.pop()
        self._redo.append((self.plan, label))
        self.plan = before
        self._send(PlanEdited(before, label, "undo"), self._history())
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        after, label = self._redo.pop()
        self._undo.append((self.plan, label, None))
        self.plan = after
        self._send(PlanEdited(after, label, "redo"), self._history())
        return True

    def _history(self) -> HistoryChanged:
        return HistoryChanged(
            self._undo[-1][1] if self._undo else None, self._redo[-1][1] if self._redo else None
        )

    # ------------------------------------------------------------ what changed

    def diff(self) -> PlanDiff:
        """What changed since the base, as `orkiosk diff` and the kiosk's banner say it."""
        return diff_plans(self.base.plan, self.plan, self.base.meshes, self.base.meshes)

    @property
    def dirty(self) -> bool:
        return self.plan != self.base.plan

    def saved(self, package: Package) -> None:
        """The plan was saved as `package`: it becomes the base; the history stays."""
        self.base = package
        self.plan = package.plan
        self._send(BaseChanged(package), PlanEdited(package.plan, "save", "edit"))
