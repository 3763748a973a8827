"""Toy jobs for the executor tests: module-level, so spawned worker processes and Ray tasks import them."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Generator
from pathlib import Path

from prunetui.engine.analyses.executor import JobContext, JobError


def square(n: int, context: JobContext) -> Generator[str, None, int]:
    yield f"squaring {n}"
    return n * n


def where_and_threads(pause: float, context: JobContext) -> Generator[None, None, tuple[int, int, str, str]]:
    """After `pause` seconds: this process's id, its torch threads, the device it was handed and the GPUs it sees."""
    import torch

    time.sleep(pause)
    return os.getpid(), torch.get_num_threads(), context.device, os.environ.get("CUDA_VISIBLE_DEVICES", "all")
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


def spawned_workers(parent: int) -> list[int]:
    """The worker processes `parent` started with multiprocessing's spawn (not its resource tracker)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[1]) == parent and b"spawn_main" in command:
            pids.append(int(stat.parent.name))
    return sorted(pids)


def running(pid: int) -> bool:
    """Whether the process exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
