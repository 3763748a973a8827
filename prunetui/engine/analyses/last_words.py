"""A line for an end that leaves no Python running to say it.

When the Ray node this process drives dies (its raylet), Ray's C++ core ends the process at once (`_exit(1)`): no
`except`, `finally` or `atexit` runs, and the user is left with Ray's log and no word of prunetui's. A small
watcher process, started beside it, holds a pipe from it: if the pipe closes without the all-clear, this process
died mid-way, and the watcher writes the line on the shared stderr.

    words = LastWords("prunetui: error: …")   # while the risky part runs
    words.dismiss()                            # it ended as it should: the watcher ends quietly
"""

from __future__ import annotations

import contextlib
import subprocess
import sys

ALL_CLEAR = b"ok"
# -I -S: no site, no user paths, so it starts in a few milliseconds and imports nothing of the user's.
WATCHER = f"""
import sys
if sys.stdin.buffer.read() != {ALL_CLEAR!r}:
    sys.stderr.write(sys.argv[1] + "\\n")
"""


class LastWords:
    def __init__(self, message: str) -> None:
        # A session of its own: Ctrl+C and a closed terminal reach this process, which answers them, not the watcher.
        self._watcher: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", WATCHER, message],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )

    def dismiss(self) -> None:
        """The process goes on (or ends) as it should: the watcher says nothing."""
        watcher, self._watcher = self._watcher, None
        if watcher is None or watcher.stdin is None:
            return
        with contextlib.suppress(OSError):  # it died already: nothing left to tell
            watcher.stdin.write(ALL_CLEAR)
            watcher.stdin.close()
        watcher.wait()
