"""Where the run is: phase, epoch and run progress, speed, device, accuracy and compression."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, ProgressBar, Static

from prunetui.app.run_state import FAILED, RunState
from prunetui.describe import percent


def clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}" if minutes >= 60 else f"{minutes}:{seconds:02d}"


class StatusPanel(Vertical):
    """`show(state)` after every batch of events; while a run is going, the clock ticks once a second."""

    can_focus = True  # so Tab reaches it where the layout scrolls

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._state = RunState()

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        if self._state.active:
            self.show(self._state)

    def compose(self) -> ComposeResult:
        yield Static("ready: set up an experiment and press Start", id="phase")
        with Horizontal(classes="progress-row"):
            yield Label("epoch", classes="progress-label")
            yield ProgressBar(1, id="epoch-progress", show_eta=False)
            yield Label("", id="epoch-text", classes="progress-text")
        with Horizontal(classes="progress-row"):
            yield Label("run", classes="progress-label")
            yield ProgressBar(1, id="run-progress", show_eta=False)
            yield Label("", id="run-text", classes="progress-text")
        yield Static("", id="figures")

    def show(self, state: RunState) -> None:
        self._state = state
        phase = self._put("#phase", f"[b]{state.phase_text}[/b]" + (f": {state.error}" if state.error else ""))
        phase.set_class(state.outcome == FAILED, "-failed")
        # No total while a run loads its data: the bars pulse. Idle, they sit empty.
        waiting = None if state.active else 1
        self.query_one("#epoch-progress", ProgressBar).update(total=state.batches or waiting, progress=state.batch)
        epoch = f"{state.epoch}/{state.epochs} · batch {state.batch:,}/{state.batches:,}" if state.epochs else ""
        self._put("#epoch-text", epoch)
        done, total = state.run_progress
        self.query_one("#run-progress", ProgressBar).update(total=total or waiting, progress=done)
        self._put("#run-text", f"step {state.step:,}" if state.started else "")
        self._put("#figures", self._figures(state))

    def _put(self, selector: str, text: str) -> Static:
        """Update only what changed. Only the phase can change height (an error wraps): the rest has a fixed
        size in the stylesheet, so it repaints without a layout of the whole screen a few times a second."""
        widget = self.query_one(selector, Static)
        if widget.content != text:
            widget.update(text, layout=selector == "#phase")
        return widget

    def _figures(self, state: RunState) -> str:
        if state.started_at is None:
            return ""
        device = state.started.device if state.started else "…"
        compression = f"{state.compression:.1f}×" if state.compression else "–"
        return (
            f"elapsed [b]{clock(state.elapsed)}[/b] · [b]{state.images_per_s:,.0f}[/b] img/s · device [b]{device}[/b]\n"
            f"accuracy dense [b]{percent(state.dense_accuracy)}[/b] → now [b]{percent(state.current_accuracy)}[/b]"
            f" · compression [b]{compression}[/b]"
        )
