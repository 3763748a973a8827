"""Sweep points and sensitivity evaluations as Ray tasks on a local Ray instance: the same numbers as serial,
runs and rows back here."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from prunetui.engine import ExperimentConfig
from prunetui.engine.analyses import (
    Progress,
    SeedGroupEnded,
    SensitivityEnded,
    SweepEnded,
    SweepPoint,
    SweepSpec,
    read_sweep_csv,
)
from prunetui.engine.analyses.executor import Job, JobDone, JobStarted, Parallel, RayExecutor
from prunetui.engine.analyses.seed_group import SeedGroup
from prunetui.engine.analyses.sensitivity import Sensitivity
from prunetui.engine.analyses.sweep import Sweep
from prunetui.engine.analyses.sweep_jobs import DataPlace
from prunetui.engine.core.events import Status
from prunetui.engine.storage.runs import list_runs
from tests.executor_jobs import die_once, square

# On one worker (--dist loadgroup), so one local Ray instance serves them all.
pytestmark = [pytest.mark.ray, pytest.mark.xdist_group("ray"), pytest.mark.slow]
METHODS = ("l1:layer:one-shot", "random:layer:one-shot")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="error")
    yield
    ray.shutdown()


def test_ray_tasks_return_results_and_a_killed_worker_s_task_is_retried(local_ray: None, tmp_path: Path) -> None:
    with RayExecutor("", threads=1) as executor:
        executor.submit(Job("square", square, 3))
        executor.submit(Job("dies once", die_once, tmp_path / "died"))
        outcomes = list(executor.as_completed())
    assert JobStarted("square", "a Ray task") in outcomes
    assert {o.key: o for o in outcomes if isinstance(o, JobDone)} == {
        "square": JobDone("square", 9), "dies once": JobDone("dies once", "survived"),
    }  # fmt: skip


def test_a_sweep_on_ray_gives_the_serial_numbers_and_brings_runs_and_rows_back(
    local_ray: None, tiny_config: ExperimentConfig, tmp_path: Path
) -> None:
    spec = SweepSpec(tiny_config, METHODS, (0.5, 0.9))
    serial = list(Sweep(spec, tmp_path / "serial", download=False).run())
    events = list(Sweep(spec, tmp_path / "ray", parallel=Parallel(threads=1, ray=""), download=False).run())
    assert isinstance(serial[-1], SweepEnded) and isinstance(events[-1], SweepEnded)
    assert events[-1].status == "finished"
    assert [replace(p, seconds=0.0) for p in serial[-1].points] == [replace(p, seconds=0.0) for p in events[-1].points]
    started = [e for e in events if isinstance(e, Progress) and isinstance(e.event, Status) and " at " in e.stage]
    assert len(started) == 4 and {e.event.message for e in started} == {"running in a Ray task"}
    assert len(read_sweep_csv((tmp_path / "ray" / "sweep.csv").read_text())) == 4
    for point in events[-1].points:
        assert isinstance(point, SweepPoint)
        run = tmp_path / "ray" / "runs" / f"{point.method.replace(':', '-')}-{point.sparsity:g}-seed0"
        assert (run / "model.pt").is_file() and (run / "summary.json").is_file()


def test_a_seed_group_on_ray_gives_the_serial_numbers_and_brings_its_runs_back(
    local_ray: None, tiny_config: ExperimentConfig, tmp_path: Path
) -> None:
    configs = [tiny_config.replace(sparsity=0.5, seed=seed) for seed in (0, 1)]
    results, statuses = {}, {}
    for name, parallel in (("serial", Parallel()), ("ray", Parallel(threads=1, ray=""))):
        events = list(SeedGroup(configs, tmp_path / name, parallel, place=DataPlace(download=False)).run())
        assert isinstance(events[-1], SeedGroupEnded) and events[-1].status == "finished", events[-1]
        statuses[name] = {e.event.message for e in events if isinstance(e, Progress) and isinstance(e.event, Status)}
        summaries = [json.loads((run.path / "summary.json").read_text()) for run in list_runs(tmp_path / name)]
        results[name] = sorted((s["config"]["seed"], s["accuracy"], s["sparsity"]) for s in summaries)
    assert "running in a Ray task" in statuses["ray"] and "running in a Ray task" not in statuses["serial"]
    assert len(results["ray"]) == 2 and results["ray"] == results["serial"]


def test_sensitivity_evaluations_on_ray_give_the_serial_results(local_ray: None, tiny_config: ExperimentConfig) -> None:
    config = tiny_config.replace(model="lenet300", epochs=1)
    serial = list(Sensitivity(config, (0.5, 0.9), download=False).run())[-1]
    events = list(Sensitivity(config, (0.5, 0.9), parallel=Parallel(threads=1, ray=""), download=False).run())
    assert isinstance(serial, SensitivityEnded) and isinstance(events[-1], SensitivityEnded)
    assert events[-1].status == "finished" and events[-1].points == serial.points and len(serial.points) == 6
    started = [e for e in events if isinstance(e, Progress) and isinstance(e.event, Status) and " at " in e.stage]
    assert len(started) == 6 and {e.event.message for e in started} == {"running in a Ray task"}


def test_a_stopped_ray_sweep_cancels_its_tasks(local_ray: None, tiny_config: ExperimentConfig, tmp_path: Path) -> None:
    spec = SweepSpec(tiny_config.replace(finetune_epochs=50), METHODS, (0.5, 0.9))
    sweep = Sweep(spec, tmp_path, parallel=Parallel(threads=1, ray=""), download=False)
    events = []
    for event in sweep.run():
        events.append(event)
        if isinstance(event, Progress) and event.stage.endswith("at 50 %"):
            sweep.stop()  # the first points have just gone to Ray, each with 50 epochs to fine-tune
    assert events[-1] == SweepEnded("stopped", "", ())
