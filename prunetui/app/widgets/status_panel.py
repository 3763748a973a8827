"""Where the run is: phase, epoch and run progress, speed, device, accuracy and compression; for a seed group,
which seed runs, and at its end the group's mean ± std (n), as `prunetui run --seeds` prints it; once a run has
ended, its parameters and MACs per image, dense and pruned."""

from __future__ import annotations

import math
import time

from rich.markup import escape
from rich.progress_bar import ProgressBar as RichBar
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.color import Color
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Label, Static

from prunetui.app.group_state import GroupState
from prunetui.app.run_state import FAILED, RunState, clock
from prunetui.app.words import as_fields
from prunetui.describe import before_pruning, cost_line, percent


def left(seconds: float | None) -> str:
    return f" · {clock(math.ceil(seconds))} left" if seconds is not None else ""  # up: never 0:00 with work left


def share(done: int, total: int) -> str:
    return f"{100 * done // total:>3d}%" if total else "  –%"


def one_line(widget: Widget, markup: str) -> bool:
    """Whether the text fits on one line of the widget (not yet laid out: no)."""
    return "\n" not in markup and Text.from_markup(markup).cell_len <= widget.content_region.width


class Bar(Widget):
    """A progress bar drawn by Rich: one widget, repainted only when a half cell more is filled. (Textual's
    ProgressBar passes each update through three widgets over several frames, and every frame of the UI thread
    is time the training thread waits for.)"""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.total: int | None = 1  # None: unknown yet, the bar pulses
        self.done = 0
        self._drawn: int | None = 0

    def set(self, total: int | None, done: int) -> None:
        self.total, self.done = total, done
        drawn = None if total is None else int(2 * self.size.width * min(done / total, 1.0))
        if drawn != self._drawn or drawn is None:  # a pulsing bar moves on every call
            self._drawn = drawn
            self.refresh()

    def render(self) -> RichBar:
        theme = self.app.theme_variables  # CSS colours: an ANSI theme's "ansi_blue" is no colour Rich knows

        def style(name: str) -> Style:
            return Style(color=Color.parse(theme[name]).rich_color)

        return RichBar(
            total=self.total or 1,
            completed=self.done,
            pulse=self.total is None,
            width=self.size.width,
            complete_style=style("primary"),
            finished_style=style("success"),
            pulse_style=style("primary"),
        )


