"""What an analysis's Start will cost, said before it starts: epochs to train, and about how long they take at
the pace of the newest finished run that trained the same way (SAME_TRAINING; none yet: the time is unknown)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from prunetui.engine.core.config import ExperimentConfig
from prunetui.engine.storage.runs import SUMMARY_FILE, list_runs

# What an epoch's time depends on.
SAME_TRAINING = ("model", "dataset", "train_subset", "validation_split", "batch_size", "device")


@dataclass(frozen=True, slots=True)
class Pace:
    """How fast a finished run trained: its settings, and an epoch's time with its evaluation."""

    config: ExperimentConfig
    seconds_per_epoch: float


def paces(root: Path) -> list[Pace]:
    """The pace of every finished run under `root` that trained, newest first. It reads every run's files: call
    it in a worker, not on the UI thread."""
    found = []
    for run in list_runs(root):
        saved = run.config
        if run.status != "finished" or saved is None or saved.total_epochs == 0:
            continue
        try:
            seconds = json.loads((run.path / SUMMARY_FILE).read_text(encoding="utf-8")).get("seconds")
        except (OSError, ValueError):
            continue
        if isinstance(seconds, int | float) and seconds > 0:
            found.append(Pace(saved, seconds / saved.total_epochs))
    return found


def about(epochs: int, config: ExperimentConfig, known: list[Pace]) -> str:
    """ "about 4 min" at the pace of the newest run that trained like `config`, or why there is no estimate."""
    same = (
        pace for pace in known if all(getattr(pace.config, name) == getattr(config, name) for name in SAME_TRAINING)
    )
    pace = next(same, None)
    if pace is None:
        return "time unknown: no finished run trained like this yet"  # SAME_TRAINING; docs/app.md lists them
    seconds = epochs * pace.seconds_per_epoch
    return f"about {seconds / 60:.0f} min" if seconds >= 90 else f"about {max(seconds, 1):.0f} s"
