"""Shared helpers for the engine tests: run an experiment, pick events by type, run Python in a fresh process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TypeVar

from prunetui.engine import Event, Experiment, ExperimentConfig, Finished

E = TypeVar("E")


def tiny_settings(data_dir: Path) -> ExperimentConfig:
    """A run that takes well under a second on CPU and learns the tiny data in `data_dir` (about 100 % dense
    accuracy): the conftest's `tiny_config`, for fixtures of a wider scope too."""
    return ExperimentConfig(
        dataset="mnist",  # the tiny one, not the embedded default
        data_dir=str(data_dir),
        epochs=2,
        finetune_epochs=1,
        batch_size=64,
        device="cpu",
        optimizer="adam",
        lr=0.003,
    )


def run(config: ExperimentConfig, finished: bool = True) -> tuple[list[Event], Experiment]:
    """Every event of a run (the tests never download), and the experiment, whose model is the final one."""
    experiment = Experiment(config, download=False)
    events = list(experiment.run())
    if finished:
        assert isinstance(events[-1], Finished), events[-1]
    return events, experiment


def of_type(events: list[Event], kind: type[E]) -> list[E]:
    return [event for event in events if isinstance(event, kind)]


def printed_by(code: str, timeout: float = 120) -> list[str]:
    """The words `python -c CODE` prints in a fresh process (what it imports starts from nothing); it must succeed."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()
