"""The jobs of a sweep, for any executor: train a seed's dense model; prune, fine-tune and record one point.

Module-level functions of plain, picklable arguments, so a worker process or a Ray task on another machine runs
them as well as this process. A point records its run in a temporary directory where it runs and returns the
files' bytes with its row: the caller writes them under its own sweep directory.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from prunetui.engine.analyses import SweepPoint
from prunetui.engine.analyses.executor import JobContext, JobError
from prunetui.engine.core.config import ExperimentConfig
from prunetui.engine.core.events import Event, Failed, Finished, Pruned, Stopped
from prunetui.engine.core.experiment import Experiment
from prunetui.engine.core.models import build_model
from prunetui.engine.core.networks.checks import build_checked
from prunetui.engine.core.networks.cost import Cost
from prunetui.engine.core.networks.spec import InputShape
from prunetui.engine.storage.export import permanent_state
from prunetui.engine.storage.recording import record_run
from prunetui.engine.storage.scratch import scratch_directory

State = dict[str, torch.Tensor]


@dataclass(frozen=True, slots=True)
class DataPlace:
    """Where jobs find the data set besides the config's data directory."""

    system_data_dir: Path | None = None
    download: bool = True


@dataclass(frozen=True, slots=True)
class DenseJob:
    config: ExperimentConfig  # the dense config of one seed
    place: DataPlace


@dataclass(frozen=True, slots=True)
class PointJob:
    method: str
    sparsity: float
    config: ExperimentConfig  # the point's own config
    dense: State | None  # the seed's trained dense model; None for schedules that train from scratch (agp)
    dense_epochs: int  # the epochs it was trained: the point goes on from there as a run would
    dense_accuracy: float
    place: DataPlace


@dataclass(frozen=True, slots=True)
class PointResult:
    point: SweepPoint
    run_files: dict[str, bytes]  # the point's saved run: config.toml, history.csv, summary.json, model.pt, …


def train_dense(job: DenseJob, context: JobContext) -> Generator[Event, None, State]:
    """The trained dense model's weights, on the CPU."""
    experiment = experiment_for(job.config, job.place, context)
    yield from _to_the_end(experiment.run(), experiment, context)
    assert experiment.model is not None  # it finished
    return permanent_state(experiment.model)


def prune_point(job: PointJob, context: JobContext) -> Generator[Event, None, PointResult]:
    """Prune the dense model to the point's sparsity and fine-tune it, saving the run as `prunetui run` would."""
    experiment = experiment_for(job.config, job.place, context, job.dense, job.dense_epochs)
    with scratch_directory("prunetui-point-") as temporary:
        directory = temporary / "run"
        events = record_run(experiment, directory)
        pruned: list[Pruned] = []
        finished = yield from _to_the_end(events, experiment, context, pruned)
        files = saved_files(directory)
    summary = finished.summary
    assert summary.accuracy is not None and summary.test_loss is not None  # evaluated: it finished
    point = SweepPoint(
        job.method,
        job.config.sparsity,
        job.config.seed,
        summary.sparsity.global_sparsity,
        summary.compression,
        job.dense_accuracy,
        pruned[-1].accuracy,
        summary.accuracy,
        summary.test_loss,
        summary.seconds,
        summary.weight_compression,
        macs_kept(summary.dense_cost, summary.cost),
    )
    return PointResult(point, files)


def experiment_for(
    config: ExperimentConfig,
    place: DataPlace,
    context: JobContext,
    start_from: State | None = None,
    trained_epochs: int = 0,
) -> Experiment:
    if context.device:
        config = config.replace(device=context.device)
    return Experiment(
        config,
        system_data_dir=place.system_data_dir,
        download=place.download,
        start_from=start_from,
        trained_epochs=trained_epochs,
    )


def trained_model(config: ExperimentConfig, shape: InputShape, state: State) -> nn.Module:
    """`config`'s network built for the data's `shape` (the LeNets as they always are), holding `state`."""
    model = (
        build_model(config.model, input_shape=shape) if config.layers_known else build_checked(config.network, shape)
    )
    model.load_state_dict(state)
    return model


def saved_files(directory: Path) -> dict[str, bytes]:
    """The files of a run recorded in `directory`, by name, to be written elsewhere (the lock left out)."""
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())
            if path.is_file() and not path.name.startswith(".")}  # fmt: skip


def forward(
    events: Iterable[Event], experiment: Experiment, context: JobContext, pruned: list[Pruned] | None = None
) -> Generator[Event, None, Event]:
    """Forward the experiment's events, stopping it (between batches) once the job is cancelled; the last one."""
    event = None
    for event in events:
        if context.stop.is_set():
            experiment.stop()
        if isinstance(event, Pruned) and pruned is not None:
            pruned.append(event)
        yield event
    assert event is not None, "an experiment always ends with Finished, Stopped or Failed"
    return event


def macs_kept(dense: Cost | None, cost: Cost | None) -> float | None:
    """The pruned network's MACs of non-zero weights over the dense network's MACs, per image."""
    return cost.nonzero_macs / dense.macs if dense and cost and dense.macs else None


def _to_the_end(
    events: Iterable[Event], experiment: Experiment, context: JobContext, pruned: list[Pruned] | None = None
) -> Generator[Event, None, Finished]:
    """`forward`, then JobError unless the experiment finished."""
    event = yield from forward(events, experiment, context, pruned)
    if isinstance(event, Stopped):
        raise JobError("stopped")
    if isinstance(event, Failed):
        raise JobError(event.message)
    assert isinstance(event, Finished)
    return event
