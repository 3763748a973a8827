"""The app runs a seed group from its Seeds field, as `prunetui run --seeds` does: one saved run per seed, live
progress seed by seed, then the group's mean ± std (n) in the status panel and the accuracy chart's error bars."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from textual.widgets import Input, Static

from prunetui.app.app import PruneApp
from prunetui.app.run_state import FINISHED
from prunetui.app.widgets.charts import RunChart
from prunetui.engine import ExperimentConfig
from prunetui.engine.storage.runs import list_runs, runs_root
from tests.test_app import chart_lines, shown, wait_until
from tests.test_app_screens import SMALL

# Seeds that differ: random pruning of half of the weights after one epoch on 256 images (as tests/test_seeds.py).
QUICK = {"train_subset": 256, "epochs": 1, "criterion": "random", "sparsity": 0.5}


def spread(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation of two values, worked out by hand: |a - b| / √2."""
    a, b = values
    return (a + b) / 2, abs(a - b) / math.sqrt(2)


async def test_the_app_runs_a_seed_group_and_shows_its_mean_and_std(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config.replace(**QUICK))
    async with app.run_test(size=SMALL) as pilot:
        main = app.main_screen
        await wait_until(pilot, lambda: bool(app.query("#setting-seeds")))  # a row of the form's later rows
        seeds = app.query_one("#setting-seeds", Input)
        seeds.value = "0-2,0"
        await pilot.pause()
        assert main.form.read()[1] == {"seeds": "0-2,0 names a seed twice, which would give the same run again"}
        seeds.value = "0-1"
        await pilot.pause()
        assert main.form.seeds == (0, 1) and main.form.read()[1] == {}

        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: main.group is not None and main.group.current == 1, timeout=60)
        group = main.group
        assert group is not None and group.runs[0].outcome == FINISHED  # seed 0 ended, seed 1 runs: seed by seed
        assert any(line.startswith("── seed 1, run 2 of 2") for line in group.log)
        await wait_until(pilot, lambda: not main.running, timeout=60)
        await pilot.pause()

        summaries = sorted(
            (json.loads((run.path / "summary.json").read_text()) for run in list_runs(runs_root())),
            key=lambda summary: summary["config"]["seed"],
        )
        assert [(s["config"]["seed"], s["status"]) for s in summaries] == [(0, "finished"), (1, "finished")]
        assert summaries[0]["group"] == summaries[1]["group"] == group.name and group.name.startswith("seeds-")
        accuracies = [float(s["accuracy"]) for s in summaries]
        assert accuracies[0] != accuracies[1]  # the seeds differ: the spread is not a trivial zero
        mean, std = spread(accuracies)
        dense_mean, dense_std = spread([float(s["dense_accuracy"]) for s in summaries])
        status = " ".join(shown(app.query_one("#group", Static)).split())
        assert status.startswith("seeds 0, 1, mean ± std (n = 2): accuracy dense")
        assert any(line.startswith(f"{group.name} (seeds 0, 1), mean ± std (n = 2)") for line in group.log)
        # In the place of the last seed's accuracy and cost: the charts keep the rows they had for one run (at 80x24
        # the group's lines on top of them left the charts none to plot on).
        assert "accuracy" not in shown(app.query_one("#figures", Static)) and not app.query_one("#cost").display
        assert app.query_one("#accuracy-chart", RunChart).size.height >= 5
        assert f"dense {dense_mean * 100:.1f} ± {dense_std * 100:.1f} %" in status
        assert f"→ {mean * 100:.1f} ± {std * 100:.1f} %" in status

        # The accuracy chart: the seeds' mean accuracy, measurement by measurement, with ± one std as error bars.
        lines, _ = chart_lines(app.query_one("#accuracy-chart", RunChart))
        curves = [[y * 100 for y in group.runs[seed].accuracy.ys] for seed in (0, 1)]
        means = [spread(values) for values in zip(*curves, strict=True)]
        assert lines[0] == pytest.approx([m for m, _ in means])
        last_mean, last_std = means[-1]
        bar = pytest.approx([last_mean - last_std, last_mean + last_std])
        assert last_std > 0 and any(line == bar for line in lines[1:])


async def test_a_seed_group_whose_first_seed_cannot_start_ends_and_keeps_nothing(
    tiny_config: ExperimentConfig, tmp_path: Path, mirror: None
) -> None:
    # kmnist is not in an empty data directory and its download fails (a mirror answers, so the run tries it):
    # every seed would fail the same way.
    app = PruneApp(tiny_config.replace(dataset="kmnist", data_dir=str(tmp_path / "empty")))
    async with app.run_test(size=SMALL) as pilot:
        main = app.main_screen
        await wait_until(pilot, lambda: bool(app.query("#setting-seeds")))
        app.query_one("#setting-seeds", Input).value = "0-1"
        await pilot.pause()
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: main.group is not None and not main.running, timeout=60)
        await pilot.pause()
        group = main.group
        assert group is not None and group.ended is not None and group.ended.status == "failed"
        assert group.ended.not_started == (1,) and list(group.runs) == [0]
        assert any("failed before training" in line for line in group.log)
        assert any(n.title == "The seed group failed" for n in app._notifications)
        assert "no seed finished" in shown(app.query_one("#group", Static))
        assert list_runs(runs_root()) == []
