"""Shared helpers for the engine tests: run an experiment, pick events by type, run Python in a fresh process."""

from __future__ import annotations

import subprocess
import sys
from typing import TypeVar

from prunetui.engine import Event, Experiment, ExperimentConfig, Finished

E = TypeVar("E")


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
