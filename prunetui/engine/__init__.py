"""The engine: models, data, training, pruning and metrics, reported as a stream of events. Grouped by what they
do: `core` (an experiment and what it needs), `pruning`, `storage` (runs on disk) and `analyses` (sweeps,
sensitivity); the names below are its Python API.

It never imports Textual; the app and the CLI are two consumers of the same `Experiment.run()` stream.
"""

from typing import Any

from prunetui.engine.core.config import ExperimentConfig
from prunetui.engine.core.errors import ConfigError, DataError, DeviceError, DivergedError, PrunetuiError
from prunetui.engine.core.events import (
    EpochEnd,
    Event,
    Exported,
    Failed,
    Finished,
    LayerSparsity,
    Pruned,
    Rewound,
    RunStarted,
    RunSummary,
    SparsityReport,
    Status,
    StepLoss,
    Stopped,
)

__all__ = [
    "ConfigError",
    "DataError",
    "DeviceError",
    "DivergedError",
    "EpochEnd",
    "Event",
    "Experiment",
    "ExperimentConfig",
    "Exported",
    "Failed",
    "Finished",
    "LayerSparsity",
    "Pruned",
    "PrunetuiError",
    "Rewound",
    "RunStarted",
    "RunSummary",
    "SparsityReport",
    "Status",
    "StepLoss",
    "Stopped",
]


def __getattr__(name: str) -> Any:
    # Experiment imports torch, seconds of a start: loaded when first asked for, so that importing the config (which
    # imports this package) leaves the app's first paint, `--help` and `prunetui runs` without it.
    if name == "Experiment":
        from prunetui.engine.core.experiment import Experiment

        return Experiment
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