class StatusPanel(Vertical):
    """`show(state)` after every batch of events; while a run is going, the clock ticks once a second."""

    can_focus = True  # so Tab reaches it where the layout scrolls

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._state = RunState()
        self._group: GroupState | None = None
        self._shown_at = 0.0

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        """Keep the clock going when no events came in the last second (loading data, a long evaluation)."""
        if self._state.active and time.monotonic() - self._shown_at >= 1.0:
            self.show(self._state, self._group)

    def compose(self) -> ComposeResult:
        yield Static("ready: set up an experiment and press Start", id="phase")
        yield Static("", id="analyses", markup=True)  # sweeps and sensitivity analyses going on their screens
        with Horizontal(classes="progress-row"):
            yield Label("epoch", classes="progress-label")
            yield Bar(id="epoch-progress")
            yield Label("", id="epoch-text", classes="progress-text")
        with Horizontal(classes="progress-row"):
            yield Label("run", classes="progress-label")
            yield Bar(id="run-progress")
            yield Label("", id="run-text", classes="progress-text")
        yield Static("", id="figures")
        yield Static("", id="cost")  # parameters and MACs, dense and pruned, once the run has counted them
        yield Static("", id="group")

    def show(self, state: RunState, group: GroupState | None = None) -> None:
        self._state, self._group, self._shown_at = state, group, time.monotonic()
        # At a group's end its numbers take the place of the last seed's (accuracy, cost), so that the panel is no
        # taller than a run's: at 80x24 its three more lines left the charts no row to plot on.
        ended = group is not None and group.ended is not None
        words = group.text(named=False) if group is not None else ""
        self.query_one("#group").display = bool(words)
        self._put("#group", words, wraps=True)
        phase = self.query_one("#phase", Static)
        phase.set_class(state.outcome == FAILED, "-failed")
        # While a run goes its phase keeps to one line: a status that wrapped (the data set's description: where it
        # is read from, its classes) laid the screen out twice, 25-40 ms each at 160x48, as much as the rest of a
        # 12-s run; the log has every status in full. A run that ended, or failed, says so in full.
        phase.set_class(state.active, "-going")
        error = f": {escape(as_fields(state.error))}" if state.error else ""  # the app's words: fields, not flags
        self._put("#phase", f"[b]{state.phase_text}[/b]{error}", wraps=not state.active)
        # No total while a run loads its data: the bars pulse. Idle, they sit empty.
        waiting = None if state.active else 1
        self.query_one("#epoch-progress", Bar).set(state.batches or waiting, state.batch)
        epoch = f"{state.epoch}/{state.epochs} · batch {state.batch:,}/{state.batches:,}" if state.epochs else ""
        self._put("#epoch-text", f"{share(state.batch, state.batches)} {epoch}{left(state.epoch_eta)}" if epoch else "")
        done, total = state.run_progress
        self.query_one("#run-progress", Bar).set(total or waiting, done)
        run = f"{share(done, total)} step {state.step:,}{left(state.run_eta)}"
        self._put("#run-text", run if state.started else "")
        figures = self._figures(state)
        self._put("#figures", figures.partition("\n")[0] if ended else figures).set_class(ended, "-group-ended")
        cost = cost_line(state.summary.dense_cost, state.summary.cost) if state.summary and not ended else ""
        self.query_one("#cost").display = bool(cost)
        self._put("#cost", cost)

    def show_analyses(self, lines: list[str]) -> None:
        """One line per analysis kept by the app, what it does now; none: the line goes."""
        analyses = self.query_one("#analyses", Static)
        analyses.display = bool(lines)
        self._put("#analyses", "\n".join(lines), wraps=True)

    def _put(self, selector: str, text: str, wraps: bool = False) -> Static:
        """Update only what changed, and without a layout of the whole screen: every line has a fixed height in
        the stylesheet but those that `wraps` (the phase of a run that ended, the group, the analyses), which wrap a
        long status or error rather than cut it (or hold a line per analysis). Those lay the screen out only when
        their text takes, or took, more than a line: a new phase laid it out for 10-15 ms at 80x24 and 15-50 ms at
        160x48."""
        widget = self.query_one(selector, Static)
        if widget.content != text:
            widget.update(text, layout=wraps and not (one_line(widget, str(widget.content)) and one_line(widget, text)))
        return widget

    def _figures(self, state: RunState) -> str:
        if state.started_at is None or (state.started is None and not state.active):  # a start that failed
            return ""
        device = state.started.device if state.started else "…"
        weights = f"[b]{state.weight_compression:.1f}×[/b]" if state.weight_compression else "[b]–[/b]"
        speed = f"{state.images_per_s:,.0f}" if state.images_per_s else "–"  # no speed before the first step
        before = before_pruning(state.started.config) if state.started else "dense"
        # The log's closing line times the run itself; elapsed also counts importing torch before it.
        run = f" (run [b]{state.summary.seconds:.1f} s[/b])" if state.summary else ""
        accuracy = (
            f"accuracy {before} [b]{percent(state.dense_accuracy)}[/b] → now [b]{percent(state.current_accuracy)}[/b]"
            f" · compression {weights}"
        )
        if state.weight_compression and state.compression:  # what it counts, as much as the line has room for
            room = self.query_one("#figures").content_region.width or None
            counted = (f"{accuracy} weights, [b]{state.compression:.1f}×[/b] all parameters", f"{accuracy} weights")
            accuracy = next((line for line in counted if not room or Text.from_markup(line).cell_len <= room), accuracy)
        return f"elapsed [b]{clock(state.elapsed)}[/b]{run} · [b]{speed}[/b] img/s · device [b]{device}[/b]\n{accuracy}"

    def on_resize(self) -> None:
        self.show(self._state, self._group)
