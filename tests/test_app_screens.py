"""The analysis screens at 80x24 and 120x40: what they show, that it is true, and that every key works."""

from __future__ import annotations

import dataclasses
import itertools
import re
import shutil
from pathlib import Path

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widgets import DataTable, Select, Static
from textual.widgets._select import SelectOverlay
from textual.widgets._toast import Toast

from prunetui.app.app import PruneApp
from prunetui.app.remembered import remember
from prunetui.app.run_state import RunState
from prunetui.app.screens.help import HelpScreen
from prunetui.app.screens.runs import RunsScreen, detail_text, run_label
from prunetui.app.screens.sensitivity import SensitivityScreen
from prunetui.app.screens.sweep import SweepScreen
from prunetui.app.widgets.axes import axis_range, even_ticks
from prunetui.app.widgets.charts import AccuracyChart, ReplotPace, RunChart
from prunetui.app.widgets.event_log import EventLog
from prunetui.app.widgets.series_chart import ACCURACY_AXIS, PERCENT, SPARSITY_AXIS, Axis, SeriesChart, hex_color
from prunetui.app.widgets.sparsity_bars import SparsityBars
from prunetui.app.widgets.status_panel import left
from prunetui.engine import ExperimentConfig
from prunetui.engine.analyses import SensitivityPoint, SensitivityStarted
from prunetui.engine.core.events import Exported, LayerSparsity, SparsityReport
from prunetui.engine.storage.runs import list_runs, read_run, runs_root
from tests.test_app import opened, shown, wait_until
from tests.test_app_analyses import record

SMALL = (80, 24)


def rendered(table: DataTable[object]) -> list[str]:
    """The table's lines as the terminal shows them, header first."""
    return [table.render_line(y).text for y in range(table.scrollable_content_region.height)]


def recorded_runs(config: ExperimentConfig, copies: int) -> list[str]:
    """One real run and `copies` copies of it under other names: more runs than 80x24 shows at once."""
    run = record(config)
    for i in range(copies):
        shutil.copytree(run, run.with_name(f"{run.name[:-6]}copy{i:02d}"))
    return [r.name for r in list_runs(runs_root())]


async def test_runs_at_80x24_show_run_and_status_mark_the_selection_and_keep_the_cursor_in_sight(
    tiny_config: ExperimentConfig,
) -> None:
    names = recorded_runs(tiny_config, copies=7)
    app = PruneApp(tiny_config)
    async with app.run_test(size=SMALL) as pilot:
        screen = await opened(pilot, "f3", RunsScreen)
        table = screen.query_one(DataTable)
        await wait_until(pilot, lambda: table.row_count == len(names))  # listed by a worker: slow on a loaded machine
        await pilot.pause()
        header, first = rendered(table)[:2]
        for column in ("run", "status", "sparsity", "dense → pruned"):
            assert column in header
        assert names[0] in first and "finished" in first

        await pilot.press("end", "space")  # the last run, off-screen at first, selected: the charts now draw it
        await pilot.pause()
        assert table.cursor_row == len(names) - 1 and screen.selected == [names[-1]]
        shown_rows = rendered(table)
        assert len(shown_rows) >= 5  # the header and four runs, with the charts and the detail on screen
        assert any(names[-1] in line and "●" in line for line in shown_rows)  # in sight, marked
        mark = table.get_row_at(len(names) - 1)[0]
        assert isinstance(mark, Text) and str(mark.style) == hex_color(0)  # the color of its lines: the legend
        assert names[-1] in shown(screen.query_one("#runs-detail", Static))  # e and d act on the run one sees

        await pilot.press("home")
        assert table.cursor_row == 0


