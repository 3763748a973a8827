"""The engine: models, data, training, pruning and metrics, reported as a stream of events. Grouped by what they
do: `core` (an experiment and what it needs), `pruning`, `storage` (runs on disk) and `analyses` (sweeps,
sensitivity); the names below are its Python API.

It never imports Textual; the app and the CLI are two consumers of the same `Experiment.run()` stream.
"""

from prunetui.engine.core.config import ExperimentConfig
from prunetui.engine.core.errors import ConfigError, DataError, DeviceError, DivergedError, PrunetuiError

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


EVENTS = {"EpochEnd", "Event", "Exported", "Failed", "Finished", "LayerSparsity", "Pruned", "Rewound", "RunStarted",
          "RunSummary", "SparsityReport", "Status", "StepLoss", "Stopped"}  # fmt: skip


def __getattr__(name: str) -> object:
    # Imported when first asked for: Experiment pulls in torch (seconds to import), and the events are not needed
    # to paint the app's first screen (importing the config imports this package).
    if name == "Experiment":
        from prunetui.engine.core.experiment import Experiment

        return Experiment
    if name in EVENTS:
        from prunetui.engine.core import events

        return getattr(events, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
