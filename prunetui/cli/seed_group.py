"""`prunetui run --seeds 0,1,2`: the experiment once per seed, each a run of its own (its own directory, lock and
status) in one seed group (`engine.storage.groups`), then the group's mean ± std (n).

The seeds are jobs of the sweeps' executor (`engine.analyses.executor`): one after another in this process by
default, shown live as `prunetui run` shows a run; with --jobs, --devices or --ray side by side, each shown as it
ends, in the order they end. Each job records its run in a temporary directory and hands its files back; they land
under the runs root (`runs.land_run`). Ctrl+C stops the group: in this process the seed that runs is stopped
between batches and saved as stopped, and the seeds after it do not start; workers are ended at once, and the
seeds they ran are not kept."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from prunetui.cli.options import config_from_args, fail, parallel_from_args
from prunetui.cli.run_command import EXIT_CODES, closing_line, show_run, stop_on_interrupt
from prunetui.describe import before_pruning, percent_spread, seeds_text, times_spread
from prunetui.engine.analyses.executor import (
    Executor,
    Job,
    JobDone,
    JobFailed,
    JobProgress,
    JobStarted,
    Outcome,
    Parallel,
    make_executor,
)
from prunetui.engine.core.config import ExperimentConfig
from prunetui.engine.core.errors import ConfigError, PrunetuiError
from prunetui.engine.core.events import Event, Failed, Stopped
from prunetui.engine.core.presets import Preset, load_preset
from prunetui.engine.core.seed_stats import parse_seeds
from prunetui.engine.storage.groups import RunGroup, group_name
from prunetui.engine.storage.runs import claim_run_dir, land_run, new_run_dir, read_run, runs_root

if TYPE_CHECKING:
    from prunetui.engine.analyses.seed_runs import SeedRun


def seeds_command(args: argparse.Namespace, console: Console) -> int:
    if args.seed is not None:
        return fail("--seeds and --seed conflict: --seeds runs the experiment once with each seed it names")
    if args.out is not None:
        return fail("--out is one run's directory, and --seeds saves one run per seed: choose where with --runs-dir")
    try:
        base = config_from_args(args)
        configs = [base.replace(seed=seed).validate() for seed in parse_seeds(args.seeds)]
        parallel = parallel_from_args(args)
    except ConfigError as error:
        return fail(str(error))
    console.print("importing torch …", highlight=False)
    preset = load_preset(args.preset) if args.preset else None
    seeds = SeedGroup(configs, runs_root(args.runs_dir), parallel, preset)
    then = "; the seeds after this one will not start" if parallel.in_process else "; the seeds running are not kept"
    directories: list[Path] = []
    ends: dict[int, Event] = {}
    with stop_on_interrupt(seeds.stop, console, then=then):
        try:
            for config, directory, last in seeds.runs(console):
                ends[config.seed] = last
                if directory is None:  # the job itself failed (its worker died, say): no run to keep
                    assert isinstance(last, Failed)
                    console.print(f"seed {config.seed}: failed: {last.message}", style="red", markup=False)
                else:
                    console.print(f"seed {config.seed}: {closing_line(directory, last)}", markup=False)
                    directories.append(directory)
                if isinstance(last, Failed) and last.summary is None:  # the others would fail to start the same way
                    seeds.end()
        except PrunetuiError as error:  # no directory for a seed's run
            fail(str(error), code=1)
            ends[-1] = Failed(str(error), None)
    left = [config.seed for config in configs if config.seed not in ends]
    cut = [seed for seed in left if seed in seeds.started]
    not_started = [seed for seed in left if seed not in seeds.started]
    if cut:
        console.print(f"the group ends here: {seeds_text(cut)} stopped before the end, not kept", style="yellow")
    if not_started:
        console.print(f"the group ends here: {seeds_text(not_started)} not started", style="yellow")
    runs = tuple(read_run(directory) for directory in directories if directory.exists())
    group = RunGroup(runs[0].group, runs) if runs else None
    if group and group.averaged:
        console.print(group_table(group, base))
    else:
        console.print("no seed finished, so there is no mean to give")
    # Stopped (130) outranks failed (1), which outranks finished; stopped before the first seed started: 130.
    codes = [EXIT_CODES[type(end)] for end in ends.values()] + ([EXIT_CODES[Stopped]] if seeds.stopped else [])
    return max(codes, default=EXIT_CODES[Stopped])


class SeedGroup:
    """The runs of a group as executor jobs, each recorded as `prunetui run` records one. `runs()` yields each
    one's config, directory (None if its job failed without a run) and last event as it ends, and `stop()` (Ctrl+C)
    or `end()` (a seed that cannot start) ends them all."""

    def __init__(
        self, configs: Sequence[ExperimentConfig], root: Path, parallel: Parallel, preset: Preset | None = None
    ) -> None:
        self.configs = {f"seed {config.seed}": config for config in configs}
        self.root = root
        self.parallel = parallel
        self.preset = preset  # each run is recorded and shown as one from it
        self.stopped = False
        self.started: set[int] = set()
        self.executor: Executor | None = None

    def stop(self) -> None:
        """End the group: the run that goes here stops between batches (keeping its results), workers at once."""
        self.stopped = True
        self.end()

    def end(self) -> None:
        if self.executor is not None:
            self.executor.cancel()

    def runs(self, console: Console) -> Iterator[tuple[ExperimentConfig, Path | None, Event]]:
        from prunetui.engine.analyses.seed_runs import DataPlace, SeedJob, run_seed  # imports torch

        configs = list(self.configs.values())
        first = new_run_dir(self.root, configs[0])  # names the group, so it is made before any job starts
        name = group_name(first)
        kept = False
        try:
            with make_executor(self.parallel) as executor:
                self.executor = executor
                if self.stopped:  # Ctrl+C while Ray started
                    executor.cancel()
                for config in configs:
                    extra = self.preset.summary_fields(config) if self.preset else None
                    executor.submit(Job(f"seed {config.seed}", run_seed, SeedJob(config, name, DataPlace(), extra)))
                for outcome in self._outcomes(executor, console):
                    config = self.configs[outcome.key]
                    if isinstance(outcome, JobFailed):
                        yield config, None, Failed(outcome.message, None)
                        continue
                    seed_run: SeedRun = outcome.result
                    directory = first if config is configs[0] else new_run_dir(self.root, config)
                    kept = kept or directory == first
                    land_run(claim_run_dir(directory), seed_run.run_files)
                    yield config, directory, seed_run.last
        finally:
            if not kept:
                with contextlib.suppress(OSError):
                    first.rmdir()  # empty: its seed did not come back (or no executor started)

    def _outcomes(self, executor: Executor, console: Console) -> Iterator[JobDone | JobFailed]:
        """The jobs' ends, each seed shown as it goes: live when it runs here, else as it starts and ends."""
        outcomes = executor.as_completed()
        later: list[Outcome] = []
        count = len(self.configs)
        for outcome in _then(later, outcomes):
            config = self.configs[outcome.key]
            number = list(self.configs).index(outcome.key) + 1
            if isinstance(outcome, JobStarted | JobProgress):
                self.started.add(config.seed)
            if isinstance(outcome, JobStarted):
                console.print(f"── {outcome.key}, run {number} of {count}: running in {outcome.where}", style="bold")
            elif isinstance(outcome, JobProgress):
                console.print(f"── {outcome.key}, run {number} of {count}", style="bold")
                show_run(_job_events(outcome.event, outcomes, later), console, self.preset)
            else:
                if isinstance(outcome, JobDone) and not self.parallel.in_process:
                    console.print(f"── {outcome.key}, run {number} of {count}, ended", style="bold")
                    show_run(iter([outcome.result.last]), console, self.preset)  # how it ended, its layers, totals
                yield outcome


