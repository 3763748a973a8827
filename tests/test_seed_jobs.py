"""`prunetui run --seeds` through the sweeps' executor: seeds in worker processes give the serial numbers, land
under the runs root as one group, and Ctrl+C leaves no worker behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from prunetui.engine import ExperimentConfig
from prunetui.engine.storage.runs import list_runs
from tests.analysis_helpers import tiny_flags
from tests.executor_jobs import ctrl_c_once_two_workers_run, running
from tests.test_cli import exit_code
from tests.test_seeds import QUICK, summaries


@pytest.mark.slow
def test_seeds_in_worker_processes_give_the_serial_numbers_as_one_group(
    tiny_config: ExperimentConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    found = {}
    for jobs in ("1", "2"):
        root = tmp_path / f"jobs-{jobs}"
        flags = ["--seeds", "0,1", "--jobs", jobs, "--threads", "1", "--runs-dir", str(root)]
        assert exit_code(["run", *tiny_flags(tiny_config), *QUICK, *flags]) == 0
        found[jobs] = summaries(root)
        printed = capsys.readouterr().out
        assert "mean ± std (n = 2)" in printed
        assert ("running in worker process" in printed) == (jobs == "2")
    serial, parallel = found["1"], found["2"]
    numbers = [[(s["config"]["seed"], s["dense_accuracy"], s["accuracy"]) for s in runs] for runs in (serial, parallel)]  # type: ignore[index]
    assert numbers[0] == numbers[1]  # bit for bit: same seeds, one thread each
    assert numbers[0][0][2] != numbers[0][1][2]  # the seeds differ: not two copies of one run
    for runs in (serial, parallel):
        assert [run["status"] for run in runs] == ["finished", "finished"]
        assert runs[0]["group"] == runs[1]["group"] and str(runs[0]["group"]).startswith("seeds-")
    runs = list_runs(tmp_path / "jobs-2")
    assert {run.group for run in runs} == {parallel[0]["group"]}
    assert all(run.status == "finished" and (run.path / "model.pt").is_file() for run in runs)
    assert all(run.export is not None and run.export.path == str(run.path / "model.pt") for run in runs)


def test_ctrl_c_on_seeds_in_worker_processes_ends_every_worker_and_keeps_no_half_run(
    tiny_config: ExperimentConfig, tmp_path: Path
) -> None:
    process, workers = ctrl_c_once_two_workers_run([
        "run", *tiny_flags(tiny_config), "--epochs", "30", "--seeds", "0,1,2", "--jobs", "2", "--threads", "1",
        "--runs-dir", str(tmp_path / "runs"),
    ])  # fmt: skip
    output = process.stdout
    assert process.returncode == 130
    assert "seeds 0, 1 stopped before the end, not kept" in output and "seed 2 not started" in output
    assert not any(running(pid) for pid in workers)
    # Not even the group's first directory, made before the seeds started (the runs directory itself may be there).
    assert list((tmp_path / "runs").glob("*")) == []
    assert "Traceback" not in output
