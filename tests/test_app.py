"""The app through the pilot: settings by keyboard, real runs on tiny data, stop, errors, quit, a small terminal."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Button, Input, Select, Static

from prunetui.app.app import PruneApp
from prunetui.app.run_state import FAILED, FINISHED, IDLE, STOPPED
from prunetui.app.runner import ExperimentRunner
from prunetui.app.screens.confirm_quit import ConfirmQuitScreen
from prunetui.app.widgets.charts import RunChart
from prunetui.app.widgets.event_log import EventLog
from prunetui.app.widgets.sparsity_bars import SparsityBars
from prunetui.engine import ExperimentConfig

SIZE = (140, 44)


async def wait_until(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the app"
        await pilot.pause(0.05)


def shown(widget: Widget) -> str:
    """The text a widget shows, as plain text."""
    if isinstance(widget, Static):
        return widget.render().plain  # type: ignore[union-attr]
    console = Console(width=widget.size.width, file=io.StringIO(), record=True)
    console.print(widget.render())
    return console.export_text()


def chart_lines(chart: RunChart) -> tuple[list[list[float]], list[float]]:
    """The y values of each line the chart drew, and its vertical lines (plotext keeps them on its monitor)."""
    monitor = chart.plt.monitor
    return monitor.y, monitor.vcoord[0]


def long_config(config: ExperimentConfig) -> ExperimentConfig:
    """Tiny data, but enough small batches that a run is still going when the test acts on it."""
    return config.replace(epochs=200, batch_size=8)


async def test_first_screen_paints_before_torch_is_imported() -> None:
    code = (
        "import asyncio, sys\n"
        "from prunetui.app.app import PruneApp\n"
        "async def main():\n"
        "    async with PruneApp().run_test() as pilot:\n"
        "        await pilot.pause()\n"
        "        print('torch' in sys.modules, pilot.app.screen.query_one('#setting-model').has_focus)\n"
        "asyncio.run(main())\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.split() == ["False", "True"]


async def test_settings_by_keyboard_then_a_full_iterative_run(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for _ in range(5):  # model, dataset, data dir, criterion, scope, then schedule
            await pilot.press("tab")
        assert app.focused is app.query_one("#setting-schedule")
        await pilot.press("enter", "down", "enter")  # one-shot -> iterative
        assert app.query_one("#setting-schedule", Select).value == "iterative"
        await pilot.press("tab", "end", "ctrl+u", *"0.75", "tab", "end", "ctrl+u", "2")  # sparsity, rounds
        config, problems = app.form.read()
        assert (config.schedule, config.sparsity, config.rounds, problems) == ("iterative", 0.75, 2, {})

        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: not app.run_state.active)
        await pilot.pause()

        state = app.run_state
        assert state.outcome == FINISHED and state.summary is not None
        report = state.summary.sparsity
        assert report.global_sparsity == pytest.approx(0.75, abs=0.005)
        bars = shown(app.query_one(SparsityBars))
        assert f"{report.global_sparsity * 100:.2f} %" in bars
        for layer in report.layers:
            assert f"{layer.sparsity * 100:.2f} %" in bars and f"{layer.nonzero:,}/{layer.total:,}" in bars
        loss_lines, _ = chart_lines(app.query_one("#loss-chart", RunChart))
        train_loss, test_loss = loss_lines
        assert len(train_loss) == len(state.train_loss.values) > 0 and len(test_loss) == 4 + 2  # epochs, prunes
        accuracy_lines, prune_marks = chart_lines(app.query_one("#accuracy-chart", RunChart))
        assert accuracy_lines[0][-1] == pytest.approx(state.current_accuracy * 100)
        assert len(prune_marks) == 2
        assert "done" in shown(app.query_one("#phase", Static))
        assert "compression 4.0×" in shown(app.query_one("#figures", Static)).replace("  ", " ")
        assert any("round 2/2: pruned to 75.0 %" in line and "fine-tuned" in line for line in state.log)
        assert not app.form.locked and not app.query_one("#start", Button).disabled

        await pilot.press("ctrl+r")  # the next run starts with a clean slate
        assert app.run_state is not state
        await wait_until(pilot, lambda: not app.run_state.active)
        await pilot.pause()
        log_text = [strip.text for strip in app.query_one(EventLog).lines]
        assert sum(line.lstrip(" 0123456789:").startswith("done:") for line in log_text) == 1


async def test_stop_mid_run_keeps_results_and_the_app_usable(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(long_config(tiny_config))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()  # the layout for the terminal's width applies after the first refresh
        await pilot.click("#start")
        await wait_until(pilot, lambda: bool(app.run_state.train_loss.steps))
        (worker,) = app.workers
        assert app.form.locked and app.query_one("#start", Button).disabled
        assert app.query_one("#setting-epochs").is_disabled
        await pilot.press("ctrl+t")
        assert "stop requested: the run ends after the current batch" in app.run_state.log
        await wait_until(pilot, lambda: not app.run_state.active, timeout=5)
        await pilot.pause()
        assert worker.is_finished and app.run_state.outcome == STOPPED and app.run_state.summary is not None
        assert not app.run_state.summary.complete
        assert "stopped" in shown(app.query_one("#phase", Static))
        assert not app.form.locked and app.query_one("#stop", Button).disabled
        app.query_one("#setting-epochs", Input).focus()
        await pilot.press("end", "ctrl+u", "1")
        assert app.form.read()[0].epochs == 1


async def test_an_invalid_setting_is_marked_and_blocks_start(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config)
    async with app.run_test(size=SIZE) as pilot:
        app.query_one("#setting-epochs", Input).focus()
        await pilot.press("end", "ctrl+u", *"two")
        assert app.query_one("#row-epochs").has_class("-invalid")
        assert shown(app.query_one("#note-epochs", Static)) == "must be a whole number"
        assert "1 setting to fix" in shown(app.query_one("#form-status", Static))

        app.query_one("#setting-model").focus()
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert app.run_state.outcome == IDLE and not app.workers
        assert app.focused is app.query_one("#setting-epochs")  # sent to the problem
        assert any("epochs: must be a whole number" in n.message for n in app._notifications)

        await pilot.press("ctrl+u", "2")
        assert not app.query_one("#row-epochs").has_class("-invalid") and app.form.problems == {}


async def test_the_form_refuses_numbers_out_of_range_and_targets_out_of_reach(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config.replace(schedule="iterative", scope="global", max_layer_sparsity=0.01))
    async with app.run_test(size=SIZE) as pilot:
        app.query_one("#setting-rounds", Input).focus()
        await pilot.press("end", "ctrl+u", *"99999999999999999999")
        assert shown(app.query_one("#note-rounds", Static)) == "must be between 1 and 100"
        await pilot.press("ctrl+u", "3")
        assert set(app.form.problems) == {"sparsity"}
        assert "global scope reaches at most 0.0099" in shown(app.query_one("#note-sparsity", Static))
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert app.run_state.outcome == IDLE and not app.workers


async def test_choices_that_do_not_apply_are_disabled_or_explained(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config.replace(scope="global"))
    async with app.run_test(size=SIZE) as pilot:
        assert app.query_one("#setting-rounds").disabled  # one-shot
        assert "one-shot prunes once" in shown(app.query_one("#note-rounds", Static))
        assert not app.query_one("#setting-max_layer_sparsity").disabled  # global scope
        app.query_one("#setting-criterion", Select).value = "ln-structured"
        await pilot.pause()
        assert app.query_one("#row-scope").has_class("-invalid")
        assert "ln-structured" in shown(app.query_one("#note-scope", Static))
        app.query_one("#setting-scope", Select).value = "layer"
        await pilot.pause()
        assert app.form.problems == {} and app.query_one("#setting-scope").disabled


async def test_a_missing_data_set_is_a_message_and_the_app_stays_up(
    tiny_config: ExperimentConfig, tmp_path: Path
) -> None:
    app = PruneApp(tiny_config.replace(data_dir=str(tmp_path / "empty")))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: not app.run_state.active)
        await pilot.pause()
        assert app.run_state.outcome == FAILED
        phase = shown(app.query_one("#phase", Static))
        assert phase.startswith("failed: ") and "mnist" in phase and "Traceback" not in phase
        assert not app.form.locked
        app.query_one("#setting-data_dir", Input).value = tiny_config.data_dir
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: not app.run_state.active)
        assert app.run_state.outcome == FINISHED


async def test_under_agp_the_accuracy_before_pruning_is_not_called_dense(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config.replace(schedule="agp", rounds=2))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: not app.run_state.active)
        await pilot.pause()
        state = app.run_state
        assert state.outcome == FINISHED and state.dense_accuracy is not None
        figures = shown(app.query_one("#figures", Static))
        assert f"accuracy before the first prune {state.dense_accuracy * 100:.1f} % → now" in figures
        assert "dense" not in figures
        assert any(line.startswith("done: ") and " before the first prune → " in line for line in state.log)


async def test_a_crashed_worker_is_a_message_and_the_app_stays_up(
    tiny_config: ExperimentConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(self: ExperimentRunner) -> None:
        raise RuntimeError("boom")

    app = PruneApp(tiny_config)
    async with app.run_test(size=SIZE) as pilot:
        with monkeypatch.context() as patch:
            patch.setattr(ExperimentRunner, "run", crash)
            await pilot.press("ctrl+r")
            await wait_until(pilot, lambda: not app.run_state.active)
        assert app.run_state.outcome == FAILED
        assert shown(app.query_one("#phase", Static)) == "failed: the run crashed: RuntimeError: boom"
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: not app.run_state.active)
        assert app.run_state.outcome == FINISHED


async def test_config_files_save_and_load(tiny_config: ExperimentConfig, tmp_path: Path) -> None:
    saved, other = tmp_path / "saved.toml", tmp_path / "other.toml"
    other.write_text(tiny_config.replace(model="lenet300", seed=7).to_toml())
    app = PruneApp(tiny_config)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+s")
        await pilot.pause()
        app.screen.query_one(Input).value = str(saved)
        await pilot.press("enter")
        assert ExperimentConfig.load(saved) == tiny_config

        await pilot.press("ctrl+o")
        await pilot.pause()
        app.screen.query_one(Input).value = str(other)
        await pilot.press("enter")
        await pilot.pause()
        assert app.query_one("#setting-model", Select).value == "lenet300"
        assert app.form.read() == (tiny_config.replace(model="lenet300", seed=7), {})


async def test_saving_settings_is_atomic(
    tiny_config: ExperimentConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = tmp_path / "saved.toml"
    saved.write_text(tiny_config.to_toml())

    def disk_full(_fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("prunetui.engine.files.os.fsync", disk_full)
    app = PruneApp(tiny_config.replace(seed=7))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+s")
        await pilot.pause()
        app.screen.query_one(Input).value = str(saved)
        await pilot.press("enter")
        await pilot.pause()
        assert any(n.title == "Not saved" and "No space left" in n.message for n in app._notifications)
    assert ExperimentConfig.load(saved) == tiny_config  # the old file, whole; no partial file beside it
    assert [path.name for path in tmp_path.iterdir()] == ["saved.toml"]


async def test_settings_that_cannot_be_shown_are_refused_and_others_are_marked(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config.replace(model="resnet50"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.query_one("#setting-model", Select).value == "lenet5"
        assert any("invalid --model" in n.message for n in app._notifications)
        app.form.show_config(tiny_config.replace(sparsity=1.5))
        await pilot.pause()
        assert app.form.problems == {"sparsity": "must be in [0, 1)"}
        assert app.query_one("#row-sparsity").has_class("-invalid")


async def test_quit_while_running_asks_stops_the_worker_and_exits(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(long_config(tiny_config))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: bool(app.run_state.train_loss.steps))
        (worker,) = app.workers
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmQuitScreen)
        await pilot.press("n")
        await pilot.pause()
        assert app.run_state.active and not isinstance(app.screen, ConfirmQuitScreen)

        await pilot.press("ctrl+q")
        await pilot.pause()
        asked = time.monotonic()
        await pilot.press("y")
        await wait_until(pilot, lambda: app._exit, timeout=2)
        assert time.monotonic() - asked < 2
        assert worker.is_finished and app.run_state.outcome == STOPPED


async def test_every_panel_is_reachable_at_80x24(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.screen.has_class("-narrow")
        panels = ["#start", "#status", "#loss-chart", "#accuracy-chart", "#sparsity", "#log"]
        reached: set[str] = set()
        for _ in range(30):
            await pilot.press("tab")
            focused = app.focused
            assert focused is not None
            visible = app.screen.find_widget(focused).region
            assert visible.y >= 0 and visible.bottom <= 24, f"{focused} is off screen"
            reached |= {panel for panel in panels if focused is app.query_one(panel)}
        assert reached == set(panels)
        await pilot.press("ctrl+r")  # starting a run brings the dashboard into view
        await wait_until(pilot, lambda: not app.run_state.active)
        await pilot.pause()
        status = app.screen.find_widget(app.query_one("#status")).region
        assert status.y <= 2
