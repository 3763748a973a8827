"""Runs an analysis (a sweep, a sensitivity analysis) in a worker thread and hands its events to a screen.

Results and the final event go out at once; progress (every batch of every experiment the analysis runs) only
a few times a second, and only the newest, which is all a progress line shows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Protocol

from prunetui.app.thread_runner import FLUSH_INTERVAL, ThreadRunner
from prunetui.describe import describe, phase_words
from prunetui.engine.analyses import AnalysisEvent, Ended, Progress
from prunetui.engine.core.errors import PrunetuiError
from prunetui.engine.core.events import EpochEnd, StepLoss


class Analysis(Protocol):
    def run(self) -> Iterator[AnalysisEvent]: ...

    def stop(self) -> None: ...


class AnalysisRunner(ThreadRunner[AnalysisEvent]):
    """`build` makes the analysis in the worker thread (it imports torch)."""

    def __init__(
        self,
        build: Callable[[], Analysis],
        deliver: Callable[[tuple[AnalysisEvent, ...]], object],
        interval: float = FLUSH_INTERVAL,
    ) -> None:
        super().__init__(deliver, interval)
        self._build = build

    def _run(self) -> None:
        try:
            analysis = self._build()
        except PrunetuiError as error:
            self._deliver((Ended("failed", str(error)),))
            return
        self.attach(analysis)
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
        batch = f", batch {event.batch}/{event.batches}" if isinstance(event, StepLoss) else ""
        return f"{progress.stage}: {phase_words(event.phase).noun} epoch {event.epoch}/{event.epochs}{batch}"
    return f"{progress.stage}: {describe(event) or type(event).__name__.lower()}"
