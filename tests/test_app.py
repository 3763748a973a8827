"""The app through the pilot: settings by keyboard, real runs on tiny data, stop, errors, quit, a small terminal."""

from __future__ import annotations

import asyncio
import io
import re
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import pytest
from rich.console import Console
from textual import events
from textual.errors import NoWidget
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Input, Markdown, Static
from textual.widgets._footer import FooterKey

from prunetui.app.app import PruneApp
from prunetui.app.keys import KEYS
from prunetui.app.remembered import settings_path
from prunetui.app.run_state import FAILED, FINISHED, IDLE, STOPPED, RunState
from prunetui.app.runner import ExperimentRunner
from prunetui.app.screens.confirm_quit import ConfirmQuitScreen
from prunetui.app.screens.help import HelpScreen
from prunetui.app.screens.main import MainScreen
from prunetui.app.screens.too_small import TooSmallScreen
from prunetui.app.widgets.charts import RunChart
from prunetui.app.widgets.choice import Choice
from prunetui.app.widgets.event_log import EventLog
from prunetui.app.widgets.experiment_form import ExperimentForm, SettingRow
from prunetui.app.widgets.fitting_footer import FittingFooter
from prunetui.app.widgets.sparsity_bars import SparsityBars
from prunetui.app.widgets.status_panel import StatusPanel
from prunetui.engine import ExperimentConfig
from prunetui.engine.core.events import Failed, Status
from prunetui.engine.storage.runs import list_runs, runs_root
from tests.engine_helpers import printed_by

SIZE = (140, 44)
ScreenT = TypeVar("ScreenT", bound=Screen[None])