async def test_runs_detail_and_labels_tell_what_a_run_reached(tiny_config: ExperimentConfig) -> None:
    run = read_run(record(tiny_config.replace(sparsity=0.9)))
    stopped = dataclasses.replace(
        run, status="stopped", sparsity=0.0, export=Exported("model.pt", 246_784, 493_670, 230_400)
    )
    label = run_label(stopped)
    assert label.endswith("0.0 %") and "90" not in label  # what it reached, not its target
    assert "Nothing is pruned (0 % sparse), so there is nothing to gain" in detail_text(stopped)
    assert "pay off in storage only" not in detail_text(stopped)  # what the trial saw for a 0 %-sparse run
    assert "They pay off in storage only" in detail_text(run)  # 90 % sparse: CSR and gzip are smaller
    (run.path / "model.pt").unlink()
    assert "This run saved no model" in detail_text(read_run(run.path))
    going = detail_text(dataclasses.replace(read_run(run.path), status="running"))  # another process writes it
    assert "still running: its model is saved when it ends" in going and "saved no model" not in going


def test_axes_of_one_point_stay_inside_their_bounds_with_evenly_spaced_labels() -> None:
    assert axis_range([0.0], 1, SPARSITY_AXIS.bounds) == (0.0, pytest.approx(0.3))  # not -1 … 1
    low, high = axis_range([99.95], 1, ACCURACY_AXIS.bounds)
    assert high == 100.0 and low == pytest.approx(99.7)  # not up to 104.3
    ticks, labels = even_ticks(83.48, 85.1, 2)
    assert labels == ["83.48", "84.02", "84.56", "85.10"]
    assert {round(b - a, 2) for a, b in itertools.pairwise(ticks)} == {0.54}
    assert even_ticks(16, 48, 0)[1] == ["16", "27", "37", "48"]  # steps in whole numbers
    for rows in (5, 6, 8, 9, 11):  # one accuracy, 41.9 to 42.2 %, or a flat loss, on rows: no label twice
        for low, high, digits in ((41.9, 42.2, 1), (0.17, 0.23, 2)):
            labels = even_ticks(low, high, digits, rows)[1]
            assert len(labels) == len(set(labels)) >= 2, (rows, labels)


class ChartApp(App[None]):
    def compose(self) -> ComposeResult:
        yield SeriesChart(SPARSITY_AXIS, ACCURACY_AXIS)


async def test_the_legend_is_in_the_border_not_over_the_lines() -> None:
    async with ChartApp().run_test(size=SMALL) as pilot:
        chart = pilot.app.query_one(SeriesChart)
        chart.show({"conv1": ([50.0], [85.1]), "fc1": ([50.0, 90.0], [84.45, 83.48])})
        await pilot.pause()
        assert set(chart.plt.monitor.label) == {None}  # plotext draws no legend box
        assert "conv1" in str(chart.border_subtitle) and "fc1" in str(chart.border_subtitle)
        assert chart.plt.monitor.ylim[0][1] <= 100.0


async def test_a_sweep_of_one_sparsity_charts_it_within_ten_points_each_side() -> None:
    async with ChartApp().run_test(size=SMALL) as pilot:
        chart = pilot.app.query_one(SeriesChart)
        chart.show({"l1:layer:one-shot": ([80.0], [91.2]), "random:layer:one-shot": ([80.0], [60.5])})
        await pilot.pause()
        assert chart.plt.monitor.xlim[0] == [70.0, 90.0]  # not 40 to 120
        chart.show({"l1:layer:one-shot": ([95.0], [91.2])})
        await pilot.pause()
        assert chart.plt.monitor.xlim[0] == [80.0, 100.0]  # kept inside 0 … 100


def row_labels(chart: SeriesChart | RunChart, top: int) -> dict[int, float]:
    """{row from the plot's top: the y label's value} as the chart paints them; `top`: lines above the plot."""
    lines = str(chart.render()).splitlines()[top:]
    return {row: float(found[1]) for row, line in enumerate(lines) if (found := re.match(r"\s*([\d.]+)┤", line))}


class UnlabelledChartApp(App[None]):
    def compose(self) -> ComposeResult:
        yield SeriesChart(Axis("", 1, PERCENT), Axis("", 1, PERCENT))  # as the Runs screen's: no row for titles


class RunChartApp(App[None]):
    def compose(self) -> ComposeResult:
        yield AccuracyChart(ReplotPace())


