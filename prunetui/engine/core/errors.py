"""Errors the engine raises for things a user can fix. Their messages are meant to be shown as they are."""

import traceback
from pathlib import Path


class PrunetuiError(Exception):
    """Base for every error with a message a user can act on (no traceback needed)."""


class ConfigError(PrunetuiError):
    """An invalid setting, unknown key or unreadable config file."""


class DataError(PrunetuiError):
    """A data set that is missing, cannot be fetched, or is corrupt."""


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
