"""The metric history of a run: the event stream reduced to rows, for CSV files and comparisons."""

from __future__ import annotations

from dataclasses import dataclass

from prunetui.engine.core.events import EpochEnd, Event, Pruned, Rewound
from prunetui.engine.storage.csv_text import to_csv


@dataclass(frozen=True, slots=True)
class HistoryRow:
    event: str  # "epoch", "prune" or "rewind"
    phase: str
    round: int
    epoch: int
    step: int
    train_loss: float | None
    test_loss: float | None
    accuracy: float
    sparsity: float | None  # global sparsity over prunable weights, when the row changed it
    val_accuracy: float | None = None  # on the held-out validation images; None when none are held out


def history_row(event: Event) -> HistoryRow | None:
    """The row an event adds to the history, or None for events that are progress only."""
    match event:
        case EpochEnd():
            return HistoryRow(
                "epoch", event.phase, event.round, event.epoch, event.step, event.train_loss, event.test_loss,
                event.accuracy, None, event.val_accuracy,
            )  # fmt: skip
        case Pruned():
            return HistoryRow(
                "prune", "prune", event.round, 0, event.step, None, event.test_loss, event.accuracy,
                event.sparsity.global_sparsity, event.val_accuracy,
            )  # fmt: skip
        case Rewound():
            return HistoryRow("rewind", "rewind", event.round, 0, event.step, None, None, event.accuracy, None)
    return None


def history_csv(rows: list[HistoryRow]) -> str:
    return to_csv(rows, HistoryRow)
