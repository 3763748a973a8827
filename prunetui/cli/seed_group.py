"""`prunetui run --seeds 0,1,2`: the experiment once per seed, one after another, each a run of its own (its own
directory, lock and status) in one seed group (`engine.storage.groups`), then the group's mean ± std (n).

Ctrl+C stops the seed that runs, which is saved as stopped, and the group: the seeds after it do not start."""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from prunetui.cli.options import config_from_args, fail
from prunetui.cli.run_command import EXIT_CODES, closing_line, show_run, stop_on_ctrl_c
from prunetui.describe import before_pruning, percent_spread, seeds_text, times_spread
from prunetui.engine.core.config import ExperimentConfig
from prunetui.engine.core.errors import ConfigError, OutputError
from prunetui.engine.core.events import Event, Failed, Stopped
from prunetui.engine.core.presets import Preset, load_preset
from prunetui.engine.core.seed_stats import parse_seeds
from prunetui.engine.storage.groups import RunGroup, group_name
from prunetui.engine.storage.runs import claim_run_dir, new_run_dir, read_run, runs_root

if TYPE_CHECKING:
    from prunetui.engine.core.experiment import Experiment


def seeds_command(args: argparse.Namespace, console: Console) -> int:
    if args.seed is not None:
        return fail("--seeds and --seed conflict: --seeds runs the experiment once with each seed it names")
    if args.out is not None:
        return fail("--out is one run's directory, and --seeds saves one run per seed: choose where with --runs-dir")
    try:
        base = config_from_args(args)
        configs = [base.replace(seed=seed).validate() for seed in parse_seeds(args.seeds)]
    except ConfigError as error:
        return fail(str(error))
    console.print("importing torch …", highlight=False)
    seeds = SeedGroup(configs, runs_root(args.runs_dir), load_preset(args.preset) if args.preset else None)
    directories: list[Path] = []
    ends: list[Event] = []
    with stop_on_ctrl_c(seeds.stop, console, then="; the seeds after this one will not start"):
        try:
            for config, (directory, last) in zip(configs, seeds.runs(console), strict=False):
                console.print(f"seed {config.seed}: {closing_line(directory, last)}", markup=False)
                directories.append(directory)
                ends.append(last)
                if isinstance(last, Failed) and last.summary is None:  # the others would fail to start the same way
                    seeds.stop()
        except OutputError as error:  # no directory for the next seed
            fail(str(error), code=1)
            ends.append(Failed(str(error), None))
    left = [config.seed for config in configs[len(ends) :]]
    if left:
        console.print(f"the group ends here: {seeds_text(left)} not started", style="yellow")
    runs = tuple(read_run(directory) for directory in directories if directory.exists())
    group = RunGroup(runs[0].group, runs) if runs else None
    if group and group.averaged:
        console.print(group_table(group, base))
    else:
        console.print("no seed finished, so there is no mean to give")
    # Stopped (130) outranks failed (1), which outranks finished; stopped before the first seed started: 130.
    return max((EXIT_CODES[type(end)] for end in ends), default=EXIT_CODES[Stopped])


class SeedGroup:
    """The runs of a group one after another, each recorded and shown as `prunetui run` records and shows one.
    `runs()` yields each one's directory and last event as it ends, in the order of the configs, and `stop()`
    ends them: the shape an executor running them side by side would take its place in."""

    def __init__(self, configs: Sequence[ExperimentConfig], root: Path, preset: Preset | None = None) -> None:
        self.configs = configs
        self.root = root
        self.preset = preset  # each run is recorded and shown as one from it
        self.stopped = False
        self.current: Experiment | None = None

    def stop(self) -> None:
        """End the run that goes (between batches, keeping its results) and start no other."""
        self.stopped = True
        if self.current is not None:
            self.current.stop()

    def runs(self, console: Console) -> Iterator[tuple[Path, Event]]:
        from prunetui.engine.core.experiment import Experiment  # imports torch
        from prunetui.engine.storage.recording import record_claimed

        name = ""
        for number, config in enumerate(self.configs, start=1):
            if self.stopped:
                return
            directory = new_run_dir(self.root, config)
            name = name or group_name(directory)
            console.print(f"── seed {config.seed}, run {number} of {len(self.configs)}", style="bold")
            self.current = Experiment(config)
            extra = self.preset.summary_fields(config) if self.preset else None
            events = record_claimed(self.current, claim_run_dir(directory), group=name, extra=extra)
            yield directory, show_run(events, console, self.preset)
            self.current = None


def group_table(group: RunGroup, config: ExperimentConfig) -> Table:
    """The group's numbers as mean ± std over the seeds that finished."""
    n = len(group.averaged)
    table = Table(title=f"{group.name} ({seeds_text(group.seeds)})", title_justify="left", box=None)
    table.add_column("")
    table.add_column(f"mean ± std (n = {n})", justify="right")
    rows = {
        f"accuracy {before_pruning(config)}": percent_spread(group.stat("dense_accuracy")),
        "accuracy": percent_spread(group.stat("accuracy")),
        "sparsity": percent_spread(group.stat("sparsity")),
        "compression": times_spread(group.stat("compression")),
    }
    for label, value in rows.items():
        table.add_row(label, value)
    return table
