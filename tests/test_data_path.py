"""`--data-path memory|stream`: the choice by size, the same batches (and so the same numbers) both ways, and no
worker process left behind by a stopped run (a subprocess that gets Ctrl+C as a terminal sends it)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from prunetui.engine import EpochEnd, Experiment, ExperimentConfig, Failed, Finished, Status
from prunetui.engine.core.data.loading import Split
from prunetui.engine.core.data.memory import choose_path, free_memory
from tests import zygote
from tests.owndata import write_cifar10

REPO = Path(__file__).resolve().parent.parent
CPU = torch.device("cpu")
STOPPED = 130  # a stopped run's exit code


def _run(config: ExperimentConfig) -> tuple[list[str], list[EpochEnd], Finished]:
    statuses, epochs = [], []
    for event in Experiment(config, download=False).run():
        if isinstance(event, Failed):
            pytest.fail(event.message)
        if isinstance(event, Status):
            statuses.append(event.message)
        if isinstance(event, EpochEnd):
            epochs.append(event)
        if isinstance(event, Finished):
            return statuses, epochs, event
    raise AssertionError("the run did not finish")


def _both_paths(config: ExperimentConfig, tolerance: float = 1e-5) -> None:
    """The run held in memory and streamed: the same batches, so the same losses and accuracies (on a GPU within
    `tolerance`: cuDNN's benchmark mode may time its way to other kernels)."""
    memory_statuses, memory, _ = _run(config.replace(data_path="memory"))
    stream_statuses, stream, _ = _run(config.replace(data_path="stream"))
    assert any(s.startswith("data path memory: ") and "--data-path memory" in s for s in memory_statuses)
    assert any(s.startswith("data path stream: ") and "--data-path stream" in s for s in stream_statuses)
    assert len(memory) == len(stream) > 0
    for held, streamed in zip(memory, stream, strict=True):
        assert streamed.accuracy == pytest.approx(held.accuracy, abs=max(tolerance, 1e-6))
        assert streamed.train_loss == pytest.approx(held.train_loss, rel=tolerance)
        assert streamed.test_loss == pytest.approx(held.test_loss, rel=tolerance)


def _resnet20_on_colour_images(root: Path, device: str) -> ExperimentConfig:
    write_cifar10(root, per_batch=20)  # 100 training and 20 test images, 3 x 32 x 32; cifar10 augments them
    return ExperimentConfig(
        model="resnet20", dataset="cifar10", data_dir=str(root), epochs=1, finetune_epochs=0, batch_size=50,
        device=device, validation_split=0.1, sparsity=0.5,
    )  # fmt: skip


def test_resnet20_on_colour_images_trains_alike_held_or_streamed(tmp_path: Path) -> None:
    _both_paths(_resnet20_on_colour_images(tmp_path, "cpu"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_resnet20_trains_alike_held_on_the_gpu_or_streamed_to_it_pinned(tmp_path: Path) -> None:
    _both_paths(_resnet20_on_colour_images(tmp_path, "cuda").replace(precision="bf16"), tolerance=0.05)


def test_the_lenet_default_trains_alike_held_or_streamed() -> None:
    _both_paths(ExperimentConfig(train_subset=300, epochs=1, finetune_epochs=1, device="cpu"))


def test_auto_holds_what_takes_at_most_a_quarter_of_the_free_memory() -> None:
    free = free_memory(CPU)
    assert free is not None and free > 0  # Linux's /proc/meminfo
    path, why = choose_path("auto", 1000, CPU)
    assert path == "memory" and "at most a quarter of cpu's free" in why
    path, why = choose_path("auto", free, CPU)  # a quarter of it would be left for training
    assert path == "stream" and "more than a quarter of cpu's free" in why
    assert choose_path("stream", 1000, CPU)[0] == "stream"
    assert choose_path("memory", free, CPU)[0] == "memory"


def test_closing_streamed_batches_ends_their_workers() -> None:
    images = torch.randint(0, 256, (400, 3, 8, 8), dtype=torch.uint8)
    labels = torch.arange(400) % 10
    mean, std = torch.full((3, 1, 1), 127.0), torch.full((3, 1, 1), 64.0)
    held, streamed = Split(images, labels, (mean, std)), Split(images, labels, (mean, std), stream_to=CPU)
    order = torch.randperm(400, generator=torch.Generator().manual_seed(0))
    batches = streamed.batches(32, order)
    for (got_images, got_labels), (want_images, want_labels) in zip(batches, held.batches(32, order), strict=False):
        assert torch.equal(got_images, want_images) and torch.equal(got_labels, want_labels)
        assert multiprocessing.active_children()  # the DataLoader's workers, forked from this process
        break
    batches.close()
    assert not multiprocessing.active_children()


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rpartition(")")[2].split()[1]) == pid:
                found.add(int(entry.name))
        except (OSError, ValueError, IndexError):
            pass  # a process that ended while we looked
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from Linux's /proc")
def test_ctrl_c_leaves_no_worker_process(tiny_data: Path, tmp_path: Path) -> None:
    """Ctrl+C in a terminal signals the whole process group, the workers too: the run stops between batches,
    saves, and its workers are gone when it exits."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    command = [
        sys.executable, "-m", "prunetui", "run", "--dataset", "mnist", "--data-dir", str(tiny_data),
        "--data-path", "stream", "--epochs", "30", "--batch-size", "16", "--device", "cpu",
        "--out", str(tmp_path / "run"),
    ]  # fmt: skip
    process = zygote.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        deadline, workers = time.monotonic() + 240, set()
        while not workers and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
            workers = _children(process.pid)
        assert workers, "the streamed run started no worker process"
        os.killpg(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=240)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == STOPPED, output
    assert "Ctrl+C: stopping after this batch" in output and "Traceback" not in output
    assert (tmp_path / "run" / "summary.json").is_file()
    left = [pid for pid in workers if Path(f"/proc/{pid}").exists()]
    assert not left, f"worker processes left running: {left}"
