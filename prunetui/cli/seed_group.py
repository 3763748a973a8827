"""`prunetui run --seeds 0,1,2`: the experiment once per seed, each a run of its own in one seed group, then the
group's mean ± std (n). The engine's `SeedGroup` (`engine.analyses.seed_group`) runs them; here they are shown:
a seed that runs in this process live, as `prunetui run` shows a run; seeds in workers or on Ray as they start
and end, in the order they end. Ctrl+C stops the group (see `SeedGroup`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.table import Table

from prunetui.cli.options import config_from_args, fail, parallel_from_args
from prunetui.cli.run_command import EXIT_CODES, closing_line, show_run, stop_on_interrupt
from prunetui.describe import before_pruning, percent_spread, seeds_text, times_spread
from prunetui.engine.analyses import RUNNING_IN, Progress, SeedEnded, SeedGroupEnded, SeedGroupEvent, seed_stage
from prunetui.engine.core.config import ExperimentConfig
from prunetui.engine.core.errors import ConfigError
from prunetui.engine.core.events import Event, Failed, Finished, Status, Stopped
from prunetui.engine.core.networks.checks import check_sources
from prunetui.engine.core.presets import Preset, load_preset
from prunetui.engine.core.seed_stats import parse_seeds
from prunetui.engine.storage.groups import RunGroup
from prunetui.engine.storage.runs import runs_root

STATUS_CODES = {"finished": EXIT_CODES[Finished], "failed": EXIT_CODES[Failed], "stopped": EXIT_CODES[Stopped]}


def seeds_command(args: argparse.Namespace, console: Console) -> int:
    if args.seed is not None:
        return fail("--seeds and --seed conflict: --seeds runs the experiment once with each seed it names")
    if args.out is not None:
        return fail("--out is one run's directory, and --seeds saves one run per seed: choose where with --runs-dir")
    try:
        base = config_from_args(args)
        check_sources(base.model, base.weights)  # before torch, not in each seed's run
        configs = [base.replace(seed=seed).validate() for seed in parse_seeds(args.seeds)]
        parallel, note = parallel_from_args(args).capped(len(configs))
    except ConfigError as error:
        return fail(str(error))
    if note:
        print(note, file=sys.stderr)  # as note_unused's
    console.print("importing torch …", highlight=False)
    from prunetui.engine.analyses.seed_group import SeedGroup  # imports torch

    preset = load_preset(args.preset) if args.preset else None
    group = SeedGroup(configs, runs_root(args.runs_dir), parallel, preset)
    then = "; the seeds after this one will not start" if parallel.in_process else "; the seeds running are not kept"
    with stop_on_interrupt(group.stop, console, then=then):
        stages = [seed_stage(config.seed) for config in configs]
        ended = show_group(group.run(), stages, not parallel.in_process, console, preset)
    if ended.message:
        fail(ended.message, code=1)
    for seeds, why in ((ended.cut, "stopped before the end, not kept"), (ended.not_started, "not started")):
        if seeds:
            console.print(f"the group ends here: {seeds_text(list(seeds))} {why}", style="yellow")
    if ended.group and ended.group.averaged:
        console.print(group_table(ended.group, base))
    else:
        console.print("no seed finished, so there is no mean to give")
    return STATUS_CODES[ended.status]


def show_group(
    events: Iterator[SeedGroupEvent], stages: list[str], elsewhere: bool, console: Console, preset: Preset | None
) -> SeedGroupEnded:
    """Each seed as it goes: live when it runs here, else as it starts and ends; then the group's end."""
    count = len(stages)
    later: list[SeedGroupEvent] = []
    for event in _then(later, events):
        if isinstance(event, Progress):
            number = stages.index(event.stage) + 1
            if isinstance(event.event, Status) and event.event.message.startswith(RUNNING_IN):
                console.print(f"── {event.stage}, run {number} of {count}: {event.event.message}", style="bold")
            else:
                console.print(f"── {event.stage}, run {number} of {count}", style="bold")
                show_run(_seed_events(event, events, later), console, preset)
        elif isinstance(event, SeedEnded):
            stage = seed_stage(event.seed)
            if elsewhere and event.directory:
                number = stages.index(stage) + 1
                console.print(f"── {stage}, run {number} of {count}, ended", style="bold")
                show_run(iter([event.last]), console, preset)  # how it ended, its layers, totals
            console.print(f"{stage}: {seed_line(event)}", markup=False, style="red" if not event.directory else "")
        elif isinstance(event, SeedGroupEnded):
            return event
    raise AssertionError("a seed group always ends with SeedGroupEnded")


def seed_line(end: SeedEnded) -> str:
    if not end.directory:  # the job itself failed (its worker died, say): no run to keep
        assert isinstance(end.last, Failed)
        return f"failed: {end.last.message}"
    if end.discarded:
        return f"nothing kept: the run failed before training ({end.directory} removed)"
    return closing_line(Path(end.directory), end.last)


def _then(later: list[SeedGroupEvent], events: Iterator[SeedGroupEvent]) -> Iterator[SeedGroupEvent]:
    """The events, each put back in `later` first."""
    while True:
        while later:
            yield later.pop()
        event = next(events, None)
        if event is None:
            return
        yield event


def _seed_events(first: Progress, events: Iterator[SeedGroupEvent], later: list[SeedGroupEvent]) -> Iterator[Event]:
    """The events of the seed that runs in this process, from its first to its last; what follows goes to
    `later`."""
    yield first.event
    for event in events:
        if not isinstance(event, Progress) or event.stage != first.stage:
            later.append(event)
            return
        yield event.event


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
