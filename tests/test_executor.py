"""The executor: jobs in this process, in worker processes and on Ray, one interface; faults and cancels."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Generator
from pathlib import Path

import pytest

from prunetui.cli import main
from prunetui.engine.analyses.executor import (
    Executor,
    Job,
    JobDone,
    JobFailed,
    JobProgress,
    JobStarted,
    Outcome,
    Parallel,
    ProcessExecutor,
    SerialExecutor,
    make_executor,
    parse_jobs,
    worker_devices,
)
from prunetui.engine.core.device import parse_device
from prunetui.engine.core.errors import ConfigError
from tests.executor_jobs import (
    always_die,
    deaf_in_scratch,
    die_once,
    environment_value,
    leaves_scratch,
    refuse,
    running,
    sleep_until_stopped,
    slow_to_unwind,
    square,
    where_and_threads,
    worker_processes,
)
from tests.test_signals import wait_until

REPO = Path(__file__).resolve().parent.parent


def ended(outcomes: list[Outcome]) -> dict[str, Outcome]:
    return {outcome.key: outcome for outcome in outcomes if isinstance(outcome, JobDone | JobFailed)}


def test_serial_jobs_run_here_in_order_with_their_progress() -> None:
    with SerialExecutor() as executor:
        for n in (2, 3):
            executor.submit(Job(f"n={n}", square, n))
        executor.submit(Job("bad", refuse, "no such thing"))
        outcomes = list(executor.as_completed())
    assert outcomes == [
        JobProgress("n=2", "squaring 2"), JobDone("n=2", 4),
        JobProgress("n=3", "squaring 3"), JobDone("n=3", 9),
        JobFailed("bad", "no such thing"),
    ]  # fmt: skip


def test_a_serial_cancel_stops_the_running_job_keeps_its_result_and_runs_no_more() -> None:
    executor = SerialExecutor()
    executor.submit(Job("long", sleep_until_stopped, 60.0))
    executor.submit(Job("next", square, 2))
    started = time.monotonic()
    outcomes = []
    for outcome in executor.as_completed():
        outcomes.append(outcome)
        executor.cancel()
    # The running job ends at the cancel, and the result it hands back is kept; "next" never starts.
    assert outcomes == [JobProgress("long", "sleeping"), JobDone("long", "slept")]
    assert time.monotonic() - started < 30  # not 60 s


def test_workers_run_jobs_at_once_with_their_share_of_threads_and_results_come_as_they_finish(
    tmp_path: Path,
) -> None:
    go = tmp_path / "go"
    # Two threads each: the tests' environment sets one (conftest's OMP_NUM_THREADS), which workers must not keep.
    with ProcessExecutor(workers=2, threads=2, devices=("cpu",)) as executor:
        executor.submit(Job("slow", where_and_threads, go))  # ends once "bad" has
        executor.submit(Job("quick", where_and_threads, None))
        executor.submit(Job("bad", refuse, "out of luck"))
        outcomes = []
        for outcome in executor.as_completed():
            outcomes.append(outcome)
            if isinstance(outcome, JobFailed):
                go.touch()
        pids = executor.pids()
    finished = [outcome for outcome in outcomes if isinstance(outcome, JobDone | JobFailed)]
    assert [outcome.key for outcome in finished] == ["quick", "bad", "slow"]  # as they finish, not as submitted
    assert finished[1] == JobFailed("bad", "out of luck")
    slow, quick = ended(outcomes)["slow"].result, ended(outcomes)["quick"].result
    assert {slow[0], quick[0]} == set(pids) and len(pids) == 2  # two workers, one job each at the start
    assert slow[1:] == quick[1:] == (2, "cpu", "all")
    started = [outcome for outcome in outcomes if isinstance(outcome, JobStarted)]
    assert [s.key for s in started] == ["slow", "quick", "bad"]
    assert started[0].where == f"worker process {slow[0]}"
    assert not any(running(pid) for pid in pids)  # closed: the idle workers exit


def test_each_worker_takes_the_callers_environment_as_it_is_when_the_worker_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Workers are forked by a fork server started once per process, with the environment of its time: what the
    caller set since (a data or cache directory, say) must reach the next workers all the same."""
    for value in ("before", "after"):
        monkeypatch.setenv("PRUNETUI_TEST_SETTING", value)
        with ProcessExecutor(workers=1, threads=1) as executor:
            executor.submit(Job("read", environment_value, "PRUNETUI_TEST_SETTING"))
            (done,) = [outcome for outcome in executor.as_completed() if isinstance(outcome, JobDone)]
            assert done.result == value


