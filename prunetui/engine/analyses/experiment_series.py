"""Running experiments one after another inside an analysis, with one stop() that reaches whichever runs."""

from __future__ import annotations

import threading
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from prunetui.engine.analyses import Progress, dense_config
from prunetui.engine.core.config import ExperimentConfig
from prunetui.engine.core.events import Failed, Finished, Pruned, RunSummary, Stopped
from prunetui.engine.core.experiment import Experiment
from prunetui.engine.storage.export import permanent_state


class Interrupted(Exception):
    """The analysis ends early: status "stopped" or "failed", with a one-line message."""

    def __init__(self, status: str, message: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class FinishedExperiment:
    """An experiment that finished: its model (masks attached), summary and prune rounds."""

    model: nn.Module
    summary: RunSummary
    pruned: tuple[Pruned, ...]


class ExperimentSeries:
    """Base of the analyses: runs their experiments, forwarding each event as Progress."""

    def __init__(self, *, system_data_dir: Path | None = None, download: bool = True) -> None:
        self._system_data_dir = system_data_dir
        self._download = download
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._current: Experiment | None = None

    def stop(self) -> None:
        """Ask the analysis to end soon (the running experiment between batches). Safe from any thread."""
        self._stop.set()
        with self._lock:
            if self._current is not None:
                self._current.stop()

    def check_stop(self) -> None:
        if self._stop.is_set():
            raise Interrupted("stopped")

    def experiment(
        self, stage: str, config: ExperimentConfig, start_from: Mapping[str, torch.Tensor] | None = None
    ) -> Generator[Progress, None, FinishedExperiment]:
        """Run one experiment to its end; a stop or a failure ends the analysis with Interrupted."""
        self.check_stop()
        experiment = Experiment(
            config, system_data_dir=self._system_data_dir, download=self._download, start_from=start_from
        )
        with self._lock:
            self._current = experiment
        pruned = []
        try:
            for event in experiment.run():
                if isinstance(event, Pruned):
                    pruned.append(event)
                yield Progress(stage, event)
        finally:
            with self._lock:
                self._current = None
        if isinstance(event, Stopped):
            raise Interrupted("stopped")
        if isinstance(event, Failed):
            raise Interrupted("failed", f"{stage}: {event.message}")
        assert isinstance(event, Finished) and experiment.model is not None
        return FinishedExperiment(experiment.model, event.summary, tuple(pruned))

    def train_dense(self, config: ExperimentConfig) -> Generator[Progress, None, dict[str, torch.Tensor]]:
        """Train `config`'s model without pruning; its weights, on the CPU."""
        finished = yield from self.experiment("dense model", dense_config(config))
        return permanent_state(finished.model)
