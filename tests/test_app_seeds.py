"""A seed group on the Runs screen at 80x24: its row of mean ± std (n), its detail, and its chart with error bars."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Static

from prunetui.app.app import PruneApp
from prunetui.app.screens.confirm import ConfirmScreen
from prunetui.app.screens.runs import RunsScreen
from prunetui.describe import group_accuracies, percent_spread, times_spread
from prunetui.engine import ExperimentConfig
from prunetui.engine.core.seed_stats import mean_std
from prunetui.engine.storage.groups import RunGroup
from prunetui.engine.storage.runs import list_runs, load_history, runs_root
from tests.analysis_helpers import tiny_flags
from tests.test_app import opened, shown, wait_until
from tests.test_app_analyses import plotted
from tests.test_app_screens import SMALL, rendered
from tests.test_cli import exit_code
from tests.test_seeds import QUICK


async def test_a_seed_group_shows_mean_std_and_n_and_charts_its_mean_with_error_bars(
    tiny_config: ExperimentConfig,
) -> None:
    assert exit_code(["run", *tiny_flags(tiny_config), *QUICK, "--seeds", "0,1"]) == 0
    seed0, seed1 = runs = sorted(list_runs(runs_root()), key=lambda run: run.config.seed if run.config else -1)
    group = RunGroup(seed0.group, tuple(runs))
    app = PruneApp(tiny_config)
    async with app.run_test(size=SMALL) as pilot:
        screen = await opened(pilot, "f3", RunsScreen)
        table = screen.query_one(DataTable)
        await wait_until(pilot, lambda: table.row_count == 3)  # the group's row, then its two runs
        await wait_until(pilot, lambda: " accuracy " in rendered(table)[0])  # fitted once the table has its size
        header, group_row, *run_rows = rendered(table)[:4]
        assert "dense → pruned" not in header and " accuracy " in header  # at 80: the method keeps its schedule
        assert all(row.rstrip(" ▁▂▃▄▅▆▇█").endswith("one-shot") for row in (group_row, *run_rows))
        accuracy = percent_spread(group.stat("accuracy"), pm="±")
        assert group.name == f"seeds-{seed0.name}"  # the group is named after its first run
        assert group.name in group_row and "n = 2" in group_row and accuracy in group_row  # whole at 80
        assert "seed 0" in run_rows[0] and "seed 1" in run_rows[1] and "finished" in run_rows[1]  # by seed
        detail = " ".join(shown(screen.query_one("#runs-detail", Static)).split())
        assert "seeds 0, 1" in detail and "mean ± std over the 2 of 2 runs that finished" in detail
        assert f"accuracy {percent_spread(group.stat('dense_accuracy'))} dense" in detail
        weights, parameters = times_spread(group.stat("weight_compression")), times_spread(group.stat("compression"))
        assert f"compression {weights} weights, {parameters} all parameters" in detail  # both counts

        # The highlighted group is charted: its mean accuracy row by row, with ± one standard deviation as bars.
        chart = screen.query_one("#runs-accuracy")
        await wait_until(pilot, lambda: len(plotted(chart)) > 1)
        histories = [[row.accuracy * 100 for row in load_history(run.path)] for run in runs]
        points = [mean_std(values) for values in zip(*histories, strict=True)]
        assert plotted(chart)[0] == pytest.approx([point.mean for point in points])
        last = points[-1]
        assert last.std is not None and last.std > 0  # two seeds: a spread
        bar = pytest.approx([last.mean - last.std, last.mean + last.std])
        assert any(line == bar for line in plotted(chart)[1:])

        await pilot.press("e")  # a group is no run to export: the detail says what to do
        await pilot.pause()
        assert "is a seed group: highlight one of its runs to export it" in shown(screen.query_one("#runs-detail"))

        await pilot.resize_terminal(120, 30)  # room for both accuracies again
        await pilot.pause()
        header, group_row = rendered(table)[:2]
        dense_pruned = group_accuracies(group.stat("dense_accuracy"), group.stat("accuracy"))
        assert "dense → pruned" in header and dense_pruned in group_row and "random layer one-shot" in group_row
        await pilot.resize_terminal(*SMALL)
        await pilot.pause()

        await pilot.press("d")  # on the group's row: the whole group, as `prunetui runs --delete seeds-…`
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert f"Delete seed group {group.name}: its 2 runs (seeds 0, 1" in app.screen.question
        await pilot.press("n")
        await pilot.pause()
        assert app.screen is screen and len(list_runs(runs_root())) == 2
        await pilot.press("d", "y")
        await wait_until(pilot, lambda: table.row_count == 0)
        assert list_runs(runs_root()) == [] and not seed0.path.exists() and not seed1.path.exists()
