"""Runs you can trust: a stop or failure keeps what was finished, one writer per run directory, output that
cannot be written is one line, a run is `running` only while its writer lives, and summaries record what
besides the seed and config changes the numbers."""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.nn.utils import prune

from prunetui.app.runner import ExperimentRunner
from prunetui.cli import main
from prunetui.engine import Event, ExperimentConfig, Pruned, StepLoss, Stopped
from prunetui.engine.core.experiment import Experiment
from prunetui.engine.core.models import build_model
from prunetui.engine.storage.export import load_model, permanent_state
from prunetui.engine.storage.recording import record_run
from prunetui.engine.storage.run_lock import LOCK_FILE
from prunetui.engine.storage.runs import list_runs, load_history, read_run
from tests.analysis_helpers import tiny_flags
from tests.faults import temporaries

pytestmark = pytest.mark.usefixtures("wide_console")


def run_cli(config: ExperimentConfig, out: Path, *flags: str) -> int:
    return main(["run", *tiny_flags(config), *flags, "--out", str(out)])


def summary_of(out: Path) -> dict[str, Any]:
    return json.loads((out / "summary.json").read_text())


# -- 1: a stop or a failure at any moment keeps everything finished -------------------------------------------


def test_the_saved_state_of_a_model_stopped_mid_batch_is_its_masked_weights() -> None:
    """Mid-batch, a pruned layer's weight is orig * mask computed with autograd: not a leaf, so the model cannot
    be deep-copied (the crash this replaces)."""
    model = build_model("lenet5")
    prune.l1_unstructured(model.fc1, "weight", amount=0.5)
    model(torch.randn(4, 1, 28, 28)).sum().backward()
    assert not model.fc1.weight.is_leaf

    state = permanent_state(model)
    assert not any(name.endswith(("_orig", "_mask")) for name in state)
    assert torch.equal(state["fc1.weight"], (model.fc1.weight_orig * model.fc1.weight_mask).detach())
    assert int((state["fc1.weight"] == 0).sum()) == model.fc1.weight.numel() // 2
    plain = build_model("lenet5")
    plain.load_state_dict(state)  # a plain LeNet-5 again
    assert torch.equal(plain.conv1.weight, model.conv1.weight.detach())


