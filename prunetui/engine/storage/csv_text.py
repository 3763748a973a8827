"""CSV text, the one writer: `prunetui runs --csv`, history.csv, sweep.csv and sensitivity results."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, fields
from typing import Any


def csv_text(fieldnames: Sequence[str], records: Iterable[Mapping[str, Any]]) -> str:
    """A header row, then one row per record; None is an empty cell."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fieldnames, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue()


def to_csv(rows: Iterable[Any], kind: type) -> str:
    """Rows of the dataclass `kind`, one column per field."""
    return csv_text([f.name for f in fields(kind)], (asdict(row) for row in rows))
