"""A seed group on the Runs screen at 80x24: its row of mean ± std (n), its detail, and its chart with error bars."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Static

from prunetui.app.app import PruneApp
from prunetui.app.screens.runs import RunsScreen
from prunetui.describe import percent_spread
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
        header, group_row, *run_rows = rendered(table)[:4]
        assert "dense → pruned" in header
        accuracy = percent_spread(group.stat("accuracy"), tight=True)
        assert "seed group" in group_row and "n = 2" in group_row and accuracy in group_row  # whole at 80 columns
        assert seed0.name in run_rows[0] and seed1.name in run_rows[1]  # by seed
        detail = " ".join(shown(screen.query_one("#runs-detail", Static)).split())
        assert "seeds 0, 1" in detail and "mean ± std over the 2 of 2 runs that finished" in detail
        assert f"accuracy {percent_spread(group.stat('dense_accuracy'))} dense" in detail

        # The highlighted group is charted: its mean accuracy row by row, with ± one standard deviation as bars.
        chart = screen.query_one("#runs-accuracy")
        await wait_until(pilot, lambda: len(plotted(chart)) > 1)
        histories = [[row.accuracy * 100 for row in load_history(run.path)] for run in runs]
        points = [mean_std(values) for values in zip(*histories, strict=True)]
        assert plotted(chart)[0] == pytest.approx([point.mean for point in points])
        last = points[-1]
        bar = pytest.approx([last.mean - last.std, last.mean + last.std])
        assert last.std > 0 and any(line == bar for line in plotted(chart)[1:])

        await pilot.press("d")  # a group is no run: nothing is deleted, and the detail says what to do
        await pilot.pause()
        assert "is a seed group: highlight one of its runs to delete it" in shown(screen.query_one("#runs-detail"))
        assert len(list_runs(runs_root())) == 2