DOUBLE_IN_A_WORKER = """
import torch
from prunetui.engine.analyses.executor import Job, JobDone, ProcessExecutor
from tests.executor_jobs import double
with ProcessExecutor(workers=1, threads=1) as executor:
    executor.submit(Job("double", double, torch.arange(4.0)))
    print([outcome.result.tolist() for outcome in executor.as_completed() if isinstance(outcome, JobDone)])
"""


def test_tensors_reach_workers_and_come_back_under_a_long_temporary_directory(tmp_path: Path) -> None:
    """multiprocessing's own pickler hands tensors over through a Unix socket under TMPDIR, whose path may not
    pass 108 bytes: under pytest-xdist's temporary directories every send failed and sweeps waited forever. The
    fork server listens on such a socket too: under this TMPDIR the workers are spawned instead. A process of its
    own: the sockets are made once per process, and this one's may have been made already."""
    long = tmp_path / ("t" * 100)
    long.mkdir()
    env = {**os.environ, "TMPDIR": str(long), "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-c", DOUBLE_IN_A_WORKER]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout) == (0, "[[0.0, 2.0, 4.0, 6.0]]\n"), done.stderr


@pytest.mark.slow
def test_a_worker_killed_mid_job_is_retried_once_then_the_job_fails_and_the_rest_finish(tmp_path: Path) -> None:
    with ProcessExecutor(workers=2, threads=1) as executor:
        executor.submit(Job("dies once", die_once, tmp_path / "died"))
        executor.submit(Job("always dies", always_die, None))
        for n in range(4):
            executor.submit(Job(f"n={n}", square, n))
        outcomes = ended(list(executor.as_completed()))
    assert outcomes["dies once"] == JobDone("dies once", "survived")
    assert outcomes["always dies"] == JobFailed("always dies", "its worker process died twice (killed by SIGKILL)")
    assert [outcomes[f"n={n}"] for n in range(4)] == [JobDone(f"n={n}", n * n) for n in range(4)]


def test_cancel_ends_every_worker_process_at_once() -> None:
    executor = ProcessExecutor(workers=2, threads=1)
    for n in range(3):
        executor.submit(Job(f"sleep {n}", sleep_until_stopped, 60.0))
    outcomes = []
    for outcome in executor.as_completed():
        outcomes.append(outcome)
        if sum(isinstance(o, JobStarted) for o in outcomes) == 2:
            pids = executor.pids()
            deadline = time.monotonic() + 30
            while worker_processes(os.getpid()) != sorted(pids):  # a worker just forked may not have run python yet
                assert time.monotonic() < deadline
                time.sleep(0.05)
            started = time.monotonic()
            executor.cancel()
    executor.close()
    assert time.monotonic() - started < 30  # not the 60 s the jobs would sleep
    assert len(pids) == 2 and not any(running(pid) for pid in pids)
    assert not any(isinstance(outcome, JobDone | JobFailed) for outcome in outcomes)


def test_a_second_sigterm_during_a_workers_clean_up_passes_and_leaves_its_handler_in_place(tmp_path: Path) -> None:
    """A cancel's terminate() and then close()'s: the second comes while the worker unwinds its job. It lets the
    clean-up end, and the handler stays Python's: a handler that set SIG_IGN raced a SIGTERM that came as it did,
    and Python printed "Signal 15 ignored due to race condition" as a traceback (seen once in CI)."""
    marker = tmp_path / "handler"
    executor = ProcessExecutor(workers=1, threads=1)
    executor.submit(Job("job", slow_to_unwind, marker))
    for outcome in executor.as_completed():
        assert isinstance(outcome, JobStarted)
        (worker,) = executor.pids()
        for before, then in ((".started", "the job to start"), (".unwinding", "the clean-up to begin")):
            wait_until(marker.with_suffix(before).exists, then, timeout=30)
            os.kill(worker, signal.SIGTERM)
        wait_until(marker.exists, "the clean-up to end", timeout=30)
        executor.cancel()
        break
    executor.close()
    assert marker.read_text() == "python's"


