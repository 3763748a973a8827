"""The app and the CLI on a deep network: ResNet-56's 56 prunable layers at 80x24 and 80 columns. One real run,
recorded once for the module (trained weights are not needed: --epochs 0, then a global prune to 80 %, so that the
layers' sparsities differ), is followed by the app, and its model read by the Weights and Sensitivity screens."""

from __future__ import annotations

import fnmatch
import io
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.widgets import Input, Select, Static

from prunetui.app.app import PruneApp
from prunetui.app.run_state import FINISHED
from prunetui.app.screens.sensitivity import SensitivityScreen
from prunetui.app.screens.weights import WeightsScreen
from prunetui.app.widgets.heat_map import HeatMap
from prunetui.app.widgets.sparsity_bars import SparsityBars
from prunetui.cli import main
from prunetui.cli.run_command import layer_table
from prunetui.describe import short
from prunetui.engine import ExperimentConfig
from prunetui.engine.analyses.sweep_results import read_sweep_csv, sweep_series
from prunetui.engine.core.events import Finished, RunStarted
from prunetui.engine.core.experiment import Experiment
from prunetui.engine.core.networks.layer_names import patterns, said_shortly
from prunetui.engine.storage.event_log import EventTail
from prunetui.engine.storage.recording import record_run
from prunetui.engine.storage.runs import read_run, runs_root
from tests.analysis_helpers import tiny_flags
from tests.test_app import inside_screen, opened, shown, wait_until

SMALL = (80, 24)


def deep_config(tiny_data: Path) -> ExperimentConfig:
    return ExperimentConfig(
        model="resnet56", dataset="mnist", data_dir=str(tiny_data), epochs=0, finetune_epochs=0, sparsity=0.8,
        scope="global", validation_split=0.0, device="cpu",
    )  # fmt: skip


