"""Atomic file writes: a reader (or a crash) never sees a half-written file. And CSV text to write."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from prunetui.engine.core.errors import OutputError

TEMPORARY_SUFFIX = ".partial"  # `.NAME.<random>.partial`: only a process killed mid-write leaves one behind


def write_atomic(path: str | Path, data: bytes | str) -> Path:
    """Write to a temporary file beside `path`, then rename it over `path` in one step.

    Raises OutputError, naming the file and the reason, when it cannot be written (not a directory, no
    permission, a full disk); the temporary file is removed on every failure."""
    payload = data.encode() if isinstance(data, str) else data
    return write_atomic_with(path, lambda file: file.write(payload))


def write_atomic_with(path: str | Path, write: Callable[[BinaryIO], object]) -> Path:
    """`write_atomic`, the content written by `write(file)` as it comes: no copy of it in memory."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.urandom(4).hex()}{TEMPORARY_SUFFIX}")
    make_directory(path.parent)
    try:
        with open(temporary, "xb") as file:  # unlike mkstemp, honours the umask (files readable as usual)
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        with contextlib.suppress(OSError):  # never created, or the directory refuses even that
            temporary.unlink()
        if isinstance(error, OSError):
            raise OutputError(cannot_write(path, error)) from None
        raise
    return path


def make_directory(path: Path) -> None:
    """`mkdir -p`, or OutputError saying in one line why not."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"cannot write to {path}: it is a file, not a directory") from None
    except OSError as error:
        raise OutputError(f"cannot write to {path}: {error.strerror or error}") from None


def cannot_write(path: str | Path, error: OSError) -> str:
    """One line naming what could not be written and why."""
    return f"cannot write {path}: {error.strerror or error}"