async def wait_until(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll `condition` while the app runs, then let the app handle what is pending. A plain sleep between polls:
    `pilot.pause` has each of the screen's widgets handle a message (10 ms of CPU a poll on the main screen, 0.4
    with a sleep). An app that failed meanwhile fails the wait with its error, not with the timeout."""
    deadline = time.monotonic() + timeout
    while not condition():
        if pilot.app._exception is not None:
            raise pilot.app._exception
        assert time.monotonic() < deadline, "timed out waiting for the app"
        await asyncio.sleep(0.05)
    await pilot.pause(0)


def press_now(app: PruneApp, key: str) -> None:
    """A key as the terminal sends it, without `pilot.press`'s waits for an idle process: while a run trains, each
    lasts a second (the training thread keeps the process busy) and the run trains on meanwhile. The caller waits
    for what the key does."""
    app.post_message(events.Key(key, key if len(key) == 1 else None).set_sender(app))


async def opened(pilot: Pilot[None], key: str, kind: type[ScreenT]) -> ScreenT:
    """Press the key that opens a screen, and the screen it opened."""
    await pilot.press(key)
    # A screen shows after a short delay, and its widgets once it is mounted.
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, kind) and pilot.app.screen.is_mounted)
    screen = pilot.app.screen
    assert isinstance(screen, kind)
    return screen


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


def test_the_first_frame_shows_the_form_before_torch_is_imported() -> None:
    """What a user sees first: the form, with the model setting focused, painted before torch (seconds to import),
    numpy or plotext is loaded; a run, the analysis screens and the charts bring them."""
    code = (
        "import sys\n"
        "from prunetui.app.app import PruneApp\n"
        "class Probe(PruneApp):\n"
        "    def on_ready(self):  # Textual's Ready: the first frame is on the screen (before PruneApp.on_ready)\n"
        "        heavy = [name for name in ('torch', 'numpy', 'plotext') if name in sys.modules]\n"
        "        row, control = self.screen.query_one('#row-model'), self.screen.query_one('#setting-model')\n"
        "        shown = row.region.area > 0 and self.screen.region.contains_region(row.region)\n"
        "        print(heavy or 'none', shown, control.has_focus, 'lenet5' in self.export_screenshot())\n"
        "        self.exit()\n"
        "Probe().run(headless=True, size=(80, 24))\n"
    )
    assert printed_by(code, timeout=60) == ["none", "True", "True", "True"]


def test_torch_optim_loads_in_the_background_once_the_form_is_painted() -> None:
    """torch.optim's first optimizer imports torch's compiler (seconds): the app loads it while the user fills the
    form, with nothing pressed, so Start trains at once."""
    code = (
        "import sys, threading\n"
        "from prunetui.app.app import PruneApp\n"
        "class Probe(PruneApp):\n"
        "    def on_ready(self):  # before PruneApp.on_ready, which starts the loading\n"
        "        print('torch' in sys.modules, flush=True)\n"
        "        self.set_interval(0.1, self.poll)\n"
        "    def poll(self):\n"
        "        loading = [t for t in threading.enumerate() if t.name == 'prunetui: loading torch.optim']\n"
        "        if 'torch._dynamo' in sys.modules and not loading:\n"
        "            print(self.screen.query_one('#setting-model').has_focus, flush=True)\n"
        "            self.exit()\n"
        "Probe().run(headless=True, size=(80, 24))\n"
    )
    assert printed_by(code) == ["False", "True"]


async def test_every_setting_has_a_row_once_the_app_is_up(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config)
    async with app.run_test(size=(80, 24)) as pilot:
        form = app.query_one(ExperimentForm)
        rows = [f"row-{f.name}" for f in ExperimentConfig.fields()]
        rows.insert(rows.index("row-seed") + 1, "row-seeds")  # the Seeds row (a seed group) follows the seed's
        await wait_until(pilot, lambda: len(form.query(".setting")) == len(rows))
        assert [row.id for row in form.query(".setting")] == rows
        assert form.read() == (tiny_config, {}) and form.seeds == ()


@pytest.mark.slow
async def test_settings_by_keyboard_then_a_full_iterative_run(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for _ in range(5):  # model, dataset, data dir, criterion, scope, then schedule
            await pilot.press("tab")
        assert app.focused is app.query_one("#setting-schedule")
        await pilot.press("enter", "down", "enter")  # one-shot -> iterative
        assert app.query_one("#setting-schedule", Choice).value == "iterative"
        await pilot.press("tab", "end", "ctrl+u", *"0.75", "tab", "end", "ctrl+u", "2")  # sparsity, rounds
        config, problems = app.main_screen.form.read()
        assert (config.schedule, config.sparsity, config.rounds, problems) == ("iterative", 0.75, 2, {})

        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: not app.main_screen.run_state.active)
        await pilot.pause()

        state = app.main_screen.run_state
        assert state.outcome == FINISHED and state.summary is not None
        report = state.summary.sparsity
        assert report.global_sparsity == pytest.approx(0.75, abs=0.005)
        bars = shown(app.query_one(SparsityBars))
        assert f"{report.global_sparsity * 100:.2f} %" in bars
        for layer in report.layers:
            assert f"{layer.sparsity * 100:.2f} %" in bars and f"{layer.nonzero:,}/{layer.total:,}" in bars
        loss_lines, _ = chart_lines(app.query_one("#loss-chart", RunChart))
        train_loss, test_loss = loss_lines
        assert len(train_loss) == len(state.train_loss.ys) > 0 and len(test_loss) == 4 + 2  # epochs, prunes
        accuracy_lines, prune_marks = chart_lines(app.query_one("#accuracy-chart", RunChart))
        assert accuracy_lines[0][-1] == pytest.approx(state.current_accuracy * 100)
        assert len(prune_marks) == 2
        assert "done" in shown(app.query_one("#phase", Static))
        figures = shown(app.query_one("#figures", Static)).replace("  ", " ")
        whole = f"compression {report.weight_compression:.1f}× weights, {report.compression:.1f}× all parameters"
        assert whole in figures
        assert report.weight_compression > report.compression  # pruning keeps the biases
        assert any("round 2/2: pruned to 75.0 %" in line and "fine-tuned" in line for line in state.log)
        assert not app.main_screen.form.locked and not app.query_one("#start", Button).disabled

        await pilot.press("ctrl+r")  # the next run starts with a clean slate
        assert app.main_screen.run_state is not state
        await wait_until(pilot, lambda: not app.main_screen.run_state.active)
        await pilot.pause()
        log_text = [strip.text for strip in app.query_one(EventLog).lines]
        assert sum(line.lstrip(" 0123456789:").startswith("done:") for line in log_text) == 1


@pytest.mark.timing  # stops within 5 s
async def test_stop_mid_run_keeps_results_and_the_app_usable(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(long_config(tiny_config))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()  # the layout for the terminal's width applies after the first refresh
        await pilot.click("#start")
        await wait_until(pilot, lambda: bool(app.main_screen.run_state.train_loss.xs))
        (worker,) = app.workers
        assert app.main_screen.form.locked and app.query_one("#start", Button).disabled
        assert app.query_one("#setting-epochs").is_disabled
        controls = [control for control in app.query("#settings .setting > *") if control.can_focus]
        assert len(controls) > 30 and all(control.disabled for control in controls)  # the seeds' too
        await pilot.press("ctrl+t")
        assert "stop requested: the run ends after the current batch" in app.main_screen.run_state.log
        await wait_until(pilot, lambda: not app.main_screen.run_state.active, timeout=5)
        assert not app._notifications  # no "Stopping" toast over the bars: the status and the log say it
        await pilot.pause()
        assert (
            worker.is_finished
            and app.main_screen.run_state.outcome == STOPPED
            and app.main_screen.run_state.summary is not None
        )
        assert not app.main_screen.run_state.summary.complete
        assert "stopped" in shown(app.query_one("#phase", Static))
        assert not app.main_screen.form.locked and app.query_one("#stop", Button).disabled
        app.query_one("#setting-epochs", Input).focus()
        await pilot.press("end", "ctrl+u", "1")
        assert app.main_screen.form.read()[0].epochs == 1


async def test_an_invalid_setting_is_marked_and_blocks_start(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config)
    async with app.run_test(size=SIZE) as pilot:
        app.query_one("#setting-epochs", Input).focus()
        await pilot.press("end", "ctrl+u", *"two")
        assert app.query_one("#row-epochs").has_class("-invalid")
        assert shown(app.query_one("#note-epochs", Static)) == "must be a whole number"
        status = app.query_one("#form-status", Static)
        assert "1 setting to fix" in shown(status) and len(shown(status)) <= status.size.width  # not cut

        app.query_one("#setting-model").focus()
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert app.main_screen.run_state.outcome == IDLE and not app.workers
        assert app.focused is app.query_one("#setting-epochs")  # sent to the problem
        assert any("epochs: must be a whole number" in n.message for n in app._notifications)

        await pilot.press("ctrl+u", "2")
        assert not app.query_one("#row-epochs").has_class("-invalid") and app.main_screen.form.problems == {}


async def test_a_network_or_weights_file_that_is_not_there_is_marked_before_start(
    tiny_config: ExperimentConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = PruneApp(tiny_config.replace(model="resnet20", weights="gone.pt"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: bool(app.main_screen.query("#status")))  # every row is in
        app.query_one("#setting-model", Input).focus()
        await pilot.press("end", "ctrl+u", *"nets.py:build")
        form = app.main_screen.form
        assert form.problems == {"model": "--model nets.py: no such file", "weights": "--weights gone.pt: no such file"}
        assert shown(app.query_one("#note-model", Static)) == "model nets.py: no such file"
        assert app.query_one("#row-weights").has_class("-invalid")
        assert "2 settings to fix" in shown(app.query_one("#form-status", Static))

        (tmp_path / "nets.py").write_text("def build(): ...\n")
        await pilot.press("backspace", "d")  # checked again as the field changes
        assert form.problems == {"weights": "--weights gone.pt: no such file"}


async def test_a_help_longer_than_its_two_lines_ends_in_an_ellipsis_at_80_columns(
    tiny_config: ExperimentConfig,
) -> None:
    app = PruneApp(tiny_config)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: bool(app.main_screen.query("#status")))  # every row is in
        help_panel = app.query_one("#setting-help", Static)
        app.query_one("#setting-data_dir", Input).focus()
        await pilot.pause()
        lines = shown(help_panel).splitlines()
        assert len(lines) == 2 and lines[0].startswith("data dir: data set folder") and lines[1].endswith("…")
        assert all(len(line) <= help_panel.content_region.width for line in lines)
        await pilot.resize_terminal(140, 44)  # wide: the form is 48 columns, its help four lines
        await wait_until(pilot, lambda: len(shown(help_panel).splitlines()) == 4)
        assert all(len(line) <= help_panel.content_region.width for line in shown(help_panel).splitlines())
        app.query_one("#setting-epochs", Input).focus()
        await pilot.pause()
        assert "…" not in shown(help_panel) and shown(help_panel).startswith("epochs: training epochs")


async def test_the_focused_settings_label_lights_up_as_tab_moves(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config)
    async with app.run_test(size=SIZE) as pilot:

        def label_color(name: str) -> object:
            return app.query_one(f"#row-{name}", SettingRow).get_component_rich_style("setting-row--label").color

        app.query_one("#setting-model").focus()
        await pilot.pause()
        lit, unlit = label_color("model"), label_color("dataset")
        assert lit != unlit
        await pilot.press("tab")
        await pilot.pause()
        assert app.focused is app.query_one("#setting-dataset")
        assert (label_color("model"), label_color("dataset")) == (unlit, lit)


async def test_the_form_refuses_numbers_out_of_range_and_targets_out_of_reach(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config.replace(schedule="iterative", scope="global", max_layer_sparsity=0.01))
    async with app.run_test(size=SIZE) as pilot:
        app.query_one("#setting-rounds", Input).focus()
        await pilot.press("end", "ctrl+u", *"99999999999999999999")
        assert shown(app.query_one("#note-rounds", Static)) == "must be between 1 and 100"
        await pilot.press("ctrl+u", "3")
        assert set(app.main_screen.form.problems) == {"sparsity"}
        assert "global scope reaches at most 0.0099" in shown(app.query_one("#note-sparsity", Static))
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert app.main_screen.run_state.outcome == IDLE and not app.workers


async def test_choices_that_do_not_apply_are_disabled_or_explained(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config.replace(scope="global"))
    async with app.run_test(size=SIZE) as pilot:
        assert app.query_one("#setting-rounds").disabled  # one-shot
        assert "one-shot prunes once" in shown(app.query_one("#note-rounds", Static))
        assert not app.query_one("#setting-max_layer_sparsity").disabled  # global scope
        app.query_one("#setting-criterion", Choice).value = "ln-structured"
        await pilot.pause()
        assert app.query_one("#row-scope").has_class("-invalid")
        assert "ln-structured" in shown(app.query_one("#note-scope", Static))
        app.query_one("#setting-scope", Choice).value = "layer"
        await pilot.pause()
        assert app.main_screen.form.problems == {} and app.query_one("#setting-scope").disabled


async def test_a_missing_data_set_is_a_message_and_the_app_stays_up(
    tiny_config: ExperimentConfig, tmp_path: Path, mirror: None
) -> None:
    """A download that fails after all (a mirror answers, so the form lets the run try it); offline, Start offers
    the built-in data set instead (tests/test_offline_data.py)."""
    app = PruneApp(tiny_config.replace(data_dir=str(tmp_path / "empty")))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: not app.main_screen.run_state.active)
        await pilot.pause()
        assert inside_screen(app, "#setting-model")  # the form folded back: the settings need a look
        assert app.main_screen.run_state.outcome == FAILED
        phase = shown(app.query_one("#phase", Static))
        assert phase.startswith("failed: ") and "mnist" in phase and "Traceback" not in phase
        assert shown(app.query_one("#figures", Static)) == ""  # no elapsed time, speed or accuracy of a non-run
        assert not app.main_screen.form.locked
        app.query_one("#setting-data_dir", Input).value = tiny_config.data_dir
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: not app.main_screen.run_state.active)
        assert app.main_screen.run_state.outcome == FINISHED


async def test_under_agp_the_accuracy_before_pruning_is_not_called_dense(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config.replace(schedule="agp", rounds=2))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: not app.main_screen.run_state.active)
        await pilot.pause()
        state = app.main_screen.run_state
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

    app = PruneApp(tiny_config.replace(epochs=1, finetune_epochs=0))  # the run after the crash: short
    async with app.run_test(size=SIZE) as pilot:
        with monkeypatch.context() as patch:
            patch.setattr(ExperimentRunner, "run", crash)
            await pilot.press("ctrl+r")
            await wait_until(pilot, lambda: not app.main_screen.run_state.active)
        assert app.main_screen.run_state.outcome == FAILED
        assert shown(app.query_one("#phase", Static)) == "failed: the run crashed: RuntimeError: boom"
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: not app.main_screen.run_state.active)
        assert app.main_screen.run_state.outcome == FINISHED


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
        assert app.query_one("#setting-model", Input).value == "lenet300"
        assert app.main_screen.form.read() == (tiny_config.replace(model="lenet300", seed=7), {})


async def test_saving_settings_is_atomic(
    tiny_config: ExperimentConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = tmp_path / "saved.toml"
    saved.write_text(tiny_config.to_toml())

    def disk_full(_fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("prunetui.engine.core.files.os.fsync", disk_full)
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
    app = PruneApp(tiny_config.replace(criterion="l3"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.query_one("#setting-criterion", Choice).value == "l1"
        await wait_until(pilot, lambda: any("invalid criterion" in n.message for n in app._notifications))  # fields
        app.main_screen.form.show_config(tiny_config.replace(model="resnet50"))  # free text: shown, and marked
        await pilot.pause()
        assert app.query_one("#setting-model", Input).value == "resnet50"
        assert "unknown model 'resnet50'" in app.main_screen.form.problems["model"]
        app.main_screen.form.show_config(tiny_config.replace(sparsity=1.5))
        await pilot.pause()
        assert app.main_screen.form.problems == {"sparsity": "must be in [0, 1)"}
        assert app.query_one("#row-sparsity").has_class("-invalid")


@pytest.mark.timing  # exits within 2 s of the answer
async def test_quit_while_running_asks_stops_the_worker_and_exits(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(long_config(tiny_config))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: bool(app.main_screen.run_state.train_loss.xs))
        (worker,) = app.workers
        press_now(app, "ctrl+q")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmQuitScreen))
        press_now(app, "n")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmQuitScreen))
        assert app.main_screen.run_state.active

        press_now(app, "ctrl+q")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmQuitScreen))
        asked = time.monotonic()
        press_now(app, "y")
        await wait_until(pilot, lambda: app._exit, timeout=2)
        assert time.monotonic() - asked < 2
        assert worker.is_finished and app.main_screen.run_state.outcome == STOPPED
        (run,) = list_runs(runs_root())
        assert run.status == "stopped"  # saved as such before the app let go


def inside_screen(app: PruneApp, selector: str) -> bool:
    """Whether the widget is shown whole, without scrolling, on the screen."""
    widget = app.query_one(selector)
    try:
        region = app.screen.find_widget(widget).region
    except NoWidget:  # not laid out (yet)
        return False
    return widget.display and region.area > 0 and app.screen.region.contains_region(region)


async def test_at_80x24_a_run_shows_status_both_charts_and_the_bars_at_once(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(long_config(tiny_config))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.screen.has_class("-narrow")
        assert inside_screen(app, "#setting-model") and not app.query("#loss-chart")  # no plotext before a run
        await pilot.press("ctrl+r")
        loss = app.query_one("#loss-chart", RunChart)
        await wait_until(pilot, lambda: len((chart_lines(loss)[0] or [[]])[0]) > 2)  # the train line, replotted
        for panel in ("#status", "#loss-chart", "#accuracy-chart", "#sparsity", "#log"):
            assert inside_screen(app, panel), f"{panel} is not whole on the screen"
        assert not app.query_one("#setup").display  # the form folded away
        footer = {key.description for key in app.query(FooterKey)}
        assert {"Stop", "Form", "Quit", "Runs", "Sweep", "Sensitivity", "Weights"} <= footer
        assert "Start" not in footer and "Presets" not in footer  # no use while a run goes
        press_now(app, "f8")  # the form comes back
        await wait_until(pilot, lambda: inside_screen(app, "#setting-model"))
        assert app.main_screen.form.locked
        press_now(app, "ctrl+t")
        await wait_until(pilot, lambda: not app.main_screen.run_state.active)


async def test_the_footer_shows_only_keys_that_fit_whole(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        keys = list(app.query(FooterKey))
        assert keys and all(app.screen.find_widget(key).region.right <= 80 for key in keys)
        assert [key.description for key in keys][:3] == ["Quit", "Start", "Presets"]  # Textual puts its quit key first
        assert "Screenshot" not in {key.description for key in keys}  # it did not fit: left out, not cut
        await pilot.resize_terminal(160, 40)
        await pilot.pause(0.2)
        assert "Screenshot" in {key.description for key in app.query(FooterKey)}


async def test_a_screen_closed_before_its_footer_rebuilds_leaves_the_app_running(tiny_config: ExperimentConfig) -> None:
    """A footer asks for its build after the next refresh; a screen closed first (`o` on the Runs screen) took its
    footer away by then. That build once raised NoScreen and ended the app."""
    app = PruneApp(tiny_config)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("f3")
        await wait_until(pilot, lambda: app.screen is not app.main_screen)
        footer = app.screen.query_one(FittingFooter)
        app.pop_screen()
        await wait_until(pilot, lambda: app.screen is app.main_screen and not footer.is_attached)
        await footer.recompose()  # what the refresh it had asked for would run
        await pilot.pause()
        assert app.is_running and app._exception is None
        assert app.screen is app.main_screen and footer_keys(app.screen)


@pytest.mark.parametrize("key", ["f3", "f5"])  # a list of runs, an analysis
async def test_a_screen_closed_by_a_key_that_came_with_the_one_that_opened_it_leaves_the_app_running(
    tiny_config: ExperimentConfig, key: str
) -> None:
    """Keys typed quickly over SSH arrive together: what a screen does after it mounts finds it closed."""
    app = PruneApp(tiny_config)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        for _ in range(2):
            press_now(app, key)
            press_now(app, "escape")
            await pilot.pause()
            await pilot.pause()
            assert app.screen is app.main_screen
        assert app.is_running and app._exception is None and footer_keys(app.screen)


async def test_a_burst_of_keys_edits_a_field_in_the_order_they_came(tiny_config: ExperimentConfig) -> None:
    """Keys sent faster than the app handles them (a held backspace, then typing; over SSH, a paste of keys): each
    form check between them once let Textual type the characters before the backspaces ran."""
    app = PruneApp(tiny_config)
    async with app.run_test(size=(80, 24)) as pilot:
        field = app.query_one("#setting-model", Input)
        field.focus()
        await pilot.press("end")
        keys = ["backspace"] * 6 + ["m", "y", "n", "e", "t", "left", "left", "backspace", "x"]
        for key in keys:  # all waiting before the first is handled
            press_now(app, key)
        try:
            await wait_until(pilot, lambda: field.value == "myxet", timeout=10)
        except AssertionError:
            raise AssertionError(f"the field reads {field.value!r}") from None
        await pilot.pause()
        assert field.value == "myxet"  # no key left to run


async def test_an_emptied_model_field_does_not_look_filled_in(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config)
    async with app.run_test(size=(80, 24)) as pilot:
        field = app.query_one("#setting-model", Input)
        field.value = ""
        await wait_until(pilot, lambda: "model" in app.main_screen.form.problems)
        assert field.placeholder.startswith("required: ") and "lenet5" not in field.placeholder


async def test_moving_through_the_form_leaves_the_footer_alone(tiny_config: ExperimentConfig) -> None:
    """Each focus change says the screen's bindings changed; keys that stay the same are not built again (a build
    restyles them and lays the screen out), and the form's rows after the first frame are reached by Tab."""
    app = PruneApp(tiny_config)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: bool(app.main_screen.query("#status")))  # the deferred rows are in
        keys = list(app.query(FooterKey))
        controls = [control.id for control in app.query("#settings .setting > *") if control.focusable]
        reached = []
        for _ in controls:  # from the first setting, which has the focus
            reached.append(app.focused.id if app.focused is not None else None)
            await pilot.press("tab")
        await pilot.pause()
        assert len(controls) > 30 and reached == controls  # every enabled setting, in order
        assert list(app.query(FooterKey)) == keys


