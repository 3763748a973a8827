"""The Runs, Sweep, Sensitivity and Weights screens through the pilot, on tiny data."""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Generator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Select, Static
from textual.widgets._footer import FooterKey
from textual.widgets._select import SelectCurrent
from textual.widgets.data_table import ColumnKey

from prunetui.app.app import PruneApp
from prunetui.app.screens.runs import RunsScreen
from prunetui.app.screens.sensitivity import SensitivityScreen
from prunetui.app.screens.sweep import SweepScreen
from prunetui.app.screens.weights import WeightsScreen
from prunetui.app.widgets.choice import Choice
from prunetui.app.widgets.heat_map import KEPT, PARTLY_KEPT, PRUNED, HeatMap, glyph, shrink
from prunetui.app.widgets.series_chart import SeriesChart
from prunetui.cli.main import main
from prunetui.describe import percent, storage_note
from prunetui.engine import ExperimentConfig
from prunetui.engine.analyses import (
    SensitivityPoint,
    SweepPoint,
    SweepSpec,
    SweepStarted,
    read_sweep_csv,
    sensitivity_file,
    suggest_amounts,
    sweep_csv,
    sweep_directory,
    sweep_series,
)
from prunetui.engine.core.config import format_layer_amounts, parse_layer_amounts
from prunetui.engine.storage.csv_text import to_csv
from prunetui.engine.storage.runs import claim_new_run_dir, list_runs, load_history, runs_root
from tests.test_app import opened, shown, wait_until

SIZE = (140, 44)


def record(config: ExperimentConfig) -> Path:
    """A finished run saved under the runs root, as the CLI saves it."""
    from prunetui.engine.core.experiment import Experiment
    from prunetui.engine.storage.recording import record_claimed

    lock = claim_new_run_dir(runs_root(), config)
    for _ in record_claimed(Experiment(config), lock):
        pass
    return lock.directory


def plotted(chart: SeriesChart) -> list[list[float]]:
    """The y values of each line plotext drew."""
    return chart.plt.monitor.y


@pytest.mark.slow
async def test_app_runs_are_saved_and_the_runs_screen_overlays_two(tiny_config: ExperimentConfig) -> None:
    record(tiny_config.replace(sparsity=0.9, scope="global"))
    app = PruneApp(tiny_config.replace(sparsity=0.5))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+r")  # the app's own run lands under the runs root too
        await wait_until(pilot, lambda: not app.main_screen.run_state.active)
        await pilot.pause()
        (app_run, cli_run) = list_runs(runs_root())
        assert f"saving the run in {app_run.path}" in app.main_screen.run_state.log
        assert (app_run.sparsity, app_run.status) == (pytest.approx(0.5, abs=0.005), "finished")

        screen = await opened(pilot, "f3", RunsScreen)
        table = screen.query_one(DataTable)
        await wait_until(pilot, lambda: table.row_count == 2)  # the runs are read in a worker, off the UI thread
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        assert [[row[5], row[3]] for row in rows] == [
            ["l1 layer one-shot", percent(app_run.sparsity)],
            ["l1 global one-shot", percent(cli_run.sparsity)],
        ]
        detail = shown(screen.query_one("#runs-detail", Static))
        assert "do not speed up dense PyTorch inference" in detail
        assert storage_note(False, app_run.sparsity, app_run.export) in " ".join(detail.split())  # its own numbers
        assert "They pay off in storage only:" in storage_note(False, app_run.sparsity, app_run.export)
        assert app_run.export is not None and f"{app_run.export.gzip_bytes / 1024:,.1f} KiB gzipped" in detail

        await pilot.press("space", "down", "enter")  # space and enter both select
        assert screen.selected == [app_run.name, cli_run.name]
        assert [str(table.get_row_at(i)[0]) for i in range(2)] == ["●", "●"]
        accuracy = screen.query_one("#runs-accuracy", SeriesChart)
        await wait_until(pilot, lambda: len(accuracy.series) == 2)  # their histories too
        expected = [[row.accuracy * 100 for row in load_history(run.path)] for run in (app_run, cli_run)]
        assert plotted(accuracy) == expected
        assert max(accuracy.series[list(accuracy.series)[1]][0]) == pytest.approx(cli_run.sparsity * 100)
        assert len(plotted(screen.query_one("#runs-loss", SeriesChart))) == 2

        await pilot.press("space")  # off again
        assert screen.selected == [app_run.name]
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, RunsScreen)


