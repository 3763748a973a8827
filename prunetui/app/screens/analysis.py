"""What the Sweep and Sensitivity screens share: Start and Stop, the analysis in a worker thread, a progress
line, and its inputs and results kept for the next time it opens in the session.

Leaving the screen (Escape, F3-F6) never stops its analysis: once started, the screen is kept by the app
(`PruneApp.keep_analysis`) and comes back, live, when its key is pressed again; only Stop, or quitting the app,
stops it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Button, Input, Select, Static
from textual.widgets.select import InvalidSelectValueError
from textual.worker import Worker, WorkerState

from prunetui.app.analysis_runner import Analysis, AnalysisRunner, progress_text
from prunetui.app.plan import Pace, paces
from prunetui.app.screens.tool_screen import ToolScreen
from prunetui.app.widgets.choice import Choice
from prunetui.app.words import as_fields
from prunetui.engine.analyses import AnalysisEvent, Ended, Progress
from prunetui.engine.core.config import ExperimentConfig
from prunetui.engine.core.errors import PrunetuiError

ANALYSIS_CSS = Path(__file__).parent.parent / "analysis.tcss"


@dataclass
class Kept:
    """A screen's inputs and results when it went, put back when it opens again in the session."""

    values: dict[str, object]  # by the input's id: Inputs, Choices and Selects
    config: ExperimentConfig  # the form's settings it had: the results come back only with the same
    results: object
    progress: str


