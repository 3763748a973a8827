"""Toy jobs for the executor tests: module-level, so worker processes and Ray tasks import them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Generator
from pathlib import Path

import torch

from prunetui.engine.analyses.executor import JobContext, JobError
from tests import zygote


def square(n: int, context: JobContext) -> Generator[str, None, int]:
    yield f"squaring {n}"
    return n * n


def where_and_threads(go: Path | None, context: JobContext) -> Generator[None, None, tuple[int, int, str, str]]:
    """Once the file `go` exists (None: at once; 30 s at most, so that a caller that never makes it fails rather
    than waits for ever): this process's id, its torch threads, the device it was handed and the GPUs it sees."""
    import torch

    deadline = time.monotonic() + 30
    while go is not None and not go.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return os.getpid(), torch.get_num_threads(), context.device, os.environ.get("CUDA_VISIBLE_DEVICES", "all")
    yield


def environment_value(name: str, context: JobContext) -> Generator[None, None, str | None]:
    return os.environ.get(name)
    yield


def double(values: torch.Tensor, context: JobContext) -> Generator[None, None, torch.Tensor]:
    return values * 2
    yield


def sleep_until_stopped(seconds: float, context: JobContext) -> Generator[str, None, str]:
    end = time.monotonic() + seconds
    while time.monotonic() < end and not context.stop.is_set():
        yield "sleeping"
        time.sleep(0.05)
    return "slept"


def die_once(marker: Path, context: JobContext) -> Generator[None, None, str]:
    """SIGKILL its own process the first time (leaving `marker`), finish the second."""
    if not marker.exists():
        marker.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return "survived"
    yield


def always_die(_: object, context: JobContext) -> Generator[None, None, None]:
    os.kill(os.getpid(), signal.SIGKILL)
    yield


def refuse(message: str, context: JobContext) -> Generator[None, None, None]:
    raise JobError(message)
    yield


def worker_processes(caller: int) -> list[int]:
    """The worker processes `caller` started: the children of its multiprocessing fork server, or its own children
    spawned where the fork server cannot start."""
    processes = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue  # gone meanwhile
        processes.append((int(stat.parent.name), int(fields[1]), command))
    servers = {pid for pid, parent, command in processes if parent == caller and b"forkserver" in command}
    spawned = {pid for pid, parent, command in processes if parent == caller and b"spawn_main" in command}
    return sorted(pid for pid, parent, _ in processes if parent in servers or pid in spawned)


def running(pid: int) -> bool:
    """Whether the process exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def ctrl_c_once_two_workers_run(arguments: list[str]) -> tuple[subprocess.CompletedProcess[str], list[int]]:
    """Run `python -m prunetui ARGUMENTS` in a session of its own, wait until two worker processes have started,
    press Ctrl+C as a terminal does (SIGINT to the whole process group), and wait for the end: the finished
    process, with its output, and the workers' pids."""
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    command = [sys.executable, "-m", "prunetui", *arguments]
    process = zygote.Popen(command, env=environment, start_new_session=True, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    workers: list[int] = []
    while len(workers) < 2 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
        workers = worker_processes(process.pid)
    assert len(workers) == 2, "the workers did not start"
    os.killpg(process.pid, signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    return subprocess.CompletedProcess(command, process.returncode, output), workers


def build_network(model: str, context: JobContext) -> Generator[None, None, tuple[int, str]]:
    """Build `model` for 1x28x28 images of 10 classes: its class count, and the file its code was imported from."""
    import inspect

    from prunetui.engine.core.networks.registry import resolve
    from prunetui.engine.core.networks.spec import InputShape

    network = resolve(model).build(InputShape(1, 28, 10))
    return list(network.modules())[-1].out_features, inspect.getfile(type(network))
    yield


def leaves_scratch(seconds: float, context: JobContext) -> Generator[None, None, None]:
    """Make a scratch directory and leave it there when terminated, as a worker does that SIGTERM strikes while it
    removes its directory (shutil.rmtree stopped halfway)."""
    import tempfile

    tempfile.mkdtemp(prefix=f"prunetui-point-{os.getpid()}-")
    time.sleep(seconds)
    yield


def deaf_in_scratch(seconds: float, context: JobContext) -> Generator[None, None, None]:
    """Hold a scratch directory with SIGTERM ignored, as a worker stuck past the caller's patience would: only
    SIGKILL ends it, and it cannot remove its directory itself."""
    from prunetui.engine.storage.scratch import scratch_directory

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with scratch_directory("prunetui-point-"):
        time.sleep(seconds)
    yield


def slow_to_unwind(marker: Path, context: JobContext) -> Generator[None, None, None]:
    """Say that it started, then wait; terminated, say that it unwinds and take half a second to clean up (a
    second SIGTERM comes then), and write down the SIGTERM handler it finds at the end of its clean-up."""
    try:
        marker.with_suffix(".started").touch()
        time.sleep(60)
    finally:
        marker.with_suffix(".unwinding").touch()
        time.sleep(0.5)
        handler = signal.getsignal(signal.SIGTERM)
        marker.write_text("python's" if callable(handler) else str(handler))
    yield
