"""One writer per run (or sweep) directory: an exclusive `flock` on its lock file, held for the whole run.

The kernel drops the lock when its holder ends, however it ends (SIGKILL included), so a held lock means a
live writer, where a pid read back from a file may since belong to any other process. `flock` locks belong to
an open file, not to a process: a reader in the writer's own process (the app's Runs screen) sees it held too.
The holder writes who it is into the lock file (`holder`), for the message that refuses a second writer.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time
from pathlib import Path

from prunetui.engine.core.files import TEMPORARY_SUFFIX

LOCK_FILE = ".lock"  # kept after the run: deleting it could let two writers lock two different files
CLAIM_TRIES = 5  # a reader (`prunetui runs`) holds a shared lock for an instant while it looks: try a few times
CLAIM_WAIT = 0.05  # seconds between tries


class RunLock:
    """The held lock of one run directory; `release()` (or the process ending) lets it go."""

    def __init__(self, directory: Path, descriptor: int) -> None:
        self.directory = directory
        self._descriptor: int | None = descriptor

    @classmethod
    def acquire(cls, directory: Path) -> RunLock | None:
        """The lock, or None while another writer holds it (or the directory was deleted or replaced while it
        was being taken). OSError when the lock file cannot be made."""
        path = directory / LOCK_FILE
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        for attempt in range(CLAIM_TRIES):
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if attempt < CLAIM_TRIES - 1:
                    time.sleep(CLAIM_WAIT)
                continue
            if not _same_file(descriptor, path):  # deleted (`runs --delete`) between the open and the lock
                break
            _write_holder(descriptor)
            return cls(directory, descriptor)
        os.close(descriptor)
        return None

    def release(self) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)  # closing drops the lock
            self._descriptor = None

    def __del__(self) -> None:  # a recorder dropped without being run to its end
        self.release()


def holder(directory: Path) -> str:
    """Who holds (or last held) `directory`'s lock, e.g. "pid 4242 on gpu1 since 2026-12-06 22:31:52"; "" if
    that is not known."""
    try:
        return (directory / LOCK_FILE).read_text().strip()
    except (OSError, UnicodeDecodeError):
        return ""


def _write_holder(descriptor: int) -> None:
    text = f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n"
    try:
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, text.encode(), 0)
    except OSError:  # a full disk: the lock holds all the same, only its message names no one
        pass


def _same_file(descriptor: int, path: Path) -> bool:
    try:
        here, there = os.fstat(descriptor), os.stat(path)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def writer_alive(directory: Path) -> bool:
    """Whether a live process holds `directory`'s lock. When none does, the temporary files that a writer killed
    mid-write left behind are removed, under a shared lock: other readers may look at once, no writer can start."""
    try:
        descriptor = os.open(directory / LOCK_FILE, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:  # no lock file: written before locks, or never started
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as error:  # BlockingIOError: a writer holds it; others: no locks on this file system
        os.close(descriptor)
        return isinstance(error, BlockingIOError)
    try:
        remove_temporaries(directory)
    finally:
        os.close(descriptor)
    return False


def remove_temporaries(directory: Path) -> None:
    """Delete the `write_atomic` temporaries in `directory`; call only while holding its lock (either kind)."""
    for path in directory.glob(f".*{TEMPORARY_SUFFIX}"):
        with contextlib.suppress(OSError):  # a read-only copy of a run: leave it as it is
            path.unlink()
