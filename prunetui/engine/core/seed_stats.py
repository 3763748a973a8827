"""Mean and spread of one number over repeated runs (seeds): what tables and charts show as mean ± std (n)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MeanStd:
    """The mean of n values and their sample standard deviation (n - 1 in the denominator; 0.0 when n is 1)."""

    mean: float
    std: float
    n: int


def mean_std(values: Iterable[float]) -> MeanStd:
    """Mean ± sample standard deviation; NaN values (a number a run did not produce) are left out of both."""
    kept = [value for value in values if not math.isnan(value)]
    if not kept:
        raise ValueError("no values to average")
    return MeanStd(statistics.fmean(kept), statistics.stdev(kept) if len(kept) > 1 else 0.0, len(kept))
