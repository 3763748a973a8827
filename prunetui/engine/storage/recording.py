"""Saving a run as it goes: config, metric history, summary and exported model in one directory.

`record_run` wraps an experiment's event stream, so the CLI and the app save runs the same way. It first claims
the directory (`runs.claim_run_dir`: one writer, no finished run overwritten by accident). Each file is written
atomically; a run that stops or fails, at any moment, keeps what it finished, marked incomplete: the model as it
stands, the history and the summary. A file that cannot be written fails the run with a message naming it. The
summary says "running" from the start and the writer holds the directory's lock until the end, so a run killed
without a word reads as interrupted. Numbers that are not finite (a loss that diverged) are written null.
"""

from __future__ import annotations

import platform
from collections.abc import Iterator, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from prunetui.engine.core.errors import OutputError, PrunetuiError, unexpected
from prunetui.engine.core.events import Event, Exported, Failed, Finished, Pruned, RunSummary, Stopped
from prunetui.engine.core.experiment import Experiment
from prunetui.engine.core.files import cannot_write, write_atomic
from prunetui.engine.core.networks.user_code import absolute_factory
from prunetui.engine.storage.event_log import EventLog
from prunetui.engine.storage.export import export_in_place, export_model, save_state, unpruned_state
from prunetui.engine.storage.history import HistoryRow, history_csv, history_row
from prunetui.engine.storage.run_lock import RunLock
from prunetui.engine.storage.runs import (
    CONFIG_FILE,
    DENSE_MODEL_FILE,
    EVENTS_FILE,
    GROUP_KEY,
    HISTORY_FILE,
    MODEL_FILE,
    SUMMARY_FILE,
    claim_run_dir,
    json_text,
    running_marker,
    time_stamp,
)

Ended = Finished | Stopped | Failed


def record_run(
    experiment: Experiment, directory: str | Path, *, overwrite: bool = False, extra: Mapping[str, Any] | None = None
) -> Iterator[Event]:
    """Claim `directory`, then return the experiment's events, unchanged, while its files are written there.
    `extra` goes into summary.json as it is (e.g. the preset the run comes from).

    Raises RunDirError or OutputError (see `claim_run_dir`) before anything runs. The lock is let go when the
    events end or the iterator is closed."""
    return record_claimed(experiment, claim_run_dir(directory, overwrite), extra=extra)


def record_claimed(
    experiment: Experiment, lock: RunLock, *, group: str = "", extra: Mapping[str, Any] | None = None
) -> Iterator[Event]:
    """`record_run` in a directory claimed already, e.g. before torch was imported, so a refusal comes first.
    A `group` (see `groups`) is written into the summary from the start, so even a run killed at once has it."""
    return _Recorder(experiment, lock.directory, group, extra or {}).events(lock)


