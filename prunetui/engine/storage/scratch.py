"""Scratch directories: where a job records its run (in this process, a worker process, a Ray task) before the
run's files are handed back to be written under the runs root.

    with scratch_directory("prunetui-point-") as directory:   # /tmp/prunetui-point-<pid>-<random>
        ...
    remove_orphans()                                           # those whose process died without removing them

Each is removed when its `with` ends, however it ends: an exception, a stop, a SIGTERM that the worker turns into
SystemExit (`executor`). A process that cannot clean up (SIGKILL, the out-of-memory killer, a power cut) leaves
its directory; the owner's process id is part of the name, so a later start (any executor's) removes those whose
owner is gone. A process id the system gave to a new process keeps its old directory until that one ends too.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PREFIXES = ("prunetui-seed-", "prunetui-point-")
_OWNED = re.compile(rf"^(?:{'|'.join(PREFIXES)})(\d+)-")


@contextmanager
def scratch_directory(prefix: str) -> Iterator[Path]:
    """A new directory under the system's temporary directory ($TMPDIR), named for this process; removed at the end."""
    assert prefix in PREFIXES, f"{prefix!r}: remove_orphans would not find it"
    path = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def remove_orphans(root: Path | None = None) -> list[Path]:
    """Remove the scratch directories under `root` (the temporary directory) whose owner process has ended; the
    ones removed."""
    root = Path(root or tempfile.gettempdir())
    try:
        candidates = [path for path in root.iterdir() if _OWNED.match(path.name)]
    except OSError:  # no temporary directory to read: nothing of ours in it either
        return []
    removed = []
    for path in candidates:
        match = _OWNED.match(path.name)
        assert match is not None
        if not _alive(int(match.group(1))):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    """Whether process `pid` exists (a zombie, dead but not yet reaped by its parent, counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's: alive, and its directory is not ours to remove anyway
        return True
    except OverflowError:  # not a process id at all
        return False
    return True
