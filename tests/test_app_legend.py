"""The analysis charts' legend: every entry whole, in the bottom border and, where that is too short, on lines
under the plot; through a pilot-driven chart."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text
from textual.app import App, ComposeResult

from prunetui.app.widgets.series_chart import ACCURACY_AXIS, SPARSITY_AXIS, SeriesChart

METHODS = ["l1:layer:iterative", "l1:layer:one-shot", "l1:global:one-shot", "random:layer:one-shot"]


class ChartApp(App[None]):
    CSS_PATH = Path(__file__).parent.parent / "prunetui" / "app" / "analysis.tcss"

    def compose(self) -> ComposeResult:
        yield SeriesChart(SPARSITY_AXIS, ACCURACY_AXIS)


@pytest.mark.parametrize(("width", "lines_under_the_plot"), [(80, 1), (160, 0)])
async def test_a_four_method_legend_is_never_cut(width: int, lines_under_the_plot: int) -> None:
    app = ChartApp()
    async with app.run_test(size=(width, 16)) as pilot:
        chart = app.query_one(SeriesChart)
        chart.show({method: ([50.0, 90.0], [80.0 - k, 40.0 - k]) for k, method in enumerate(METHODS)})
        await pilot.pause()
        console = Console(width=chart.size.width, file=io.StringIO(), record=True)
        console.print(chart.render())
        lines = console.export_text().rstrip("\n").splitlines()
        assert len(lines) == chart.size.height  # the plot made room for the legend's lines
        under = lines[len(lines) - lines_under_the_plot :]
        assert "sparsity (%)" in lines[-1 - lines_under_the_plot]  # the plot's last line, its axis label, is whole
        border = Text.from_markup(str(chart.border_subtitle)).plain
        assert "…" not in border
        legend = " ".join([*under, border])
        assert [method for method in METHODS if f"━━ {method}" in legend] == METHODS
        assert legend.index(METHODS[0]) < legend.index(METHODS[-1])  # in order, top to bottom


async def test_a_chart_narrower_than_a_legend_entry_still_renders() -> None:
    """As a layout settles, a chart may be narrower than one entry of its legend for a moment: its line under the
    plot is then not padded at all (rich would move the entry's colour before the text's start and fail to render)."""
    app = ChartApp()
    async with app.run_test(size=(16, 16)) as pilot:
        chart = app.query_one(SeriesChart)
        chart.show({"ln-structured:layer:iterative": ([50.0, 90.0], [80.0, 40.0])})
        await pilot.pause()
        assert chart.size.width - 1 < len("━━ ln-structured:layer:iterative")
        console = Console(width=chart.size.width, file=io.StringIO(), record=True)
        console.print(chart.render())
        assert "ln-structured" in console.export_text()


@pytest.mark.parametrize("width", [80, 160])  # with the legend's lines under the plot, and without
async def test_a_log_axis_chart_repaints_as_often_as_it_likes(width: int) -> None:
    """plotext takes the logarithm of the data it holds, in place, at each build: a chart of compressions on a log
    axis repainted (a focus, a tooltip, a layout) took it again, until a value went negative and the app failed."""
    app = ChartApp()
    async with app.run_test(size=(width, 16)) as pilot:
        chart = app.query_one(SeriesChart)
        # A flat line: plotext alone would put its y range around it (49-147 %), not within the accuracies' bounds
        chart.show({"l1:global:one-shot": ([2.0, 10.0], [98.0, 98.0])}, log_x=True)
        limits = list(chart.plt.monitor.ylim[0])  # what show() set from the accuracies
        await pilot.pause()
        frames = []
        for _ in range(4):
            console = Console(width=chart.size.width, file=io.StringIO(), record=True)
            console.print(chart.render())
            frames.append(console.export_text())
        assert frames == [frames[0]] * 4  # the same plot each time
        assert chart.plt.monitor.ylim[0] == limits and 90 < limits[0] < limits[1] <= 100  # its y range kept
        assert chart.plt.monitor.x[0] == pytest.approx([0.30103, 1.0], abs=1e-5)  # log10 of 2 and 10, taken once