def test_a_loss_diverging_in_a_fine_tune_keeps_the_pruned_model_history_and_summary(
    tiny_config: ExperimentConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tiny_config.replace(schedule="iterative", rounds=3, sparsity=0.875)
    for event in record_run(Experiment(config, download=False), tmp_path / "run"):
        if isinstance(event, Pruned):  # from now on every loss reads as diverged: the first fine-tune fails
            monkeypatch.setattr("prunetui.engine.core.training.DIVERGED_LOSS", 0.0)

    summary = summary_of(tmp_path / "run")
    assert summary["status"] == "failed" and "diverged" in summary["message"] and summary["complete"] is False
    assert summary["sparsity"] == pytest.approx(0.5, abs=0.005)  # round 1 of 3 towards 87.5 %: half the weights
    model = load_model(tmp_path / "run" / "model.pt")
    fc1 = next(layer for layer in summary["layers"] if layer["name"] == "fc1")
    assert int((model.fc1.weight == 0).sum()) == fc1["zeros"] == fc1["total"] // 2
    assert [row.event for row in load_history(tmp_path / "run")] == ["epoch", "epoch", "prune"]
    assert read_run(tmp_path / "run").status == "failed"


def test_the_apps_stop_mid_fine_tune_keeps_the_pruned_model(
    tiny_config: ExperimentConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app's runner takes the CLI's path: Stop pressed while a fine-tune is mid-epoch."""
    monkeypatch.setattr("prunetui.engine.core.training.LOSS_EVERY", 2)  # a loss report every 2 of the 8 batches
    delivered: list[Event] = []

    def deliver(events: tuple[Event, ...]) -> None:
        delivered.extend(events)
        if any(isinstance(event, StepLoss) and event.phase == "finetune" for event in events):
            runner.stop()  # as the Stop button does, from the UI thread

    runner = ExperimentRunner(tiny_config.replace(sparsity=0.5), deliver, interval=0.0)
    runner.run()

    assert isinstance(delivered[-1], Stopped)
    (run,) = list_runs(tmp_path / "runs")
    assert (run.status, run.sparsity) == ("stopped", pytest.approx(0.5, abs=0.005))
    model = load_model(run.path / "model.pt")
    assert int((model.fc1.weight == 0).sum()) == model.fc1.weight.numel() // 2
    assert [row.event for row in load_history(run.path)] == ["epoch", "epoch", "prune"]  # the fine-tune unfinished


# -- 2: an existing run is never overwritten by accident, and a run directory has one writer ------------------


def test_out_naming_a_finished_run_is_refused_in_one_line(
    tiny_config: ExperimentConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert run_cli(tiny_config, out) == 0
    model = (out / "model.pt").read_bytes()
    capsys.readouterr()

    assert run_cli(tiny_config, out, "--sparsity", "0.5") == 2
    printed = capsys.readouterr()
    error = printed.err
    assert error.count("\n") == 1 and f"{out} already holds a run" in error and "--overwrite" in error
    assert printed.out == ""  # refused first: no "importing torch …" for a run that will not happen
    assert (out / "model.pt").read_bytes() == model and summary_of(out)["config"]["sparsity"] == 0.9
    # …and in a fresh process, before torch is imported at all.
    refuse = "import sys; from prunetui.cli import main; sys.exit(main(sys.argv[1:]) + 10 * ('torch' in sys.modules))"
    child = subprocess.run([sys.executable, "-c", refuse, "run", "--out", str(out)], capture_output=True, text=True)
    assert (child.returncode, child.stdout) == (2, "") and "already holds a run" in child.stderr


def test_overwrite_replaces_the_run_leaving_none_of_its_files(
    tiny_config: ExperimentConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert run_cli(tiny_config, out) == 0
    assert (out / "dense.pt").is_file() and (out / "model.pt").is_file()
    # The new run diverges in its first epoch: nothing of the old run may stay beside it, as if it were the new one's.
    # (On all 512 images: on the 461 after the first 51, LeNet-5 at lr 10 sticks at chance without diverging.)
    diverging = ("--optimizer", "sgd", "--lr", "10", "--validation-split", "0")
    assert run_cli(tiny_config, out, *diverging, "--overwrite") == 1
    files = [LOCK_FILE, "config.toml", "events.jsonl", "model.pt", "summary.json"]
    assert sorted(path.name for path in out.iterdir()) == files
    assert (out / "events.jsonl").read_text().count('"event": "RunStarted"') == 1  # the new run's events alone
    assert summary_of(out)["status"] == "failed" and "diverged" in summary_of(out)["message"]
    # A data set that is not on this machine is refused before the directory is touched (exit 2, as bad input).
    assert run_cli(tiny_config, out, "--data-dir", str(tmp_path / "none"), "--overwrite") == 2
    assert summary_of(out)["status"] == "failed" and "diverged" in summary_of(out)["message"]


def test_a_second_writer_is_refused_while_the_first_runs(
    tiny_config: ExperimentConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    first = record_run(Experiment(tiny_config, download=False), out)
    next(first)  # started: config and summary written, the lock held
    for flags in ([], ["--overwrite"]):
        assert run_cli(tiny_config, out, *flags) == 2
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and f"{out} is in use" in error
    assert read_run(out).status == "running"
    first.close()  # the first writer goes away without a word
    assert read_run(out).status == "interrupted"
    assert run_cli(tiny_config, out, "--overwrite") == 0 and read_run(out).status == "finished"


# -- 5: output that cannot be written ----------------------------------------------------------------------


def not_a_directory(tmp_path: Path) -> tuple[Path, str]:
    (tmp_path / "file").write_text("mine")
    return tmp_path / "file" / "run", "Not a directory"


def an_existing_file(tmp_path: Path) -> tuple[Path, str]:
    (tmp_path / "file").write_text("mine")
    return tmp_path / "file", "it is a file, not a directory"


def read_only_file_system(tmp_path: Path) -> tuple[Path, str]:
    """sysfs refuses new entries even to root (the tests may run as root, whom chmod does not stop)."""
    if not Path("/sys/kernel").is_dir():
        pytest.skip("needs Linux's /sys")
    return Path("/sys/prunetui-test-run"), ""


@pytest.mark.parametrize("where", [not_a_directory, an_existing_file, read_only_file_system])
def test_out_that_cannot_be_written_is_one_line_and_exit_1(
    where: Any, tiny_config: ExperimentConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, reason = where(tmp_path)
    assert run_cli(tiny_config, out) == 1
    printed = capsys.readouterr()
    assert printed.err.count("\n") == 1 and str(out) in printed.err and reason in printed.err
    assert "Traceback" not in printed.out + printed.err
    assert not out.is_dir()
    if (tmp_path / "file").exists():
        assert (tmp_path / "file").read_text() == "mine"


def test_a_runs_root_that_cannot_be_created_is_one_line_and_exit_1(
    tiny_config: ExperimentConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("")
    assert main(["run", *tiny_flags(tiny_config), "--runs-dir", str(tmp_path / "file" / "runs")]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "cannot create a run directory in" in error and "Not a directory" in error


def test_a_sensitivity_csv_that_cannot_be_written_is_one_line_and_exit_1(
    tiny_config: ExperimentConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, reason = an_existing_file(tmp_path)
    flags = [
        "--dataset",
        "mnist",
        "--data-dir",
        tiny_config.data_dir,
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--amounts",
        "0.5",
    ]
    flags += ["--out", str(out / "sensitivity.csv")]
    assert main(["sensitivity", *flags]) == 1
    printed = capsys.readouterr()
    assert printed.err.count("\n") == 1 and f"cannot write to {out}: {reason}" in printed.err
    assert "largest amount per layer" in printed.out and "Traceback" not in printed.out + printed.err


class FullDisk:
    """A file whose every write fails as on a full disk."""

    def __init__(self, path: Path, mode: str) -> None:
        self._file = open(path, mode)  # noqa: SIM115 - closed by __exit__, as a real file would be

    def __enter__(self) -> FullDisk:
        return self

    def __exit__(self, *exception: object) -> None:
        self._file.close()

    def write(self, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def fill_disk_for(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """From now on, writing `name` (through `write_atomic`) fails with ENOSPC; every other file is written."""

    def opening(path: Path, mode: str) -> Any:
        return FullDisk(path, mode) if path.name.startswith(f".{name}.") else open(path, mode)

    monkeypatch.setattr("prunetui.engine.core.files.open", opening, raising=False)


@pytest.mark.parametrize(
    ("name", "model_saved"),
    [("history.csv", True), ("dense.pt", True), ("model.pt", False)],
)
def test_a_full_disk_fails_the_run_in_one_line_naming_the_file(
    name: str,
    model_saved: bool,
    tiny_config: ExperimentConfig,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "run"
    fill_disk_for(monkeypatch, name)
    assert run_cli(tiny_config, out) == 1
    printed, error = capsys.readouterr()
    line = f"failed: cannot write {out / name}: No space left on device"
    assert line in error and "Traceback" not in printed + error
    summary = summary_of(out)
    assert summary["status"] == "failed" and summary["message"] == line.removeprefix("failed: ")
    assert (out / "model.pt").is_file() == model_saved and temporaries(out) == []
    assert read_run(out).status == "failed"


def test_a_disk_full_for_the_first_summary_fails_the_start_and_keeps_no_run(
    tiny_config: ExperimentConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    fill_disk_for(monkeypatch, "summary.json")
    assert run_cli(tiny_config, out) == 1
    printed, error = capsys.readouterr()
    assert f"failed: cannot write {out / 'summary.json'}: No space left on device" in error
    assert (printed + error).count("No space left on device") == 1
    assert "nothing kept: the run failed before training" in printed and not out.exists()


# -- 10: `running` means a live writer, not a pid that may since belong to anyone -------------------------------


def test_a_live_pid_in_the_summary_without_the_lock_reads_as_interrupted(
    tiny_config: ExperimentConfig, tmp_path: Path
) -> None:
    """The pid a killed run wrote may now be any live process's: here, this one's."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.toml").write_text(tiny_config.to_toml())
    (out / "summary.json").write_text(
        json.dumps({"status": "running", "pid": os.getpid(), "host": socket.gethostname()})
    )
    assert read_run(out).status == "interrupted"


def test_a_run_is_running_exactly_while_another_process_holds_its_lock(
    tiny_config: ExperimentConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "summary.json").write_text(json.dumps({"status": "running"}))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('locked', flush=True)\ntime.sleep(60)",
            str(out / LOCK_FILE),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        assert read_run(out).status == "running"
        assert run_cli(tiny_config, out, "--overwrite") == 2  # a second process may not write there meanwhile
        assert f"{out} is in use" in capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait()
    assert read_run(out).status == "interrupted"


# -- 16: what besides the seed and config changes the numbers -------------------------------------------------


@pytest.mark.slow
def test_every_summary_records_torch_the_thread_count_and_the_device(
    tiny_config: ExperimentConfig, tmp_path: Path
) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        shortest = tiny_config.replace(epochs=1, finetune_epochs=0)  # two threads spin on a busy machine
        events = record_run(Experiment(shortest, download=False), tmp_path / "run")
        next(events)
        at_start = summary_of(tmp_path / "run")["environment"]  # a run killed now still tells
        list(events)
    finally:
        torch.set_num_threads(threads)
    at_end = summary_of(tmp_path / "run")["environment"]
    for environment in (at_start, at_end):
        assert environment["torch"] == torch.__version__ and environment["threads"] == 2
        assert environment["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
        assert environment["device"] == "cpu"
