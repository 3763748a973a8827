"""A run started headless (`prunetui run` in another process, as under nohup or tmux) is recorded as it goes in
events.jsonl, and the app's Runs screen opens it and follows it live: its epochs arrive in the main screen's
panels, and Stop there stops it as Ctrl+C in its terminal would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from prunetui.app.app import PruneApp
from prunetui.app.run_state import RUNNING, STOPPED
from prunetui.app.screens.main import MainScreen
from prunetui.app.screens.runs import RunsScreen
from prunetui.app.widgets.event_log import EventLog
from prunetui.engine import ExperimentConfig, StepLoss
from prunetui.engine.storage.event_log import EventTail
from prunetui.engine.storage.runs import EVENTS_FILE, list_runs, runs_root
from tests import zygote
from tests.analysis_helpers import tiny_flags
from tests.test_app import opened, wait_until
from tests.test_app_screens import SMALL

EPOCHS = 400  # far more than the test waits for: it stops the run itself


def headless_run(config: ExperimentConfig) -> subprocess.Popen[bytes]:
    """`prunetui run` in a process of its own, writing under the test's runs root."""
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    flags = [*tiny_flags(config), "--epochs", str(EPOCHS), "--sparsity", "0.5"]
    command = [sys.executable, "-m", "prunetui", "run", *flags]
    # Its output is not read: into a pipe, a run printing its epochs faster than the app stops it would fill the
    # pipe and wait for a reader forever.
    return zygote.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def first_epoch_recorded(root: Path) -> bool:
    runs = list_runs(root)
    return bool(runs) and epochs_recorded(runs[0].path) >= 1


def epochs_recorded(directory: Path) -> int:
    path = directory / EVENTS_FILE
    return path.read_text().count('"event": "EpochEnd"') if path.is_file() else 0


async def test_the_runs_screen_follows_a_run_another_process_writes_and_stops_it(
    tiny_config: ExperimentConfig,
) -> None:
    process = headless_run(tiny_config)
    try:
        app = PruneApp()
        async with app.run_test(size=SMALL) as pilot:  # the app starts while the run imports torch
            await wait_until(pilot, lambda: first_epoch_recorded(runs_root()), timeout=120)
            (run,) = list_runs(runs_root())
            assert run.status == "running"  # its writer holds the lock
            screen = await opened(pilot, "f3", RunsScreen)
            await wait_until(pilot, lambda: bool(screen.runs))
            await pilot.press("o")
            await wait_until(pilot, lambda: isinstance(app.screen, MainScreen))
            main = app.main_screen
            state = main.run_state
            await wait_until(pilot, lambda: state.started is not None and state.epochs_done >= 1)
            assert state.outcome == RUNNING and state.started.config.epochs == EPOCHS
            assert main.form.read()[0].epochs == EPOCHS  # its settings in the form, as if started here
            seen = state.epochs_done
            await wait_until(pilot, lambda: state.epochs_done >= seen + 2, timeout=60)  # epochs arrive live
            assert len(state.accuracy.xs) >= seen + 2 and state.train_loss.xs  # the charts' curves grow
            assert any("epoch" in line for line in state.log)
            assert main.query_one(EventLog).border_title == "Log"

            await pilot.press("ctrl+t")  # Stop: the run saves itself as stopped, as after Ctrl+C in its terminal
            await wait_until(pilot, lambda: state.outcome == STOPPED, timeout=60)
            assert state.summary is not None and not state.summary.complete
        assert process.wait(timeout=60) == 130
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    summary = json.loads((run.path / "summary.json").read_text())
    assert summary["status"] == "stopped"
    events = EventTail(run.path).read()
    epochs = sum(type(event).__name__ == "EpochEnd" for event in events)
    losses = sum(isinstance(event, StepLoss) for event in events)
    assert 3 <= epochs < EPOCHS and losses <= 10 * (epochs + 1)  # small: at most ten loss points an epoch
