"""Where to enter, for the workbench's model: the EntryMap of the plan's skin and critical
structures, built on a worker thread (a few seconds) whenever the critical set changes, and the
scores for one target at a time (about 0.1 s). Kivy-free."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

from orkiosk.edit.entrymap import EntryMap, EntryScores
from orkiosk.plan.mesh import Mesh


class EntryGuide:
    def __init__(self) -> None:
        self.scores: EntryScores | None = None
        self._map: Future | None = None
        self._key: tuple | None = None  # (target, margin) of the scores

    def build(self, skin: Mesh | None, critical: list[Mesh]) -> None:
        """Start building the map for this skin and critical set (None: no skin, no map)."""
        self.scores, self._key, self._map = None, None, None
        if skin is not None:
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="orkiosk-entrymap")
            self._map = pool.submit(EntryMap, skin, critical)
            pool.shutdown(wait=False)

    @property
    def available(self) -> bool:
        return self._map is not None

    @property
    def ready(self) -> bool:
        return self._map is not None and self._map.done()

    def wait(self, timeout: float | None = None) -> None:
        if self._map is not None:
            self._map.result(timeout)

    def score(self, target, margin_mm: float) -> bool:
        """Scores for `target` (None: hide). True when the scores changed."""
        if target is None or not self.ready:
            changed, self.scores, self._key = self.scores is not None, None, None
            return changed
        key = (tuple(target), margin_mm)
        if key == self._key:
            return False
        self.scores = self._map.result().compute(target, margin_mm=margin_mm)
        self._key = key
        return True
