"""Work is never lost by leaving a screen: a sweep or a sensitivity analysis goes on when its screen is left, the
main screen says so, and quitting asks first and keeps what finished."""

from __future__ import annotations

import csv
import threading
from collections.abc import Callable
from typing import Any

import pytest
from textual.widgets import DataTable, Input, Static

from prunetui.app.app import PruneApp
from prunetui.app.screens.confirm_quit import ConfirmQuitScreen
from prunetui.app.screens.main import MainScreen
from prunetui.app.screens.sensitivity import SensitivityScreen
from prunetui.app.screens.sweep import SweepScreen
from prunetui.engine import ExperimentConfig
from prunetui.engine.analyses import read_sweep_csv, sensitivity_file, sweep_directory
from prunetui.engine.storage.runs import runs_root
from tests.test_app import opened, shown, wait_until


def hold_data(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """The analysis waits while it loads its data, until released: (it is held, release it)."""
    from prunetui.engine.core.data import loading

    held, release = threading.Event(), threading.Event()
    load_cached = loading.load_cached

    def slow_load(path: Any, *keys: Any) -> Any:
        held.set()
        assert release.wait(30), "the test never released the data"
        return load_cached(path, *keys)

    monkeypatch.setattr(loading, "load_cached", slow_load)
    return held, release


async def test_a_sweep_goes_on_when_its_screen_is_left_and_comes_back_live(
    tiny_config: ExperimentConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    held, release = hold_data(monkeypatch)
    app = PruneApp(tiny_config)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot, "f4", SweepScreen)
        screen.query_one("#sweep-methods", Input).value = "l1:global,random:layer"
        screen.query_one("#sweep-sparsities", Input).value = "0.5,0.9"
        await pilot.press("ctrl+r")
        await wait_until(pilot, held.is_set)
        await pilot.press("escape")  # left mid-sweep
        await pilot.pause()
        assert isinstance(app.screen, MainScreen) and screen.running
        status = app.main_screen.query_one("#analyses", Static)
        await wait_until(pilot, lambda: shown(status).startswith("F4 Sweep running"))
        release.set()

        await wait_until(pilot, lambda: not screen.running, timeout=60)  # it went on while away
        assert screen.status == "finished"
        await wait_until(pilot, lambda: shown(status).startswith("F4 Sweep: finished"))
        points = read_sweep_csv((sweep_directory(runs_root(), tiny_config) / "sweep.csv").read_text())
        assert len(points) == 4

        again = await opened(pilot, "f4", SweepScreen)  # the same screen, with every point
        assert again is screen and again.query_one(DataTable).row_count == 4
        assert shown(again.query_one("#analysis-progress", Static)) == "finished"
        await pilot.press("escape")  # seen: its line leaves the status, whose rows are the charts' at 80x24
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen))
        assert not status.display and shown(status) == ""


async def test_coming_back_mid_sweep_shows_it_running_and_stop_says_stopped(
    tiny_config: ExperimentConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    held, release = hold_data(monkeypatch)
    app = PruneApp(tiny_config)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot, "f4", SweepScreen)
        await pilot.press("ctrl+r")
        await wait_until(pilot, held.is_set)
        await opened(pilot, "f5", SensitivityScreen)  # F5 leaves the sweep as Escape does
        back = await opened(pilot, "f4", SweepScreen)
        assert back is screen and back.running and back.query_one("#analysis-stop").disabled is False
        await pilot.press("ctrl+t")
        progress = back.query_one("#analysis-progress", Static)
        await wait_until(pilot, lambda: shown(progress) != "starting …")  # a busy machine: a frame or two later
        assert shown(progress) == "stopping after the current batch …"
        release.set()
        await wait_until(pilot, lambda: not back.running, timeout=60)
        assert back.status == "stopped"
        assert shown(back.query_one("#analysis-progress", Static)) == "stopped"


def gate_after(monkeypatch: pytest.MonkeyPatch, measured: int) -> threading.Event:
    """Sensitivity's evaluations wait, after `measured` of them (the loaded model's first), until the event."""
    from prunetui.engine.analyses import sensitivity, sensitivity_jobs

    gate, calls = threading.Event(), [0]
    original: Callable[..., Any] = sensitivity.measure

    def measure(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] > measured:
            assert gate.wait(timeout=30), "the test never opened the gate"
        return original(*args, **kwargs)

    for module in (sensitivity, sensitivity_jobs):  # the model as loaded; each evaluation (a job, run here)
        monkeypatch.setattr(module, "measure", measure)
    return gate


async def test_quitting_mid_sensitivity_asks_first_and_saves_its_finished_rows(
    tiny_config: ExperimentConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = gate_after(monkeypatch, 1 + 3)  # the model as loaded, then three layers-at-an-amount
    app = PruneApp(tiny_config)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot, "f5", SensitivityScreen)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: len(screen.points) == 3, timeout=30)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("ctrl+q")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ConfirmQuitScreen)
        assert "A sensitivity analysis is going. Stop it and quit?" in shown(dialog.query_one(".dialog-question"))
        gate.set()
        await pilot.press("y")
    rows = list(csv.DictReader(sensitivity_file(runs_root(), tiny_config).open()))
    evaluations = len(tiny_config.prunable_layer_names) * 9  # the default amounts
    assert 3 <= len(rows) < evaluations  # stopped, and what finished is saved
    assert [(row["layer"], float(row["amount"])) for row in rows[:3]] == [
        (point.layer, point.amount) for point in screen.points[:3]
    ]


async def test_quit_names_everything_going(tiny_config: ExperimentConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    gate = gate_after(monkeypatch, 1)
    _, release = hold_data(monkeypatch)  # the run waits as it loads its data: going at ctrl+q, however fast the machine
    app = PruneApp(tiny_config)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot, "f5", SensitivityScreen)
        await pilot.press("ctrl+r")
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("ctrl+r")  # a run on the main screen too
        await pilot.press("ctrl+q")
        await pilot.pause()
        question = shown(app.screen.query_one(".dialog-question"))
        assert question.startswith("A run and a sensitivity analysis are going. Stop each and quit?")
        await pilot.press("n")  # keep running
        await pilot.pause()
        assert app.main_screen.run_state.active and screen.running
        await pilot.press("ctrl+t")  # the run stops at its first batch once its data is in
        release.set()
        gate.set()
        screen.action_stop()  # and the analysis after the evaluation it is in: the test ends with nothing going
        await wait_until(pilot, lambda: not app.main_screen.run_state.active and not screen.running, timeout=30)
