"""Live line charts (textual-plotext) over optimizer steps: loss, and accuracy with the prune events marked."""

from __future__ import annotations

from textual_plotext import PlotextPlot

from prunetui.app.run_state import RunState


class RunChart(PlotextPlot):
    """Replots only when the run has new points; `show(state)` is called a few times a second."""

    can_focus = True

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: tuple[float | None, int, int] | None = None

    def on_mount(self) -> None:
        self.plt.xlabel("step")

    def show(self, state: RunState) -> None:
        key = (state.started_at, len(state.train_loss.steps), len(state.accuracy.steps))
        if key == self._shown:
            return
        self._shown = key
        self.plt.clear_data()
        self.draw(state)
        self.refresh()

    def draw(self, state: RunState) -> None:
        raise NotImplementedError


class LossChart(RunChart):
    def draw(self, state: RunState) -> None:
        if state.train_loss.steps:
            self.plt.plot(state.train_loss.steps, state.train_loss.values, label="train (smoothed)", marker="braille")
        if state.test_loss.steps:  # measured after each epoch and prune: points, not a line through them
            self.plt.scatter(state.test_loss.steps, state.test_loss.values, label="test", marker="dot")


class AccuracyChart(RunChart):
    def draw(self, state: RunState) -> None:
        for step in state.prune_steps:
            self.plt.vline(step, "red")
        if state.accuracy.steps:
            percents = [value * 100 for value in state.accuracy.values]
            self.plt.plot(state.accuracy.steps, percents, label="test accuracy %", marker="braille")