@pytest.mark.parametrize("plot_rows", [3, 5, 8])
async def test_each_y_label_says_the_value_of_the_row_it_is_on(plot_rows: int) -> None:
    """Four even ticks fit neither 3 nor 5 rows: plotext put each on its nearest row, the label of another value
    (on 3 rows from 9.6 to 42.1 the middle row read 31.3, not 25.9)."""
    state = RunState()
    for step, accuracy in enumerate((0.421, 0.30, 0.096)):
        state.accuracy.add(step, accuracy)
    apps = ((ChartApp(), 1, plot_rows + 4), (UnlabelledChartApp(), 1, plot_rows + 3), (RunChartApp(), 0, plot_rows + 2))
    for app, top, rows in apps:  # the frame above, the x axis, its tick labels, the axes' titles
        async with app.run_test(size=(60, rows)) as pilot:
            chart = pilot.app.query_one(RunChart) if isinstance(app, RunChartApp) else pilot.app.query_one(SeriesChart)
            if isinstance(chart, SeriesChart):
                chart.show({"l1": ([50.0, 70.0, 90.0], [42.1, 30.0, 9.6])})
            else:
                chart.show(state)
            await pilot.pause()
            labels = row_labels(chart, top)
            assert len(labels) >= 3 and labels[0] == 42.1 and labels[plot_rows - 1] == 9.6, labels
            for row, value in labels.items():  # each row is as far from the next as the others
                assert value == pytest.approx(42.1 - (42.1 - 9.6) * row / (plot_rows - 1), abs=0.05), (row, labels)


class BarsApp(App[None]):
    def compose(self) -> ComposeResult:
        yield SparsityBars()


async def test_the_bars_keep_their_width_and_the_names_theirs_beside_the_log_at_80_columns() -> None:
    """The bars' share of an 80-column screen, after a structured prune: the row of all layers held both
    compressions, which widened its column until each bar was one cell and `block.conv1` read `block.con…`."""
    layers = (
        LayerSparsity("stem.0", 4, 8),
        LayerSparsity("block.conv1", 432, 576),
        LayerSparsity("block.conv2", 432, 576),
        LayerSparsity("fc", 40, 80, prunable=False),  # its inputs went with the channels before it
    )
    report = SparsityReport(layers, 700, 2_600)
    async with BarsApp().run_test(size=(46, 8)) as pilot:
        bars = pilot.app.query_one(SparsityBars)
        bars.show(dataclasses.replace(RunState(), sparsity=report))
        await pilot.pause()
        lines = [strip.text for strip in bars.render_lines(Region(0, 0, 46, 8))]
        rows = {line.split()[0]: line for line in lines[1:6]}
        assert set(rows) == {"stem.0", "block.conv1", "block.conv2", "fc", "all"}, lines
        assert all(sum(line.count(cell) for cell in "█·▏▎▍▌▋▊▉") >= 6 for line in rows.values()), lines
        assert "50.00 %" in rows["fc"] and "kept" not in rows["fc"]  # half its weights are zero: said, not "kept"
        assert "74.83 %" in rows["all"] and rows["all"].endswith("292/1,160")  # the prunable layers', as its share


class LogApp(App[None]):
    def compose(self) -> ComposeResult:
        yield EventLog()


async def test_the_log_shows_a_long_path_whole_and_wraps_again_when_wider() -> None:
    path = "/tmp/trialH-runs/20261127-093754-cb8ca7/model.pt"
    async with LogApp().run_test(size=(40, 10)) as pilot:
        log = pilot.app.query_one(EventLog)
        log.note(f"saved {path}: 241.0 KiB dense, 482.1 KiB as sparse CSR", "0:08")
        await pilot.pause()
        narrow = [strip.text.strip() for strip in log.lines]
        assert path in "".join(narrow).replace(" ", "") and not any("…" in line for line in narrow)
        await pilot.resize_terminal(120, 10)
        await pilot.pause()
        assert len(log.lines) == 1 < len(narrow)


def test_the_time_left_rounds_up() -> None:
    assert left(0.4) == " · 0:01 left"  # a quarter of a short epoch to go is not 0:00
    assert left(61.2) == " · 1:02 left"


