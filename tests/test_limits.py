"""Limits of the machine a run meets: cores (--jobs), a config directory or data directory that cannot be
written, memory exhausted, a torch that cannot be imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from textual.widgets import Input, Static

from prunetui.app.app import PruneApp
from prunetui.app.run_state import FINISHED
from prunetui.cli.main import main
from prunetui.engine import ExperimentConfig
from prunetui.engine.analyses import executor
from prunetui.engine.analyses.executor import Parallel
from prunetui.engine.core.errors import out_of_memory
from tests import zygote
from tests.analysis_helpers import tiny_flags
from tests.test_app import shown, wait_until

SIZE = (140, 44)
REPO = Path(__file__).resolve().parent.parent


# -- item 3: --jobs starts no more workers than there are jobs, or cores (GPUs) ---------------------------------


def test_jobs_are_at_most_the_jobs_to_run_and_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    assert Parallel(jobs=1000).capped(2) == (Parallel(jobs=2), "note: --jobs 1000 starts 2 workers (2 to run)")
    assert Parallel(jobs=1000).capped(50) == (Parallel(jobs=4), "note: --jobs 1000 starts 4 workers (4 CPU cores here)")
    assert Parallel(jobs=3).capped(50) == (Parallel(jobs=3), "")  # what was asked fits: no note
    assert Parallel(jobs=3).capped(1) == (Parallel(jobs=1), "note: --jobs 3 starts 1 worker (1 to run)")
    gpus = Parallel(jobs=8, devices=("cuda:0", "cuda:1"))
    assert gpus.capped(20) == (
        Parallel(jobs=2, devices=gpus.devices),
        "note: --jobs 8 starts 2 workers (2 GPUs in --devices)",
    )
    ray = Parallel(jobs=8, ray="")
    assert ray.capped(2) == (ray, "")  # Ray places its tasks on the cluster's cores itself


def test_a_seed_group_with_jobs_1000_starts_a_worker_per_seed(
    tiny_config: ExperimentConfig, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    started: list[int] = []
    real_init = executor.ProcessExecutor.__init__

    def counted(self: executor.ProcessExecutor, workers: int, *args: object, **kwargs: object) -> None:
        started.append(workers)
        assert workers <= 2, f"{workers} workers for 2 seeds"  # before starting them: no fork bomb if it fails
        real_init(self, workers, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(executor.ProcessExecutor, "__init__", counted)
    flags = [*tiny_flags(tiny_config), "--seeds", "0,1", "--jobs", "1000", "--threads", "1"]
    assert main(["run", *flags]) == 0
    assert started == [2]
    assert "note: --jobs 1000 starts 2 workers (2 to run)\n" in capsys.readouterr().err


async def test_the_apps_sweep_plans_no_more_workers_than_points(
    tiny_config: ExperimentConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    app = PruneApp(tiny_config)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f4")
        await pilot.pause()
        app.screen.query_one("#sweep-sparsities", Input).value = "0.5"
        app.screen.query_one("#sweep-jobs", Input).value = "1000"
        await pilot.pause()
        assert "prune 3 points (3 methods × 1 sparsity, 3 at once)" in shown(
            app.screen.query_one("#analysis-plan", Static)
        )


# -- item 4: settings that cannot be remembered are a notice; the run goes on -------------------------------


@pytest.mark.parametrize("blocked", ["a file in its place", "read-only"])
async def test_the_app_runs_when_its_config_directory_cannot_be_written(
    blocked: str, tiny_config: ExperimentConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_dir = tmp_path / "config"
    if blocked == "read-only":
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only directories")
        config_dir.mkdir()
        config_dir.chmod(0o500)
    else:
        config_dir.write_text("a file where the config directory goes\n")
    monkeypatch.setenv("PRUNETUI_CONFIG_DIR", str(config_dir))
    app = PruneApp(tiny_config)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("ctrl+r")  # the start remembers the settings first
        # Read while it shows: a notice expires after a few seconds, sooner than a run ends on a busy machine.
        await wait_until(pilot, lambda: any(n.title == "Settings not remembered" for n in app._notifications))
        (notice,) = [n for n in app._notifications if n.title == "Settings not remembered"]
        assert notice.message.startswith(f"cannot remember the settings: cannot write to {config_dir}")
        await wait_until(pilot, lambda: not app.main_screen.run_state.active, timeout=60)
        assert app.main_screen.run_state.outcome == FINISHED
        await app.action_quit()  # quitting remembers the form too: a notice again, not a crash
    assert app.return_code == 0


# -- item 11: the decoded data cache lives in the user's cache directory, never the data directory -----------


def test_the_built_in_data_set_trains_when_prunetui_data_names_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_directory = tmp_path / "data.txt"
    not_a_directory.write_text("not a directory\n")
    monkeypatch.setenv("PRUNETUI_DATA", str(not_a_directory))
    flags = ["--epochs", "1", "--finetune-epochs", "0", "--train-subset", "256", "--device", "cpu"]
    assert main(["run", *flags, "--out", str(tmp_path / "run")]) == 0, capsys.readouterr()
    assert [path.name.startswith("fashion-mnist-mini-") for path in (tmp_path / "cache").iterdir()] == [True]


@pytest.mark.parametrize("blocked", ["read-only", "a file"])
def test_a_data_directory_is_only_read(
    blocked: str, tiny_config: ExperimentConfig, tmp_path: Path, tiny_data: Path
) -> None:
    """The data directory is read, never written; a cache directory that cannot be written only costs time."""
    before = sorted(path.relative_to(tiny_data) for path in tiny_data.rglob("*"))
    if blocked == "read-only":
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only directories")
        for folder in [tiny_data, *(path for path in tiny_data.rglob("*") if path.is_dir())]:
            folder.chmod(0o555)
    else:
        (tmp_path / "cache").write_text("a file where the cache directory goes\n")
    try:
        assert main(["run", *tiny_flags(tiny_config), "--out", str(tmp_path / "run")]) == 0
    finally:
        for folder in [tiny_data, *(path for path in tiny_data.rglob("*") if path.is_dir())]:
            folder.chmod(0o755)
    assert sorted(path.relative_to(tiny_data) for path in tiny_data.rglob("*")) == before
    assert not (tiny_data / "decoded").exists()  # where the cache went before it had a directory of its own


# -- item 5: out of memory -----------------------------------------------------------------------------------


def test_a_run_out_of_memory_is_kept_as_failed_with_its_model(tiny_config: ExperimentConfig, tmp_path: Path) -> None:
    """Memory runs out mid-epoch, with 48 MB left for the failure handler and an 80 MB model: the run is saved
    without copying its weights, and says in one line what happened."""
    if not Path("/proc/self/status").is_file():
        pytest.skip("needs Linux's /proc to cap the address space")
    out = tmp_path / "run"
    flags = [*tiny_flags(tiny_config), "--model", "lenet300", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    done = zygote.run(
        [sys.executable, "-m", "tests.oom_driver", "48", "--", *flags],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    (line,) = [line for line in done.stderr.splitlines() if "out of memory" in line]
    assert line.startswith("failed: out of memory: ") and "can't allocate memory" in line
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["status"], summary["message"]) == ("failed", line.removeprefix("failed: "))
    state = torch.load(out / "model.pt", weights_only=True)["state_dict"]
    assert state["fc1.weight"].shape == (4096, 784)
    zeros = {name: int((state[f"{name}.weight"] == 0).sum()) for name in ("fc1", "fc2", "fc3")}
    assert zeros == {layer["name"]: layer["zeros"] for layer in summary["layers"]}


def test_out_of_memory_errors_are_told_in_one_line() -> None:
    assert out_of_memory(MemoryError()) == "out of memory: MemoryError"
    cuda = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB.\nSee documentation")
    assert out_of_memory(cuda) == "out of memory: CUDA out of memory. Tried to allocate 2.00 GiB."
    assert out_of_memory(RuntimeError("mat1 and mat2 shapes cannot be multiplied")) is None
    assert out_of_memory(ValueError("out of memory")) is None  # only the errors allocators raise


@pytest.mark.parametrize(
    ("raises", "line"),
    [
        ('raise OSError("libtorch_cpu.so: cannot open shared object file")', "OSError: libtorch_cpu.so: cannot open"),
        ("import numpy_that_is_not_there", "ModuleNotFoundError: No module named 'numpy_that_is_not_there'"),
    ],
)
def test_a_torch_that_cannot_be_imported_is_one_line(raises: str, line: str, tmp_path: Path) -> None:
    broken = tmp_path / "site" / "torch"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text(f"{raises}\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(broken.parent), str(REPO)])}
    for command in (["run", "--epochs", "1"], ["sweep", "--sparsities", "0.5"]):
        done = subprocess.run(
            [sys.executable, "-m", "prunetui", *command, "--runs-dir", str(tmp_path / "runs")],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 1, done.stderr
        assert done.stderr.startswith(f"prunetui: error: cannot import torch ({line}")
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stdout + done.stderr
