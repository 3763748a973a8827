"""Shared helpers for the engine tests: run an experiment and pick events by type."""

from __future__ import annotations

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
