"""PruneApp: the experiment form, the run in a worker thread, and the panels that watch it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, cast

from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Header, Static
from textual.worker import Worker, WorkerState

from prunetui.app.remembered import recall, remember
from prunetui.app.run_state import RunState
from prunetui.app.runner import ExperimentRunner
from prunetui.app.screens.too_small import TooSmallScreen
from prunetui.app.widgets.event_log import EventLog
from prunetui.app.widgets.experiment_form import ExperimentForm
from prunetui.app.widgets.fitting_footer import FittingFooter
from prunetui.app.widgets.sparsity_bars import SparsityBars
from prunetui.app.widgets.status_panel import StatusPanel
from prunetui.engine.core.config import ExperimentConfig
from prunetui.engine.core.errors import ConfigError, OutputError
from prunetui.engine.core.events import Event
from prunetui.engine.core.files import write_atomic
from prunetui.engine.storage.runs import runs_root

if TYPE_CHECKING:
    from prunetui.app.screens.sensitivity import SensitivityScreen
    from prunetui.app.widgets.charts import RunChart

CONFIG_FILE = "prunetui.toml"
MAIN_SCREEN_ACTIONS = ("start", "stop", "save_config", "load_config", "reset_settings", "toggle_form", "open")
QUIT_WAIT = 1.5  # seconds to let a stopped run save itself before the app exits anyway
MIN_SIZE = (80, 24)  # the run view (status, both charts, the bars) needs this much; below it a notice says so


def breakpoint(size: int, breakpoints: list[tuple[int, str]]) -> str:
    """The class Textual gives a screen `size` cells wide (or high) for these breakpoints."""
    return next(name for edge, name in sorted(breakpoints, reverse=True) if size >= edge)


class PruneApp(App[None]):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute, so subclasses defined elsewhere find it
    TITLE = "prunetui"
    SUB_TITLE = "neural-network pruning experiments"
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (110, "-wide")]
    VERTICAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-short"), (36, "-tall")]
    # In the footer's order of importance: the keys that do not fit a narrow terminal are left out from the end.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "start", "Start", tooltip="Start a run with the settings in the form", priority=True),
        Binding("ctrl+t", "stop", "Stop", tooltip="Stop the run after the current batch", priority=True),
        Binding("f8", "toggle_form", "Form", tooltip="Fold the settings away to see the whole run, or show them"),
        Binding("f3", "open('runs')", "Runs", tooltip="Saved runs: compare their curves, export sizes"),
        Binding("f4", "open('sweep')", "Sweep", tooltip="Accuracy against sparsity for several methods"),
        Binding("f5", "open('sensitivity')", "Sensitivity", tooltip="Prune one layer at a time: which tolerate it"),
        Binding("f6", "open('weights')", "Weights", tooltip="A run's weights as a heat map, before and after"),
        Binding("f1", "help", "Help", tooltip="What the app does and its keys"),
        Binding("ctrl+q", "quit", "Quit", tooltip="Quit (asks first while a run is going)", priority=True),
        Binding("ctrl+s", "save_config", "Save", tooltip="Save the settings to a TOML file", priority=True),
        Binding("ctrl+o", "load_config", "Load", tooltip="Load settings from a TOML file", priority=True),
        Binding("f7", "reset_settings", "Defaults", tooltip="Put the default settings back into the form"),
        Binding("f2", "take_screenshot", "Screenshot", tooltip="Save an SVG screenshot in this folder"),
    ]

    @dataclass
    class EventsReceived(Message):
        """A batch of the run's engine events, posted by the worker thread a few times a second."""

        events: tuple[Event, ...]

    def __init__(self, config: ExperimentConfig | None = None, *, runs_dir: Path | None = None) -> None:
        """`config` goes into the form; without one, the settings remembered from the last session do. `runs_dir`:
        where runs are saved and read, and sweeps and sensitivity results go (default: the runs root, as
        `runs_root` finds it)."""
        super().__init__()
        self.runs_dir = runs_root(runs_dir)
        self._initial, self._recall_problem = (config, None) if config else recall()
        self.run_state = RunState()
        self.runner: ExperimentRunner | None = None

    def get_default_screen(self) -> Screen:
        """The main screen with the breakpoint classes for the terminal's size already set. Textual sets them on
        the first resize, after the first styling, and styling every widget again made the first paint slower."""
        width, height = self.size
        classes = (breakpoint(width, self.HORIZONTAL_BREAKPOINTS), breakpoint(height, self.VERTICAL_BREAKPOINTS))
        return Screen(id="_default", classes=" ".join(classes))

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="main", can_focus=False):
            with Vertical(id="setup"):
                yield ExperimentForm(id="form")
                with Horizontal(id="controls"):
                    yield Button("Start", variant="success", id="start", compact=True)
                    yield Button("Stop", variant="error", id="stop", compact=True, disabled=True)
            with Vertical(id="dashboard"):
                yield StatusPanel(id="status")
                with Horizontal(id="charts"):  # the charts (and plotext) come with the first run
                    yield Static("The loss and accuracy charts appear here once a run starts.", id="no-charts")
                with Horizontal(id="details"):
                    yield SparsityBars(id="sparsity")
                    yield EventLog(id="log")
        yield FittingFooter()

    def on_mount(self) -> None:
        titles = {
            "#setup": "Experiment",
            "#status": "Status",
            "#sparsity": "Sparsity per layer",
            "#log": "Log",
        }
        for selector, title in titles.items():
            self.query_one(selector).border_title = title
        if self._initial is not None:
            self._show_config(self._initial)
        if self._recall_problem is not None:
            self.notify(self._recall_problem, title="Remembered settings ignored", severity="warning", timeout=10)
        self.query_one("#setting-model").focus()

    def on_resize(self, event: events.Resize) -> None:
        too_small = event.size.width < MIN_SIZE[0] or event.size.height < MIN_SIZE[1]
        if too_small and not isinstance(self.screen, TooSmallScreen):
            self.push_screen(TooSmallScreen(*MIN_SIZE))
        elif not too_small and isinstance(self.screen, TooSmallScreen):
            self.pop_screen()

    @property
    def form(self) -> ExperimentForm:
        return self.query_one(ExperimentForm)

    @property
    def charts(self) -> list[RunChart]:
        return [cast("RunChart", chart) for chart in self.query("#charts RunChart")]

    # -- running --------------------------------------------------------------------------------------

    def action_start(self) -> None:
        if self.run_state.active:
            return
        config, problems = self.form.read()
        if problems:
            name, why = next(iter(problems.items()))
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            self.notify(f"{name.replace('_', ' ')}: {why}{more}", title="Cannot start yet", severity="error")
            self._fold_form(False)
            self.form.focus_first_problem()
            return
        self._remember_settings(config)
        self._add_charts()
        self.run_state = RunState.begin()
        self.runner = ExperimentRunner(
            config, lambda events: self.post_message(self.EventsReceived(events)), root=self.runs_dir
        )
        self._run_experiment(self.runner)
        self._fold_form(self.screen.has_class("-narrow") or self.query_one("#main").has_class("-folded"))
        self._running_changed()
        self._show_state()
        self.query_one("#dashboard").scroll_visible(top=True, animate=False)

    def _add_charts(self) -> None:
        if self.charts:
            return
        from prunetui.app.widgets.charts import AccuracyChart, LossChart  # plotext, once there is a run to draw

        loss, accuracy = LossChart(id="loss-chart"), AccuracyChart(id="accuracy-chart")
        loss.border_title = "Loss: train line, test dots"
        accuracy.border_title = "Test accuracy %, red: prune"
        self.query_one("#no-charts").remove()
        self.query_one("#charts").mount(loss, accuracy)

    @work(thread=True, exclusive=True, exit_on_error=False, group="experiment")
    def _run_experiment(self, runner: ExperimentRunner) -> None:
        runner.run()

    def action_stop(self) -> None:
        if self.runner is not None and self.run_state.active:
            self.runner.stop()
            self.run_state.stopping()
            self._show_state()

    def action_toggle_form(self) -> None:
        self._fold_form(not self.query_one("#main").has_class("-folded"))

    def _fold_form(self, folded: bool) -> None:
        """Fold the settings away, so that at 80x24 the whole run shows, or bring them back."""
        self.query_one("#main").set_class(folded, "-folded")
        if folded and self.focused is not None and self.form in self.focused.ancestors:
            self.set_focus(self.query_one("#status"), scroll_visible=False)

    def on_prune_app_events_received(self, message: EventsReceived) -> None:
        state = self.run_state
        was_active = state.active
        state.apply(message.events)
        if was_active and not state.active:
            self._running_changed()
            if state.error is not None:
                self.notify(state.error, title="The run failed", severity="error", timeout=10)
            if state.started is None:
                self._fold_form(False)  # it never started: the settings are what to look at next
        self._show_state()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and self.run_state.active:
            error = event.worker.error
            self.run_state.fail(f"the run crashed: {type(error).__name__}: {error}")
            self._running_changed()
            self._show_state()

    def _running_changed(self) -> None:
        running = self.run_state.active
        start, stop = self.query_one("#start", Button), self.query_one("#stop", Button)
        # Focus moves to the button that now works before the one that had it is disabled, or Textual would
        # move it on and scroll there; with the form folded away, focus stays where it is.
        enabled, disabled = (stop, start) if running else (start, stop)
        enabled.disabled = False
        if not self.query_one("#main").has_class("-folded"):
            self.set_focus(enabled, scroll_visible=False)
        disabled.disabled = True
        self.form.locked = running
        self.refresh_bindings()

    def _show_state(self) -> None:
        state = self.run_state
        for panel in (StatusPanel, SparsityBars, EventLog):
            self.query_one(panel).show(state)
        for chart in self.charts:
            chart.show(state)

    @on(Button.Pressed, "#start")
    def _start_pressed(self) -> None:
        self.action_start()

    @on(Button.Pressed, "#stop")
    def _stop_pressed(self) -> None:
        self.action_stop()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if isinstance(self.screen, TooSmallScreen):
            return action == "quit"  # no screen opens over the notice: it would stay when the terminal grows
        if action in MAIN_SCREEN_ACTIONS and self.screen is not self.screen_stack[0]:
            return False  # another screen is in front (Runs, Sweep …): its own keys apply, ctrl+r starts its analysis
        if action == "start":
            return not self.run_state.active  # only the key that applies is shown: the footer has little room
        if action == "stop":
            return self.run_state.active
        if action in ("load_config", "reset_settings"):
            return None if self.run_state.active else True
        return True

    # -- settings -------------------------------------------------------------------------------------

    def action_save_config(self) -> None:
        from prunetui.app.screens.config_file import ConfigFileScreen

        self.push_screen(ConfigFileScreen("Save the settings to:", CONFIG_FILE), self._save_config)

    def _save_config(self, path: Path | None) -> None:
        if path is None:
            return
        config, problems = self.form.read()
        if problems:
            self.notify("Fix the settings marked in red first.", title="Not saved", severity="error")
            return
        try:
            write_atomic(path, config.to_toml())
        except OutputError as error:
            self.notify(str(error), title="Not saved", severity="error")
            return
        self.notify(f"Saved to {path}", title="Settings saved")

    def action_load_config(self) -> None:
        from prunetui.app.screens.config_file import ConfigFileScreen

        self.push_screen(ConfigFileScreen("Load settings from:", CONFIG_FILE), self._load_config)

    def _load_config(self, path: Path | None) -> None:
        if path is None:
            return
        try:
            config = ExperimentConfig.load(path)
        except ConfigError as error:
            self.notify(str(error), title="Not loaded", severity="error")
            return
        if self._show_config(config):
            self.notify(f"Loaded {path}", title="Settings loaded")

    def action_reset_settings(self) -> None:
        if not self.run_state.active and self._show_config(ExperimentConfig()):
            self._fold_form(False)
            self.notify("The form shows the default settings.", title="Defaults")

    def _show_config(self, config: ExperimentConfig) -> bool:
        try:
            self.form.show_config(config)
        except ConfigError as error:
            self.notify(str(error), title="Settings not loaded", severity="error")
            return False
        return True

    def _remember_settings(self, config: ExperimentConfig) -> None:
        """The next session opens with these settings; a failure to write them is only a warning."""
        problem = remember(config)
        if problem is not None:
            self.notify(problem, title="Settings not remembered", severity="warning")

    def on_sensitivity_screen_amounts_chosen(self, message: SensitivityScreen.AmountsChosen) -> None:
        """From the Sensitivity screen: prune each layer as far as it tolerates, in the next run."""
        if self.run_state.active:
            self.notify("The settings are locked while a run goes on.", title="Not used", severity="warning")
            return
        config, _ = self.form.read()
        if self._show_config(config.replace(model=message.model, scope="layer", layer_sparsity=message.amounts)):
            self._fold_form(False)
            self.notify(f"layer sparsity {message.amounts}: ctrl+r starts a run with it", title="Per-layer amounts")

    # -- the rest ---------------------------------------------------------------------------------------

    def action_take_screenshot(self) -> None:
        path = self.save_screenshot()
        self.notify(f"Saved {path}", title="Screenshot")

    def action_open(self, name: str) -> None:
        """Open an analysis screen (imported only now: numpy, plotext); Sweep and Sensitivity start from the
        form's settings."""
        from prunetui.app.screens.runs import RunsScreen
        from prunetui.app.screens.sensitivity import SensitivityScreen
        from prunetui.app.screens.sweep import SweepScreen
        from prunetui.app.screens.weights import WeightsScreen

        if name in ("runs", "weights"):
            self.push_screen(RunsScreen(self.runs_dir) if name == "runs" else WeightsScreen(self.runs_dir))
            return
        config, _ = self.form.read()  # the screens check the settings when they start
        screen = SweepScreen if name == "sweep" else SensitivityScreen
        self.push_screen(screen(config, self.runs_dir))

    def action_help(self) -> None:
        from prunetui.app.screens.help import HelpScreen

        self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for binding in self.BINDINGS:
            if isinstance(binding, Binding) and binding.action != "quit":  # Textual's own commands include Quit
                yield SystemCommand(binding.description, binding.tooltip, partial(self.run_action, binding.action))
        yield from super().get_system_commands(screen)

    async def action_quit(self) -> None:
        if self.run_state.active:
            from prunetui.app.screens.confirm_quit import ConfirmQuitScreen

            self.push_screen(ConfirmQuitScreen(), self._quit_answered)
            return
        config, problems = self.form.read()
        if not problems:
            self._remember_settings(config)
        self.exit()

    async def _quit_answered(self, stop: bool | None) -> None:
        """Stop the run and give it a moment to save itself as stopped; the process then ends at once
        (`run_app`), without waiting for torch to tear down."""
        if not stop:
            return
        self.action_stop()
        # Polled, not `wait_for(worker.wait())`: a timeout there cancels the worker's task and marks it
        # cancelled, while its thread goes on saving the run.
        deadline = time.monotonic() + QUIT_WAIT
        while any(not worker.is_finished for worker in self.workers) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        self.exit()