@pytest.mark.slow
async def test_a_sweep_of_two_points_charts_and_tables_both_and_resumes(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot, "f4", SweepScreen)
        assert screen.query_one("#sweep-methods", Input).value.startswith("l1:layer:one-shot,")
        screen.query_one("#sweep-methods", Input).value = "l1:global"
        screen.query_one("#sweep-sparsities", Input).value = "0.9, 0.5"
        await pilot.press("ctrl+r")
        assert not app.main_screen.run_state.active  # ctrl+r started the sweep, not a run of the main screen
        await wait_until(pilot, lambda: not screen.running, timeout=30)
        await pilot.pause()
        assert screen.status == "finished"
        points = read_sweep_csv((sweep_directory(runs_root(), tiny_config) / "sweep.csv").read_text())
        assert [(p.method, p.sparsity) for p in points] == [("l1:global:one-shot", 0.5), ("l1:global:one-shot", 0.9)]
        table = screen.query_one(DataTable)
        every = [
            {"method": "l1:global:one-shot", "target": percent(p.sparsity, 0), "seed": "0",
             "accuracy": percent(p.accuracy), "pruned": percent(p.pruned_accuracy),
             "reached": percent(p.reached_sparsity), "× weights": f"{p.weight_compression:.1f}×",
             "× all": f"{p.compression:.1f}×", "MACs kept": percent(p.macs_kept)}
            for p in points
        ]  # fmt: skip
        keys = [str(key.value) for key in table.columns]  # beside the chart, the columns that fit
        assert "MACs kept" in keys and "accuracy" in keys
        assert [table.get_row_at(i) for i in range(table.row_count)] == [[row[k] for k in keys] for row in every]
        chart = screen.query_one(SeriesChart)
        assert chart.series == {"l1:global:one-shot": ([50.0, 90.0], [p.accuracy * 100 for p in points])}
        assert plotted(chart) == [[p.accuracy * 100 for p in points]]

        await pilot.press("ctrl+l")  # compression on a log axis
        await pilot.pause()
        assert chart.series["l1:global:one-shot"][0] == [p.compression for p in points]

        await pilot.press("ctrl+r")  # again: both points are done, nothing is trained
        await wait_until(pilot, lambda: not screen.running, timeout=10)
        assert screen.status == "finished" and len(screen.points) == 2
        plan = shown(screen.query_one("#analysis-plan", Static))
        assert "2 points done before are kept" in plan and not app._notifications  # no toast over the table
        assert plan.startswith("Sweeping into sweeps/lenet5-mnist-")  # under the runs root: a short line at 80x24

        await pilot.press("escape")  # back, and F4 again: the settings and the results are as they were
        await pilot.pause()
        screen = await opened(pilot, "f4", SweepScreen)
        await pilot.pause()  # the results come back after the first layout
        assert screen.query_one("#sweep-methods", Input).value == "l1:global"
        assert screen.query_one("#sweep-sparsities", Input).value == "0.9, 0.5"
        assert len(screen.points) == 2 and screen.query_one(DataTable).row_count == 2
        assert screen.query_one(SeriesChart).series["l1:global:one-shot"][0] == [p.compression for p in points]
        assert shown(screen.query_one("#analysis-progress", Static)).startswith("finished")