async def test_a_new_sparsity_report_repaints_the_bars_and_leaves_the_footer_alone(
    tiny_config: ExperimentConfig,
) -> None:
    """The bars show each report of the same layers at once, with no layout of the screen and no footer rebuilt for
    keys that did not change (the UI thread's time is training's)."""
    app = PruneApp(tiny_config.replace(epochs=1, finetune_epochs=0))  # a pruned report is all it needs
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: not app.main_screen.run_state.active)
        await pilot.pause(0.2)
        state, bars = app.main_screen.run_state, app.query_one(SparsityBars)
        pruned = state.sparsity
        assert pruned is not None and f"{pruned.global_sparsity * 100:.2f} %" in shown(bars)
        keys = list(app.query(FooterKey))
        dense = replace(pruned, layers=tuple(replace(layer, zeros=0) for layer in pruned.layers))
        for report, sparsity in ((dense, "0.00 %"), (pruned, f"{pruned.global_sparsity * 100:.2f} %")):
            state.sparsity = report
            bars.show(state)
            await pilot.pause(0.2)
            assert sparsity in shown(bars) and "non-zero/total" in shown(bars)
            assert list(app.query(FooterKey)) == keys  # the same keys, not rebuilt
        await pilot.resize_terminal(80, 24)  # a new width does rebuild them, to fit
        await pilot.pause(0.2)
        assert list(app.query(FooterKey)) != keys and "Screenshot" not in footer_keys(app.screen)


