"""A sweep's results: sweep.csv written and read back, means over seeds, and the chart's lines."""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from prunetui.engine.analyses.events import SweepPoint
from prunetui.engine.analyses.specs import parse_method
from prunetui.engine.core.chart_lines import Lines, Series
from prunetui.engine.core.errors import ConfigError
from prunetui.engine.core.seed_stats import MeanStd, mean_std
from prunetui.engine.storage.csv_text import csv_text

MEAN_ROW = "mean"  # the seed cell of sweep.csv's rows of means over seeds
POINT_FIELDS = [f.name for f in fields(SweepPoint)]
MEAN_FIELDS = POINT_FIELDS[3:]  # the numbers a point measures
LATER_FIELDS = ("weight_compression", "macs_kept")  # added since: a sweep.csv written before lacks them, and resumes
CSV_FIELDS = [*POINT_FIELDS, "n", "accuracy_std"]
# The headers of sweep.csv files written by earlier versions: before macs_kept, before weight_compression too, and
# before seeds.
BEFORE_MACS_CSV_FIELDS = [name for name in CSV_FIELDS if name != "macs_kept"]
EARLIER_CSV_FIELDS = [name for name in CSV_FIELDS if name not in LATER_FIELDS]
UNSEEDED_CSV_FIELDS = [name for name in POINT_FIELDS if name not in ("seed", *LATER_FIELDS)]


@dataclass(frozen=True, slots=True)
class SweepMean:
    """A method at a sparsity over the seeds it has: accuracy as mean ± std (n), and the mean of every number."""

    method: str
    sparsity: float
    accuracy: MeanStd
    means: dict[str, float]  # a SweepPoint's numeric field -> its mean over the seeds


def sweep_means(points: Iterable[SweepPoint]) -> list[SweepMean]:
    """One SweepMean per method and sparsity, in the order they first appear."""
    groups: dict[tuple[str, float], list[SweepPoint]] = {}
    for point in points:
        groups.setdefault(point.key[:2], []).append(point)
    return [
        SweepMean(
            group[0].method,
            group[0].sparsity,
            mean_std(point.accuracy for point in group),
            {
                name: statistics.fmean(getattr(point, name) for point in group)
                for name in MEAN_FIELDS
                if all(getattr(point, name) is not None for point in group)  # points from an earlier sweep.csv
            },
        )
        for group in groups.values()
    ]


# What a sweep's chart may put on its x axis, and the axis's label.
SWEEP_AXES = {
    "sparsity": "sparsity (%)",
    "compression": "compression, all parameters (×, log scale)",
    "macs": "MACs kept (% of dense, non-zero weights)",  # plotext leaves out a label wider than the app's chart
}


def sweep_series(points: Iterable[SweepPoint], axis: str = "sparsity") -> tuple[Lines, Lines, str]:
    """Accuracy (%) against sparsity (%), compression (for a log axis) or the MACs kept (%), one line per method,
    its mean over seeds; the band of one standard deviation around each line with more than one seed somewhere, as
    label -> (xs, stds); and the x axis's label. Against MACs, points of an earlier sweep.csv (none counted) are
    left out."""
    series: Lines = {}
    spread: Lines = {}
    for mean in sorted(sweep_means(points), key=lambda m: m.sparsity):
        if axis == "macs" and "macs_kept" not in mean.means:
            continue
        x = {"compression": mean.means.get("compression", 0.0), "macs": mean.means.get("macs_kept", 0.0) * 100}.get(
            axis, mean.sparsity * 100
        )
        series.setdefault(mean.method, Series.empty()).add(x, mean.accuracy.mean * 100)
        spread.setdefault(mean.method, Series.empty()).add(x, (mean.accuracy.std or 0.0) * 100)  # none over one seed
    bands = {label: band for label, band in spread.items() if any(band[1])}
    return series, bands, SWEEP_AXES[axis]


def sweep_csv(points: Iterable[SweepPoint]) -> str:
    """sweep.csv: a row per point and seed; under them, for each method and sparsity with more than one seed, a row
    whose seed is "mean", holding each number's mean, the accuracy's sample std and the number of seeds n."""
    points = list(points)
    rows: list[dict[str, Any]] = [asdict(point) for point in points]
    for mean in sweep_means(points):
        if mean.accuracy.n > 1:
            rows.append({"method": mean.method, "sparsity": mean.sparsity, "seed": MEAN_ROW, **mean.means,
                         "n": mean.accuracy.n, "accuracy_std": mean.accuracy.std})  # fmt: skip
    return csv_text(CSV_FIELDS, rows)


def read_sweep_csv(text: str, seed: int = 0) -> list[SweepPoint]:
    """The points of a sweep.csv (its mean rows are derived, so left out); `seed` is the seed of a file written
    before sweeps had seeds. ValueError naming the first line that is not a result, so none is dropped."""
    reader = csv.DictReader(io.StringIO(text))
    points = []
    try:
        if text.strip() and reader.fieldnames not in (
            CSV_FIELDS,
            BEFORE_MACS_CSV_FIELDS,
            EARLIER_CSV_FIELDS,
            UNSEEDED_CSV_FIELDS,
        ):
            raise ValueError(f"line 1 is not the header {','.join(CSV_FIELDS)}")
        for record in reader:
            if record.get("seed") != MEAN_ROW:
                earlier: dict[str | None, Any] = {"seed": str(seed), "n": "", "accuracy_std": ""}
                earlier |= dict.fromkeys(LATER_FIELDS, "")
                points.append(_sweep_point({**earlier, **record}, reader.line_num, len(reader.fieldnames or ())))
    except csv.Error as error:
        raise ValueError(f"line {reader.line_num} is not CSV ({error})") from None
    return points


def _sweep_point(record: dict[str | None, Any], line: int, fields_expected: int) -> SweepPoint:
    try:
        if None in record or None in record.values():
            raise ValueError(f"{fields_expected} fields expected")
        numbers = [float(record[name]) for name in MEAN_FIELDS if name not in LATER_FIELDS]
        later = {name: float(record[name]) if record[name] else None for name in LATER_FIELDS}  # unknown: empty
        if not all(math.isfinite(number) for number in [*numbers, *filter(None, later.values())]):
            raise ValueError("a number is not finite")
        method, sparsity, seed = parse_method(record["method"]), float(record["sparsity"]), int(record["seed"])
        point = SweepPoint(method, sparsity, seed, *numbers)
        return replace(point, weight_compression=later["weight_compression"], macs_kept=later["macs_kept"])
    except (ValueError, ConfigError) as error:
        raise ValueError(f"line {line} is not a sweep result ({error})") from None