def written_sweep(config: ExperimentConfig, points: list[SweepPoint]) -> None:
    """The sweep directory of `config` as an earlier session left it: its sweep.toml (written by the engine, which
    starts and is closed before it trains) and `points` in sweep.csv."""
    from prunetui.engine.analyses.sweep import RESULTS_FILE, Sweep

    methods, sparsities = (tuple(dict.fromkeys(getattr(p, name) for p in points)) for name in ("method", "sparsity"))
    seeds = tuple(dict.fromkeys(p.seed for p in points))
    directory = sweep_directory(runs_root(), config)
    events = Sweep(SweepSpec(config, methods, sparsities, seeds), directory).run()
    assert isinstance(events, Generator) and isinstance(next(events), SweepStarted)
    events.close()  # before anything trains
    (directory / RESULTS_FILE).write_text(sweep_csv(points))


async def resumed(pilot: Pilot[None], methods: str, sparsities: str, seeds: str = "0") -> SweepScreen:
    """The Sweep screen, Started on a sweep whose points are all done: it shows them, training nothing."""
    screen = pilot.app.screen if isinstance(pilot.app.screen, SweepScreen) else await opened(pilot, "f4", SweepScreen)
    for name, value in (("methods", methods), ("sparsities", sparsities), ("seeds", seeds)):
        screen.query_one(f"#sweep-{name}", Input).value = value
    await pilot.press("ctrl+r")
    await wait_until(pilot, lambda: not screen.running)
    await pilot.pause()
    assert screen.status == "finished"
    return screen


def point(method: str, sparsity: float, accuracy: float, macs_kept: float | None, seed: int = 0) -> SweepPoint:
    """A row of sweep.csv: `macs_kept` None as in a sweep.csv from before MACs were counted."""
    return SweepPoint(method, sparsity, seed, sparsity, 1 / (1 - sparsity), 0.98, accuracy - 0.1, accuracy, 0.2, 3.0,
                      1 / (1 - sparsity), macs_kept)  # fmt: skip


async def test_the_sweep_charts_accuracy_against_the_macs_kept_and_names_the_points_without(
    tiny_config: ExperimentConfig,
) -> None:
    counted_points = [point("l1:global:one-shot", 0.5, 0.96, 0.55), point("l1:global:one-shot", 0.9, 0.9, 0.2)]
    older = [point("random:layer:one-shot", 0.5, 0.8, None), point("random:layer:one-shot", 0.9, 0.3, None)]
    written_sweep(tiny_config, counted_points + older)
    app = PruneApp(tiny_config)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await resumed(pilot, "l1:global,random:layer", "0.5,0.9")
        chart, axis = screen.query_one(SeriesChart), screen.query_one("#sweep-axis", Choice)
        assert "Axis" in {key.description for key in screen.query(FooterKey)}  # ctrl+l, in the footer
        assert set(chart.series) == {"l1:global:one-shot", "random:layer:one-shot"}  # against sparsity: both
        assert chart.border_title == "Accuracy after fine-tuning"

        await pilot.press("ctrl+l", "ctrl+l")  # compression, then the MACs kept
        assert axis.value == "macs"
        series, _, label = sweep_series(counted_points + older, "macs")  # the CLI's --macs chart: the same lines
        xs, ys = ([p.macs_kept * 100 for p in counted_points], [p.accuracy * 100 for p in counted_points])  # type: ignore[operator]
        assert chart.series == series == {"l1:global:one-shot": (xs, ys)}  # without the points that have none
        assert plotted(chart) == [ys] and label in shown(chart)
        assert chart.border_title == "Accuracy after fine-tuning · 2 points without MACs (older sweep.csv)"

        await pilot.press("ctrl+l")  # round to sparsity: the note goes
        assert axis.value == "sparsity" and chart.border_title == "Accuracy after fine-tuning"

        screen = await resumed(pilot, "random:layer", "0.5,0.9")  # none of its points has MACs: an empty chart
        axis.value = "macs"
        await pilot.pause()
        assert chart.series == {} and plotted(chart) == []
        assert chart.border_title == "Accuracy after fine-tuning · 2 points without MACs (older sweep.csv)"


