"""The engine: models, data, training, pruning and metrics, reported as a stream of events. Grouped by what they
do: `core` (an experiment and what it needs), `pruning`, `storage` (runs on disk) and `analyses` (sweeps,
sensitivity); the names below are its Python API.

It never imports Textual; the app and the CLI are two consumers of the same `Experiment.run()` stream.
"""

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


def __getattr__(name: str) -> object:
    # Experiment pulls in torch (seconds to import); the config, events and errors above do not,
    # so the app can paint its first screen before torch is loaded.
    if name == "Experiment":
        from prunetui.engine.core.experiment import Experiment

        return Experiment
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