def footer_keys(screen: Screen[None]) -> list[str]:
    return [key.description for key in screen.query(FooterKey)]


async def test_the_main_screen_has_the_run_and_the_footer_the_apps_order_of_keys(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        main = app.main_screen
        assert isinstance(main, MainScreen) and app.screen is main and main.form is main.query_one("#form")
        narrow = ["Quit", "Start", "Presets", "Runs", "Sweep", "Sensitivity", "Weights", "Help"]  # F3-F6 all fit
        # The screen's keys and the app's, interleaved as in KEYS (the footer is built after the first frame).
        await wait_until(pilot, lambda: footer_keys(main) == narrow)
        await pilot.resize_terminal(140, 44)  # the footer is built again after the next frame
        wide = [*narrow, "Form", "Save", "Load", "Defaults", "Screenshot"]
        await wait_until(pilot, lambda: footer_keys(main) == wide)
        await opened(pilot, "f1", HelpScreen)
        keys = [
            line.split("** ")[1].split(":")[0]
            for line in app.screen.query_one(Markdown).source.splitlines()
            if line.startswith("- **")
        ]
        assert keys == [binding.description for binding in KEYS] and len(keys) == 14
        # Dimmed under Help: only the app's keys apply.
        await wait_until(pilot, lambda: footer_keys(main) == ["Quit", "Help", "Screenshot"])


async def test_a_terminal_too_small_says_what_it_needs(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config)
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, TooSmallScreen)
        notice = shown(app.screen.query_one("#too-small", Static))
        assert "terminal too small (needs 80×24)" in notice and "now 60×20" in notice
        await pilot.press("f3")  # no screen opens over the notice
        assert isinstance(app.screen, TooSmallScreen)
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert app.screen is app.screen_stack[0] and inside_screen(app, "#setting-model")