async def test_the_sweeps_points_fit_80_columns_with_their_accuracy_and_macs_kept(
    tiny_config: ExperimentConfig,
) -> None:
    methods = ("ln-structured:layer:one-shot", "l1:global:one-shot")
    points = [point(method, sparsity, 0.9, 0.4) for method in methods for sparsity in (0.5, 0.97)]
    written_sweep(tiny_config, points)
    app = PruneApp(tiny_config)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await resumed(pilot, ",".join(methods), "0.5,0.97")
        table = screen.query_one(DataTable)

        def columns() -> list[str]:
            return [str(key.value) for key in table.columns]

        assert table.virtual_size.width <= table.scrollable_content_region.width  # nothing scrolls off the right
        assert columns() == ["method", "target", "seed", "accuracy", "pruned", "× weights", "MACs kept"]
        assert table.border_subtitle == "hidden: reached, × all"
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        names = [str(row[0]) for row in rows]  # a name cut in what room the numbers leave, its schedule kept
        assert names[:2] == [methods[1]] * 2
        assert all(name.endswith("…:one-shot") and methods[0].startswith(name.split("…")[0]) for name in names[2:])
        assert [row[-1] for row in rows] == [percent(p.macs_kept) for p in points]
        assert len(rows) == 4 and screen.query_one(SeriesChart).region.height >= 7  # the chart keeps its room

        await pilot.resize_terminal(140, 44)  # side by side: the table has half, and one seed, said above, goes
        await wait_until(pilot, lambda: "seed" not in columns())
        assert columns() == ["method", "target", "accuracy", "× weights", "MACs kept"]
        assert table.border_subtitle == "hidden: reached, × all, seed, pruned"
        written_sweep(tiny_config, [*points, *(replace(p, seed=1) for p in points)])
        await resumed(pilot, ",".join(methods), "0.5,0.97", seeds="0,1")  # two seeds: their column stays
        assert columns() == ["method", "target", "seed", "accuracy", "MACs kept"]
        await pilot.resize_terminal(220, 44)  # room for every column
        await wait_until(pilot, lambda: len(columns()) == 9)
        assert table.border_subtitle == ""


async def test_sensitivitys_and_sweeps_settings_stay_for_the_session(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot, "f5", SensitivityScreen)
        screen.query_one("#sensitivity-amounts", Input).value = "0.3,0.6"
        screen.query_one("#sensitivity-criterion", Select).value = "random"
        screen = await opened(pilot, "f4", SweepScreen)  # from one screen to the other, and back
        for name, value in {"sparsities": "0.7", "seeds": "0,1", "jobs": "2"}.items():
            screen.query_one(f"#sweep-{name}", Input).value = value
        await pilot.press("escape")
        await pilot.pause()
        screen = await opened(pilot, "f4", SweepScreen)
        assert [screen.query_one(f"#sweep-{name}", Input).value for name in ("sparsities", "seeds", "jobs")] == [
            "0.7", "0,1", "2"
        ]  # fmt: skip
        screen = await opened(pilot, "f5", SensitivityScreen)
        assert screen.query_one("#sensitivity-amounts", Input).value == "0.3,0.6"
        assert screen.query_one("#sensitivity-criterion", Select).value == "random"
        assert "cannot" not in shown(screen.query_one("#analysis-plan", Static))


