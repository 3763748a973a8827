"""`python -m tests.zygote_probe CODE [SIGNAL]`, for `test_zygote.py`: prints what the process sees as JSON, copies
a line of stdin to stderr, then ends with exit status CODE, or killed by SIGNAL (TERM, KILL…)."""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile

if __name__ == "__main__":
    seen = {
        "pid": os.getpid(),
        "own session": os.getsid(0) == os.getpid(),
        "directory": os.getcwd(),
        "variable": os.environ.get("ZYGOTE_PROBE"),
        "arguments": sys.argv[1:],
        "temporary": tempfile.gettempdir(),
        "first path": sys.path[0],
    }
    print(json.dumps(seen), flush=True)
    sys.stderr.write(sys.stdin.readline())
    if len(sys.argv) > 2:
        os.kill(os.getpid(), signal.Signals[f"SIG{sys.argv[2]}"])
    sys.exit(int(sys.argv[1]))
