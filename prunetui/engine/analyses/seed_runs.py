"""A seed group's runs as executor jobs (`prunetui run --seeds`), each recorded as `prunetui run` records one. A job
that runs in this process records in place, in its final directory under the runs root, so a kill keeps what it
saved; one in a worker process or a Ray task records in a temporary directory where it runs, and its files come
back to be written under the runs root (`runs.land_run`). Unlike a sweep's point, a run that stops or fails is
still a run: the job hands it back with its last event."""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from prunetui.engine.analyses.executor import JobContext
from prunetui.engine.analyses.sweep_jobs import DataPlace, experiment_for, forward, saved_files
from prunetui.engine.core.config import ExperimentConfig
from prunetui.engine.core.events import Event, Exported
from prunetui.engine.storage.recording import record_claimed
from prunetui.engine.storage.run_lock import RunLock
from prunetui.engine.storage.runs import MODEL_FILE, claim_run_dir
from prunetui.engine.storage.scratch import scratch_directory


@dataclass(frozen=True, slots=True)
class SeedJob:
    config: ExperimentConfig  # the run's config, its seed included
    group: str  # written into the run's summary.json
    place: DataPlace  # where it finds the data set
    extra: dict[str, Any] | None = None  # more for the summary (`record_claimed`), e.g. the preset's
    # For a job run in this process only: claims its final run directory, where it records in place. None: it
    # records in a temporary directory and hands the files back (a callable does not cross to a worker).
    claim: Callable[[], RunLock] | None = None


@dataclass(frozen=True, slots=True)
class SeedRun:
    last: Event  # Finished, Stopped or Failed
    run_files: dict[str, bytes]  # config.toml, history.csv, summary.json, model.pt, … as recorded; {} in place
    directory: Path | None = None  # where it was recorded in place (`SeedJob.claim`)


def run_seed(job: SeedJob, context: JobContext) -> Generator[Event, None, SeedRun]:
    """Run and record one seed's experiment, forwarding its events; stopped between batches once cancelled."""
    experiment = experiment_for(job.config, job.place, context)
    if job.claim is not None:
        lock = job.claim()
        recorded = record_claimed(experiment, lock, group=job.group, extra=job.extra)
        last = yield from forward(recorded, experiment, context)
        return SeedRun(last, {}, lock.directory)
    with scratch_directory("prunetui-seed-") as temporary:
        directory = temporary / "run"
        recorded = record_claimed(experiment, claim_run_dir(directory), group=job.group, extra=job.extra)
        # The model is saved here for now; the caller names the directory it lands in.
        events = (replace(event, path=MODEL_FILE) if isinstance(event, Exported) else event for event in recorded)
        last = yield from forward(events, experiment, context)
        return SeedRun(last, saved_files(directory))