@pytest.mark.parametrize("job", [deaf_in_scratch, leaves_scratch], ids=["killed", "terminated mid-removal"])
def test_a_worker_ended_at_a_cancel_leaves_no_scratch_directory(
    job: Callable[..., Generator[None, None, None]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that does not end when terminated is killed, and the directory it could not remove goes too; so
    does the directory of a worker that SIGTERM stopped before it had removed it."""
    if job is deaf_in_scratch:
        monkeypatch.setattr("prunetui.engine.analyses.executor.KILL_AFTER_SECONDS", 0.5)  # it never ends by itself
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)  # read TMPDIR afresh, here and in the worker

    def scratch() -> list[str]:  # multiprocessing keeps its own pymp-* directory there too
        return [path.name for path in tmp_path.iterdir() if path.name.startswith("prunetui-")]

    executor = ProcessExecutor(workers=1, threads=1)
    executor.submit(Job("job", job, 60.0))
    for outcome in executor.as_completed():
        assert isinstance(outcome, JobStarted)  # a worker process sends no progress; its directory shows it
        deadline = time.monotonic() + 30
        while not scratch() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [name.split("-")[2] for name in scratch()] == [str(executor.pids()[0])]
        executor.cancel()
        break  # as a sweep that stops does: what is left is close()'s
    executor.close()
    assert scratch() == []


def test_a_worker_given_cuda_n_sees_that_gpu_alone_as_cuda() -> None:
    """What a multi-GPU box relies on, checked without a GPU: no job here touches CUDA."""
    with ProcessExecutor(workers=2, threads=1, devices=("cuda:1", "cuda:0")) as executor:
        for name in ("a", "b", "c"):
            executor.submit(Job(name, where_and_threads, None))  # a and b at once, one on each worker
        results = [outcome.result for outcome in executor.as_completed() if isinstance(outcome, JobDone)]
    assert len(results) == 3 and {result[2:] for result in results} == {("cuda", "0"), ("cuda", "1")}


def test_devices_go_round_robin_over_the_workers() -> None:
    assert worker_devices(["cuda:0", "cuda:1"], 2) == ["cuda:0", "cuda:1"]  # one point per GPU
    assert worker_devices(["cuda:0", "cuda:1"], 5) == ["cuda:0", "cuda:1", "cuda:0", "cuda:1", "cuda:0"]
    assert worker_devices(["cuda"], 3) == ["cuda"] * 3  # --jobs 3 sharing one GPU
    assert worker_devices([], 2) == ["", ""]
    assert parse_device("cuda:1") == ("cuda", "1") and parse_device("cpu") == ("cpu", "")
    for bad in ("cuda:x", "cpu:0", "tpu"):
        with pytest.raises(ConfigError, match=f"invalid --devices: '{bad}' is not cpu, mps, cuda or cuda:N"):
            parse_device(bad)
    assert parse_jobs("auto", ["cuda:0", "cuda:1", "cuda:2"]) == 3
    assert parse_jobs("auto") == os.cpu_count()
    assert parse_jobs("4") == 4
    with pytest.raises(ConfigError, match="invalid --jobs: 'many' is not a number or auto"):
        parse_jobs("many")
    with pytest.raises(ConfigError, match="invalid --jobs: 0 is not in 1–1024"):
        Parallel(jobs=0).validate()
    assert Parallel(jobs=2, threads=0).threads_per_job() == max(1, (os.cpu_count() or 1) // 2)


def test_the_executor_follows_the_request() -> None:
    assert type(make_executor(Parallel())) is SerialExecutor
    for parallel in (Parallel(jobs=2), Parallel(devices=("cuda:0",))):
        executor: Executor = make_executor(parallel)
        assert type(executor) is ProcessExecutor
        executor.close()  # never started a worker


def test_ray_without_ray_installed_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    assert main(["sweep", "--ray"]) == 2
    assert capsys.readouterr().err.strip() == "prunetui: error: --ray needs Ray: pip install 'prunetui[ray]'"
