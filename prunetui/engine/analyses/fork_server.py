"""Imported by the workers' fork server, last of `executor.FORK_SERVER_PRELOAD`: when its caller has gone and it
exits, it leaves at once instead of tearing down the torch it imported (about 1 s of CPU on a process that ran
nothing, at the end of every parallel sweep, and the ended workers it had not reaped yet read as running until
then). Its workers never run this: they leave by os._exit themselves. Imported anywhere else (a test that imports
every module), it does nothing: a process's own exit handlers and status stay its own."""

from __future__ import annotations

import atexit
import os
import sys

# multiprocessing starts its fork server as `python -c 'from multiprocessing.forkserver import main; main(...)'`
if any("multiprocessing.forkserver import main" in argument for argument in sys.orig_argv):
    atexit.register(os._exit, 0)  # runs first (last registered): nothing of torch's teardown is left to run