class AnalysisScreen(ToolScreen):
    CSS_PATH = ANALYSIS_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "start", "Start", priority=True),
        Binding("ctrl+t", "stop", "Stop", priority=True),
    ]

    @dataclass
    class PacesRead(Message):
        """The saved runs' training paces, for the time estimate, read in a worker."""

        paces: list[Pace]

    @dataclass
    class EventsArrived(Message):
        """Events of the analysis, posted by its worker thread."""

        events: tuple[AnalysisEvent, ...]

    @dataclass
    class Changed(Message):
        """The analysis started, moved on or ended: for the main screen's status while this screen is away."""

        screen: AnalysisScreen

    def __init__(self, config: ExperimentConfig, root: Path, kept: dict[str, Kept] | None = None) -> None:
        """`kept`: where each screen's inputs and results stay between its openings (the app's, for the session)."""
        super().__init__()
        self.config = config  # the main form's settings when the screen opened
        self.root = root  # the runs root: sweeps and sensitivity results go under it
        self.kept = {} if kept is None else kept
        self.pending: dict[str, object] = {}  # kept Select values whose options are still being read
        self.progress_text = "ready"
        self.runner: AnalysisRunner | None = None
        self.stopping = False  # Stop was pressed: the progress line says so until the analysis ends
        self.status = "ready"  # finished, stopped, failed while not running
        self.end_unseen = False  # it ended while away: the main screen's status says how until the screen shows
        self.paces: list[Pace] = []  # none until read: the estimate says the time is unknown

    @property
    def running(self) -> bool:
        return self.runner is not None

    def controls(self) -> ComposeResult:
        yield Static("", id="analysis-plan")
        with Horizontal(classes="analysis-controls"):
            yield Button("Start", variant="success", id="analysis-start", compact=True)
            yield Button("Stop", variant="error", id="analysis-stop", compact=True, disabled=True)
            yield Static("ready", id="analysis-progress")

    def prepare(self) -> Callable[[], Analysis]:
        """Read the screen's inputs; return what builds the analysis in the thread, or raise PrunetuiError."""
        raise NotImplementedError

    def plan(self) -> str:
        """What Start will do with the screen's inputs: how many points, epochs, and about how long; raise
        PrunetuiError for inputs that do not read."""
        raise NotImplementedError

    def results(self) -> object:
        """What `show_results` puts back when the screen opens again."""
        raise NotImplementedError

    def show_results(self, results: object) -> None:
        raise NotImplementedError

    def on_mount(self) -> None:
        kept = self.kept.get(self.TOOL)
        if kept is not None:
            self._restore(kept)
        self._show_plan()
        self._read_paces()

    def _inputs(self) -> list[Input | Choice | Select[object]]:
        fields = self.query(".analysis-setup Input, .analysis-setup Choice, .analysis-setup Select")
        return [field for field in fields if isinstance(field, Input | Choice | Select)]

    def _keep(self) -> None:
        values = {str(widget.id): widget.value for widget in self._inputs()}
        values.update(self.pending)  # not yet in its options: kept as it was
        self.kept[self.TOOL] = Kept(values, self.config, self.results(), self.progress_text)

    def _restore(self, kept: Kept) -> None:
        for widget in self._inputs():
            value = kept.values.get(str(widget.id))
            if value is None:
                continue
            try:
                widget.value = value  # type: ignore[assignment]
            except InvalidSelectValueError:
                self.pending[str(widget.id)] = value  # its options come from a worker
        if kept.config == self.config:  # after the first layout, as results come in: a chart sized then built once
            self.call_after_refresh(self._show_kept, kept)

    def _show_kept(self, kept: Kept) -> None:
        self.show_results(kept.results)
        self.redraw()
        self._progress(kept.progress)

    @work(thread=True, exit_on_error=False, group="paces")
    def _read_paces(self) -> None:
        self.post_message(self.PacesRead(paces(self.root)))

    def on_analysis_screen_paces_read(self, message: PacesRead) -> None:
        self.paces = message.paces
        self._show_plan()

    @on(Input.Changed)
    @on(Select.Changed)
    def _show_plan(self) -> None:
        if self.running:
            return  # it says what the running analysis does
        try:
            text = f"[b]Start[/b]: {self.plan()}"
        except PrunetuiError as error:
            text = f"[b]cannot start yet[/b]: {escape(as_fields(str(error)))}"
        self.query_one("#analysis-plan", Static).update(text)

    def show_event(self, event: AnalysisEvent) -> None:
        """A result or start event of the analysis; Progress and Ended are handled here."""
        raise NotImplementedError

    def redraw(self) -> None:
        """Update charts and tables once per batch of events."""

    def action_start(self) -> None:
        if self.running:
            return
        try:
            build = self.prepare()
        except PrunetuiError as error:  # said in the plan's line: a toast would cover the results at 80x24
            self.query_one("#analysis-plan", Static).update(f"[b red]cannot start[/]: {escape(as_fields(str(error)))}")
            self.app.bell()
            return
        self.runner = AnalysisRunner(build, lambda events: self.post_message(self.EventsArrived(events)))
        self.app.keep_analysis(self)  # type: ignore[attr-defined]  # it goes on when the screen is left
        self._run(self.runner)
        self._progress("starting …")
        self._running_changed()

    @work(thread=True, exclusive=True, exit_on_error=False, group="analysis")
    def _run(self, runner: AnalysisRunner) -> None:
        runner.run()

    def action_stop(self) -> None:
        if self.runner is not None:
            self.runner.stop()
            self._progress("stopping after the current batch …")
            self.stopping = True

    def action_back(self) -> None:
        self._keep()  # the analysis goes on: the app keeps this screen while it runs
        super().action_back()

    def on_screen_resume(self) -> None:
        if self.end_unseen:  # seen now: the main screen's status no longer needs a line for it
            self.end_unseen = False
            self.post_message(self.Changed(self))

    def on_unmount(self) -> None:
        if self.runner is not None:  # the app quits: the thread must not train on
            self.runner.stop()

    def on_analysis_screen_events_arrived(self, message: EventsArrived) -> None:
        if not self.query("#analysis-progress"):  # the app quits and took this screen's widgets down already
            return
        for event in message.events:
            if isinstance(event, Progress):
                self._progress(progress_text(event))
            elif isinstance(event, Ended):
                self.show_event(event)
                self._ended(event.status, event.message)
            else:
                self.show_event(event)
        self.redraw()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and self.running:
            error = event.worker.error
            self._ended("failed", f"crashed: {type(error).__name__}: {error}")

    def _ended(self, status: str, message: str) -> None:
        self.runner, self.status, message = None, status, as_fields(message)
        self.stopping, self.end_unseen = False, not self.is_current
        self._progress(f"{status}: {message}" if message and message != status else status)
        if status == "failed":
            self.notify(message, title="The analysis failed", severity="error", timeout=10)
        self._running_changed()

    def _progress(self, text: str) -> None:
        if self.stopping:
            return  # "stopping …" stays until the analysis ends
        self.progress_text = text
        self.query_one("#analysis-progress", Static).update(text)
        self.post_message(self.Changed(self))

    def _running_changed(self) -> None:
        start, stop = self.query_one("#analysis-start", Button), self.query_one("#analysis-stop", Button)
        enabled, disabled = (stop, start) if self.running else (start, stop)
        enabled.disabled = False
        if disabled.has_focus:
            self.set_focus(enabled, scroll_visible=False)
        disabled.disabled = True
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "start":
            return None if self.running else True
        if action == "stop":
            return True if self.running else None
        return True

    @on(Button.Pressed, "#analysis-start")
    def _start_pressed(self) -> None:
        self.action_start()

    @on(Button.Pressed, "#analysis-stop")
    def _stop_pressed(self) -> None:
        self.action_stop()
