"""The Sweep screen with seeds and jobs, through the pilot: mean ± std drawn as error bars, and Stop ending every
worker process."""

from __future__ import annotations

import os
import statistics

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from prunetui.app.app import PruneApp
from prunetui.app.screens.sweep import SweepScreen
from prunetui.app.widgets.series_chart import SeriesChart
from prunetui.engine import ExperimentConfig
from prunetui.engine.analyses import read_sweep_csv, sweep_directory
from prunetui.engine.storage.runs import runs_root
from tests.executor_jobs import running, worker_processes
from tests.test_app import wait_until

pytestmark = pytest.mark.slow  # worker processes, each importing torch

SIZE = (140, 44)


async def sweep_screen(pilot: Pilot[None], methods: str, sparsities: str, seeds: str, jobs: str) -> SweepScreen:
    await pilot.press("f4")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, SweepScreen)
    for field, value in (("methods", methods), ("sparsities", sparsities), ("seeds", seeds), ("jobs", jobs)):
        screen.query_one(f"#sweep-{field}", Input).value = value
    return screen


async def test_a_sweep_over_two_seeds_in_two_workers_charts_the_mean_with_error_bars(
    tiny_config: ExperimentConfig,
) -> None:
    app = PruneApp(tiny_config)
    async with app.run_test(size=SIZE) as pilot:
        screen = await sweep_screen(pilot, "l1:global", "0.5,0.9", "0,1", "2")
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: not screen.running, timeout=120)
        await pilot.pause()
        assert screen.status == "finished", screen.query_one("#analysis-progress").render()
        points = read_sweep_csv((sweep_directory(runs_root(), tiny_config) / "sweep.csv").read_text())
        assert [(p.sparsity, p.seed) for p in points] == [(0.5, 0), (0.5, 1), (0.9, 0), (0.9, 1)]
        table = screen.query_one(DataTable)
        assert [table.get_row_at(i)[1:3] for i in range(table.row_count)] == [
            ["50 %", "0"], ["50 %", "1"], ["90 %", "0"], ["90 %", "1"],
        ]  # fmt: skip
        chart = screen.query_one(SeriesChart)
        means = [statistics.fmean(p.accuracy * 100 for p in points[i : i + 2]) for i in (0, 2)]
        assert chart.series == {"l1:global:one-shot": ([50.0, 90.0], means)}
        stds = [statistics.stdev(p.accuracy * 100 for p in points[i : i + 2]) for i in (0, 2)]
        bars = [ys[1] - ys[0] for ys in chart.plt.monitor.y[1:] if len(ys) == 2 and ys[1] > ys[0]]  # vertical ones
        assert bars == [pytest.approx(2 * std) for std in stds if std > 0]  # mean ± one std
    assert worker_processes(os.getpid()) == []


async def test_stop_ends_every_worker_of_a_parallel_sweep(tiny_config: ExperimentConfig) -> None:
    # Seed 0's dense model trains here first, then the workers start (its points, seed 1's dense model): 10 epochs
    # keep them busy for seconds after they appear (torch's import, then training), where the stop comes at once.
    app = PruneApp(tiny_config.replace(epochs=10))
    async with app.run_test(size=SIZE) as pilot:
        screen = await sweep_screen(pilot, "l1", "0.5,0.9", "0,1", "2")
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: len(worker_processes(os.getpid())) == 2, timeout=60)
        workers = worker_processes(os.getpid())
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: not screen.running, timeout=30)
        assert screen.status == "stopped"
        assert not any(running(pid) for pid in workers) and worker_processes(os.getpid()) == []
