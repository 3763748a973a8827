"""`python -m tests.zygote_probe CODE [SIGNAL]`, for `test_zygote.py`: prints what the process sees as JSON, copies
a line of stdin to stderr, then ends with exit status CODE, or by SIGNAL (TERM, KILL, INT: an uncaught Ctrl+C);
a thread it started and an exit handler each say on stderr that they ran."""

from __future__ import annotations

import atexit
import json
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path


def sigint_state() -> str:
    """How SIGINT reaches this process: a process it started with SIGINT ignored or blocked keeps it so."""
    status = dict(line.split(":\t", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":\t" in line)
    bit = 1 << (signal.SIGINT - 1)
    if int(status["SigIgn"], 16) & bit:
        return "ignored"
    return "blocked" if int(status["SigBlk"], 16) & bit else "handled"


if __name__ == "__main__":
    seen = {
        "pid": os.getpid(),
        "own session": os.getsid(0) == os.getpid(),
        "directory": os.getcwd(),
        "variable": os.environ.get("ZYGOTE_PROBE"),
        "arguments": sys.argv[1:],
        "temporary": tempfile.gettempdir(),
        "first path": sys.path[0],
        "SIGINT": sigint_state(),
    }
    print(json.dumps(seen), flush=True)
    atexit.register(lambda: print("exit handler ran", file=sys.stderr))
    threading.Thread(target=lambda: (time.sleep(0.2), print("thread ran", file=sys.stderr))).start()
    sys.stderr.write(sys.stdin.readline())
    if len(sys.argv) > 2:
        os.kill(os.getpid(), signal.Signals[f"SIG{sys.argv[2]}"])
        time.sleep(0.1)  # a signal to itself is handled by now (or ends the process); ignored, it goes on
    sys.exit(int(sys.argv[1]))