@pytest.mark.slow
async def test_settings_are_remembered_between_sessions_and_reset_to_defaults(tiny_config: ExperimentConfig) -> None:
    first = PruneApp(tiny_config.replace(seed=7, sparsity=0.6))
    async with first.run_test(size=SIZE) as pilot:
        press_now(first, "ctrl+r")  # Start remembers the settings; the run itself is not needed
        await wait_until(pilot, lambda: first.main_screen.run_state.active)
        press_now(first, "ctrl+t")
        await wait_until(pilot, lambda: not first.main_screen.run_state.active)
    assert settings_path().is_file()
    app = PruneApp()  # a new session, no settings given
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.main_screen.form.read() == (tiny_config.replace(seed=7, sparsity=0.6), {})
        await pilot.press("f7")
        await pilot.pause()
        assert app.main_screen.form.read()[0] == ExperimentConfig()
        assert app.query_one("#setting-seed", Input).value == "0"


async def test_quitting_remembers_the_settings_with_a_weights_file_not_written_yet(
    tiny_config: ExperimentConfig, tmp_path: Path
) -> None:
    later = tiny_config.replace(model="resnet20", weights=str(tmp_path / "later.pt"), seed=7)
    async with PruneApp(later).run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: bool(pilot.app.main_screen.form.problems))  # marked: Start would refuse
        assert set(pilot.app.main_screen.form.problems) == {"weights"}
        await pilot.press("ctrl+q")
    assert settings_path().is_file() and ExperimentConfig.load(settings_path()) == later  # not lost for it


