"""Seed groups: one experiment once per seed, each a run of its own (its own directory, lock and status) in one
group (`storage.groups`), told as mean ± std (n) over the runs that finished. `prunetui run --seeds` and the
app's Seeds field run them the same way.

The seeds are jobs of the series' executor: one after another in this process by default, each recorded in place
in its run directory under the runs root, made just before it starts; with workers or Ray side by side, each
recorded where it runs and landed under the runs root as it ends. A stop ends the group: in this process the
seed that runs is stopped between batches and saved as stopped, and the seeds after it do not start; workers
are ended at once, and the seeds they ran are not kept. A seed that fails before training (no data set, say)
ends the group: the others would fail the same way.

    group = SeedGroup(configs, runs_root(), Parallel(jobs=2))
    for event in group.run():   # SeedGroupStarted, Progress (stage "seed N")…, SeedEnded…, SeedGroupEnded
        ...
    group.stop()                # from any thread
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from prunetui.engine.analyses import Progress, SeedEnded, SeedGroupEnded, SeedGroupEvent, SeedGroupStarted, seed_stage
from prunetui.engine.analyses.executor import Job, JobFailed, Parallel
from prunetui.engine.analyses.seed_runs import SeedJob, SeedRun, run_seed
from prunetui.engine.analyses.series import SERIAL, ExperimentSeries, Interrupted
from prunetui.engine.analyses.sweep_jobs import DataPlace
from prunetui.engine.core.config import ExperimentConfig
from prunetui.engine.core.errors import PrunetuiError, unexpected
from prunetui.engine.core.events import Failed, Stopped
from prunetui.engine.core.presets import Preset
from prunetui.engine.storage.groups import RunGroup, group_name
from prunetui.engine.storage.run_lock import RunLock
from prunetui.engine.storage.runs import claim_new_run_dir, discard_failed_start, discard_unused, read_run


class SeedGroup(ExperimentSeries):
    def __init__(
        self,
        configs: Sequence[ExperimentConfig],
        root: Path,
        parallel: Parallel = SERIAL,
        preset: Preset | None = None,
        place: DataPlace | None = None,
    ) -> None:
        """`configs`: the experiment with each seed, in order; their runs go under `root`, each recorded as one
        from `preset` when given."""
        # A network file and --weights by absolute paths: worker processes run in other directories.
        self.configs = {seed_stage(config.seed): config.with_absolute_paths() for config in configs}
        super().__init__(parallel, place, tuple(dict.fromkeys(config.model for config in self.configs.values())))
        self.root = root
        self.preset = preset
        self.started: set[int] = set()  # seeds whose run began
        self._ends: dict[int, SeedEnded] = {}
        self._directories: list[Path] = []  # the runs kept, in the order they ended
        self._in_place: dict[str, Path] = {}  # job key -> the run directory it records in, for jobs run here

    def run(self) -> Iterator[SeedGroupEvent]:
        """Always ends with SeedGroupEnded."""
        message = ""
        try:
            yield from self._run()
        except Interrupted:  # stopped before its executor started
            pass
        except PrunetuiError as error:  # no directory for a seed's run
            message = str(error)
        except Exception as error:  # a bug or an environment problem: still a message, never a crash
            message = unexpected(error)
        yield self._ended(message)

    def _run(self) -> Iterator[SeedGroupEvent]:
        configs = list(self.configs.values())
        # Names the group, so it is made (locked, as every run directory is from its start) before any job starts.
        first_lock = claim_new_run_dir(self.root, configs[0])
        first = first_lock.directory
        name = group_name(first)
        yield SeedGroupStarted(name, configs[0], tuple(config.seed for config in configs))
        in_place = self.parallel.in_process  # one at a time here: each seed's directory is made as it starts
        try:
            with self.start_executor() as executor:
                for config in configs[:1] if in_place else configs:
                    executor.submit(self._job(config, name, first_lock if in_place else None))
                for outcome in self.outcomes(executor):
                    if isinstance(outcome, Progress):
                        self.started.add(self.configs[outcome.stage].seed)
                        yield outcome
                        continue
                    config = self.configs[outcome.key]
                    if isinstance(outcome, JobFailed):  # a worker that died twice, say: no run came back
                        directory = self._in_place.get(outcome.key)
                        if directory is not None and directory.is_dir() and any(directory.iterdir()):
                            self._directories.append(directory)  # what it recorded here, in place, stays
                        end = SeedEnded(config.seed, "", Failed(outcome.message, None))
                    else:
                        end = self._keep(outcome.key, outcome.result, first_lock)
                    self._ends[config.seed] = end
                    yield end
                    if isinstance(end.last, Failed) and end.last.summary is None:  # the others would fail the same
                        executor.cancel()
                    elif in_place and len(self._ends) < len(configs) and not self.stopped:
                        following = configs[len(self._ends)]
                        executor.submit(self._job(following, name, claim_new_run_dir(self.root, following)))
        finally:
            if first not in self._directories:  # its seed did not come back (or no executor started)
                discard_unused(first_lock)
            first_lock.release()

    def _job(self, config: ExperimentConfig, group: str, lock: RunLock | None) -> Job:
        """A seed's job; given the `lock` of its run directory, it records its run there, in place."""
        key, extra = seed_stage(config.seed), self.preset.summary_fields(config) if self.preset else None
        if lock is not None:
            self._in_place[key] = lock.directory
        return Job(key, run_seed, SeedJob(config, group, self.place, extra, lock))

    def _keep(self, key: str, seed_run: SeedRun, first: RunLock) -> SeedEnded:
        """A seed's run, landed when it was recorded elsewhere (the first to come back in the group's first
        directory); one that failed before training is removed, as `prunetui run` removes one."""
        config = self.configs[key]
        directory = self._in_place.get(key)
        if directory is None:
            lock = first if first.directory not in self._directories else claim_new_run_dir(self.root, config)
            directory = lock.directory
            self.land(lock, seed_run.run_files)
        self._directories.append(directory)
        discarded = False
        with contextlib.suppress(PrunetuiError):  # a start that cannot be removed is kept, and read as it is
            discarded = discard_failed_start(directory, seed_run.last)
        return SeedEnded(config.seed, str(directory), seed_run.last, discarded)

    def _ended(self, message: str) -> SeedGroupEnded:
        lasts = [end.last for end in self._ends.values()]
        if self.stopped or any(isinstance(last, Stopped) for last in lasts):
            status = "stopped"
        elif message or any(isinstance(last, Failed) for last in lasts):
            status = "failed"
        else:
            status = "finished"
        runs = tuple(read_run(directory) for directory in self._directories if directory.exists())
        left = [config.seed for config in self.configs.values() if config.seed not in self._ends]
        return SeedGroupEnded(
            status,
            message,
            RunGroup(runs[0].group, runs) if runs else None,
            tuple(seed for seed in left if seed in self.started),
            tuple(seed for seed in left if seed not in self.started),
        )
