"""Live line charts (textual-plotext) over optimizer steps: loss, and accuracy with the prune events marked; once
a seed group has ended, the accuracy of its seeds that finished as their mean, with ± one standard deviation as
error bars.

Both span the same steps (from 0 to the run's latest), so the loss and accuracy of a moment line up; the y axis
has fixed-precision labels, and the legend is the border title, never over the lines.
"""

from __future__ import annotations

import math
import time

from textual.app import RenderResult
from textual.geometry import Region
from textual.strip import Strip
from textual_plotext import PlotextPlot

from prunetui.app.group_state import GroupState
from prunetui.app.run_state import FINISHED, RunState
from prunetui.app.widgets.axes import PERCENT, TICKS, axis_range, even_ticks
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


# While a run goes, the charts replot together (their x ranges line up) when their data changed, as often as keeps
# their replots (plotext's build and Textual's render of it) under REPLOT_SHARE of a core at the cost the last replot
# measured. On the project's shared 2-core machine a replot of both charts took about 13 ms at 80x24 and 30-45 ms at
# 160x48: replotted once a second while training reported every second, the charts alone took 1.3 % and 4 % of a
# core, and training waits for the UI thread. Paced, they replot every 2-3 s at 80x24 and every 5 s at 160x48.
REPLOT_EVERY = 1.0  # seconds: the most often the charts replot, where a replot is cheap
REPLOT_AT_MOST = 5.0  # seconds: the longest the curves wait to show new points, however costly a replot
REPLOT_SHARE = 0.005  # of one core: what the charts' replots may take while a run goes


class ReplotPace:
    """How often the run charts replot while a run goes, from what their last replot cost the UI thread."""

    def __init__(self) -> None:
        self.costs: dict[str, float] = {}  # CPU seconds of each chart's last replot, by chart

    @property
    def every(self) -> float:
        """Seconds between replots."""
        return min(max(REPLOT_EVERY, sum(self.costs.values()) / REPLOT_SHARE), REPLOT_AT_MOST)


class RunChart(PlotextPlot):
    """Replots when its own data changed, at most every `pace.every` seconds while the run goes; `show(state)` is
    called more often than that."""

    can_focus = True

    def __init__(self, pace: ReplotPace, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.pace = pace  # shared by the charts of a screen
        self.clock = time.monotonic  # a test sets its own
        self._shown: tuple[object, ...] | None = None
        self._replotted = -math.inf
        self._replot_cost: float | None = None  # CPU seconds of the replot not painted yet: drawing it so far
        self.group: GroupState | None = None  # a seed group that ended: its mean is drawn
        self._y_range: tuple[float, float, int] | None = None  # low, high, decimals: ticked for the rows it has

    def on_mount(self) -> None:
        self.plt.xaxes(True, False)  # the lower axis only: small terminals give the chart few rows
        self.plt.yaxes(True, False)

    def show(self, state: RunState, group: GroupState | None = None) -> None:
        self.group = group if group is not None and not group.active else None
        key = (state.started_at, state.step, id(self.group), *self.data_size(state))  # the step: both span the same
        now = self.clock()
        if key == self._shown or (state.active and now - self._replotted < self.pace.every):
            return
        started = time.thread_time()
        self._shown, self._replotted = key, now
        self.plt.clear_data()
        last = max([TICKS, state.step, *state.train_loss.xs[-1:], *state.accuracy.xs[-1:]])
        self.plt.xlim(0, last)
        self.plt.xticks([round(last * i / TICKS) for i in range(TICKS + 1)])
        self.draw(state)
        self._replot_cost = time.thread_time() - started
        self.refresh()

    def render(self) -> RenderResult:
        if self._y_range is not None:  # all rows but the x axis and its labels (the lower axes only)
            low, high, digits = self._y_range
            self.plt.yticks(*even_ticks(low, high, digits, rows=self.size.height - 2))
        return super().render()

    def render_lines(self, crop: Region) -> list[Strip]:
        """Textual's paint of the chart, where plotext builds it: the first after a replot adds its cost to the
        replot's, for the pace."""
        if self._replot_cost is None:
            return super().render_lines(crop)
        started = time.thread_time()
        lines = super().render_lines(crop)
        self.pace.costs[str(self.id)] = self._replot_cost + time.thread_time() - started
        self._replot_cost = None
        return lines

    def y_axis(self, values: list[float], digits: int, bounds: tuple[float, float] | None = None) -> None:
        """Ticks over the values' range, all with the same number of decimals (plotext's own change it), at
        least one unit of the last decimal apart so that no two read the same; set as the chart is painted."""
        if not values:
            return
        low, high = axis_range(values, digits, bounds)
        self.plt.ylim(low, high)
        self._y_range = (low, high, digits)

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
        curves = self.seed_curves()
        if curves:
            self.draw_mean(curves)
        elif state.accuracy.xs:
            percents = [value * 100 for value in state.accuracy.ys]
            self.plt.plot(state.accuracy.xs, percents, marker="braille")
            # Each measurement a dot too: right after the first prune the line is one vertical drop at one step.
            self.plt.scatter(state.accuracy.xs, percents, marker="dot")
            self.y_axis(percents, 1, PERCENT)

    def seed_curves(self) -> list[list[tuple[float, float]]]:
        """The accuracy (%) over steps of each seed that finished, once the seed group has ended."""
        if self.group is None:
            return []
        finished = [state for state in self.group.runs.values() if state.outcome == FINISHED]
        return [[(x, y * 100) for x, y in zip(*state.accuracy, strict=True)] for state in finished]

    def draw_mean(self, curves: list[list[tuple[float, float]]]) -> None:
        """The seeds' mean accuracy, step by step, with error bars of ± one standard deviation (over two or more)."""
        from prunetui.engine.storage.groups import band

        points = band(curves)
        steps, means = [x for x, _ in points], [stat.mean for _, stat in points]
        self.plt.plot(steps, means, marker="braille")
        stds = [stat.std or 0.0 for _, stat in points]
        if any(stds):
            self.plt.error(steps, means, yerr=[2 * std for std in stds])  # yerr: the whole bar, centred
        spread = [mean + sign * std for mean, std in zip(means, stds, strict=True) for sign in (-1, 1)]
        self.y_axis(spread, 1, PERCENT)  # a mean of 55 % ± 49 ends at 100 %, not 104