async def test_a_damaged_settings_file_is_ignored_with_a_message() -> None:
    settings_path().parent.mkdir(parents=True)
    settings_path().write_text("epochs = [oops")
    app = PruneApp()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        assert app.main_screen.form.read() == (ExperimentConfig(), {})
        (note,) = [n for n in app._notifications if n.title == "Remembered settings ignored"]
        assert str(settings_path()) in note.message and "defaults" in note.message


async def test_eta_and_epoch_times_while_a_run_goes(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(long_config(tiny_config))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+r")
        state = app.main_screen.run_state
        texts: list[str] = []
        etas: list[float] = []

        def etas_shown() -> bool:
            """The panel shown at the moment both times are known: a moment later the epoch may have ended (none
            left of it), as the wait lets the app handle what came meanwhile."""
            if state.run_eta is None or state.epoch_eta is None:
                return False
            etas[:] = [state.epoch_eta, state.run_eta]
            app.query_one(StatusPanel).show(state)
            texts[:] = [shown(app.query_one(f"#{name}-text", Static)) for name in ("epoch", "run")]
            return True

        await wait_until(pilot, etas_shown)
        epoch_text, run_text = texts
        assert re.search(r"batch [\d,]+/[\d,]+ · \d+:\d\d left$", epoch_text), epoch_text
        assert re.search(r"step [\d,]+ · \d+:\d\d left$", run_text), run_text
        assert 0 < etas[0] < etas[1]
        await wait_until(pilot, lambda: sum(line.startswith("training epoch") for line in state.log) >= 2)
        epochs = [line for line in state.log if line.startswith("training epoch")]
        assert all(re.search(r"; took \d+:\d\d$", line) for line in epochs), epochs
        press_now(app, "ctrl+t")
        await wait_until(pilot, lambda: not state.active)
        await pilot.pause()
        assert state.run_eta is None and "left" not in shown(app.query_one("#run-text", Static))


async def test_charts_share_the_x_range_and_keep_their_axis_precision(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config.replace(schedule="iterative", rounds=2, sparsity=0.8))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: not app.main_screen.run_state.active)
        await pilot.pause()
        loss, accuracy = (app.query_one(f"#{name}-chart", RunChart).plt for name in ("loss", "accuracy"))
        assert loss.monitor.xlim == accuracy.monitor.xlim
        assert set(loss.monitor.label + accuracy.monitor.label) == {None}  # no legend over the lines
        assert loss.monitor.xlim[0] == [0, app.main_screen.run_state.step]
        for plot, decimals in ((accuracy, 1), (loss, 2)):  # the same decimals on every label, none repeated
            labels = plot.monitor.ylabels[0]
            assert len(labels) == len(set(labels)) == 4
            assert all(re.fullmatch(rf"\d+\.\d{{{decimals}}}", label) for label in labels), labels


