"""Independent jobs run one way or another behind one interface: in this process, in local worker processes, or
as Ray tasks.

A job is a picklable function and its argument. The function is a generator: it yields progress events and
returns its result; it is handed a JobContext whose `stop` is set when the caller cancels (it should end soon,
e.g. between batches) and whose `device`, when not empty, is where the worker wants it to run. A job ends in
JobError for a failure it can word, or any exception.

    executor = make_executor(Parallel(jobs=2))
    executor.submit(Job("l1 at 90 %", prune_point, argument))  # also while iterating as_completed
    for outcome in executor.as_completed():  # JobStarted (elsewhere) or JobProgress (here), JobDone, JobFailed
        ...
    executor.cancel()                         # from any thread: every job ends, no worker process outlives it
    executor.close()

Worker processes are forked by multiprocessing's fork server, a process that imported torch once and never ran
it (no copy of this process's threads or torch state, as with 'spawn', but no import of torch per worker either:
about 2.5 s of CPU each). Each has its share of the CPU threads and this process's environment as it is when the
worker starts; jobs and results travel to and fro as plain pickles, tensors by value (`_send`). They
ignore Ctrl+C and SIGHUP: the caller stops them (terminate, then kill); terminated, or left by a caller that
died, a worker unwinds its job (its scratch directory removed) and exits quietly. A worker that dies mid-job
(killed, out of memory) has its job retried once on a new worker, then reported failed; the other jobs go on.
Ray is imported only when asked for.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import logging
import os
import pickle
import select
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prunetui.engine.analyses.last_words import LastWords
from prunetui.engine.core.device import parse_device
from prunetui.engine.core.errors import ConfigError, PrunetuiError, unexpected
from prunetui.engine.core.networks.user_code import ray_runtime_env
from prunetui.engine.storage.scratch import remove_orphans

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.context import ForkServerContext, SpawnContext
    from multiprocessing.process import BaseProcess
    from types import FrameType

# Imported once by the fork server, so each worker starts with them: torch, and torch's compiler, which
# torch.optim's first optimizer imports (about 1 s); last, what makes the server's own exit quick.
FORK_SERVER_PRELOAD = (
    "torch", "torch._dynamo", "prunetui.engine.analyses.executor", "prunetui.engine.analyses.fork_server",
)  # fmt: skip
RETRIES = 1  # a job whose worker died is run once more
POLL_SECONDS = 0.2  # how often the waiting caller looks at a cancel from another thread
KILL_AFTER_SECONDS = 3.0  # a worker that ignores terminate() is killed
# A worker whose caller is gone unwinds its job (removing its scratch directory) unhurried: nobody waits for it, and
# once, on a machine running two test suites at once, 3 s cut that short (its directory left for the next start).
ORPHAN_GRACE_SECONDS = 10.0
NODE_DIED = (
    "prunetui: error: the Ray node this process ran on died, and Ray ended the process with it; the results that "
    "came back before are kept (a sweep resumes when run again)"
)


class JobError(PrunetuiError):
    """A job failed for a reason it can say in one line."""


@dataclass(frozen=True, slots=True)
class JobContext:
    stop: threading.Event
    device: str = ""  # "" : the job's own; else cpu, cuda or mps (a worker pinned to cuda:N sees it as cuda)


JobFunction = Callable[[Any, JobContext], Generator[Any, None, Any]]


@dataclass(frozen=True, slots=True)
class Job:
    key: str  # names the job in its outcomes and messages
    function: JobFunction  # module-level, so workers can import it
    argument: Any


@dataclass(frozen=True, slots=True)
class JobStarted:
    """A job went to a worker process (`where`: "worker process PID") or to Ray; jobs in this process say so by
    their progress instead."""

    key: str
    where: str


@dataclass(frozen=True, slots=True)
class JobProgress:
    key: str
    event: Any


@dataclass(frozen=True, slots=True)
class JobDone:
    key: str
    result: Any


@dataclass(frozen=True, slots=True)
class JobFailed:
    key: str
    message: str


Outcome = JobStarted | JobProgress | JobDone | JobFailed


@dataclass(frozen=True, slots=True)
class Parallel:
    """How a batch of jobs runs: `jobs` at once (1: in this process), `threads` CPU threads each (0: an equal
    share of the cores; on Ray, 1), on `devices` (worker i takes devices[i % len]; empty: each job's own), or on
    Ray (`ray` None: no; "": ray.init()'s default, a running local instance or a new one; else a cluster address,
    as many tasks at once as it has CPUs)."""

    jobs: int = 1
    threads: int = 0
    devices: tuple[str, ...] = ()
    ray: str | None = None

    def validate(self) -> Parallel:
        if self.ray is not None and importlib.util.find_spec("ray") is None:
            raise ConfigError("--ray needs Ray: pip install 'prunetui[ray]'")
        if not 1 <= self.jobs <= 1024:
            raise ConfigError(f"invalid --jobs: {self.jobs} is not in 1–1024")
        if not 0 <= self.threads <= 1024:
            raise ConfigError(f"invalid --threads: {self.threads} is not in 1–1024")
        for device in self.devices:
            parse_device(device)
        return self

    @property
    def in_process(self) -> bool:
        """Whether the jobs run one after another in this process (no workers, no Ray)."""
        return self.jobs == 1 and not self.devices and self.ray is None

    def capped(self, count: int) -> tuple[Parallel, str]:
        """This Parallel with `jobs` at most `count` (the jobs there are to run) and at most the CPU cores here (the
        GPUs, when `devices` names some): a worker more finds nothing to do, or takes memory and a core from the
        others. With a one-line note when `jobs` was lowered, else "". Ray places its tasks itself: unchanged."""
        if self.ray is not None:
            return self, ""
        gpus = {device for device in self.devices if parse_device(device)[0] != "cpu"}
        limits = [(count, f"{count} to run"), (len(gpus), f"{len(gpus)} GPU{'s' * (len(gpus) != 1)} in --devices")]
        if not gpus:
            cores = os.cpu_count() or 1
            limits[1] = (cores, f"{cores} CPU core{'s' * (cores != 1)} here")
        limit, why = min(limits, key=lambda item: item[0])
        if self.jobs <= max(1, limit):
            return self, ""
        capped = dataclasses.replace(self, jobs=max(1, limit))
        return capped, f"note: --jobs {self.jobs} starts {capped.jobs} worker{'s' * (capped.jobs != 1)} ({why})"

    def threads_per_job(self) -> int:
        return self.threads or max(1, (os.cpu_count() or 1) // self.jobs)


def parse_jobs(text: str, devices: Sequence[str] = ()) -> int:
    """--jobs N, or auto: one job per GPU listed in `devices`, else one per CPU core."""
    if text == "auto":
        gpus = [device for device in devices if parse_device(device)[0] == "cuda"]
        return len(gpus) or os.cpu_count() or 1
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"invalid --jobs: {text!r} is not a number or auto") from None


def worker_devices(devices: Sequence[str], workers: int) -> list[str]:
    """The device of each worker: round robin over `devices`, so N jobs on N GPUs put one on each, and more jobs
    than GPUs share them evenly; "" for every worker when no devices are given."""
    return [devices[index % len(devices)] if devices else "" for index in range(workers)]


def run_job(job: Job, context: JobContext) -> tuple[str, Any]:
    """Run a job to its end, dropping its progress: ("done", result) or ("failed", message)."""
    generator = job.function(job.argument, context)
    try:
        while True:
            next(generator)
    except StopIteration as end:
        return "done", end.value
    except PrunetuiError as error:
        return "failed", str(error)
    except Exception as error:  # a bug or an environment problem in the job: its message, not the worker's end
        return "failed", unexpected(error)


class Executor:
    """Runs submitted jobs; see the module's docstring."""

    def __init__(self) -> None:
        self._pending: deque[Job] = deque()
        self._cancelled = threading.Event()

    def submit(self, job: Job) -> None:
        self._pending.append(job)

    def as_completed(self) -> Iterator[Outcome]:
        """Outcomes as they happen, until every submitted job has ended; after a cancel, nothing more but the
        result of a job in this process that ended with one (the serial executor's; workers are ended at once)."""
        raise NotImplementedError

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def close(self) -> None:
        """Let go of workers; jobs still running are cancelled."""
        self.cancel()

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SerialExecutor(Executor):
    """One job after another in this process, progress included, with `threads` torch threads (0: as set)."""

    def __init__(self, threads: int = 0) -> None:
        super().__init__()
        self._threads = threads

    def as_completed(self) -> Iterator[Outcome]:
        import torch

        previous = torch.get_num_threads()
        context = JobContext(self._cancelled)
        try:
            torch.set_num_threads(self._threads or previous)
            while self._pending and not self.cancelled:
                job = self._pending.popleft()
                try:
                    outcome: Outcome = JobDone(job.key, (yield from _forward(job, context)))
                except PrunetuiError as error:
                    outcome = JobFailed(job.key, str(error))
                except Exception as error:  # as run_job
                    outcome = JobFailed(job.key, unexpected(error))
                if self.cancelled and not isinstance(outcome, JobDone):
                    return
                yield outcome  # after a cancel, a result the job still handed back (it stopped between batches)
        finally:
            torch.set_num_threads(previous)


def _forward(job: Job, context: JobContext) -> Generator[JobProgress, None, Any]:
    generator = job.function(job.argument, context)
    while True:
        try:
            event = next(generator)
        except StopIteration as end:
            return end.value
        yield JobProgress(job.key, event)


@dataclass(eq=False)
class _Worker:
    process: BaseProcess
    connection: Connection
    job: Job | None = None


class ProcessExecutor(Executor):
    """Up to `workers` jobs at once, each in a worker process of its own (kept for the next job)."""

    def __init__(self, workers: int, threads: int, devices: Sequence[str] = ()) -> None:
        import multiprocessing  # here: every command's start would pay for it

        super().__init__()
        self._context: ForkServerContext | SpawnContext = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(list(FORK_SERVER_PRELOAD))
        self._spawn = multiprocessing.get_context("spawn")
        self._devices = worker_devices(devices, workers)
        self._threads = threads
        self._workers: list[_Worker | None] = [None] * workers
        # cancel() from another thread, or from a Ctrl+C handler in this one, ends the workers the loop may be starting
        self._lock = threading.RLock()
        self._deaths: dict[str, int] = {}  # job key -> workers that died running it

    def pids(self) -> list[int]:
        """The worker processes' ids (started ones only)."""
        with self._lock:
            return [worker.process.pid for worker in self._workers if worker and worker.process.pid is not None]

    def as_completed(self) -> Iterator[Outcome]:
        from multiprocessing.connection import wait

        try:
            while not self.cancelled and (self._pending or self._busy()):
                yield from self._dispatch()
                busy = self._busy()
                wait([w.connection for w in busy] + [w.process.sentinel for w in busy], timeout=POLL_SECONDS)
                for worker in busy:
                    outcome = self._collect(worker)
                    if outcome is not None and not self.cancelled:
                        yield outcome
        finally:
            if self.cancelled:
                self._end_workers()

    def cancel(self) -> None:
        """Terminate every worker now, without waiting: a UI thread may call it. Whoever iterates as_completed,
        or close(), reaps them."""
        super().cancel()
        for process in self._processes():
            if process.is_alive():
                process.terminate()

    def close(self) -> None:
        super().close()
        self._end_workers()
        with self._lock:
            for worker in self._workers:
                if worker is not None:
                    worker.connection.close()

    def _processes(self) -> list[BaseProcess]:
        with self._lock:
            return [worker.process for worker in self._workers if worker is not None]

    def _busy(self) -> list[_Worker]:
        return [worker for worker in self._workers if worker is not None and worker.job is not None]

    def _dispatch(self) -> Iterator[JobStarted]:
        with self._lock:
            if self.cancelled:
                return
            for index, worker in enumerate(self._workers):  # all at once: they import torch while the first job runs
                if worker is None:
                    self._workers[index] = self._start(self._devices[index])
        for worker in self._workers:
            if worker is not None and worker.job is None and self._pending:
                worker.job = self._pending.popleft()
                with contextlib.suppress(OSError):  # a worker that died already: _collect finds it so
                    _send(worker.connection, worker.job)
                yield JobStarted(worker.job.key, f"worker process {worker.process.pid}")

    def _start(self, device: str) -> _Worker:
        _start_resource_tracker()
        ours, theirs = self._context.Pipe()
        arguments = (theirs, self._threads, device, os.getpid(), dict(os.environ))
        process = self._context.Process(target=_worker_main, args=arguments, daemon=True)
        try:
            with _hangup_blocked():
                process.start()
        except OSError:
            # The fork server listens on a Unix socket under TMPDIR (before Python 3.12), whose path may pass the
            # 108-byte limit: spawn, slower, needs no socket.
            if self._context is self._spawn:
                raise
            self._context = self._spawn
            process = self._context.Process(target=_worker_main, args=arguments, daemon=True)
            process.start()
        theirs.close()
        return _Worker(process, ours)

    def _collect(self, worker: _Worker) -> Outcome | None:
        """The outcome of the worker's job if it has one: done, failed, or its worker died (retried once)."""
        assert worker.job is not None
        job = worker.job
        try:
            if not worker.connection.poll():
                if worker.process.is_alive():
                    return None
                raise EOFError
            status, value = pickle.loads(worker.connection.recv_bytes())
        except (EOFError, OSError):
            return self._died(worker, job)
        worker.job = None
        return JobDone(job.key, value) if status == "done" else JobFailed(job.key, value)

    def _died(self, worker: _Worker, job: Job) -> Outcome | None:
        worker.process.join(KILL_AFTER_SECONDS)
        with self._lock:
            index = self._workers.index(worker)
            self._workers[index] = None  # a new worker takes its place at the next dispatch
        worker.connection.close()
        remove_orphans()  # the scratch directory of its job, if it had one
        if self.cancelled:
            return None
        self._deaths[job.key] = self._deaths.get(job.key, 0) + 1
        if self._deaths[job.key] <= RETRIES:
            self._pending.appendleft(job)
            return None
        return JobFailed(job.key, f"its worker process died twice ({_exit_reason(worker.process.exitcode)})")

    def _end_workers(self) -> None:
        """Terminate every worker, kill those that linger, and reap them all: no process outlives a cancel, and
        no scratch directory outlives its process (a killed worker cannot remove its own)."""
        processes = self._processes()
        for process in processes:
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + KILL_AFTER_SECONDS
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        remove_orphans()  # a terminated worker may have been stopped while it removed its own


def _start_resource_tracker() -> None:
    """multiprocessing's resource tracker, which the first worker starts, is handed sys.stderr's file descriptor:
    in the app, Textual's capture of stderr has none (-1), and the start would fail. It gets the real stderr."""
    from multiprocessing import resource_tracker

    captured = sys.stderr
    sys.stderr = sys.__stderr__
    try:
        resource_tracker.ensure_running()
    finally:
        sys.stderr = captured


@contextlib.contextmanager
def _hangup_blocked() -> Iterator[None]:
    """SIGHUP blocked in this thread while a worker starts, so that the fork server (started by the first worker)
    inherits the block: a closed terminal's SIGHUP reaches the whole process group, and a fork server it killed
    would report its workers dead at once, before they unwound their jobs and removed their scratch directories.
    Workers ignore SIGHUP anyway; this thread gets any SIGHUP that came meanwhile once it is unblocked."""
    if not hasattr(signal, "pthread_sigmask"):  # not POSIX
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


def _worker_main(connection: Connection, threads: int, device: str, parent: int, environment: dict[str, str]) -> None:
    """A worker process: run the jobs that arrive, send back each outcome, until the connection closes."""
    # The fork server was started with the environment of its time: the worker takes its caller's of now.
    os.environ.clear()
    os.environ.update(environment)
    # Ctrl+C and a closed terminal's SIGHUP reach the whole process group: the caller stops us. SIGTERM (the
    # caller's terminate(), or the caller gone) unwinds the job, so its scratch directory is removed.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit_once_on_terminate())
    name, index = parse_device(device) if device else ("", "")
    if index:
        os.environ["CUDA_VISIBLE_DEVICES"] = index  # read when CUDA starts, at the first job's first tensor
    os.environ["OMP_NUM_THREADS"] = str(threads)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    import torch

    torch.set_num_threads(threads)
    context = JobContext(threading.Event(), name)  # never set: a cancel terminates the process
    while True:
        try:
            _send(connection, run_job(pickle.loads(connection.recv_bytes()), context))
        except (EOFError, OSError):  # the caller has gone (or closed our pipe): nobody to tell, nothing to say
            return


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):  # gone, or its id taken by another user's process
        return False
    return True


