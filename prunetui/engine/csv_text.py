"""Rows of a dataclass as CSV text, one column per field: history.csv, sweep.csv and sensitivity results."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import asdict, fields
from typing import Any


def to_csv(rows: Iterable[Any], kind: type) -> str:
    """A header of `kind`'s field names, then a line per row (each an instance of the dataclass `kind`)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[f.name for f in fields(kind)], lineterminator="\n")
    writer.writeheader()
    writer.writerows(asdict(row) for row in rows)
    return buffer.getvalue()
