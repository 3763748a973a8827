"""Imported by the workers' fork server only, last of `executor.FORK_SERVER_PRELOAD`: when its caller has gone
and it exits, it leaves at once instead of tearing down the torch it imported (about 1 s of CPU on a process that
ran nothing, at the end of every parallel sweep, and the ended workers it had not reaped yet read as running
until then). Its workers never run this: they leave by os._exit themselves."""

from __future__ import annotations

import atexit
import os

atexit.register(os._exit, 0)  # runs first (last registered): nothing of torch's teardown is left to run
