"""Live line charts (textual-plotext) over optimizer steps: loss, and accuracy with the prune events marked.

Both span the same steps (from 0 to the run's latest), so the loss and accuracy of a moment line up; the y axis
has fixed-precision labels, and the legend is the border title, never over the lines.
"""

from __future__ import annotations

import time

from textual_plotext import PlotextPlot

from prunetui.app.run_state import RunState
from prunetui.app.widgets.axes import TICKS, axis_range, even_ticks
from prunetui.engine.analyses import Series


def thinned(series: Series, limit: int) -> tuple[list[float], list[float]]:
    """At most about `limit` evenly spaced points of the series, always with its last one: a line of thousands of
    steps costs the UI thread (and so training) time to plot, and a chart a few hundred cells wide cannot show
    more anyway."""
    stride = max(1, -(-len(series.xs) // limit))  # ceiling division
    steps, values = series.xs[::stride], series.ys[::stride]
    if steps and steps[-1] != series.xs[-1]:
        steps, values = [*steps, series.xs[-1]], [*values, series.ys[-1]]
    return steps, values


REPLOT_EVERY = 1.0  # seconds: a replot is the UI thread's costliest work, and training waits for the UI thread


class RunChart(PlotextPlot):
    """Replots when its own data changed, at most once a second while the run goes; `show(state)` is called
    more often than that."""

    can_focus = True

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: tuple[object, ...] | None = None
        self._replotted = 0.0

    def on_mount(self) -> None:
        self.plt.xaxes(True, False)  # the lower axis only: small terminals give the chart few rows
        self.plt.yaxes(True, False)

    def show(self, state: RunState) -> None:
        key = (state.started_at, state.step, *self.data_size(state))  # the step: both charts span the same steps
        now = time.monotonic()
        if key == self._shown or (state.active and now - self._replotted < REPLOT_EVERY):
            return
        self._shown, self._replotted = key, now
        self.plt.clear_data()
        last = max([TICKS, state.step, *state.train_loss.xs[-1:], *state.accuracy.xs[-1:]])
        self.plt.xlim(0, last)
        self.plt.xticks([round(last * i / TICKS) for i in range(TICKS + 1)])
        self.draw(state)
        self.refresh()

    def y_axis(self, values: list[float], digits: int) -> None:
        """Ticks over the values' range, all with the same number of decimals (plotext's own change it), at
        least one unit of the last decimal apart so that no two read the same."""
        if not values:
            return
        low, high = axis_range(values, digits)
        self.plt.ylim(low, high)
        self.plt.yticks(*even_ticks(low, high, digits))

    def data_size(self, state: RunState) -> tuple[int, ...]:
        """How many points of each kind the chart draws: it replots when one of them grows."""
        raise NotImplementedError

    def draw(self, state: RunState) -> None:
        raise NotImplementedError

    @property
    def point_limit(self) -> int:
        return max(2 * self.size.width, 100)  # braille draws two dots per cell across


class LossChart(RunChart):
    def data_size(self, state: RunState) -> tuple[int, ...]:
        return len(state.train_loss.xs), len(state.test_loss.xs)

    def draw(self, state: RunState) -> None:
        if state.train_loss.xs:
            steps, values = thinned(state.train_loss, self.point_limit)
            self.plt.plot(steps, values, marker="braille")
        if state.test_loss.xs:  # measured after each epoch and prune: points, not a line through them
            self.plt.scatter(state.test_loss.xs, state.test_loss.ys, marker="dot")
        self.y_axis(state.train_loss.ys + state.test_loss.ys, 2)


class AccuracyChart(RunChart):
    def data_size(self, state: RunState) -> tuple[int, ...]:
        return len(state.accuracy.xs), len(state.prune_steps)

    def draw(self, state: RunState) -> None:
        for step in state.prune_steps:
            self.plt.vline(step, "red")
        if state.accuracy.xs:
            percents = [value * 100 for value in state.accuracy.ys]
            self.plt.plot(state.accuracy.xs, percents, marker="braille")
            # Each measurement a dot too: right after the first prune the line is one vertical drop at one step.
            self.plt.scatter(state.accuracy.xs, percents, marker="dot")
            self.y_axis(percents, 1)
