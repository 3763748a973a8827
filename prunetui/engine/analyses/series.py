"""A series of experiments (a seed group's runs, a sweep's points, a sensitivity analysis's evaluations) run as
jobs of one executor (`executor`: in this process, in worker processes, or on Ray), with one `stop()` that
reaches every job, and one event stream: each job's experiment events as `Progress`, named by the job.

`SeedGroup` (`seed_group`), `Sweep` (`sweep`) and `Sensitivity` (`sensitivity`) are series; the jobs they run are
module-level functions (`sweep_jobs`, `seed_runs`, `sensitivity_jobs`) so that a worker process or a Ray task runs
them as well as this process. One job, `sweep_jobs.train_dense`, trains every dense model they need; a run recorded
elsewhere lands under its run directory here (`land`).

    for outcome in series.outcomes(executor):   # Progress for what the jobs say, JobDone / JobFailed at their end
        ...
    series.stop()                               # from any thread: every executor it started is cancelled
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator
from pathlib import Path

from prunetui.engine.analyses import RUNNING_IN, Progress, dense_config
from prunetui.engine.analyses.executor import (
    Executor,
    Job,
    JobDone,
    JobFailed,
    JobProgress,
    JobStarted,
    Parallel,
    SerialExecutor,
    make_executor,
)
from prunetui.engine.analyses.sweep_jobs import DataPlace, DenseJob, State, train_dense
from prunetui.engine.core.config import ExperimentConfig
from prunetui.engine.core.events import Status
from prunetui.engine.storage.run_lock import RunLock
from prunetui.engine.storage.runs import claim_run_dir, land_run

SERIAL = Parallel()


class Interrupted(Exception):
    """The series ends early: status "stopped" or "failed", with a one-line message."""

    def __init__(self, status: str, message: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ExperimentSeries:
    """Base of the engine's series: where their jobs run (`parallel`), where the jobs find the data (`place`),
    and the executors a stop cancels."""

    def __init__(
        self, parallel: Parallel = SERIAL, place: DataPlace | None = None, models: tuple[str, ...] = ()
    ) -> None:
        """`models`: the networks the jobs build (--model), whose code Ray ships with them."""
        self.parallel = parallel.validate()
        self.models = models
        self.place = place or DataPlace()
        self._stopped = threading.Event()
        self._lock = threading.RLock()  # stop() may come from a Ctrl+C handler in the thread that holds it
        self._executors: list[Executor] = []

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def stop(self) -> None:
        """Ask the series to end soon, cancelling every job (in-process ones between batches). Any thread."""
        self._stopped.set()
        with self._lock:
            executors = list(self._executors)
        for executor in executors:
            executor.cancel()

    def check_stop(self) -> None:
        if self.stopped:
            raise Interrupted("stopped")

    def start_executor(self, executor: Executor | None = None) -> Executor:
        """`executor`, or the one `parallel` asks for, which stop() now cancels too; Interrupted once stopped."""
        executor = executor or make_executor(self.parallel, self.models)  # outside the lock: Ray takes seconds
        with self._lock:
            self._executors.append(executor)
        if self.stopped:
            executor.close()
            raise Interrupted("stopped")
        return executor

    def outcomes(self, executor: Executor) -> Iterator[Progress | JobDone | JobFailed]:
        """The executor's outcomes as the series tells them: a job's events as Progress named by the job (a job
        that went elsewhere says where it runs), then its end."""
        for outcome in executor.as_completed():
            if isinstance(outcome, JobProgress):
                yield Progress(outcome.key, outcome.event)
            elif isinstance(outcome, JobStarted):
                yield Progress(outcome.key, Status(RUNNING_IN + outcome.where))
            else:
                yield outcome

    def land(self, directory: Path | RunLock, files: dict[str, bytes]) -> None:
        """Write a run recorded where its job ran (a worker process, a Ray task) into `directory`, claimed as a
        run directory first (created, locked while it is written; `runs.land_run`), or claimed already."""
        land_run(directory if isinstance(directory, RunLock) else claim_run_dir(directory), files)

    def train_dense(self, config: ExperimentConfig, stage: str = "dense model") -> Generator[Progress, None, State]:
        """Train `config`'s model without pruning, in this process (every core, or `parallel.threads`); its weights,
        on the CPU. A stop or a failure ends the series with Interrupted."""
        with self.start_executor(SerialExecutor(self.parallel.threads)) as executor:
            executor.submit(Job(stage, train_dense, DenseJob(dense_config(config), self.place)))
            for outcome in self.outcomes(executor):
                if isinstance(outcome, Progress):
                    yield outcome
                elif isinstance(outcome, JobDone):
                    return outcome.result  # type: ignore[no-any-return]
                else:
                    raise Interrupted("failed", f"{stage}: {outcome.message}")
        raise Interrupted("stopped")  # cancelled: the job handed nothing back
