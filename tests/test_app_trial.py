"""What a new user's trial found cut, stale or misleading at 80x24, through the pilot."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input, Markdown, Static
from textual.widgets._toast import Toast

from prunetui.app.app import PruneApp
from prunetui.app.screens.help import HelpScreen
from prunetui.app.screens.runs import RunsScreen
from prunetui.app.screens.sensitivity import SensitivityScreen
from prunetui.app.screens.sweep import SweepScreen
from prunetui.app.widgets.cut_input import ELLIPSIS
from prunetui.app.widgets.status_panel import Bar
from prunetui.describe import describe, fitted_method
from prunetui.engine import ExperimentConfig
from prunetui.engine.analyses import SweepPoint
from prunetui.engine.core.events import RunStarted
from prunetui.engine.storage.runs import runs_root
from tests.test_app import opened, shown, wait_until
from tests.test_app_analyses import record
from tests.test_app_leaving import gate_after
from tests.test_app_screens import rendered


def line(widget: Input) -> str:
    return widget.render_line(0).text


async def test_a_cut_field_ends_in_an_ellipsis_and_the_sparsities_say_how_many(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config.replace(layer_sparsity="conv1=0.55,conv2=0.65,fc1=0.745,fc2=0.85,fc3=0.745"))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot, "f4", SweepScreen)
        await wait_until(pilot, lambda: bool(screen.query("#sweep-sparsities")))
        sparsities = screen.query_one("#sweep-sparsities", Input)
        await pilot.pause()
        shown_value = line(sparsities).rstrip()
        assert shown_value.endswith(ELLIPSIS) and sparsities.value.startswith(shown_value[:-1])
        assert shown(screen.query_one("#sweep-sparsity-count", Static)) == "(7)"
        sparsities.value = "0.5,0.9"
        await pilot.pause()
        assert shown(screen.query_one("#sweep-sparsity-count", Static)) == "(2)"
        assert ELLIPSIS not in line(sparsities)

        await pilot.press("escape")
        await pilot.pause()
        amounts = app.query_one("#setting-layer_sparsity", Input)
        app.main_screen.query_one("#main").scroll_to_widget(amounts, animate=False)
        await pilot.pause()
        text = line(amounts).rstrip()
        assert text.endswith(ELLIPSIS) and amounts.value.startswith(text[:-1])  # never a cut value that reads whole


async def test_the_sweep_table_keeps_its_accuracy_column_when_narrow(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config)
    async with app.run_test(size=(110, 36)) as pilot:  # the wide layout: the table beside the chart
        screen = await opened(pilot, "f4", SweepScreen)
        point = SweepPoint("ln-structured:layer:iterative", 0.9, 0, 0.9, 10.0, 0.9, 0.5, 0.87, 0.2, 1.0)
        screen.points = {point.key: point}
        table = screen.query_one(DataTable)
        await pilot.pause()
        screen.redraw()
        await pilot.pause()
        assert table.size.width < 80
        labels = [str(column.label) for column in table.columns.values()]
        assert labels[:3] == ["method", "target", "fine-tuned"]  # one seed: its column gives way, as others do
        row = table.get_row_at(0)
        assert row[2] == "87.0 %" and row[0].endswith("…:iterative")  # the criterion gives way, not the schedule
        assert "ln-structured:layer".startswith(row[0].split("…")[0])
        assert len(row[0]) > 12  # shortened only as far as the accuracy needs
        up_to_accuracy = list(table.columns.values())[:3]
        assert sum(column.get_render_width(table) for column in up_to_accuracy) <= table.size.width  # in sight


async def test_help_says_escape_closes_it(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert "Escape (or F1) closes this help." in app.screen.query_one(Markdown).source.splitlines()[2]
        await pilot.press("escape")
        await pilot.pause()
        await opened(pilot, "f4", SweepScreen)
        await pilot.press("f1")
        await pilot.pause()
        assert app.screen.query_one(Markdown).source.startswith("Escape (or F1) closes this help.")


async def test_the_cannot_start_toast_goes_when_the_settings_are_fixed_and_toasts_leave_stop_free(
    tiny_config: ExperimentConfig,
) -> None:
    app = PruneApp(tiny_config)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        app.query_one("#setting-sparsity", Input).value = "1.5"
        await pilot.pause()
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert [n.title for n in app._notifications] == ["Cannot start yet"]
        assert next(iter(app._notifications)).message == "sparsity: must be in [0, 1)"
        await wait_until(pilot, lambda: bool(app.screen.query(Toast)))
        stop = app.main_screen.query_one("#stop")
        for toast in app.screen.query(Toast):
            assert not toast.region.overlaps(stop.region)  # toasts sit at the top
        await pilot.press("f7")  # the defaults: nothing is wrong any more
        await pilot.pause()
        assert "Cannot start yet" not in [n.title for n in app._notifications]


async def test_the_runs_screen_says_1_run_and_keeps_the_methods_schedule_at_80_columns(
    tiny_config: ExperimentConfig,
) -> None:
    record(tiny_config.replace(criterion="ln-structured", schedule="iterative", rounds=2, sparsity=0.5))
    app = PruneApp(tiny_config)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot, "f3", RunsScreen)
        table = screen.query_one(DataTable)
        await wait_until(pilot, lambda: table.row_count == 1)
        await pilot.pause()
        assert str(table.border_title).startswith("1 run in ")
        row = rendered(table)[1].rstrip()
        assert row.endswith("… iterative") and "finished" in row  # the criterion gives way, not the schedule


def test_a_method_keeps_its_schedule_whole_as_it_shortens() -> None:
    assert fitted_method("l1 layer iterative", 30) == "l1 layer iterative"
    assert fitted_method("ln-structured layer one-shot", 16) == "ln-str… one-shot"
    assert fitted_method("ln-structured layer iterative per-layer", 24) == "ln-… iterative per-layer"
    assert fitted_method("ln-structured layer iterative per-layer", 21) == "…iterative per-layer"
    assert fitted_method("l1 layer iterative per-layer", 16) == "l1 l… iterative…"  # the schedule before per-layer
    assert fitted_method("ln-structured layer one-shot", 8) == "ln-stru…"  # no room for the schedule: a plain cut
    assert fitted_method("l1 layer one-shot", 13) == "l1… one-shot"  # never a space before the ellipsis
    assert fitted_method("l1 layer iterative per-layer", 10) == "iterative…"
    assert fitted_method("ln-structured:layer:iterative", 18, sep=":") == "ln-stru…:iterative"  # a sweep's point


def test_an_ln_structured_run_says_what_its_target_counts(tiny_config: ExperimentConfig) -> None:
    config = tiny_config.replace(criterion="ln-structured", sparsity=0.5)
    layers = tuple(config.prunable_layer_names)
    started = RunStarted(config, "cpu", 61706, layers, 512, 256, 8, 3)
    text = describe(started) or ""
    assert "ln-structured layer one-shot to 50.0 % sparsity (ln-structured: that fraction of each layer's " in text
    assert "filters and neurons goes whole" in text
    assert "filters" not in (describe(RunStarted(tiny_config, "cpu", 61706, layers, 512, 256, 8, 3)) or "")


async def test_the_status_shows_a_failure_in_full_in_the_apps_words(tmp_path: object, mirror: None) -> None:
    config = ExperimentConfig(dataset="mnist", data_dir=str(tmp_path), device="cpu")
    app = PruneApp(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: app.main_screen.run_state.outcome == "failed", timeout=60)
        await pilot.pause()
        phase = app.main_screen.query_one("#phase", Static)
        text = shown(phase)
        assert text.endswith("set dataset to one of them.")  # whole, in the form's words
        assert phase.size.height > 3  # more than the three lines a status takes
        assert "--" not in text


async def test_sensitivity_suggests_only_layers_measured_at_every_amount_while_it_runs(
    tiny_config: ExperimentConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = gate_after(monkeypatch, 1 + 2 + 1)  # the model as loaded, conv1 at both amounts, conv2 at one
    app = PruneApp(tiny_config)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot, "f5", SensitivityScreen)
        screen.query_one("#sensitivity-amounts", Input).value = "0.3,0.6"
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: len(screen.points) == 3, timeout=30)
        await pilot.pause()
        assert screen.suggestion is not None and screen.suggestion.startswith("conv1=")
        assert "conv2" not in screen.suggestion and "fc" not in screen.suggestion
        assert "so far" in shown(screen.query_one("#sensitivity-suggestion", Static))
        gate.set()
        await wait_until(pilot, lambda: not screen.running, timeout=30)
        await pilot.pause()
        assert screen.suggestion is not None and "fc3=" in screen.suggestion  # all of them once it ended


@pytest.mark.parametrize("theme", ["ansi-light", "ansi-dark"])
async def test_the_app_paints_in_the_terminals_own_colours(tiny_config: ExperimentConfig, theme: str) -> None:
    app = PruneApp(tiny_config)
    async with app.run_test(size=(80, 24)) as pilot:
        app.theme = theme  # the command palette's "Change theme": its colours are ANSI names, not RGB
        await pilot.pause()
        bar = app.query_one("#epoch-progress", Bar)
        line = bar.render_line(0)
        assert line.cell_length == bar.size.width > 0 and line.text.strip()  # the bar's track, drawn


async def test_a_long_run_name_is_cut_in_the_middle_and_the_runs_screen_keeps_the_accuracies(
    tiny_config: ExperimentConfig,
) -> None:
    long = runs_root() / "a-sweep-point-named-at-length-ln-structured-0.9-seed0"
    record(tiny_config).rename(long)  # as --out names a run
    app = PruneApp(tiny_config)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot, "f3", RunsScreen)
        table = screen.query_one(DataTable)
        await wait_until(pilot, lambda: table.row_count == 1)
        await wait_until(pilot, lambda: rendered(table)[1].rstrip().endswith("one-shot"))  # fitted to its size
        header, row = (line.rstrip() for line in rendered(table)[:2])
        assert "dense → pruned" in header and " a-sweep-po…d-0.9-seed0 " in row  # its start and its end
        assert row.endswith(" l1… one-shot")  # and the method its schedule
        assert "finished  " in row and " → " in row.split("finished")[1]  # the accuracies still in sight


async def test_the_status_says_the_compression_whole_at_80_columns(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config.replace(schedule="agp", sparsity=0.5))  # agp's longest accuracy words
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: app.main_screen.run_state.summary is not None, timeout=60)
        await pilot.pause()
        figures = app.query_one("#figures", Static)
        line = figures.render_line(1).text.rstrip()
        summary = app.main_screen.run_state.summary
        assert summary is not None
        compression = summary.weight_compression
        assert line.startswith("accuracy before the first prune ") and line.endswith(
            f"· compression {compression:.1f}×"
        )
        frame = 80 - figures.content_region.width  # the panel's border and padding
        await pilot.resize_terminal(140, 30)  # room for the count over all parameters too
        await pilot.pause()
        assert figures.render_line(1).text.rstrip().endswith(" all parameters")
        await pilot.resize_terminal(frame + len(line) + len(" weights"), 30)  # room for what the count counts
        await pilot.pause()
        assert figures.render_line(1).text.rstrip().endswith(f"· compression {compression:.1f}× weights")