def _then(later: list[Outcome], outcomes: Iterator[Outcome]) -> Iterator[Outcome]:
    """The outcomes, each put back in `later` first."""
    while True:
        while later:
            yield later.pop()
        outcome = next(outcomes, None)
        if outcome is None:
            return
        yield outcome


def _job_events(first: Event, outcomes: Iterator[Outcome], later: list[Outcome]) -> Iterator[Event]:
    """The events of the job that runs in this process, from its first to its last; its end goes to `later`."""
    yield first
    for outcome in outcomes:
        if not isinstance(outcome, JobProgress):
            later.append(outcome)
            return
        yield outcome.event


def group_table(group: RunGroup, config: ExperimentConfig) -> Table:
    """The group's numbers as mean ± std over the seeds that finished."""
    n = len(group.averaged)
    table = Table(title=f"{group.name} ({seeds_text(group.seeds)})", title_justify="left", box=None)
    table.add_column("")
    table.add_column(f"mean{' ± std' if n > 1 else ''} (n = {n})", justify="right")
    rows = {
        f"accuracy {before_pruning(config)}": percent_spread(group.stat("dense_accuracy")),
        "accuracy": percent_spread(group.stat("accuracy")),
        "sparsity": percent_spread(group.stat("sparsity")),
        "compression, weights": times_spread(group.stat("weight_compression")),  # the papers' count
        "compression, all parameters": times_spread(group.stat("compression")),
    }
    for label, value in rows.items():
        table.add_row(label, value)
    return table
