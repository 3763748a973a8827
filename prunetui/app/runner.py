"""Runs one experiment in the worker thread, saved under the runs root, and hands its events to the UI in batches."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from prunetui.engine.config import ExperimentConfig
from prunetui.engine.errors import PrunetuiError
from prunetui.engine.events import Event, Failed, Finished, Pruned, Rewound, RunStarted, Status, Stopped
from prunetui.engine.runs import new_run_dir, runs_root

if TYPE_CHECKING:
    from prunetui.engine.experiment import Experiment

FLUSH_INTERVAL = 0.25  # seconds between batches of progress events
# Events the user should see at once; the run always ends with one of the last three, so nothing is left over.
URGENT = (Status, RunStarted, Pruned, Rewound, Finished, Stopped, Failed)


class ExperimentRunner:
    """`run()` in a worker thread, `stop()` from any thread. `deliver` must be thread-safe and must not block."""

    def __init__(
        self,
        config: ExperimentConfig,
        deliver: Callable[[tuple[Event, ...]], object],
        interval: float = FLUSH_INTERVAL,
    ) -> None:
        self.config = config
        self._deliver = deliver
        self._interval = interval
        self._lock = threading.Lock()
        self._stop_requested = False
        self._experiment: Experiment | None = None

    def stop(self) -> None:
        """Ask the run to end between batches, even if the experiment does not exist yet."""
        with self._lock:
            self._stop_requested = True
            if self._experiment is not None:
                self._experiment.stop()

    def run(self) -> None:
        from prunetui.engine.experiment import Experiment  # torch loads here, long after the first paint
        from prunetui.engine.recording import record_run

        try:
            experiment = Experiment(self.config)
            directory = new_run_dir(runs_root(), self.config)
        except PrunetuiError as error:
            self._deliver((Failed(str(error), None),))
            return
        with self._lock:
            self._experiment = experiment
            if self._stop_requested:
                experiment.stop()
        pending: list[Event] = [Status(f"saving the run in {directory}")]
        flushed = time.monotonic()
        for event in record_run(experiment, directory):
            pending.append(event)
            now = time.monotonic()
            if isinstance(event, URGENT) or now - flushed >= self._interval:
                self._deliver(tuple(pending))
                pending, flushed = [], now
