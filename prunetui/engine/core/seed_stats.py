"""Mean and spread of one number over repeated runs (seeds): what tables and charts show as mean ± std (n)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from prunetui.engine.core.config import ExperimentConfig
from prunetui.engine.core.errors import ConfigError

MAX_SEEDS = 100  # the runs of one seed group
SEEDS_ALLOWED = next(f.metadata["interval"] for f in ExperimentConfig.fields() if f.name == "seed")


@dataclass(frozen=True, slots=True)
class MeanStd:
    """The mean of n values and their sample standard deviation (n - 1 in the denominator; None when n is 1:
    one value has no spread, which tables show as the mean alone and CSV/JSON as an empty std)."""

    mean: float
    std: float | None
    n: int


def mean_std(values: Iterable[float]) -> MeanStd:
    """Mean ± sample standard deviation; NaN values (a number a run did not produce) are left out of both."""
    kept = [value for value in values if not math.isnan(value)]
    if not kept:
        raise ValueError("no values to average")
    return MeanStd(statistics.fmean(kept), statistics.stdev(kept) if len(kept) > 1 else None, len(kept))


def parse_seeds(text: str) -> tuple[int, ...]:
    """The seeds of `--seeds`: `0,1,2`, `0-4` or both (`0-2,7`), each once, in the order given."""
    seeds: list[int] = []
    for part in text.split(","):
        low, dash, high = part.partition("-")
        try:
            first = int(low)
            last = int(high) if dash else first
        except ValueError:
            raise ConfigError(
                f"invalid --seeds: {part.strip()!r} is neither a seed (0, 1, …) nor a range (0-4)"
            ) from None
        if last < first:
            raise ConfigError(f"invalid --seeds: {part.strip()} counts down; write {last}-{first}")
        if first not in SEEDS_ALLOWED or last not in SEEDS_ALLOWED:  # else the error would name --seed
            raise ConfigError(f"invalid --seeds: {part.strip()} is not {SEEDS_ALLOWED}")
        if len(seeds) + last - first >= MAX_SEEDS:  # checked before a range as long as 0-99999999 is made
            raise ConfigError(f"invalid --seeds: at most {MAX_SEEDS} seeds")
        seeds += range(first, last + 1)
    if len(set(seeds)) < len(seeds):
        raise ConfigError(f"invalid --seeds: {text} names a seed twice, which would give the same run again")
    return tuple(seeds)
