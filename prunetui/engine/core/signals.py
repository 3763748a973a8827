"""Signal handlers that act once, then let a signal do what it does unhandled.

A handler that reinstalls SIG_DFL or SIG_IGN for its signal races the next one: one arriving as the disposition
changes is caught by Python's C handler and then finds no Python handler, and Python prints "Signal 15 ignored due
to race condition" as a traceback and drops it. The handlers here stay installed and decide by what came before.
"""

from __future__ import annotations

import os
import signal


def as_if_unhandled(signum: int) -> None:
    """Do what `signum` does where no handler is set: Ctrl+C raises KeyboardInterrupt; SIGTERM and SIGHUP end the
    process, killed by the signal."""
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    signal.signal(signum, signal.SIG_DFL)  # one more arriving just now may print Python's race line: it ends alike
    os.kill(os.getpid(), signum)