def _send(connection: Connection, value: Any) -> None:
    """Send `value` pickled as plain pickle does, tensors by value. multiprocessing's own pickler would hand
    tensors over through shared memory, whose file descriptors go by a Unix socket under TMPDIR: with a TMPDIR
    path over about 80 characters (pytest's temporary directories in pytest-xdist's workers, say) the socket's
    path passes the 108-byte limit and every send fails (OSError), and a small /dev/shm (Docker's 64 MB) fails
    it too."""
    connection.send_bytes(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))


def _exit_once_on_terminate() -> Callable[[int, FrameType | None], None]:
    """A worker's SIGTERM handler: the first SIGTERM (a cancel's terminate()) ends the worker, unwinding its job;
    later ones (close()'s terminate(), soon after) must not strike the exit's own clean-up, and pass. It stays
    installed: a handler that set SIG_IGN raced a SIGTERM arriving as it did so, which CPython then caught but
    found no handler for, and printed as a traceback ("Signal 15 ignored due to race condition", once in CI)."""
    exiting = False

    def exit_once(signum: int, frame: FrameType | None) -> None:
        nonlocal exiting
        if not exiting:
            exiting = True
            raise SystemExit(128 + signum)  # an int: multiprocessing exits with it quietly, no traceback

    return exit_once


