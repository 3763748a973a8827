"""Runs an analysis (a sweep, a sensitivity analysis) in a worker thread and hands its events to a screen.

Results and the final event go out at once; progress (every batch of every experiment the analysis runs) only
a few times a second, and only the newest, which is all a progress line shows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Protocol

from prunetui.describe import describe
from prunetui.engine.analyses import Ended, Progress
from prunetui.engine.errors import PrunetuiError
from prunetui.engine.events import EpochEnd, StepLoss

FLUSH_INTERVAL = 0.25  # seconds between progress updates


class Analysis(Protocol):
    def run(self) -> Iterator[object]: ...

    def stop(self) -> None: ...


class AnalysisRunner:
    """`run()` in a worker thread, `stop()` from any thread. `build` makes the analysis in the thread (it
    imports torch); `deliver` must be thread-safe and must not block."""

    def __init__(
        self,
        build: Callable[[], Analysis],
        deliver: Callable[[tuple[object, ...]], object],
        interval: float = FLUSH_INTERVAL,
    ) -> None:
        self._build = build
        self._deliver = deliver
        self._interval = interval
        self._lock = threading.Lock()
        self._stop_requested = False
        self._analysis: Analysis | None = None

    def stop(self) -> None:
        with self._lock:
            self._stop_requested = True
            if self._analysis is not None:
                self._analysis.stop()

    def run(self) -> None:
        try:
            analysis = self._build()
        except PrunetuiError as error:
            self._deliver((Ended("failed", str(error)),))
            return
        with self._lock:
            self._analysis = analysis
            if self._stop_requested:
                analysis.stop()
        flushed = 0.0
        for event in analysis.run():
            now = time.monotonic()
            if isinstance(event, Progress) and now - flushed < self._interval:
                continue
            self._deliver((event,))
            flushed = now


def progress_text(progress: Progress) -> str:
    """One line for where an analysis is: "l1:layer:one-shot at 90 %: fine-tuning epoch 1/1, batch 12/94"."""
    event = progress.event
    if isinstance(event, StepLoss | EpochEnd):
        where = "training" if event.phase == "train" else "fine-tuning"
        batch = f", batch {event.batch}/{event.batches}" if isinstance(event, StepLoss) else ""
        return f"{progress.stage}: {where} epoch {event.epoch}/{event.epochs}{batch}"
    return f"{progress.stage}: {describe(event) or type(event).__name__.lower()}"