@pytest.fixture(scope="module")
def deep_run(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A recorded ResNet-56 run: its events, summary, dense.pt and model.pt."""
    scratch = tmp_path_factory.mktemp("deep")
    with pytest.MonkeyPatch.context() as patch:  # the data cache of the conftest's per-test fixture, for the module
        patch.setenv("PRUNETUI_CACHE", str(scratch / "cache"))
        patch.setenv("PRUNETUI_DATA", str(scratch / "no-user-cache"))
        for _ in record_run(Experiment(deep_config(tiny_data), download=False), scratch / "r56"):
            pass
    yield scratch / "r56"


async def shown_finished(pilot: Any, app: PruneApp, run: Path) -> None:
    """The main screen follows the recorded `run` to its end, as the Runs screen's `o` opens one."""
    await pilot.pause()
    assert app.main_screen.follow(read_run(run))
    await wait_until(pilot, lambda: app.main_screen.run_state.outcome == FINISHED)
    await pilot.pause()


def in_runs(run: Path) -> Path:
    """The module's run, copied into this test's runs root, where the screens list runs."""
    return Path(shutil.copytree(run, runs_root() / run.name))


async def test_the_bars_of_56_layers_fit_80x24_by_stage_and_name_the_layer_under_the_cursor(
    tiny_config: ExperimentConfig, deep_run: Path
) -> None:
    app = PruneApp(tiny_config)
    async with app.run_test(size=SMALL) as pilot:
        await shown_finished(pilot, app, deep_run)
        report = app.main_screen.run_state.sparsity
        assert report is not None and len(report.layers) == 58  # 55 convs and fc on the path, 2 shortcut convs
        bars = app.query_one(SparsityBars)
        for panel in ("#status", "#loss-chart", "#accuracy-chart", "#sparsity", "#log"):
            assert inside_screen(app, panel), f"{panel} is not whole on the screen"
        text = shown(bars)
        lines = text.splitlines()
        assert len(lines) <= bars.size.height and all(len(line) <= bars.size.width for line in lines)
        assert [row.sparsity.name for row in bars.rows()] == ["conv1", "layer1", "layer2", "layer3", "fc"]
        assert "layer1 ×18" in text and "layer3 ×19" in text
        stage3 = [layer for layer in report.layers if layer.name.startswith("layer3.")]
        zeros, total = sum(layer.zeros for layer in stage3), sum(layer.total for layer in stage3)
        assert f"{100 * zeros / total:.2f} %" in text and f"{total - zeros:,}/{total:,}" in text

        bars.focus()
        await pilot.press("down", "down", "down")  # to layer3's row
        assert "layer3: 19 layers, Enter opens" in str(bars.border_subtitle)
        await pilot.press("enter", "down", "down")
        await pilot.pause()
        assert "layer3.0.conv2" in str(bars.border_subtitle) and "6/24" in str(bars.border_subtitle)
        conv2 = next(layer for layer in report.layers if layer.name == "layer3.0.conv2")
        text = shown(bars)
        assert f"{conv2.sparsity * 100:.2f} %" in text and f"{conv2.nonzero:,}/{conv2.total:,}" in text
        await pilot.press("end")  # the rows scroll to the last one
        await pilot.pause()
        assert "fc" in str(bars.border_subtitle) and "24/24" in str(bars.border_subtitle)
        assert "fc" in shown(bars).splitlines()[-2]  # above the global row
        assert all(len(line) <= bars.size.width for line in shown(bars).splitlines())
        await pilot.press("up", "enter")  # inside layer3: Enter folds it again
        assert [row.sparsity.name for row in bars.rows()][-2:] == ["layer3", "fc"]


async def test_the_status_panel_shows_parameters_and_both_mac_counts_of_an_unstructured_run(
    tiny_config: ExperimentConfig, deep_run: Path
) -> None:
    app = PruneApp(tiny_config)
    async with app.run_test(size=SMALL) as pilot:
        await shown_finished(pilot, app, deep_run)
        summary = app.main_screen.run_state.summary
        assert summary is not None and summary.dense_cost is not None and summary.cost is not None
        assert summary.cost.macs == summary.dense_cost.macs > summary.cost.nonzero_macs  # masked: a dense kernel
        cost = app.query_one("#cost", Static)
        text = shown(cost)
        assert text == (
            f"MACs: dense kernel {short(summary.cost.macs)}, non-zero {short(summary.cost.nonzero_macs)} "
            f"({summary.cost.nonzero_macs / summary.dense_cost.macs * 100:.1f} %) · "
            f"params {short(summary.dense_cost.parameters)} → {short(summary.cost.nonzero_parameters)}"
        )
        assert len(text) <= cost.size.width and inside_screen(app, "#cost")


async def test_the_weights_screen_shows_a_conv_as_filters_by_inputs_and_steps_through_56_layers(
    tiny_config: ExperimentConfig, deep_run: Path
) -> None:
    in_runs(deep_run)
    app = PruneApp(tiny_config)
    async with app.run_test(size=SMALL) as pilot:
        screen = await opened(pilot, "f6", WeightsScreen)
        await wait_until(pilot, lambda: len(screen.by_layer) == 58, timeout=60)
        layer = screen.query_one("#weights-layer", Select)
        layer.value = "layer3.8.conv1"
        await pilot.pause()
        heat_map = screen.query_one(HeatMap)
        assert heat_map.weights is not None and heat_map.weights.shape == (64, 64)  # a cell per kernel
        kernels = screen.by_layer["layer3.8.conv1"]
        share = heat_map.kept
        assert share is not None and share.mean() == pytest.approx(kernels.kept.mean())
        assert "64 filters × 64 inputs, 3×3 kernels" in str(heat_map.border_title)
        drawn = shown(heat_map).splitlines()
        assert len(drawn) <= heat_map.size.height and all(len(line) <= heat_map.size.width for line in drawn)
        await pilot.press("n")
        assert layer.value == "layer3.8.conv2"
        await pilot.press("n", "n")  # past fc, the last: back to the first
        assert layer.value == "conv1"
        await pilot.press("p")
        assert layer.value == "fc"
        assert heat_map.weights is not None and heat_map.weights.shape == (10, 64)  # linear: its matrix


async def test_sensitivity_shows_its_progress_and_time_left(tiny_config: ExperimentConfig) -> None:
    """Over many layers an analysis takes minutes: each point's line says how far it is and the time left. (On the
    LeNet of the form: sensitivity builds no other network yet.)"""
    app = PruneApp(tiny_config)
    async with app.run_test(size=SMALL) as pilot:
        screen = await opened(pilot, "f5", SensitivityScreen)
        lines: list[str] = []
        progress = screen._progress

        def recorded(text: str) -> None:
            lines.append(text)
            progress(text)

        screen._progress = recorded  # type: ignore[method-assign]
        screen.query_one("#sensitivity-amounts", Input).value = "0.5,0.7,0.9"
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: screen.status == "finished", timeout=120)
        total = screen.evaluations
        assert total == 3 * len(tiny_config.prunable_layer_names)
        counted = [line for line in lines if " evaluations" in line]
        assert [int(line.split(" of ")[0].split()[-1]) for line in counted] == list(range(1, total + 1))
        assert all(re.search(rf" of {total} evaluations · \d+:\d\d left · ", line) for line in counted[:-1])
        assert counted[-1].startswith(f"100% {total} of {total} evaluations · ")  # done: no time left to say


