"""The app's torch-free halves without Textual: the worker's event batching and the state the panels show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from prunetui.app.run_state import FINISHED, IDLE, STOPPED, RunState
from prunetui.app.runner import URGENT, ExperimentRunner
from prunetui.describe import describe
from prunetui.engine import (
    Event,
    Experiment,
    ExperimentConfig,
    Failed,
    Finished,
    Pruned,
    Status,
    StepLoss,
    Stopped,
)
from prunetui.engine.core.events import EpochEnd
from prunetui.engine.storage.event_log import EventTail
from prunetui.engine.storage.runs import read_run, runs_root
from tests.test_app_analyses import record


def test_runner_hands_events_over_in_few_batches_each_ending_with_an_urgent_one(
    tiny_config: ExperimentConfig,
) -> None:
    batches: list[tuple[Event, ...]] = []
    ExperimentRunner(tiny_config.replace(schedule="iterative", rounds=2), batches.append, interval=60.0).run()
    events = [event for batch in batches for event in batch]
    assert isinstance(events[-1], Finished) and sum(isinstance(e, Pruned) for e in events) == 2
    assert all(isinstance(batch[-1], URGENT) for batch in batches)
    # Progress rides along with the next urgent event: fewer deliveries than events. (How many Status lines come
    # first depends on whether the decoded data was cached already, so no count of them is assumed.)
    assert any(isinstance(e, StepLoss) for e in events) and len(batches) < len(events)


def test_runner_stopped_before_the_experiment_exists_still_stops(tiny_config: ExperimentConfig) -> None:
    batches: list[tuple[Event, ...]] = []
    runner = ExperimentRunner(tiny_config, batches.append)
    runner.stop()
    runner.run()
    assert isinstance(batches[-1][-1], Stopped)


def test_runner_reports_an_invalid_config_as_failed() -> None:
    batches: list[tuple[Event, ...]] = []
    ExperimentRunner(ExperimentConfig(sparsity=2.0), batches.append).run()
    (importing,), (failed,) = batches
    assert importing == Status("importing torch …")  # said at once: the import takes a second or more
    assert isinstance(failed, Failed) and "--sparsity" in failed.message and failed.summary is None


def test_runner_keeps_no_run_when_the_start_fails_before_training(
    tiny_config: ExperimentConfig, tmp_path: Path
) -> None:
    batches: list[tuple[Event, ...]] = []
    ExperimentRunner(tiny_config.replace(data_dir=str(tmp_path / "empty")), batches.append).run()
    failed = batches[-1][-1]
    assert isinstance(failed, Failed) and "mnist data set not found" in failed.message
    assert list(runs_root().iterdir()) == []


def test_run_state_follows_an_iterative_run_event_by_event(tiny_config: ExperimentConfig) -> None:
    config = tiny_config.replace(schedule="iterative", rounds=2, sparsity=0.75)
    events = list(Experiment(config).run())
    state = RunState.begin()
    assert (RunState().outcome, RunState().phase_text) == (IDLE, "ready")
    phases = []
    for event in events:
        state.apply((event,))
        phases.append(state.phase_text)
    assert "training" in phases and "pruned, round 1/2" in phases and "fine-tuning, round 2/2" in phases
    assert state.outcome == FINISHED and phases[-1] == "done" and not state.active
    summary = events[-1].summary  # type: ignore[union-attr]
    assert state.sparsity == summary.sparsity and state.dense_accuracy == summary.dense_accuracy
    prunes = [e for e in events if isinstance(e, Pruned)]
    assert state.prune_steps == [e.step for e in prunes]
    assert state.run_progress[0] == state.run_progress[1] > 0
    assert len(state.train_loss.xs) == sum(isinstance(e, StepLoss) for e in events)
    assert any(line.startswith("round 2/2: pruned to 75.0 %") and "fine-tuned" in line for line in state.log)


def test_run_state_says_when_a_stop_is_asked_for_and_when_it_happened(tiny_config: ExperimentConfig) -> None:
    experiment = Experiment(tiny_config)
    state = RunState.begin()
    for event in experiment.run():
        state.apply((event,))
        if isinstance(event, StepLoss) and state.active:
            experiment.stop()
            state.stopping()
            assert state.phase_text == "stopping after this batch …"
    assert state.outcome == STOPPED and state.phase_text == "stopped" and state.ended_at is not None


def test_a_rewound_run_is_retrained_not_fine_tuned_in_every_word(tiny_config: ExperimentConfig) -> None:
    events = list(Experiment(tiny_config.replace(rewind=True, epochs=1, sparsity=0.5)).run())
    state = RunState.begin()
    phases = []
    for event in events:
        state.apply((event,))
        phases.append(state.phase_text)
    assert "retraining, round 1/1" in phases and not any("fine-tun" in phase for phase in phases)
    assert [describe(e).split(":")[0] for e in events if isinstance(e, EpochEnd)] == [
        "training epoch 1/1",
        "round 1 retrain epoch 1/1",
    ]
    assert any("→ retrained" in line for line in state.log) and not any("fine-tun" in line for line in state.log)


def test_a_run_opened_after_it_ended_is_timed_by_its_own_start_and_end(tiny_config: ExperimentConfig) -> None:
    """Opened from the Runs screen five minutes later, it read `elapsed 5:25 (run 13.5 s)`."""
    run = read_run(record(tiny_config))
    events = list(EventTail(run.path).read())
    assert run.started is not None and run.ended is not None
    took = (run.ended - run.started).total_seconds()
    opened = RunState.begin(run.started - timedelta(minutes=5), run.ended - timedelta(minutes=5))
    for event in events:
        opened.apply((event,))
    assert opened.outcome == FINISHED and opened.elapsed == pytest.approx(took, abs=0.01)
    live = RunState.begin(datetime.now(UTC) - timedelta(minutes=5))  # followed while it runs: the time since start
    live.fail("stopped reading")
    assert live.elapsed == pytest.approx(300, abs=1)
