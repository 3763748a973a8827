"""SIGHUP (the terminal closed: an SSH session dropped) and SIGTERM (`kill`) stop the app's runs as the Stop key
does, let them save themselves as stopped with their model, then end the app.

The handler runs in the main thread, where the app's event loop runs, and waits there for the runs: their threads
only post messages to the loop (never wait for it), so they finish without it. After a SIGHUP there is no terminal
left to restore or draw on (a write to it would fail, and Textual's writer thread would then block the loop for
good): the process ends at once. After a SIGTERM the app exits as on quit, restoring the terminal.
"""

from __future__ import annotations

import os
import signal
from types import FrameType
from typing import Any

from textual.app import App

from prunetui.app.thread_runner import ThreadRunner

SAVE_WAIT = 60.0  # seconds a run may take to stop after its batch and save its model


def stop_runs_on_hangup(app: App[Any]) -> None:
    """Install the handlers (main thread only), for as long as the process lives."""

    def handler(signum: int, frame: FrameType | None) -> None:
        signal.signal(signum, signal.SIG_DFL)  # a second one ends the process at once
        ThreadRunner.stop_all(SAVE_WAIT)
        if signum == signal.SIGHUP:
            os._exit(128 + signum)
        app.exit(return_code=128 + signum)

    for signum in (signal.SIGHUP, signal.SIGTERM):
        signal.signal(signum, handler)
