"""Runs one experiment, or a seed group, in the worker thread, saved under the runs root, and hands its events to the
UI in batches."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prunetui.app.thread_runner import FLUSH_INTERVAL, ThreadRunner
from prunetui.engine.core.config import ExperimentConfig
from prunetui.engine.core.errors import PrunetuiError
from prunetui.engine.core.events import Event, Failed, Finished, Pruned, Rewound, RunStarted, Status, Stopped
from prunetui.engine.storage.runs import claim_new_run_dir, discard_failed_start, runs_root

if TYPE_CHECKING:
    from prunetui.engine.analyses import SeedGroupEvent
    from prunetui.engine.core.presets import Preset

# Events the user should see at once; the run always ends with one of the last three, so nothing is left over.
URGENT = (Status, RunStarted, Pruned, Rewound, Finished, Stopped, Failed)


class ExperimentRunner(ThreadRunner[Event]):
    def __init__(
        self,
        config: ExperimentConfig,
        deliver: Callable[[tuple[Event, ...]], object],
        interval: float = FLUSH_INTERVAL,
        *,
        root: Path | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(deliver, interval)
        self.config = config
        self.root = runs_root(root)  # the run is saved under it
        self.extra = extra  # for its summary.json: the preset it comes from

    def _run(self) -> None:
        self._deliver((Status("importing torch …"),))  # a second or more on a cold start
        from prunetui.engine.core.experiment import Experiment  # torch loads here, long after the first paint
        from prunetui.engine.storage.recording import record_claimed

        try:
            experiment = Experiment(self.config)
            lock = claim_new_run_dir(self.root, self.config)
            directory = lock.directory
            events = record_claimed(experiment, lock, extra=self.extra)
        except PrunetuiError as error:
            self._deliver((Failed(str(error), None),))
            return
        self.attach(experiment)
        pending: list[Event] = [Status(f"saving the run in {directory}")]
        flushed = time.monotonic()
        for event in events:
            pending.append(event)
            now = time.monotonic()
            if isinstance(event, URGENT) or now - flushed >= self._interval:
                self._deliver(tuple(pending))
                pending, flushed = [], now
        with contextlib.suppress(PrunetuiError):  # a start that failed before training is no run to keep
            discard_failed_start(directory, event)


class SeedGroupRunner(ThreadRunner["SeedGroupEvent"]):
    """Runs a seed group (`engine.analyses.seed_group`) in the worker thread, its runs saved under the runs root,
    one after another in this thread; each seed's events are handed over as a run's are, wrapped in Progress."""

    def __init__(
        self,
        configs: Sequence[ExperimentConfig],
        deliver: Callable[[tuple[SeedGroupEvent, ...]], object],
        interval: float = FLUSH_INTERVAL,
        *,
        root: Path | None = None,
        preset: Preset | None = None,
    ) -> None:
        super().__init__(deliver, interval)
        self.configs = configs
        self.root = runs_root(root)
        self.preset = preset

    def _run(self) -> None:
        from prunetui.engine.analyses import Progress, seed_stage
        from prunetui.engine.analyses.seed_group import SeedGroup  # torch loads here

        first = self.configs[0]
        self._deliver((Progress(seed_stage(first.seed), Status("importing torch …")),))
        group = SeedGroup(self.configs, self.root, preset=self.preset)
        self.attach(group)
        pending: list[SeedGroupEvent] = []
        flushed = time.monotonic()
        for event in group.run():
            pending.append(event)
            now = time.monotonic()
            urgent = not isinstance(event, Progress) or isinstance(event.event, URGENT)
            if urgent or now - flushed >= self._interval:
                self._deliver(tuple(pending))
                pending, flushed = [], now