@pytest.mark.slow
async def test_sensitivity_draws_one_line_per_layer(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot, "f5", SensitivityScreen)
        screen.query_one("#sensitivity-amounts", Input).value = "0.5,0.95"
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: not screen.running, timeout=30)
        await pilot.pause()
        assert screen.status == "finished" and screen.started is not None
        chart = screen.query_one(SeriesChart)
        layers = ["conv1", "conv2", "fc1", "fc2", "fc3"]
        assert list(chart.series) == layers
        for layer in layers:
            accuracies = [p.accuracy * 100 for p in screen.points if p.layer == layer]
            assert chart.series[layer] == ([50.0, 95.0], accuracies)
        assert len(plotted(chart)) == len(layers)
        assert screen.started.dense_val_accuracy is not None  # so the suggestion goes by validation accuracy
        amounts = suggest_amounts(screen.points, [screen.started], 0.01)
        suggestion = format_layer_amounts(amounts)
        assert suggestion in shown(screen.query_one("#sensitivity-suggestion", Static))
        saved = sensitivity_file(runs_root(), tiny_config)  # the results are saved, where the CLI saves them
        assert saved.read_text() == to_csv(screen.points, SensitivityPoint)
        assert any(n.message == f"results in {saved}" for n in app._notifications)

        await pilot.press("ctrl+l")  # the suggestion goes into the form, and the next run prunes by it
        await pilot.pause()
        assert app.screen is app.screen_stack[0]
        assert app.query_one("#setting-layer_sparsity", Input).value == suggestion
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: not app.main_screen.run_state.active, timeout=60)
        summary = app.main_screen.run_state.summary
        assert summary is not None and summary.complete
        reached = {layer.name: layer.sparsity for layer in summary.sparsity.layers}
        assert reached == pytest.approx(amounts, abs=1e-3)


async def test_sensitivity_tables_its_numbers_at_80x24(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot, "f5", SensitivityScreen)
        # The key is in sight (the footer is built after the screen's first frame).
        await wait_until(pilot, lambda: "Chart/table" in {key.description for key in screen.query(FooterKey)})
        screen.query_one("#sensitivity-amounts", Input).value = "0.5,0.95"
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: not screen.running, timeout=30)
        await pilot.pause()
        assert screen.status == "finished" and screen.started is not None
        table = screen.query_one("#sensitivity-table", DataTable)
        assert not table.display  # the chart first
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert table.display and table.has_focus and not screen.query_one(SeriesChart).display
        assert table.region.bottom <= 23 and table.scrollable_content_region.height >= 8  # above the footer
        headings = [str(column.label) for column in table.columns.values()]
        assert headings == ["layer", "images", "50 %", "95 %"]
        rows = [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]
        dense = screen.started.dense_val_accuracy
        assert dense is not None
        expected, red = [], []
        for layer in ("conv1", "conv2", "fc1", "fc2", "fc3"):
            points = [p for p in screen.points if p.layer == layer]
            validation = [p.val_accuracy or 0.0 for p in points]
            expected += [[layer, "validation", *(f"{v * 100:.1f}" for v in validation)],
                         ["", "test", *(f"{p.accuracy * 100:.1f}" for p in points)]]  # fmt: skip
            red += [[v < dense - 0.01 for v in validation], [False, False]]
        assert rows == expected
        styles = [[str(cell.style) == "red" for cell in table.get_row_at(i)[2:]] for i in range(table.row_count)]
        assert styles == red and any(map(any, red))  # the tiny model loses more than a point somewhere
        await pilot.press("down")  # rows below the fold scroll into view by keyboard
        bottom = table.virtual_size.height - table.scrollable_content_region.height
        await wait_until(pilot, lambda: table.scroll_y == max(bottom, 0))
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert screen.query_one(SeriesChart).display and not table.display