async def test_the_accuracy_chart_shows_the_first_prune_as_points_and_a_line(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: not app.main_screen.run_state.active)
        state = app.main_screen.run_state
        chart = app.query_one("#accuracy-chart", RunChart)
        chart.show(state)
        line, points = chart.plt.monitor.y
        assert line == points == [value * 100 for value in state.accuracy.ys]


async def test_log_lines_hang_and_the_data_dir_shows_its_start(tiny_config: ExperimentConfig) -> None:
    long_dir = tiny_config.data_dir + "/" + "sub/" * 12 + ".."  # a long path that still leads to the data
    app = PruneApp(tiny_config.replace(data_dir=long_dir))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        field = app.query_one("#setting-data_dir", Input)
        assert field.cursor_position == 0 and field.scroll_x == 0
        app.main_screen.form.show_config(tiny_config.replace(data_dir=long_dir + "/."))
        await pilot.pause()
        assert field.cursor_position == 0 and field.scroll_x == 0
        log = app.query_one(EventLog)
        app.main_screen.run_state.log.append("word " * 30)
        app.main_screen.run_state.started_at = 1.0
        log.show(app.main_screen.run_state)
        await pilot.pause()
        lines = [strip.text for strip in log.lines]
        first = next(i for i, line in enumerate(lines) if "word" in line)
        assert re.match(r"^ *[\d:]+  word", lines[first])  # the time into the run, then the line
        indent = lines[first].index("word")
        assert lines[first + 1].startswith(" " * indent + "word")


