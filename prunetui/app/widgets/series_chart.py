"""A line chart of named series (textual-plotext), redrawn only when its data changes: the analysis screens'
accuracy-vs-sparsity, per-layer sensitivity, run comparison and weight histogram charts.

Each series has its own color, and the legend says which is which outside the plot (in the bottom border, or
wherever the screen puts `legend`), never over the lines; the axes have evenly spaced labels with one number of
decimals and a sane range for a single point.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from textual_plotext import PlotextPlot

from prunetui.app.widgets.axes import axis_range, even_ticks
from prunetui.engine.analyses import Series

# Told apart on dark and light themes, and by most color-blind readers (Okabe & Ito's palette, then two more).
COLORS = [
    (230, 159, 0),
    (86, 180, 233),
    (0, 158, 115),
    (240, 228, 66),
    (204, 121, 167),
    (213, 94, 0),
    (0, 114, 178),
    (200, 200, 200),
]
PERCENT = (0.0, 100.0)
POSITIVE = (0.0, float("inf"))


@dataclass(frozen=True)
class Axis:
    label: str
    digits: int | None = 1  # decimals of the tick labels; None leaves the ticks to plotext (a log axis)
    bounds: tuple[float, float] | None = None  # the range never goes outside these


SPARSITY_AXIS = Axis("sparsity (%)", 1, PERCENT)
ACCURACY_AXIS = Axis("accuracy (%)", 1, PERCENT)


def color_of(index: int) -> tuple[int, int, int]:
    return COLORS[index % len(COLORS)]


def hex_color(index: int) -> str:
    return "#{:02x}{:02x}{:02x}".format(*color_of(index))


def set_axis(
    values: list[float],
    axis: Axis,
    set_limits: Callable[[float, float], object],
    set_ticks: Callable[[list[float], list[str]], object],
) -> None:
    if values and axis.digits is not None:
        low, high = axis_range(values, axis.digits, axis.bounds)
        set_limits(low, high)
        set_ticks(*even_ticks(low, high, axis.digits))


class SeriesChart(PlotextPlot):
    can_focus = True

    def __init__(self, x: Axis, y: Axis, *, legend_in_border: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.x, self.y = x, y
        self.legend_in_border = legend_in_border
        self.series: Series = {}
        self.legend = ""  # markup: a colored mark and the label of each series
        self._shown: tuple[str, bool] | None = None

    def on_mount(self) -> None:
        self.plt.xlabel(self.x.label)
        self.plt.ylabel(self.y.label)

    def show(
        self, series: Series, *, log_x: bool = False, x_label: str | None = None, errors: Series | None = None
    ) -> None:
        """`errors`: label -> (xs, half heights) of error bars on that line (a sweep's std over seeds)."""
        key = (repr(series), log_x, repr(errors))
        if key == self._shown:
            return
        self._shown, self.series = key, series
        self.plt.clear_data()
        self.plt.xscale("log" if log_x else "linear")
        self.plt.xlabel(x_label or self.x.label)
        for index, (label, (xs, ys)) in enumerate(series.items()):  # an empty series keeps its color, drawing nothing
            if not xs:
                continue
            self.plt.plot(xs, ys, marker="braille", color=color_of(index))
            if errors and label in errors:
                bars = [2 * half for half in errors[label][1]]  # plotext's yerr is the whole bar
                self.plt.error(xs, ys, yerr=bars, color=color_of(index))
            if len(xs) == 1:  # a line of one point draws nothing
                self.plt.scatter(xs, ys, marker="dot", color=color_of(index))
        xs = [x for x_values, _ in series.values() for x in x_values]
        ys = [y for _, y_values in series.values() for y in y_values]
        if not log_x:
            set_axis(xs, self.x, self.plt.xlim, self.plt.xticks)
        set_axis(ys, self.y, self.plt.ylim, self.plt.yticks)
        self.legend = "  ".join(f"[{hex_color(index)}]━━[/] {label}" for index, label in enumerate(series))
        if self.legend_in_border:
            self.border_subtitle = self.legend
        self.refresh()
