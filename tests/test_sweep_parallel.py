"""Sweeps whose points run as jobs in worker processes: the same numbers as in one process, runs saved, faults
and stops handled; and sweeps over seeds."""

from __future__ import annotations

import csv
import json
import os
import signal
import statistics
from dataclasses import replace
from pathlib import Path

import pytest

from prunetui.cli import main
from prunetui.cli.analysis_view import Elsewhere
from prunetui.cli.sweep_command import point_stage
from prunetui.engine import ExperimentConfig
from prunetui.engine.analyses import Progress, SweepEnded, SweepPoint, SweepSpec, read_sweep_csv
from prunetui.engine.analyses.executor import Parallel
from prunetui.engine.analyses.sweep import Sweep
from prunetui.engine.core.events import EpochEnd, Status
from prunetui.engine.storage.export import load_model
from tests.analysis_helpers import accuracy, tiny_flags
from tests.executor_jobs import ctrl_c_once_two_workers_run, running, worker_processes

pytestmark = pytest.mark.slow  # worker processes, each importing torch

METHODS = ("l1:layer:one-shot", "random:layer:one-shot")
TWO_WORKERS = Parallel(jobs=2, threads=1)


def worker_of(event: object) -> int | None:
    """The worker process a point went to, from its "running in worker process N" progress."""
    if isinstance(event, Progress) and isinstance(event.event, Status) and " at " in event.stage:
        words = event.event.message.split()
        if words[:3] == ["running", "in", "worker"]:
            return int(words[-1])
    return None


def numbers(point: SweepPoint) -> SweepPoint:
    return replace(point, seconds=0.0)  # everything but the time it took


def test_points_in_worker_processes_give_the_serial_numbers_and_bring_their_runs_back(
    tiny_config: ExperimentConfig, tmp_path: Path
) -> None:
    spec = SweepSpec(tiny_config, METHODS, (0.5, 0.9))
    serial = list(Sweep(spec, tmp_path / "serial", download=False).run())  # this process: 1 torch thread (conftest)
    parallel = list(Sweep(spec, tmp_path / "parallel", parallel=TWO_WORKERS, download=False).run())
    assert isinstance(serial[-1], SweepEnded) and isinstance(parallel[-1], SweepEnded)
    assert serial[-1].status == parallel[-1].status == "finished"
    assert [numbers(p) for p in serial[-1].points] == [numbers(p) for p in parallel[-1].points]
    assert len(parallel[-1].points) == 4
    assert len({worker_of(event) for event in parallel} - {None}) == 2  # both workers took points
    assert worker_processes(os.getpid()) == []

    for point in parallel[-1].points:  # each point's run, written here from the worker's files
        run = tmp_path / "parallel" / "runs" / f"{point.method.replace(':', '-')}-{point.sparsity:g}-seed0"
        assert sorted(path.name for path in run.iterdir() if not path.name.startswith(".")) == [
            "config.toml", "dense.pt", "events.jsonl", "history.csv", "model.pt", "summary.json",
        ]  # fmt: skip
        assert accuracy(load_model(run / "model.pt"), tiny_config) == point.accuracy
        summary = json.loads((run / "summary.json").read_text())  # names the model where it is, not where it was made
        assert summary["export"]["path"] == str(run / "model.pt") and summary["status"] == "finished"
    rows = read_sweep_csv((tmp_path / "parallel" / "sweep.csv").read_text())
    assert sorted(rows, key=lambda p: p.key) == sorted(parallel[-1].points, key=lambda p: p.key)


