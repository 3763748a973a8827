"""Seed groups: one experiment repeated per seed (`prunetui run --seeds 0,1,2`), told as mean ± std (n).

Each seed is a run of its own, in its own directory with every guarantee of a run; what makes them a group is the
same `group` name in each one's summary.json. A group is read back from its runs and kept in no file of its own,
so `last`, names, prefixes, export and deleting work on its runs as on any run, deleting a run needs nothing kept
in step, and runs saved before groups existed (no `group` key) are runs of their own. The mean is over the runs
that finished: a stopped run's numbers are those of a model cut short.

    for item in grouped(list_runs(root)):   # a RunGroup comes just before its runs
        ...
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from prunetui.engine.core.config import ExperimentConfig
from prunetui.engine.core.seed_stats import MeanStd, mean_std
from prunetui.engine.storage.history import HistoryRow
from prunetui.engine.storage.runs import RunRecord, deletable_run

GROUP_PREFIX = "seeds-"
# The numbers of a run that a group averages, by RunRecord's field names: fractions, and the compressions ratios.
AVERAGED = ("dense_accuracy", "accuracy", "sparsity", "compression", "weight_compression")


def group_name(first_run: Path) -> str:
    """A group is named after the directory of its first run, which `new_run_dir` made unique: seeds-<run name>."""
    return f"{GROUP_PREFIX}{first_run.name}"


RUN_NAME_WIDTH = len("YYYYmmdd-HHMMSS-abcdef")  # a run directory's own name
GROUP_NAME_WIDTH = len(group_name(Path("x" * RUN_NAME_WIDTH)))  # tables show names this wide whole


@dataclass(frozen=True, slots=True)
class RunGroup:
    name: str
    runs: tuple[RunRecord, ...]  # by seed (runs started within one second have no order in time to go by)

    @property
    def averaged(self) -> tuple[RunRecord, ...]:
        """The runs the means are over: those that finished, one per seed (a copied run directory is the same
        run again, not another sample: the newest copy counts)."""
        chosen: dict[int | str, RunRecord] = {}
        for run in self.runs:
            if run.status == "finished":
                key = run.config.seed if run.config else run.name
                if key not in chosen or _newer(run, chosen[key]):
                    chosen[key] = run
        return tuple(chosen.values())

    def stat(self, field: str) -> MeanStd | None:
        """Mean ± std (n) of one of `AVERAGED` over the finished runs; None when none has it."""
        values = [value for run in self.averaged if (value := getattr(run, field)) is not None]
        return mean_std(values) if values else None

    @property
    def config(self) -> ExperimentConfig | None:
        """The experiment repeated (the seed is each run's own)."""
        return next((run.config for run in self.runs if run.config), None)

    @property
    def method(self) -> str:
        return self.runs[0].method

    @property
    def seeds(self) -> list[int]:
        return sorted({run.config.seed for run in self.runs if run.config})

    @property
    def started(self) -> datetime | None:
        return min((run.started for run in self.runs if run.started), default=None)

    def deletable(self) -> list[RunRecord]:
        """All its runs, checked as `deletable_run` checks one, so that a run still running keeps the whole group."""
        return [deletable_run(run.path) for run in self.runs]


def _newer(run: RunRecord, other: RunRecord) -> bool:
    return (run.started.timestamp() if run.started else 0.0, run.name) > (
        other.started.timestamp() if other.started else 0.0,
        other.name,
    )


def grouped(runs: Iterable[RunRecord]) -> list[RunRecord | RunGroup]:
    """The runs in their order, each group's runs gathered, by seed, where its newest one stands, just after the
    group."""
    runs = list(runs)
    members: dict[str, list[RunRecord]] = {}
    for run in runs:
        if run.group:
            members.setdefault(run.group, []).append(run)
    items: list[RunRecord | RunGroup] = []
    for run in runs:
        if not run.group:
            items.append(run)
        elif run.group in members:  # its newest run: the group and all its runs go here
            by_seed = sorted(members.pop(run.group), key=lambda member: member.config.seed if member.config else -1)
            items += [RunGroup(run.group, tuple(by_seed)), *by_seed]
    return items


def accuracy_points(rows: Sequence[HistoryRow]) -> list[tuple[float, float]]:
    """A run's history as (sparsity, accuracy) points, fractions: a row that did not prune keeps the sparsity."""
    points, sparsity = [], 0.0
    for row in rows:
        sparsity = row.sparsity if row.sparsity is not None else sparsity
        points.append((sparsity, row.accuracy))
    return points


def loss_points(rows: Sequence[HistoryRow]) -> list[tuple[float, float]]:
    """A run's history as (optimizer step, test loss) points, where it has a test loss."""
    return [(row.step, row.test_loss) for row in rows if row.test_loss is not None]


def band(curves: Sequence[Sequence[tuple[float, float]]]) -> list[tuple[float, MeanStd]]:
    """The seeds' curves point by point, as the mean x and y mean ± std (n): the same experiment has the same
    rows under every seed; a curve cut short (a run stopped) ends the band where it ends."""
    return [
        (mean_std(x for x, _ in point).mean, mean_std(y for _, y in point))
        for point in zip(*curves, strict=False)  # as long as the shortest
    ]
