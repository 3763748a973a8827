"""What the experiment and analysis runners share: a job built and run in a worker thread, stopped from any."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar, Generic, Protocol, TypeVar

FLUSH_INTERVAL = 0.5  # seconds between batches of progress events: the panels repaint twice a second

T = TypeVar("T")


class Stoppable(Protocol):
    def stop(self) -> None: ...


class ThreadRunner(Generic[T]):
    """`run()` in a worker thread, `stop()` from any thread. `deliver` takes a batch of events; it must be
    thread-safe and must not block (post a message). A stop asked for before the thread has built its job (an
    experiment, an analysis: building one imports torch) reaches the job as soon as it is `attach`ed.
    `stop_all` stops every runner that is running, and waits for them to save what they ran (a SIGHUP)."""

    _running: ClassVar[set[ThreadRunner[Any]]] = set()
    _running_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, deliver: Callable[[tuple[T, ...]], object], interval: float = FLUSH_INTERVAL) -> None:
        self._deliver = deliver
        self._interval = interval
        self._lock = threading.Lock()
        self._stop_requested = False
        self._job: Stoppable | None = None
        self._ended = threading.Event()

    def run(self) -> None:
        """Build and run the job, in the calling (worker) thread, to its end."""
        with ThreadRunner._running_lock:
            ThreadRunner._running.add(self)
        try:
            self._run()
        finally:
            with ThreadRunner._running_lock:
                ThreadRunner._running.discard(self)
            self._ended.set()

    def _run(self) -> None:
        raise NotImplementedError

    @classmethod
    def stop_all(cls, timeout: float) -> bool:
        """Stop every running runner and wait up to `timeout` seconds for them to end (their runs saved);
        whether they all did. The threads that run them never wait for the caller's, so it may block."""
        with cls._running_lock:
            running = list(cls._running)
        for runner in running:
            runner.stop()
        deadline = time.monotonic() + timeout
        return all(runner._ended.wait(max(0.0, deadline - time.monotonic())) for runner in running)

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