def test_with_workers_the_first_dense_model_trains_here_and_a_stop_during_it_starts_no_worker(
    tiny_config: ExperimentConfig, tmp_path: Path
) -> None:
    """Workers get a share of the cores; the dense model every point waits for trains in this process on all."""
    spec = SweepSpec(tiny_config, METHODS, (0.5,), (0, 1))
    events = list(Sweep(spec, tmp_path / "two-seeds", parallel=TWO_WORKERS, download=False).run())
    assert isinstance(events[-1], SweepEnded) and events[-1].status == "finished"
    epochs_here = {event.stage for event in events if isinstance(event, Progress) and isinstance(event.event, EpochEnd)}
    went_to_workers = {event.stage for event in events if worker_of(event) is not None or _sent(event)}
    assert "dense model, seed 0" in epochs_here and "dense model, seed 0" not in went_to_workers
    assert "dense model, seed 1" in went_to_workers  # the other seeds' dense models train beside the points

    longer = SweepSpec(tiny_config.replace(epochs=4), METHODS, (0.5,))
    sweep = Sweep(longer, tmp_path / "stopped", parallel=TWO_WORKERS, download=False)
    for event in sweep.run():
        if isinstance(event, Progress) and isinstance(event.event, EpochEnd):
            sweep.stop()  # after the dense model's first epoch, here: seen at its next event, an epoch later
    assert isinstance(event, SweepEnded) and event.status == "stopped" and not event.points
    assert not (tmp_path / "stopped" / "dense.pt").exists() and worker_processes(os.getpid()) == []


def _sent(event: object) -> bool:
    """A job handed to a worker process ("running in worker process N")."""
    return isinstance(event, Progress) and isinstance(event.event, Status) and "worker process" in event.event.message


def test_a_worker_killed_mid_point_is_retried_and_the_sweep_finishes(
    tiny_config: ExperimentConfig, tmp_path: Path
) -> None:
    spec = SweepSpec(tiny_config, METHODS, (0.5, 0.9))
    events, killed = [], []
    for event in Sweep(spec, tmp_path, parallel=TWO_WORKERS, download=False).run():
        events.append(event)
        pid = worker_of(event)
        if pid is not None and not killed:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
    ended = events[-1]
    assert isinstance(ended, SweepEnded) and ended.status == "finished" and len(ended.points) == 4
    retried = [event.stage for event in events if worker_of(event) is not None]
    assert len(retried) == 5 and len(set(retried)) == 4  # the killed point went to a worker twice
    assert len(read_sweep_csv((tmp_path / "sweep.csv").read_text())) == 4
    assert not running(killed[0]) and worker_processes(os.getpid()) == []


def test_a_stopped_parallel_sweep_leaves_no_worker_and_resumes(tiny_config: ExperimentConfig, tmp_path: Path) -> None:
    spec = SweepSpec(tiny_config, METHODS, (0.5, 0.9))
    sweep = Sweep(spec, tmp_path, parallel=TWO_WORKERS, download=False)
    events, workers = [], set()
    for event in sweep.run():
        events.append(event)
        workers.add(worker_of(event))
        if isinstance(event, SweepPoint):
            sweep.stop()
    ended = events[-1]
    assert isinstance(ended, SweepEnded) and ended.status == "stopped" and 1 <= len(ended.points) < 4
    workers.discard(None)
    assert workers and not any(running(pid) for pid in workers) and worker_processes(os.getpid()) == []

    again = list(Sweep(spec, tmp_path, parallel=TWO_WORKERS, download=False).run())
    redone = {event.stage for event in again if worker_of(event) is not None}
    assert len(redone) == 4 - len(ended.points)  # finished points are not run again
    assert isinstance(again[-1], SweepEnded) and again[-1].status == "finished" and len(again[-1].points) == 4


def test_ctrl_c_on_a_parallel_sweep_ends_every_worker(tiny_config: ExperimentConfig, tmp_path: Path) -> None:
    process, workers = ctrl_c_once_two_workers_run([
        "sweep", *tiny_flags(tiny_config), "--finetune-epochs", "40", "--methods", "l1", "--sparsities", "0.5,0.9",
        "--jobs", "2", "--threads", "1", "--runs-dir", str(tmp_path),
    ])  # the dense model trains here; Ctrl+C comes as its points' workers start, long before they end  # fmt: skip
    output = process.stdout
    assert process.returncode == 130 and "stopped; run the same command again to resume" in output
    assert "points running elsewhere end now, unfinished; finished points are kept" in output
    assert not any(running(pid) for pid in workers)