async def test_sensitivity_analyses_a_runs_final_model_keeping_its_zeros(tiny_config: ExperimentConfig) -> None:
    directory = record(tiny_config.replace(model="lenet300", sparsity=0.8))
    app = PruneApp(tiny_config)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot, "f5", SensitivityScreen)
        source = screen.query_one("#sensitivity-source", Select)
        final = str(directory / "model.pt")
        await wait_until(pilot, lambda: final in screen._runs)
        labels = {value: str(label) for label, value in source._options}
        assert labels[final] == f"final 80.0 % · run {directory.name} l1 layer one-shot"
        assert labels[str(directory / "dense.pt")] == f"dense · run {directory.name} l1 layer one-shot"
        source.value = final
        screen.query_one("#sensitivity-amounts", Input).value = "0.5,0.9"
        await pilot.pause()
        plan = shown(screen.query_one("#analysis-plan", Static))
        assert "as that run pruned it, prune each of its 3 layers to 2 amounts: up to 6 validation and test " in plan
        assert plan.endswith("(amounts at or below a layer's present sparsity are left out)")
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: not screen.running, timeout=30)
        await pilot.pause()
        assert screen.status == "finished" and screen.started is not None
        assert screen.started.source == final and screen.started.sparsity == pytest.approx((0.8,) * 3, abs=1e-3)
        assert {p.amount for p in screen.points} == {0.9} and screen.evaluations == 3  # 50 %: each layer had it
        text = shown(screen.query_one("#sensitivity-suggestion", Static))
        assert text.startswith("loaded accuracy") and "by validation accuracy" in text
        suggested = parse_layer_amounts(re.findall(r"fc1=\S+", text)[0])
        assert all(amount >= 0.8 - 1e-6 for amount in suggested.values())  # never below what each layer has

        screen.query_one("#sensitivity-amounts", Input).value = "0.5,0.8"  # nothing above 80 %: a warning says so
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: not screen.running, timeout=30)
        await pilot.pause()
        assert screen.status == "finished" and not screen.points
        warning = "fc1 (80.0 %), fc2 (80.0 %), fc3 (80.0 %) are already as sparse as every amount: give amounts "
        assert any(n.message.startswith(warning + "above that, e.g. amounts 0.85") for n in app._notifications)
        present = dict(zip(screen.started.layers, screen.started.sparsity, strict=True))
        assert screen.suggestion == format_layer_amounts(present)  # each layer as it is


async def test_a_runs_dense_and_final_models_differ_where_the_field_shows_them_at_80x24(
    tiny_config: ExperimentConfig,
) -> None:
    directory = record(tiny_config.replace(model="lenet300", sparsity=0.8, epochs=1, finetune_epochs=0))
    app = PruneApp(tiny_config)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot, "f5", SensitivityScreen)
        source = screen.query_one("#sensitivity-source", Select)
        await wait_until(pilot, lambda: str(directory / "model.pt") in screen._runs)
        shown_labels = []
        for model in ("dense.pt", "model.pt"):
            source.value = str(directory / model)
            await pilot.pause()
            label = source.query_one(SelectCurrent).query_one("#label", Static)
            visible = shown(label)[: label.content_region.width]
            shown_labels.append(visible)
        dense, final = shown_labels  # the field may cut a label's end (a long method): its start tells them apart
        assert dense.startswith("dense · run") and final.startswith("final 80.0 % · run") and dense != final


def test_a_shrunk_block_keeps_its_largest_survivor_and_shows_how_much_survived() -> None:
    values = np.array([[0.1, -0.9, 0.3, 0.2], [0.5, 0.4, -0.2, 0.1]])
    kept = np.array([[True, False, False, False], [True, True, False, False]])
    out, share = shrink(values, kept, rows=1, cols=2)  # two 2x2 blocks
    assert out.tolist() == [[0.5, 0.0]]  # -0.9 was pruned, so it does not count
    assert share.tolist() == [[0.75, 0.0]]
    assert [glyph(s) for s in (0.0, 0.01, 0.4, 0.75, 1.0)] == [PRUNED, *PARTLY_KEPT, KEPT]


