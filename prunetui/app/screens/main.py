"""The main screen: the experiment form, the run in a worker thread, and the panels that watch it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import ActiveBinding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Header, Static
from textual.worker import Worker, WorkerState

from prunetui.app.keys import FOOTER_ORDER, MAIN_SCREEN_KEYS
from prunetui.app.remembered import recall, remember
from prunetui.app.run_state import RunState
from prunetui.app.widgets.experiment_form import ExperimentForm
from prunetui.app.widgets.fitting_footer import FittingFooter
from prunetui.app.words import as_fields
from prunetui.engine.core.config import ExperimentConfig
from prunetui.engine.core.errors import ConfigError, OutputError
from prunetui.engine.core.files import write_atomic
from prunetui.engine.core.networks.checks import missing_sources

if TYPE_CHECKING:
    from prunetui.app.follower import RunFollower
    from prunetui.app.group_state import GroupState
    from prunetui.app.thread_runner import ThreadRunner
    from prunetui.app.widgets.charts import RunChart
    from prunetui.app.widgets.event_log import EventLog
    from prunetui.app.widgets.sparsity_bars import SparsityBars
    from prunetui.app.widgets.status_panel import StatusPanel
    from prunetui.engine.analyses import SeedGroupEvent
    from prunetui.engine.core.events import Event
    from prunetui.engine.core.presets import Preset
    from prunetui.engine.storage.runs import RunRecord

CONFIG_FILE = "prunetui.toml"
CANNOT_START = "Cannot start yet"  # the toast's title: withdrawn once every setting is valid


class MainScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = list(MAIN_SCREEN_KEYS)

    @dataclass
    class EventsReceived(Message):
        """A batch of the run's engine events, posted by the worker thread a few times a second."""

        events: tuple[Event, ...]
        generation: int  # which start (or opened run) they come from: a run left behind may still send one

    @dataclass
    class GroupEventsReceived(Message):
        """A batch of a seed group's events, posted by the worker thread."""

        events: tuple[SeedGroupEvent, ...]
        generation: int

    def __init__(self, config: ExperimentConfig | None, runs_dir: Path | None, *, id: str, classes: str) -> None:
        """`config` goes into the form; without one, the settings remembered from the last session do. Runs are
        saved under `runs_dir` (None: the runs root, as `runs_root` finds it)."""
        super().__init__(id=id, classes=classes)
        self.runs_dir = runs_dir
        self._initial, self._recall_problem = (config, None) if config else recall()
        self._recalled = config is None and self._initial is not None
        self.run_state = RunState()  # the run the panels show: the one run, or a seed group's current seed
        self.group: GroupState | None = None  # while and after the app runs a seed group
        self.runner: ThreadRunner[Any] | None = None
        self.follower: RunFollower | None = None  # while it follows a run another process writes
        self._preset: Preset | None = None  # the form's settings came from it (F9)
        self._run_preset: Preset | None = None  # the running or last run's
        self._generation = 0  # counts starts and runs opened: the events of the latest alone are shown
        self._charts: list[RunChart] = []  # with the first run; kept, as a query of the whole screen cost ms per batch

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="main", can_focus=False):
            with Vertical(id="setup"):
                yield ExperimentForm(self._initial, id="form")
                with Horizontal(id="controls"):
                    yield Button("Start", variant="success", id="start", compact=True)
                    yield Button("Stop", variant="error", id="stop", compact=True, disabled=True)
            yield Vertical(id="dashboard")  # filled right after the first frame
        yield FittingFooter()

    def on_mount(self) -> None:
        self.query_one("#setup").border_title = "Experiment"
        if self._initial is not None:
            self._show_config(self._initial)
        if self._recall_problem is not None:
            self.notify(self._recall_problem, title="Remembered settings ignored", severity="warning", timeout=10)
        self.query_one("#setting-model").focus()

    async def after_first_frame(self) -> None:
        """The rest of the form, then the run's panels: built before the first frame they would hold it back by
        half (at 80x24 only the form's first rows and the status's first lines show in it)."""
        from prunetui.app.widgets.event_log import EventLog  # RichLog: a tenth of the app's imports
        from prunetui.app.widgets.sparsity_bars import SparsityBars  # the panels bring the events and their words
        from prunetui.app.widgets.status_panel import StatusPanel

        if not self.is_attached:
            return  # the app closed at once
        status, bars, log = StatusPanel(id="status"), SparsityBars(id="sparsity"), EventLog(id="log")
        status.border_title, bars.border_title, log.border_title = "Status", "Sparsity per layer", "Log"
        charts = Horizontal(  # the charts (and plotext) come with the first run
            Static("The loss and accuracy charts appear here once a run starts.", id="no-charts"), id="charts"
        )
        # The rows and the panels laid out and painted together, not after each mount: 7 layouts of the screen
        # as the app opens, 10 otherwise (bench_app_mount).
        with self.app.batch_update():
            await self.form.add_rows()
            if not self.is_attached:
                return
            await self.query_one("#dashboard").mount(status, charts, Horizontal(bars, log, id="details"))
        if self._recalled:  # said once, where the run's story will be told
            log.note("The form shows your last session's settings; F7 resets them.")

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """The focused widget's keys first, then the screen's and the app's in the order of `KEYS`."""
        bindings = super().active_bindings
        rank = {key: index for index, key in enumerate(FOOTER_ORDER)}
        return dict(sorted(bindings.items(), key=lambda item: rank.get(item[0], -1)))

    @property
    def running(self) -> bool:
        """Whether a run, or a seed group, goes on."""
        return self.group.active if self.group is not None else self.run_state.active

    @property
    def form(self) -> ExperimentForm:
        return self.query_one(ExperimentForm)

    @property
    def charts(self) -> list[RunChart]:
        return self._charts

    # -- running --------------------------------------------------------------------------------------

    def action_start(self) -> None:
        if self.running:
            return
        config, problems = self.form.read()
        if problems:
            name, why = next(iter(problems.items()))
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            self.notify(f"{name.replace('_', ' ')}: {as_fields(why)}{more}", title=CANNOT_START, severity="error")
            self._fold_form(False)
            self.form.focus_first_problem()
            return
        missing = self.form.missing_data(config)
        if missing is not None:  # offline: a download cannot work, the built-in data set can
            self._offer_embedded(missing, config)
            return
        from prunetui.app.runner import ExperimentRunner  # and the runs on disk: not needed before a run

        self.follower = None
        self._generation += 1
        self._remember_settings(config)
        self._add_charts()
        self.run_state = RunState.begin()
        self._run_preset = preset = self._preset
        seeds = self.form.seeds
        if seeds:
            from prunetui.app.group_state import GroupState
            from prunetui.app.runner import SeedGroupRunner

            self.group = GroupState(seeds)
            self.run_state = self.group.shown
            configs = [config.replace(seed=seed) for seed in seeds]
            deliver_group = partial(self._deliver_group, self._generation)
            self.runner = SeedGroupRunner(configs, deliver_group, root=self.runs_dir, preset=preset)
        else:
            self.group = None
            self.runner = ExperimentRunner(
                config,
                partial(self._deliver, self._generation),
                root=self.runs_dir,
                extra=preset.summary_fields(config) if preset else None,
            )
        self._run_experiment(self.runner)
        self._fold_form(self.has_class("-narrow") or self.query_one("#main").has_class("-folded"))
        self._running_changed()
        self._show_state()
        self.query_one("#dashboard").scroll_visible(top=True, animate=False)

    def _add_charts(self) -> None:
        if self.charts:
            return
        from prunetui.app.widgets.charts import AccuracyChart, LossChart, ReplotPace  # plotext, once a run comes

        pace = ReplotPace()
        loss, accuracy = LossChart(pace, id="loss-chart"), AccuracyChart(pace, id="accuracy-chart")
        loss.border_title = "Loss: train line, test dots"
        accuracy.border_title = "Test accuracy %, red: prune"
        self.query_one("#no-charts").remove()
        self.query_one("#charts").mount(loss, accuracy)
        self._charts = [loss, accuracy]

    def _deliver(self, generation: int, events: tuple[Event, ...]) -> None:
        """From the worker thread of start `generation`: post_message is thread-safe and does not block."""
        self.post_message(self.EventsReceived(events, generation))

    def _deliver_group(self, generation: int, events: tuple[SeedGroupEvent, ...]) -> None:
        self.post_message(self.GroupEventsReceived(events, generation))

    @work(thread=True, exclusive=True, exit_on_error=False, group="experiment")
    def _run_experiment(self, runner: ThreadRunner[Any]) -> None:
        runner.run()

    def follow(self, run: RunRecord) -> bool:
        """Show a run another process writes (or wrote) as if it had started here: its settings in the form, its
        recorded events through the panels, then, while it runs, its events as they come. False if a run of the
        app's own is going on."""
        if self.running and self.follower is None:
            self.notify("A run is going on here: stop it first.", title="Not opened", severity="warning")
            return False
        from prunetui.app.follower import RunFollower

        if self.follower is not None:
            self.follower.leave()
        self._generation += 1
        if run.config is not None:
            self._show_config(run.config)
        self._add_charts()
        self.group = None
        self.run_state = RunState.begin(run.started, run.ended)
        self.runner = self.follower = RunFollower(run.path, partial(self._deliver, self._generation))
        self._run_experiment(self.runner)
        self._fold_form(True)
        self._running_changed()
        self._show_state()
        return True

    def leave_followed(self) -> None:
        """Stop following (the app quits); the run goes on in its own process."""
        if self.follower is not None:
            self.follower.leave()

    def action_stop(self) -> None:
        if self.runner is None or not self.running:
            return
        if self.follower is not None and not self.follower.stoppable:
            self.notify("It runs on another machine: stop it there.", title="Not stopped", severity="warning")
            return
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

    def on_main_screen_group_events_received(self, message: GroupEventsReceived) -> None:
        if message.generation != self._generation or self.group is None:
            return
        was_running = self.running
        self.group.apply(message.events)
        self.run_state = self.group.shown
        if was_running and not self.running:
            self._running_changed()
            ended = self.group.ended
            error = ended.message if ended is not None and ended.message else self.run_state.error
            if error is not None and ended is not None and ended.status == "failed":
                self.notify(error, title="The seed group failed", severity="error", timeout=10)
            if self.run_state.started is None:
                self._fold_form(False)  # it never started: the settings are what to look at next
        self._show_state()

    def on_main_screen_events_received(self, message: EventsReceived) -> None:
        if message.generation != self._generation:
            return
        state = self.run_state
        was_active = state.active
        state.apply(message.events)
        if was_active and not state.active:
            self.follower = None
            if self._run_preset is not None and state.summary is not None:
                from prunetui.describe_paper import comparison  # presets are read only once one is used

                state.log.extend(comparison(self._run_preset, state.summary))
            self._running_changed()
            if state.error is not None:
                self.notify(as_fields(state.error), title="The run failed", severity="error", timeout=10)
            if state.started is None:
                self._fold_form(False)  # it never started: the settings are what to look at next
        self._show_state()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and self.running:
            error = event.worker.error
            self.run_state.fail(f"the run crashed: {type(error).__name__}: {error}")
            if self.group is not None:
                self.group.crashed = True
            self._running_changed()
            self._show_state()

    def _running_changed(self) -> None:
        running = self.running
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

    def show_analyses(self, lines: list[str]) -> None:
        """What the sweep and sensitivity analyses started from here do, in the status panel: they go on while
        their screens are away."""
        status = self.query("#status")
        if status:
            cast("StatusPanel", status.first()).show_analyses(lines)

    def _show_state(self) -> None:
        state = self.run_state
        cast("StatusPanel", self.query_one("#status")).show(state, self.group)
        cast("SparsityBars", self.query_one("#sparsity")).show(state)
        cast("EventLog", self.query_one("#log")).show(state)
        for chart in self.charts:
            chart.show(state, self.group)

    @on(Button.Pressed, "#start")
    def _start_pressed(self) -> None:
        self.action_start()

    @on(Button.Pressed, "#stop")
    def _stop_pressed(self) -> None:
        self.action_stop()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if not self.is_active:
            return False  # under a dialog or Help: the footer it dims shows only the app's keys
        if action == "start":
            return not self.running  # only the key that applies is shown: the footer has little room
        if action == "stop":
            return self.running
        if action == "choose_preset":  # hidden while a run goes: at 80 columns its room shows Form (F8)
            return not self.running
        if action in ("load_config", "reset_settings"):
            return None if self.running else True
        return True

    # -- settings -------------------------------------------------------------------------------------

    def on_experiment_form_checked(self, message: ExperimentForm.Checked) -> None:
        if not message.problems:
            self.withdraw(CANNOT_START)  # its condition is gone (F7, a fix): a toast saying so would mislead

    def withdraw(self, title: str) -> None:
        """Take back the toasts with this title, whose condition is gone."""
        for notification in list(self.app._notifications):
            if notification.title == title:
                self.app._unnotify(notification)

    def action_save_config(self) -> None:
        from prunetui.app.screens.config_file import ConfigFileScreen

        self.app.push_screen(ConfigFileScreen("Save the settings to:", CONFIG_FILE), self._save_config)

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

        self.app.push_screen(ConfigFileScreen("Load settings from:", CONFIG_FILE), self._load_config)

    def _load_config(self, path: Path | None) -> None:
        if path is None:
            return
        try:
            config = ExperimentConfig.load(path)
        except ConfigError as error:
            self.notify(as_fields(str(error)), title="Not loaded", severity="error")
            return
        if self._show_config(config):
            self.notify(f"Loaded {path}", title="Settings loaded")

    def action_reset_settings(self) -> None:
        if not self.running and self._show_config(ExperimentConfig()):
            self._fold_form(False)
            self.notify("The form shows the default settings.", title="Defaults")

    def _show_config(self, config: ExperimentConfig) -> bool:
        self._preset = None  # settings from elsewhere: a preset put in earlier no longer speaks for them
        try:
            self.form.show_config(config)
        except ConfigError as error:
            self.notify(as_fields(str(error)), title="Settings not loaded", severity="error")
            return False
        return True

    def action_choose_preset(self) -> None:
        from prunetui.app.screens.presets import PresetScreen

        self.app.push_screen(PresetScreen(), self._use_preset)

    def _use_preset(self, preset: Preset | None) -> None:
        """The preset's settings, but the data directory and the device stay the form's."""
        if preset is None or self.running:
            return
        form, _ = self.form.read()
        place = {name: getattr(form, name) for name in ExperimentConfig.settings_with("place")}
        if self._show_config(preset.config.replace(**place)):
            self._preset = preset
            self._fold_form(False)
            cast("EventLog", self.query_one("#log")).note(f"preset {preset.name}, {preset.citation}")
            missing = self.form.missing_data()
            if missing is None:
                self.notify(f"{preset.title}: ctrl+r starts it", title=f"Preset {preset.name}")
                return
            self._offer_embedded(missing, preset.config, preset.name)

    def _offer_embedded(self, missing: str, config: ExperimentConfig, preset: str = "") -> None:
        """Offer the built-in data set in place of one that is not on this machine (`missing` says so), unless the
        network cannot take its images: then the offer would only lead to a refusal, and a warning says why."""
        from prunetui.app.screens.confirm import ConfirmScreen
        from prunetui.engine.core.data import EMBEDDED, embedded_misfit

        if misfit := embedded_misfit(config.model):
            title = f"Preset {preset}" if preset else "Data set missing"
            self.notify(f"{missing}; {misfit}", title=title, severity="warning", timeout=10)
            return
        question = f"{f'Preset {preset}: ' if preset else ''}{missing}.\n\nRun it on the built-in {EMBEDDED} instead?"
        offer = ConfirmScreen(question, yes=f"Use {EMBEDDED}", no=f"Keep {config.dataset}")
        self.app.push_screen(offer, self._use_embedded)

    def _use_embedded(self, use: bool | None) -> None:
        """The preset's recipe on the built-in data set; the log and the summary name the data set."""
        from prunetui.engine.core.data import EMBEDDED

        if use and not self.run_state.active:
            config, _ = self.form.read()
            self.form.show_config(config.replace(dataset=EMBEDDED))
            what = f"{self._preset.title} on" if self._preset is not None else f"{config.model} on the built-in"
            self.notify(f"{what} {EMBEDDED}: ctrl+r starts it", title="Built-in data set")

    def remember_form(self) -> None:
        """On quit: the next session opens with the form's settings, if they are valid (a network or weights file
        not written yet is no reason to lose the others)."""
        config, problems = self.form.read()
        missing = missing_sources(config.model, config.weights)
        if all(missing.get(name) == problem for name, problem in problems.items()):
            self._remember_settings(config)

    def _remember_settings(self, config: ExperimentConfig) -> None:
        """The next session opens with these settings; a failure to write them is only a warning."""
        problem = remember(config)
        if problem is not None:
            self.notify(problem, title="Settings not remembered", severity="warning")

    def use_layer_amounts(self, model: str, amounts: str) -> None:
        """From the Sensitivity screen: prune each layer as far as it tolerates, in the next run."""
        if self.running:
            self.notify("The settings are locked while a run goes on.", title="Not used", severity="warning")
            return
        config, _ = self.form.read()
        if self._show_config(config.replace(model=model, scope="layer", layer_sparsity=amounts)):
            self._fold_form(False)
            self.notify(f"layer sparsity {amounts}: ctrl+r starts a run with it", title="Per-layer amounts")
