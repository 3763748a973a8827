"""Errors the engine raises for things a user can fix. Their messages are meant to be shown as they are."""

import re
import traceback
from pathlib import Path


class PrunetuiError(Exception):
    """Base for every error with a message a user can act on (no traceback needed)."""


class ConfigError(PrunetuiError):
    """An invalid setting, unknown key or unreadable config file."""


class DataError(PrunetuiError):
    """A data set that is missing, cannot be fetched, or is corrupt."""


class BadDataError(DataError):
    """Data that is there but wrong (a class folder with no images, an unreadable image, a label outside the
    classes, mixed image sizes): the user's input, so a bad setting's exit code 2, naming the file."""


class DeviceError(PrunetuiError):
    """The requested device (cuda, mps) is not available here."""


class DivergedError(PrunetuiError):
    """The training loss became NaN or infinite."""


class OutputError(PrunetuiError):
    """A result cannot be written: the path is a file, cannot be created, or the disk is full."""


class RunDirError(PrunetuiError):
    """A run directory that holds a finished run already, or that another run is writing now."""


def unexpected(error: BaseException) -> str:
    """One line for an error nobody planned for (a bug, or the environment), with where it happened."""
    where = traceback.extract_tb(error.__traceback__)[-1]
    return f"unexpected {type(error).__name__}: {error} ({Path(where.filename).name}:{where.lineno})"


def out_of_memory(error: BaseException) -> str | None:
    """One line for an error that says memory ran out (Python's MemoryError, torch.OutOfMemoryError, the CPU
    allocator's RuntimeError), or None for any other error."""
    text = str(error).strip()
    if not (
        isinstance(error, MemoryError)
        or type(error).__name__ == "OutOfMemoryError"  # torch's, for CUDA and MPS; torch is not imported here
        or (isinstance(error, RuntimeError) and ("out of memory" in text.lower() or "can't allocate memory" in text))
    ):
        return None
    first = (
        re.sub(r"^\[enforce fail at [^]]*\]( err == 0\.)? ", "", text.splitlines()[0]) if text else type(error).__name__
    )
    return f"out of memory: {first[:200]}{'…' if len(first) > 200 else ''}"