def test_a_sweep_over_seeds_keeps_a_row_per_seed_and_their_mean(
    tiny_config: ExperimentConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "150")
    argv = ["sweep", *tiny_flags(tiny_config), "--methods", "l1", "--sparsities", "0.5,0.9", "--seeds", "0,1"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    (directory,) = (tmp_path / "runs" / "sweeps").iterdir()
    assert (directory / "dense.pt").is_file() and (directory / "dense-seed1.pt").is_file()  # one per seed
    points = read_sweep_csv((directory / "sweep.csv").read_text())
    assert [(p.sparsity, p.seed) for p in points] == [(0.5, 0), (0.5, 1), (0.9, 0), (0.9, 1)]
    assert points[0].dense_accuracy == accuracy(load_model(directory / "dense.pt"), tiny_config)
    assert points[1].dense_accuracy == accuracy(load_model(directory / "dense-seed1.pt"), tiny_config)

    with open(directory / "sweep.csv", newline="") as file:
        means = [row for row in csv.DictReader(file) if row["seed"] == "mean"]
    assert [(row["method"], float(row["sparsity"]), row["n"]) for row in means] == [
        ("l1:layer:one-shot", 0.5, "2"), ("l1:layer:one-shot", 0.9, "2"),
    ]  # fmt: skip
    for row, pair in zip(means, (points[:2], points[2:]), strict=True):
        assert float(row["accuracy"]) == pytest.approx(statistics.fmean(p.accuracy for p in pair))
        assert float(row["accuracy_std"]) == pytest.approx(statistics.stdev(p.accuracy for p in pair))
        assert float(row["test_loss"]) == pytest.approx(statistics.fmean(p.test_loss for p in pair))
    mean, std = float(means[1]["accuracy"]) * 100, float(means[1]["accuracy_std"]) * 100
    assert "mean ± std (n seeds)" in printed and f"{mean:.1f} ± {std:.1f} (2)" in printed
    assert "l1:layer:one-shot at 90 %, seed 1:" in printed

    assert main(argv) == 0  # the mean rows are derived: read back, nothing is redone
    assert "4 already done" in capsys.readouterr().out


def test_a_sweep_csv_from_before_seeds_resumes_as_the_directory_seed(
    tiny_config: ExperimentConfig, tmp_path: Path
) -> None:
    spec = SweepSpec(tiny_config.replace(seed=3), METHODS[:1], (0.5,))
    first = list(Sweep(spec, tmp_path, download=False).run())
    results = tmp_path / "sweep.csv"
    with open(results, newline="") as file:
        rows = list(csv.DictReader(file))
    old = [name for name in rows[0] if name not in ("seed", "n", "accuracy_std", "weight_compression", "macs_kept")]
    results.write_text(",".join(old) + "\n" + "".join(",".join(row[name] for name in old) + "\n" for row in rows))
    again = list(Sweep(spec, tmp_path, download=False).run())
    assert isinstance(again[-1], SweepEnded) and isinstance(first[-1], SweepEnded)
    # seed 3, as sweep.toml says; a file that old has no weight compression nor MACs kept
    assert again[-1].points == tuple(
        replace(point, weight_compression=None, macs_kept=None) for point in first[-1].points
    )
    assert not any(isinstance(event, Progress) for event in again)


def test_the_progress_line_names_the_points_running_elsewhere_until_their_rows_come(
    tiny_config: ExperimentConfig, tmp_path: Path
) -> None:
    elsewhere = Elsewhere()
    elsewhere.started("l1:layer:one-shot at 50 %", "worker process 11")
    elsewhere.started("l1:layer:one-shot at 90 %", "worker process 12")
    assert elsewhere.description() == "2 running elsewhere: l1:layer:one-shot at 50 % (worker process 11) and 1 more"
    elsewhere.ended(None)  # a result that ends no stage
    elsewhere.ended("l1:layer:one-shot at 50 %")
    assert elsewhere.description() == "1 running elsewhere: l1:layer:one-shot at 90 % (worker process 12)"
    elsewhere.ended("l1:layer:one-shot at 90 %")
    assert elsewhere.description() == "waiting for the next result"

    # What the CLI takes a point's row to end is what the sweep called the job it sent away.
    spec = SweepSpec(tiny_config, METHODS, (0.5,), (0, 1))
    events = list(Sweep(spec, tmp_path, parallel=TWO_WORKERS, download=False).run())
    sent = {event.stage for event in events if _sent(event)}
    ended = {point_stage(spec, event) for event in events if isinstance(event, SweepPoint)}
    assert ended == sent - {"dense model, seed 1"} and len(ended) == 4