def test_the_run_tables_56_layers_by_stage_within_80_columns(deep_run: Path) -> None:
    last = EventTail(deep_run).read()[-1]
    assert isinstance(last, Finished)
    out = io.StringIO()
    Console(file=out, width=80, color_system=None).print(layer_table(last.summary))
    lines = out.getvalue().splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    layers = last.summary.sparsity.layers
    for layer in layers:  # every layer keeps its row and numbers
        assert any(layer.name in line and f"{layer.nonzero:,}" in line for line in lines), layer.name
    for stage, count in (("layer1", 18), ("layer2", 19), ("layer3", 19)):
        members = [layer for layer in layers if layer.name.startswith(f"{stage}.")]
        nonzero = sum(layer.nonzero for layer in members)
        assert any(f"{stage} ({count} layers)" in line and f"{nonzero:,}" in line for line in lines)
    prunable = [layer for layer in layers if layer.prunable]
    counts = [f"{sum(layer.nonzero for layer in prunable):,}", f"{sum(layer.total for layer in prunable):,}"]
    (row,) = [line.replace("│", " ").split() for line in lines if "all prunable" in line]
    assert row[-2:] == counts, row


def test_the_layer_names_said_as_patterns_match_exactly_the_layers_they_stand_for(deep_run: Path) -> None:
    started = next(event for event in EventTail(deep_run).read() if isinstance(event, RunStarted))
    names = started.layers
    found = patterns(names)
    assert found == [
        ("conv1", 1), ("layer[1-3].[0-8].conv[12]", 54), ("layer[23].0.shortcut.0", 2), ("fc", 1)
    ]  # fmt: skip
    for pattern, count in found:
        assert len(fnmatch.filter(names, pattern)) == count
    assert sum(count for _, count in found) == len(names)
    torchvision_like = ["features.0", "features.3", "features.10", "features.14", "classifier.1", "classifier.4"]
    assert patterns(torchvision_like) == [("features.*", 4), ("classifier.[14]", 2)]  # several digits: `*`
    assert said_shortly(["conv1", "conv2", "fc1", "fc2", "fc3"]) == "conv1, conv2, fc1, fc2, fc3"  # few: as they are


def test_a_layer_pattern_that_matches_nothing_is_one_line_naming_the_layers_in_patterns(
    tiny_config: ExperimentConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = ["--model", "resnet56", "--epochs", "0", "--finetune-epochs", "0", "--validation-split", "0"]
    code = main(["run", *tiny_flags(tiny_config), *flags, "--layer-sparsity", "layer3.*=0.8,block9.*=0.5"])
    assert code == 2
    error = [line for line in capsys.readouterr().err.splitlines() if "matches no layer" in line]
    assert error == [
        "failed: block9.* matches no layer this run prunes; those are conv1, layer[1-3].[0-8].conv[12] (54), "
        "layer[23].0.shortcut.0 (2), fc"
    ]


def test_a_sweep_tables_the_macs_each_point_kept(
    tiny_config: ExperimentConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = ["--methods", "l1:global,ln-structured", "--sparsities", "0.5,0.9", "--out", str(tmp_path / "sweep")]
    assert main(["sweep", *tiny_flags(tiny_config), *flags]) == 0
    points = read_sweep_csv((tmp_path / "sweep" / "sweep.csv").read_text())
    assert all(point.macs_kept is not None and 0 < point.macs_kept < 1 for point in points)
    printed = capsys.readouterr().out
    words = " ".join(printed.split())  # the start's line, wrapped or not: said once, as run says it
    assert words.count("; at an ln-structured point, the sparsity is the fraction of each layer's filters") == 1
    table = printed[printed.index("MACs kept (%)") :].splitlines()
    for point in points:
        row = next(line for line in table if line.strip("│ ").startswith(point.method))
        assert f"{point.macs_kept * 100:.1f}" in row  # type: ignore[operator]

    # Accuracy against the MACs kept: the points' own, a line per method; the sweep resumed, nothing redone.
    series, _, label = sweep_series(points, "macs")
    assert sorted(x for xs, _ in series.values() for x in xs) == sorted(p.macs_kept * 100 for p in points)  # type: ignore[operator]
    assert sorted(y for _, ys in series.values() for y in ys) == sorted(p.accuracy * 100 for p in points)
    assert main(["sweep", *tiny_flags(tiny_config), *flags, "--macs"]) == 0
    again = capsys.readouterr().out
    assert "4 already done" in again and label in " ".join(again.split())
