"""What the experiment and analysis runners share: a job built and run in a worker thread, stopped from any."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

FLUSH_INTERVAL = 0.5  # seconds between batches of progress events: the panels repaint twice a second

T = TypeVar("T")


class Stoppable(Protocol):
    def stop(self) -> None: ...


class ThreadRunner(Generic[T]):
    """`run()` in a worker thread, `stop()` from any thread. `deliver` takes a batch of events; it must be
    thread-safe and must not block (post a message). A stop asked for before the thread has built its job (an
    experiment, an analysis: building one imports torch) reaches the job as soon as it is `attach`ed."""

    def __init__(self, deliver: Callable[[tuple[T, ...]], object], interval: float = FLUSH_INTERVAL) -> None:
        self._deliver = deliver
        self._interval = interval
        self._lock = threading.Lock()
        self._stop_requested = False
        self._job: Stoppable | None = None

    def run(self) -> None:
        """Build the job and run it to its end, delivering its events; called in the worker thread."""
        raise NotImplementedError

    def stop(self) -> None:
        with self._lock:
            self._stop_requested = True
            if self._job is not None:
                self._job.stop()

    def attach(self, job: Stoppable) -> None:
        with self._lock:
            self._job = job
            if self._stop_requested:
                job.stop()
