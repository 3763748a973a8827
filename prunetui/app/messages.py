"""Messages the app's parts send each other, as dataclasses."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from prunetui.engine.events import Event


@dataclass
class EventsReceived(Message):
    """A batch of engine events, posted by the worker thread a few times a second."""

    events: tuple[Event, ...]


@dataclass
class AnalysisEvents(Message):
    """Events of an analysis (a sweep, a sensitivity analysis), posted by its worker thread."""

    events: tuple[object, ...]


@dataclass
class WorkerResult(Message):
    """What a one-off worker (loading weights, exporting a run) produced, or why it could not."""

    result: object
    error: str = ""


@dataclass
class LayerAmountsChosen(Message):
    """Per-layer sparsity amounts (as `--layer-sparsity` reads them) for `model`, to put into the form."""

    model: str
    amounts: str
