"""A run's events as they happen, one JSON object a line in its directory's events.jsonl, written with the run
(`recording`) and flushed per event, so that another process follows a run it did not start: the app's Runs
screen, opened over SSH on a run that `prunetui run` writes under nohup or tmux, reads what came so far and then
what comes, as if it had started the run itself.

The file stays small: every event but the training loss, which a run reports every few batches; of that, the
first report in each tenth of an epoch (about 10 points an epoch, some 120 bytes each).

    log = EventLog(directory)            # appends; log.write(event) for each, log.close() at the end
    tail = EventTail(directory)          # reads: tail.read() gives the events written since the last call
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import IO, Any

from prunetui.engine.core.config import ExperimentConfig
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
from prunetui.engine.core.networks.cost import Cost
from prunetui.engine.storage.runs import EVENTS_FILE, SAVED_BEFORE

LOSS_POINTS = 10  # training-loss reports kept per epoch
KINDS: dict[str, type] = {
    kind.__name__: kind
    for kind in (RunStarted, Status, StepLoss, EpochEnd, Pruned, Rewound, Exported, Finished, Stopped, Failed)
}


def event_record(event: Event) -> dict[str, Any]:
    """The event as JSON-ready data: {"event": its type's name, its fields…}, a config as its settings."""
    return {"event": type(event).__name__, **_plain(event)}


def event_from_record(record: Any) -> Event | None:
    """The event `event_record` wrote; None for anything else (a line from a later version, damaged by hand)."""
    try:
        kind = KINDS[record.pop("event")]
        values = dict(record)
        if "config" in values:
            values["config"] = _config(values["config"])
        if kind is Pruned:
            values["sparsity"] = _report(values["sparsity"])
        if kind is RunStarted:
            values["layers"] = tuple(values["layers"])
        if kind in (Finished, Stopped, Failed):
            values["summary"] = _summary(values.get("summary"))
        return kind(**values)  # type: ignore[no-any-return]
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


class EventLog:
    """Appends a run's events to `directory`/events.jsonl, each line flushed as it is written."""

    def __init__(self, directory: Path) -> None:
        self._file: IO[str] = open(directory / EVENTS_FILE, "a", encoding="utf-8")  # noqa: SIM115 (open for the whole run)
        self._loss_point: tuple[str, int, int, int] | None = None  # (phase, round, epoch, tenth) of the last kept

    def write(self, event: Event) -> None:
        if isinstance(event, StepLoss):
            point = (event.phase, event.round, event.epoch, event.batch * LOSS_POINTS // max(event.batches, 1))
            if point == self._loss_point:
                return
            self._loss_point = point
        self._file.write(json.dumps(event_record(event)) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class EventTail:
    """Reads a run's events.jsonl as it grows; a line not yet whole waits for the next read."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / EVENTS_FILE
        self._offset = 0

    def read(self) -> list[Event]:
        """The events written since the last read (all of them the first time); [] while the file is missing."""
        try:
            with open(self.path, "rb") as file:
                file.seek(self._offset)
                text = file.read()
        except OSError:
            return []
        whole = text[: text.rfind(b"\n") + 1]
        self._offset += len(whole)
        events = []
        for line in whole.splitlines():
            try:
                event = event_from_record(json.loads(line))
            except ValueError:
                continue
            if event is not None:
                events.append(event)
        return events


def _plain(value: Any) -> Any:
    if isinstance(value, ExperimentConfig):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    return value


def _config(values: dict[str, Any]) -> ExperimentConfig:
    return ExperimentConfig.from_mapping(values, SAVED_BEFORE)


def _report(values: dict[str, Any]) -> SparsityReport:
    layers = tuple(LayerSparsity(**layer) for layer in values["layers"])
    return SparsityReport(layers, values["nonzero_parameters"], values["total_parameters"])


def _summary(values: dict[str, Any] | None) -> RunSummary | None:
    if values is None:
        return None
    costs = {key: Cost(**values[key]) if values.get(key) else None for key in ("dense_cost", "cost")}
    per_class = values.get("per_class_accuracy")
    named = {"per_class_accuracy": tuple((str(name), float(a)) for name, a in per_class)} if per_class else {}
    return RunSummary(
        **{**values, "config": _config(values["config"]), "sparsity": _report(values["sparsity"]), **costs, **named}
    )