def _exit_with_parent(parent: int) -> None:
    """A caller killed without a word cannot end its workers: they end themselves when it is gone, as if
    terminated (cleaning up), and at once if that takes too long. The caller is not the worker's parent (the
    fork server is): it is watched through a pidfd where Linux has them, else by asking after it each second."""
    try:
        watched = os.pidfd_open(parent)
    except (AttributeError, OSError):  # not Linux, or before 5.3
        while _alive(parent):
            time.sleep(1.0)
    else:
        select.select([watched], [], [])  # readable once the caller has exited
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(ORPHAN_GRACE_SECONDS)
    os._exit(1)


class RayExecutor(Executor):
    """Each job a Ray task on a local Ray instance or a cluster; results come back to this process."""

    def __init__(
        self, address: str, threads: int, devices: Sequence[str] = (), runtime_env: dict[str, Any] | None = None
    ) -> None:
        """`runtime_env`: what Ray ships with the tasks (the user's network code: `user_code.ray_runtime_env`). Ray
        ships local files only for a whole job: when this executor starts Ray (connecting to a cluster or starting
        a local instance); a caller that started Ray itself ships what it chose."""
        super().__init__()
        try:
            import ray
        except ImportError:
            raise ConfigError("--ray needs Ray: pip install 'prunetui[ray]'") from None
        self._ray = ray
        self._owns = not ray.is_initialized()
        if self._owns:
            try:
                ray.init(
                    address=address or None,
                    include_dashboard=False,
                    logging_level=logging.WARNING,
                    runtime_env=runtime_env or None,
                )
            except (ConnectionError, RuntimeError, ValueError) as error:
                raise PrunetuiError(
                    f"cannot reach the Ray cluster at {address or 'its default address'}: {error}"
                ) from None
        gpus = 1 if any(parse_device(device)[0] == "cuda" for device in devices) else 0
        self._device = "cuda" if gpus else ""
        self._task = ray.remote(_ray_job).options(num_cpus=threads, num_gpus=gpus, max_retries=RETRIES)
        self._threads = threads
        self._running: dict[Any, Job] = {}
        self._last_words = LastWords(NODE_DIED)  # Ray ends this process at once if its node dies

    def as_completed(self) -> Iterator[Outcome]:
        ray = self._ray
        try:
            while not self.cancelled and (self._pending or self._running):
                while self._pending:
                    job = self._pending.popleft()
                    self._running[self._task.remote(job, self._threads, self._device)] = job
                    yield JobStarted(job.key, "a Ray task")
                ready, _ = ray.wait(list(self._running), num_returns=1, timeout=POLL_SECONDS)
                for ref in ready:
                    job = self._running.pop(ref)
                    try:
                        status, value = ray.get(ref)
                    except ray.exceptions.RayError as error:  # the task's worker or node died, twice
                        status, value = "failed", f"its Ray task failed ({type(error).__name__})"
                    if not self.cancelled:
                        yield JobDone(job.key, value) if status == "done" else JobFailed(job.key, value)
        finally:
            if self.cancelled:
                self._cancel_tasks()

    def cancel(self) -> None:
        super().cancel()
        self._cancel_tasks()

    def close(self) -> None:
        try:
            super().close()
            if self._owns:
                self._ray.shutdown()
        finally:
            self._last_words.dismiss()

    def _cancel_tasks(self) -> None:
        for ref in list(self._running):
            self._ray.cancel(ref, force=True)


def _ray_job(job: Job, threads: int, device: str) -> tuple[str, Any]:
    import torch

    torch.set_num_threads(threads)
    return run_job(job, JobContext(threading.Event(), device))


def make_executor(parallel: Parallel, models: Sequence[str] = ()) -> Executor:
    """The executor `parallel` asks for, for jobs that build `models` (the --model of their configs: Ray ships the
    user's code among them with each task)."""
    remove_orphans()  # scratch directories left by processes that were killed
    if parallel.ray is not None:  # a task per CPU by default: Ray packs tasks onto the cluster's cores
        return RayExecutor(parallel.ray, parallel.threads or 1, parallel.devices, ray_runtime_env(models))
    if parallel.in_process:
        return SerialExecutor(parallel.threads)
    return ProcessExecutor(parallel.jobs, parallel.threads_per_job(), parallel.devices)