async def test_weights_heat_map_marks_pruned_entries(tiny_config: ExperimentConfig) -> None:
    from prunetui.engine.analyses.weights import run_weights

    directory = record(tiny_config.replace(sparsity=0.6))
    conv1 = run_weights(directory)[0]
    app = PruneApp(tiny_config)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot, "f6", WeightsScreen)
        await wait_until(pilot, lambda: bool(screen.by_layer))
        await pilot.pause()
        assert screen.query_one("#weights-layer", Select).value == "conv1"
        assert screen.query_one("#weights-run", Select).value == str(directory)
        heat_map = screen.query_one(HeatMap)
        text = shown(heat_map)
        pruned = int((~conv1.kept).sum())
        assert pruned == pytest.approx(0.6 * conv1.kept.size, abs=1)
        assert text.count(PRUNED) == pruned and text.count(KEPT) == 2 * (conv1.kept.size - pruned)
        assert "#6" in text  # conv1's six filters as tiles
        assert np.array_equal(heat_map.kept, conv1.kept)
        histogram = screen.query_one(SeriesChart)
        before, after = (sum(ys) for _, ys in histogram.series.values())
        assert (before, after) == (conv1.kept.size, conv1.kept.size - pruned)

        await pilot.press("b")  # before pruning: nothing marked
        await pilot.pause()
        text = shown(heat_map)
        assert text.count(PRUNED) == 0 and text.count(KEPT) == 2 * conv1.kept.size


async def test_the_weights_screen_says_in_one_line_that_a_hostile_dense_model_is_no_checkpoint(
    tiny_config: ExperimentConfig, tmp_path: Path
) -> None:
    from tests.test_checkpoints import WHY, damage

    directory = record(tiny_config.replace(sparsity=0.6))
    witness = tmp_path / "pwned"
    damage(directory / "dense.pt", "hostile-torch-file", witness)
    app = PruneApp(tiny_config)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot, "f6", WeightsScreen)
        caption = screen.query_one("#weights-caption", Static)
        await wait_until(pilot, lambda: "checkpoint" in shown(caption))
        assert shown(caption) == f"{directory / 'dense.pt'} is not a prunetui checkpoint ({WHY['hostile-torch-file']})"
        assert screen.by_layer == {} and not witness.exists()


async def test_the_app_saves_and_reads_runs_under_the_runs_dir_it_is_given(
    tiny_config: ExperimentConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: dict[str, object] = {}
    monkeypatch.setattr("prunetui.app.run_app", lambda config, runs_dir: opened.update(runs_dir=runs_dir))
    assert main(["--runs-dir", str(tmp_path / "mine")]) == 0  # `prunetui --runs-dir DIR` opens the app on DIR
    assert opened == {"runs_dir": tmp_path / "mine"}

    app = PruneApp(tiny_config, runs_dir=tmp_path / "mine")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: not app.main_screen.run_state.active)
        (run,) = list_runs(tmp_path / "mine")
        assert run.status == "finished" and list_runs(runs_root()) == []  # not under $PRUNETUI_RUNS
        await pilot.press("f3")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RunsScreen) and screen.root == tmp_path / "mine"
        await wait_until(pilot, lambda: screen.query_one(DataTable).row_count == 1)
        assert screen.query_one(DataTable).get_row_at(0)[1] == run.name


