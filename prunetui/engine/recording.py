"""Saving a run as it goes: config, metric history, summary and exported model in one directory.

`record_run` wraps an experiment's event stream, so the CLI and the app save runs the same way. Each
file is written atomically; a run that stops or fails keeps what it finished, marked incomplete. The
summary says "running" from the start, so a run killed without a word still reads as unfinished.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from prunetui.engine.events import Event, Exported, Failed, Finished, Pruned, RunSummary, Stopped
from prunetui.engine.experiment import Experiment
from prunetui.engine.export import export_model, save_state, unpruned_state
from prunetui.engine.files import write_atomic
from prunetui.engine.history import HistoryRow, history_csv, history_row
from prunetui.engine.runs import (
    CONFIG_FILE,
    DENSE_MODEL_FILE,
    HISTORY_FILE,
    MODEL_FILE,
    SUMMARY_FILE,
    running_marker,
)


def record_run(experiment: Experiment, directory: str | Path) -> Iterator[Event]:
    """Yield the experiment's events unchanged while writing its files into `directory`."""
    directory = Path(directory)
    write_atomic(directory / CONFIG_FILE, experiment.config.to_toml())
    rows: list[HistoryRow] = []
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    _write_document(directory, {**running_marker(), "started": started, "config": experiment.config.to_dict()})
    dense_saved = False
    for event in experiment.run():
        if isinstance(event, Pruned) and not dense_saved and experiment.model is not None:
            # Right after the first prune, the weights behind the masks are the trained dense model.
            save_state(unpruned_state(experiment.model), experiment.config.model, directory / DENSE_MODEL_FILE)
            dense_saved = True
        row = history_row(event)
        if row is not None:
            rows.append(row)
            write_atomic(directory / HISTORY_FILE, history_csv(rows))
        if isinstance(event, Finished | Stopped | Failed):
            exported = None
            if event.summary is not None and experiment.model is not None:
                exported = export_model(experiment.model, experiment.config.model, directory / MODEL_FILE)
                yield exported
            _write_summary(experiment, directory, event, started, exported)
        yield event


def _write_summary(
    experiment: Experiment, directory: Path, event: Finished | Stopped | Failed, started: str, exported: Exported | None
) -> None:
    status = {Finished: "finished", Stopped: "stopped", Failed: "failed"}[type(event)]
    summary = event.summary
    _write_document(
        directory,
        {
            "status": status,
            "message": event.message if isinstance(event, Failed) else "",
            "started": started,
            "ended": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **(
                summary_dict(summary, exported)
                if summary
                else {"complete": False, "config": experiment.config.to_dict()}
            ),
        },
    )


def _write_document(directory: Path, document: dict[str, Any]) -> None:
    write_atomic(directory / SUMMARY_FILE, json.dumps(document, indent=2) + "\n")


def summary_dict(summary: RunSummary, exported: Exported | None) -> dict[str, Any]:
    report = summary.sparsity
    return {
        "complete": summary.complete,
        "config": summary.config.to_dict(),
        "device": summary.device,
        "dense_accuracy": summary.dense_accuracy,
        "dense_loss": summary.dense_loss,
        "accuracy": summary.accuracy,
        "test_loss": summary.test_loss,
        "sparsity": report.global_sparsity,
        "compression": report.compression,
        "nonzero_parameters": report.nonzero_parameters,
        "total_parameters": report.total_parameters,
        "layers": [
            {
                "name": layer.name,
                "zeros": layer.zeros,
                "total": layer.total,
                "sparsity": layer.sparsity,
                "prunable": layer.prunable,
            }
            for layer in report.layers
        ],
        "images_per_s": summary.images_per_s,
        "seconds": summary.seconds,
        "export": asdict(exported) if exported else None,
    }