async def test_f3_to_f6_switch_between_analysis_screens_and_f1_explains_the_one_in_front(
    tiny_config: ExperimentConfig,
) -> None:
    app = PruneApp(tiny_config)
    async with app.run_test(size=SMALL) as pilot:
        await opened(pilot, "f4", SweepScreen)
        await opened(pilot, "f3", RunsScreen)
        assert len(app.screen_stack) == 2  # the Runs screen replaced the Sweep screen, not stacked on it
        help_screen = await opened(pilot, "f1", HelpScreen)
        assert help_screen.about is not None and "The Runs screen" in help_screen.about
        assert help_screen.keys is not None and {b.key for b in help_screen.keys} >= {"e", "d", "space"}


async def test_a_compact_selects_list_opens_inside_a_border(tiny_config: ExperimentConfig) -> None:
    """Without one, its options ran into the text of the lines below the field."""
    app = PruneApp(tiny_config)
    async with app.run_test(size=SMALL) as pilot:
        screen = await opened(pilot, "f5", SensitivityScreen)
        select = screen.query_one("#sensitivity-source", Select)
        select.focus()
        await pilot.press("enter")
        overlay = select.query_one(SelectOverlay)
        await wait_until(pilot, lambda: overlay.display and overlay.region.height > 0)
        assert overlay.styles.border_top[0] == "round" and overlay.region.height == len(select._options) + 2


async def test_toasts_show_at_the_top_right_on_every_screen(tiny_config: ExperimentConfig) -> None:
    """Clear of the Stop button and of a dialog's question, which are low on an 80x24 screen."""
    app = PruneApp(tiny_config)
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        for key in ("", "f5", "f3"):
            if key:
                await pilot.press(key)
            app.notify(f"a notice on {type(app.screen).__name__}", title="Notice")
            await wait_until(pilot, lambda: any(isinstance(w, Toast) for w in app.screen._compositor.visible_widgets))
            [toast] = [w for w in app.screen._compositor.visible_widgets if isinstance(w, Toast)]
            region = app.screen.find_widget(toast).region
            assert region.y <= 1 and region.right >= SMALL[0] - 2, (key, region)
            app.clear_notifications()
            await pilot.pause()


async def test_sensitivity_says_how_far_it_is_while_results_come_in(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config)
    async with app.run_test(size=SMALL) as pilot:
        screen = await opened(pilot, "f5", SensitivityScreen)
        screen.show_event(SensitivityStarted(("conv1", "fc1"), (0.5, 0.9), 0.95, "trained"))
        screen.show_event(SensitivityPoint("conv1", 0.5, 0.93, 0.2))
        progress = shown(screen.query_one("#analysis-progress", Static))
        assert "conv1 pruned to 50 %: 93.0 %" in progress and "1 of 4 evaluations" in progress


async def test_the_log_says_once_that_the_form_shows_the_last_sessions_settings(
    tiny_config: ExperimentConfig, tmp_path: Path
) -> None:
    assert remember(tiny_config.replace(sparsity=0.7)) is None
    async with PruneApp().run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        text = " ".join(" ".join(strip.text for strip in pilot.app.query_one(EventLog).lines).split())
        assert "last session's settings" in text and "F7 resets them" in text
    async with PruneApp(tiny_config).run_test(size=(120, 40)) as pilot:  # settings given: nothing to say
        await pilot.pause()
        assert not pilot.app.query_one(EventLog).lines


async def test_at_80x24_the_log_shows_the_save_path_whole_and_status_times_the_run_as_the_log_does(
    tiny_config: ExperimentConfig,
) -> None:
    app = PruneApp(tiny_config)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: not app.main_screen.run_state.active)
        await pilot.pause()
        summary = app.main_screen.run_state.summary
        assert summary is not None
        log = "".join(strip.text.strip() for strip in app.query_one(EventLog).lines)
        (run,) = list_runs(runs_root())
        assert f"saved{run.path}/model.pt" in log.replace(" ", "")  # the run directory whole, not cut with …
        assert f"{summary.seconds:.1f}s" in log.replace(" ", "")
        assert f"(run {summary.seconds:.1f} s)" in shown(app.query_one("#figures", Static))