async def test_the_screens_read_runs_and_histories_off_the_ui_thread(
    tiny_config: ExperimentConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    record(tiny_config.replace(sparsity=0.5))
    on_ui_thread: list[tuple[str, bool]] = []

    def watched(module: str, name: str) -> None:
        real = getattr(importlib.import_module(module), name)

        def reads(*args: object) -> object:
            on_ui_thread.append(
                (f"{module.rsplit('.', 1)[-1]}.{name}", threading.current_thread() is threading.main_thread())
            )
            return real(*args)

        monkeypatch.setattr(f"{module}.{name}", reads)

    for module in ("screens.runs", "screens.weights", "screens.sensitivity", "plan"):
        watched(f"prunetui.app.{module}", "list_runs")
    watched("prunetui.app.screens.runs", "load_history")
    app = PruneApp(tiny_config)
    async with app.run_test(size=SIZE) as pilot:
        for key, reads_so_far in (("f3", 2), ("f5", 4), ("f6", 5)):
            await pilot.press(key)
            await wait_until(pilot, lambda n=reads_so_far: len({name for name, _ in on_ui_thread}) >= n)
            await pilot.press("escape")
    assert sorted(set(on_ui_thread)) == [
        ("plan.list_runs", False), ("runs.list_runs", False), ("runs.load_history", False),
        ("sensitivity.list_runs", False), ("weights.list_runs", False),
    ]  # fmt: skip


async def test_a_rewinding_sweep_plans_and_shows_retraining(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config.replace(epochs=2, finetune_epochs=1, rewind=True))
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot, "f4", SweepScreen)
        plan = shown(screen.query_one("#analysis-plan", Static))
        # rewinding points train from scratch (2 epochs, to find their masks) and retrain 2: 2 dense + 21 x 4
        assert "retrain each 2 epochs: 86 epochs" in plan and "fine-tune" not in plan
        assert screen.query_one("#sweep-chart").border_title == "Accuracy after retraining"
        assert str(screen.query_one(DataTable).columns[ColumnKey("accuracy")].label) == "retrained"


async def test_sweep_and_sensitivity_say_what_start_will_do_before_it_starts(tiny_config: ExperimentConfig) -> None:
    config = tiny_config.replace(epochs=2, finetune_epochs=1)
    app = PruneApp(config)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f4")
        await pilot.pause()
        plan = shown(app.screen.query_one("#analysis-plan", Static))
        assert plan.startswith("Start: train lenet5 (2 epochs), prune 21 points (3 methods × 7 sparsities)")
        assert "fine-tune each 1 epoch: 23 epochs, time unknown: no finished run trained like this yet" in plan
        app.screen.query_one("#sweep-sparsities", Input).value = "0.5,0.9"
        await pilot.pause()
        assert "prune 6 points (3 methods × 2 sparsities)" in shown(app.screen.query_one("#analysis-plan", Static))
        app.screen.query_one("#sweep-seeds", Input).value = "0,1"
        app.screen.query_one("#sweep-jobs", Input).value = "2"
        await pilot.pause()
        plan = shown(app.screen.query_one("#analysis-plan", Static))
        assert "train 2 × lenet5 (2 epochs), prune 12 points (3 methods × 2 sparsities × 2 seeds, 2 at once)" in plan
        assert "fine-tune each 1 epoch: 16 epochs" in plan  # 2 dense models of 2 epochs, 12 points of 1
        app.screen.query_one("#sweep-methods", Input).value = "l1"
        await pilot.pause()
        assert "(1 method × 2 sparsities × 2 seeds, 2 at once)" in shown(app.screen.query_one("#analysis-plan", Static))
        app.screen.query_one("#sweep-jobs", Input).value = "many"
        await pilot.pause()
        plan = shown(app.screen.query_one("#analysis-plan", Static))
        assert plan == "cannot start yet: invalid jobs: 'many' is not a number or auto"
        app.screen.query_one("#sweep-sparsities", Input).value = "0.5,2"
        await pilot.pause()
        assert shown(app.screen.query_one("#analysis-plan", Static)).startswith("cannot start yet: ")
        await pilot.press("escape")

        record(config)  # a finished run of 2 + 1 epochs: its time per epoch times the next estimates
        await pilot.press("f5")
        await wait_until(pilot, lambda: "about" in shown(app.screen.query_one("#analysis-plan", Static)))
        plan = shown(app.screen.query_one("#analysis-plan", Static))
        assert re.match(r"Start: train lenet5 \(2 epochs, about \d+ s\), prune each of its 5 layers to 9 amounts", plan)
        assert plan.endswith(": 45 validation and test evaluations, no fine-tuning")