async def test_a_long_status_keeps_to_one_line_while_the_run_goes_and_an_error_says_itself_whole(
    tiny_config: ExperimentConfig,
) -> None:
    """A status that wrapped laid the screen out, in and out, as a run loaded its data (25-40 ms each at 160x48):
    while the run goes the phase is one line, cut, and the log has the status whole. An error wraps in full."""
    app = PruneApp(tiny_config)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()  # the run's panels come right after the first frame
        state = RunState.begin()
        where = "fashion-mnist: 60,000 training and 10,000 test images from " + "/data" * 12
        state.apply((Status(where),))
        app.query_one(StatusPanel).show(state)
        await pilot.pause()
        phase = app.query_one("#phase", Static)
        assert phase.size.height == 1 and phase.render_line(0).text.rstrip().endswith("…")
        log = app.query_one(EventLog)
        log.show(state)
        await pilot.pause()
        logged = " ".join(strip.text.strip() for strip in log.lines)
        assert "fashion-mnist: 60,000 training" in logged and logged.rstrip().endswith("/data/data")  # whole
        state.apply((Failed(f"no data set in {'/data' * 12}", None),))
        app.query_one(StatusPanel).show(state)
        await pilot.pause()
        assert shown(phase).endswith("/data/data") and phase.size.height == 2
        assert "…" not in "".join(phase.render_line(y).text for y in range(2))


async def test_the_log_is_read_by_keyboard_at_80x24_scrolled_and_zoomed(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        log = app.query_one("#log", EventLog)
        assert log.region.width == 80  # stacked under the form: as wide as the screen, its lines not cut at the edge
        for index in range(40):
            log.note(f"{index}: paper: LeNet-300-100 on MNIST: error 1.64 % → 1.59 %, 267,000 → 22,000 parameters")
        await pilot.press("f8")  # the form folded away: the log is a narrow panel beside the bars
        await pilot.pause()
        for _ in range(3):
            if app.focused is log:
                break
            await pilot.press("tab")
        assert app.focused is log
        await pilot.press("home")
        assert log.scroll_y == 0
        await pilot.press("pagedown", "down")
        assert log.scroll_y > 0
        await pilot.press("enter")  # zoomed: the log alone on the screen, its lines wrapped again at its width
        await pilot.pause(0.2)
        assert log.region.width == 80 and log.region.height >= 20 and log.scroll_y == log.max_scroll_y
        assert not app.query_one("#status").display
        await pilot.press("pageup")
        assert log.scroll_y < log.max_scroll_y
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert log.region.height < 10 and app.query_one("#status").region.height > 0
