"""A progress bar on stderr and a stopwatch per stage, for the build command."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager


class Progress:
    """One line that redraws itself on a terminal; plain stage lines when stderr is a file."""

    def __init__(self, stream=None, enabled: bool = True, width: int = 28):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.width = width
        self._last = ""
        self._last_time = 0.0
        self._stage = ""

    def update(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if not self.tty:
            if stage != self._stage:
                self._stage = stage
                print(f"  {stage} ...", file=self.stream, flush=True)
            return
        now = time.monotonic()
        if done < total and now - self._last_time < 0.05 and stage == self._stage:
            return
        self._last_time = now
        self._stage = stage
        frac = 0.0 if total <= 0 else min(1.0, done / total)
        filled = int(round(frac * self.width))
        line = f"\r[{'#' * filled}{'.' * (self.width - filled)}] {frac * 100:5.1f}%  {stage}"
        pad = max(0, len(self._last) - len(line))
        self.stream.write(line + " " * pad)
        self.stream.flush()
        self._last = line

    def message(self, text: str) -> None:
        if not self.enabled:
            return
        self.clear()
        print(text, file=self.stream, flush=True)

    def clear(self) -> None:
        if self.tty and self._last:
            self.stream.write("\r" + " " * len(self._last) + "\r")
            self.stream.flush()
            self._last = ""


class Stopwatch:
    """Seconds per named stage, added up over repeated entries."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str):
        t = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - t

    @property
    def total(self) -> float:
        return sum(self.seconds.values())