class _Recorder:
    def __init__(self, experiment: Experiment, directory: Path, group: str, extra: Mapping[str, Any]) -> None:
        self.experiment = experiment
        self.directory = directory
        self.group = {GROUP_KEY: group} if group else {}  # a run of no group has no key, as before groups
        self.extra = extra
        self.started = time_stamp()
        self.rows: list[HistoryRow] = []
        self.dense_saved = False
        self.log: EventLog | None = None

    def events(self, lock: RunLock) -> Iterator[Event]:
        try:
            yield from self._record()
        finally:
            if self.log is not None:
                self.log.close()
            lock.release()

    def _record(self) -> Iterator[Event]:
        config = self.experiment.config
        try:
            write_atomic(self.directory / CONFIG_FILE, config.with_absolute_paths().to_toml())  # read from anywhere
            self._write_summary({**running_marker(), "environment": environment(config.device)})
            self.log = _open_log(self.directory)
        except PrunetuiError as error:
            yield from self._end(Failed(str(error), None))
            return
        events = self.experiment.run()
        for event in events:
            if isinstance(event, Ended):
                yield from self._end(event)
                return
            try:
                self._save(event)
            except Exception as error:  # handed to the experiment, which fails as for an error of its own
                yield event
                ended = events.throw(error)
                assert isinstance(ended, Failed), "the experiment turns every error into Failed"
                yield from self._end(ended)
                return
            yield event

    @property
    def model_name(self) -> str:
        """--model as a checkpoint names it: a file of the user's by its absolute path, read from anywhere."""
        return absolute_factory(self.experiment.config.model)

    def _save(self, event: Event) -> None:
        model = self.experiment.model
        if isinstance(event, Pruned) and not self.dense_saved and model is not None:
            # Right after the first prune, the weights behind the masks are the trained dense model.
            save_state(
                unpruned_state(model),
                self.model_name,
                self.directory / DENSE_MODEL_FILE,
                network=self.experiment.checkpoint_network(pruned=False),
            )
            self.dense_saved = True
        row = history_row(event)
        if row is not None:
            self.rows.append(row)
            write_atomic(self.directory / HISTORY_FILE, history_csv(self.rows))
        self._log(event)

    def _log(self, event: Event) -> None:
        if self.log is not None:
            try:
                self.log.write(event)
            except OSError as error:
                raise OutputError(cannot_write(self.directory / EVENTS_FILE, error)) from None

    def _end(self, event: Ended) -> Iterator[Event]:
        """Save the model as it stands, then the summary; what cannot be saved turns the end into Failed."""
        exported = None
        model = self.experiment.model
        if event.summary is not None and model is not None:
            export = export_in_place if self.experiment.ran_out_of_memory else export_model  # no copy of the weights
            try:
                network = self.experiment.checkpoint_network()
                exported = export(model, self.model_name, self.directory / MODEL_FILE, network)
            except Exception as error:  # the run's end is reported, whatever went wrong
                event = _also_failed(event, error)
            else:
                yield exported
        try:
            if exported is not None:
                self._log(exported)
            self._write_summary(self._final_document(event, exported))
            self._log(event)  # after the summary: a follower that reads the end finds the run ended
        except Exception as error:
            event = _also_failed(event, error)
        yield event

    def _final_document(self, event: Ended, exported: Exported | None) -> dict[str, Any]:
        summary = event.summary
        return {
            "status": {Finished: "finished", Stopped: "stopped", Failed: "failed"}[type(event)],
            "message": event.message if isinstance(event, Failed) else "",
            "ended": time_stamp(),
            "environment": environment(summary.device if summary else self.experiment.config.device),
            **(summary_dict(summary, exported) if summary else {"complete": False}),
        }

    def _write_summary(self, document: dict[str, Any]) -> None:
        document = {
            "started": self.started,
            **self.group,
            "config": self.experiment.config.to_dict(),
            **self.extra,
            **document,
        }
        write_atomic(self.directory / SUMMARY_FILE, json_text(document))


def _open_log(directory: Path) -> EventLog:
    try:
        return EventLog(directory)
    except OSError as error:
        raise OutputError(cannot_write(directory / EVENTS_FILE, error)) from None


def _also_failed(event: Ended, error: Exception) -> Failed:
    """`event` turned into Failed because `error` kept its results from being saved."""
    message = str(error) if isinstance(error, PrunetuiError) else unexpected(error)
    if isinstance(event, Failed) and message != event.message:  # the same full disk twice is said once
        message = f"{event.message}; then {message}"
    return Failed(message, event.summary)


def environment(device: str) -> dict[str, Any]:
    """Everything besides the seed and config that changes the numbers: the same seed and config give the same
    numbers only with the same torch, thread count, CPU kernels (capability) or GPU, and device."""
    details: dict[str, Any] = {
        "device": device,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "machine": platform.machine(),
        "python": platform.python_version(),
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        details |= {
            "gpu": torch.cuda.get_device_name(),
            "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(),
        }
    return details


def cost_dict(summary: RunSummary) -> dict[str, Any]:
    """Parameters and MACs per image, dense and pruned (for structural pruning, the compact model's), where they
    were counted: `macs` is what a dense kernel computes, `nonzero_macs` the products with non-zero weights."""
    dense, cost = summary.dense_cost, summary.cost
    return {
        "dense_macs": dense.macs if dense else None,
        "dense_parameters": dense.parameters if dense else None,
        "macs": cost.macs if cost else None,
        "nonzero_macs": cost.nonzero_macs if cost else None,
        "parameters": cost.parameters if cost else None,
    }


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
        "dense_val_accuracy": summary.dense_val_accuracy,  # absent from runs of versions before validation_split
        "val_accuracy": summary.val_accuracy,
        "dense_top5_accuracy": summary.dense_top5,  # 100 classes or more only
        "top5_accuracy": summary.top5,
        "per_class_accuracy": dict(summary.per_class_accuracy) if summary.per_class_accuracy else None,
        "sparsity": report.global_sparsity,
        "compression": report.compression,  # all parameters, biases included
        "nonzero_parameters": report.nonzero_parameters,
        "total_parameters": report.total_parameters,
        "weight_compression": report.weight_compression,  # weights only, as Han et al. count
        "nonzero_weights": report.nonzero_weights,
        "total_weights": report.total_weights,
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
        **cost_dict(summary),
    }
