"""What an analysis's Start will cost, said before it starts: epochs to train, and about how long they take at
the pace of the newest saved run with the same model, data and batch size (none yet: the time is unknown)."""

from __future__ import annotations

import json
from pathlib import Path

from prunetui.engine.config import ExperimentConfig
from prunetui.engine.runs import SUMMARY_FILE, list_runs


def seconds_per_epoch(config: ExperimentConfig, root: Path) -> float | None:
    """An epoch's time (with its evaluation) in the newest finished run under `root` that trained like `config`."""
    same = ("model", "dataset", "train_subset", "batch_size", "device")
    for run in list_runs(root):
        saved = run.config
        if run.status != "finished" or saved is None or saved.total_epochs == 0:
            continue
        if all(getattr(saved, name) == getattr(config, name) for name in same):
            try:
                seconds = json.loads((run.path / SUMMARY_FILE).read_text(encoding="utf-8")).get("seconds")
            except (OSError, ValueError):
                continue
            if isinstance(seconds, int | float) and seconds > 0:
                return seconds / saved.total_epochs
    return None


def about(epochs: int, config: ExperimentConfig, root: Path) -> str:
    """ "about 4 min", or why there is no estimate."""
    per_epoch = seconds_per_epoch(config, root)
    if per_epoch is None:
        return "time unknown until a run with this model, data and batch size is saved"
    seconds = epochs * per_epoch
    return f"about {seconds / 60:.0f} min" if seconds >= 90 else f"about {max(seconds, 1):.0f} s"
