"""A line chart of named series (textual-plotext), redrawn only when its data changes: the analysis screens'
accuracy-vs-sparsity, per-layer sensitivity, run comparison and weight histogram charts.

Each series has its own color, and the legend says which is which outside the plot (in the bottom border, the
entries it cannot hold on lines under the plot; or wherever the screen puts `legend`), never over the lines; the
axes have evenly spaced labels with one number of decimals and a sane range for a single point.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Group
from rich.text import Text
from textual.app import RenderResult
from textual_plotext import PlotextPlot

from prunetui.app.widgets.axes import PERCENT, axis_range, even_ticks
from prunetui.engine.analyses import Lines

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
LEGEND_GAP = "  "
POSITIVE = (0.0, float("inf"))


@dataclass(frozen=True)
class Axis:
    label: str
    digits: int | None = 1  # decimals of the tick labels; None leaves the ticks to plotext (a log axis)
    bounds: tuple[float, float] | None = None  # the range never goes outside these
    min_span: float = 0.0  # the range is at least this wide: one point sits in a sensible range


SPARSITY_AXIS = Axis("sparsity (%)", 1, PERCENT, min_span=20.0)  # one sparsity: ±10 points
ACCURACY_AXIS = Axis("accuracy (%)", 1, PERCENT)


def color_of(index: int) -> tuple[int, int, int]:
    return COLORS[index % len(COLORS)]


def hex_color(index: int) -> str:
    return "#{:02x}{:02x}{:02x}".format(*color_of(index))


def axis_limits(values: list[float], axis: Axis) -> tuple[float, float] | None:
    """The range an axis with decimals shows the values in; None leaves it to plotext."""
    if values and axis.digits is not None:
        return axis_range(values, axis.digits, axis.bounds, axis.min_span)
    return None


class SeriesChart(PlotextPlot):
    can_focus = True

    def __init__(self, x: Axis, y: Axis, *, legend_in_border: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.x, self.y = x, y
        self.legend_in_border = legend_in_border
        self.series: Lines = {}
        self.legend = ""  # markup: a colored mark and the label of each series
        self._entries: list[str] = []  # the legend's, one per series
        self._in_border = ""  # the legend's entries the bottom border holds
        self._below: list[Text] = []  # the legend's lines under the plot: the entries the border cannot hold
        self._shown: tuple[str, bool, str] | None = None
        self._log_x = False
        self._errors: Lines = {}
        self._y_range: tuple[float, float] | None = None  # ticked for the rows the chart has when painted
        self._x_label = x.label

    def on_mount(self) -> None:
        self.plt.xlabel(self.x.label)
        self.plt.ylabel(self.y.label)

    def show(
        self, series: Lines, *, log_x: bool = False, x_label: str | None = None, errors: Lines | None = None
    ) -> None:
        """`errors`: label -> (xs, half heights) of error bars on that line (a sweep's std over seeds)."""
        key = (repr(series), log_x, repr(errors))
        if key == self._shown:
            return
        self._shown, self.series, self._log_x, self._errors = key, series, log_x, errors or {}
        self._x_label = x_label or self.x.label
        self.plt.xlabel(self._x_label)
        self._plot_data()
        self._entries = [f"[{hex_color(index)}]━━[/] {label}" for index, label in enumerate(series)]
        self.legend = LEGEND_GAP.join(self._entries)
        self._place_legend()
        self.refresh()

    def _plot_data(self) -> None:
        """Hand the series, and the axes' limits and ticks, to plotext. On a log axis again before each build:
        plotext takes the logarithm of the data it holds in place, so a second build (any repaint) would take it
        twice, and fail once one is negative. (Clearing its data clears its limits too.)"""
        self.plt.clear_data()
        drawn = any(x_values for x_values, _ in self.series.values())
        self.plt.xscale("log" if self._log_x and drawn else "linear")  # plotext fails to draw an empty log axis
        for index, (label, (xs, ys)) in enumerate(self.series.items()):  # an empty one keeps its color, drawing nothing
            if not xs:
                continue
            self.plt.plot(xs, ys, marker="braille", color=color_of(index))
            if label in self._errors:
                bars = [2 * half for half in self._errors[label][1]]  # plotext's yerr is the whole bar
                self.plt.error(xs, ys, yerr=bars, color=color_of(index))
            if len(xs) == 1:  # a line of one point draws nothing
                self.plt.scatter(xs, ys, marker="dot", color=color_of(index))
        if not self._log_x and (x_range := axis_limits([x for xs, _ in self.series.values() for x in xs], self.x)):
            self.plt.xlim(*x_range)
            self.plt.xticks(*even_ticks(*x_range, self.x.digits or 0))  # columns are many: even ticks fit them
        self.set_y([y for _, ys in self.series.values() for y in ys])

    def set_y(self, values: list[float]) -> None:
        """The y axis's range for `values` (the series' and their error bars' ends)."""
        self._y_range = axis_limits(values, self.y)
        if self._y_range is not None:
            self.plt.ylim(*self._y_range)

    def on_resize(self) -> None:
        self._place_legend()

    def _place_legend(self) -> None:
        """In the bottom border as many of the last entries as it holds whole (Textual would cut one with "…"), the
        entries before them on lines of their own under the plot, so that the legend reads in order."""
        if not self.legend_in_border:
            return
        entries, room = list(self._entries), self.outer_size.width - 6  # corners, a line each side, spaces
        in_border: list[str] = []
        while entries and Text.from_markup(LEGEND_GAP.join([entries[-1], *in_border])).cell_len <= room:
            in_border.insert(0, entries.pop())
        if self._in_border != (subtitle := LEGEND_GAP.join(in_border)):
            # Only when it changed: each setting repaints.
            self.border_subtitle = self._in_border = subtitle
        lines: list[list[str]] = []
        for entry in entries:
            if lines and Text.from_markup(LEGEND_GAP.join([*lines[-1], entry])).cell_len < self.size.width:
                lines[-1].append(entry)
            else:
                lines.append([entry])
        self._below = [Text.from_markup(LEGEND_GAP.join(line)) for line in lines]
        for line in self._below:  # right-aligned, as the border's part
            # Never by less than nothing: while the chart is narrower than an entry (as a layout settles), rich
            # would shift the colours' spans before the text's start, and rendering them raises StopIteration.
            line.pad_left(max(0, self.size.width - 1 - line.cell_len))

    def render(self) -> RenderResult:
        if self._log_x:
            self._plot_data()
        # PlotextPlot.render, with the plot's height less the legend's lines
        width, height = self.size.width, max(self.size.height - len(self._below), 1)
        if self._y_range is not None:  # its rows: all but the frame above, the x axis and its labels, the titles'
            titles = 1 if self._x_label or self.y.label else 0  # plotext gives axes' titles a row where there are any
            self.plt.yticks(*even_ticks(*self._y_range, self.y.digits or 0, rows=height - 3 - titles))
        if not self._below:
            return super().render()
        self.plt.plotsize(width, height)
        self.plt._set_size(width, height)  # as PlotextPlot.render does: plotsize alone does not resize
        self.plt.theme(self._get_plotext_theme_name(self.app.theme))
        return Group(Text.from_ansi(self.plt.build().rstrip("\n")), *self._below)
