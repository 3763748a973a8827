"""Follows a run that another process writes (`prunetui run` under nohup or tmux, seen again over SSH): its
events.jsonl (`engine.storage.event_log`) read in the worker thread as it grows and handed to the main screen in
batches, as a run started in the app hands its own, until the run's last event. A run whose writer died without
one ends as interrupted; a run that ended long ago is told from its recorded events at once."""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from prunetui.app.thread_runner import FLUSH_INTERVAL, ThreadRunner
from prunetui.engine.core.events import Event, Failed, Finished, Status, Stopped
from prunetui.engine.storage.event_log import EventTail
from prunetui.engine.storage.run_lock import writer_alive
from prunetui.engine.storage.runs import read_summary

INTERRUPTED = "its process ended without a last word (killed, or its machine went down): it reads as interrupted"


class RunFollower(ThreadRunner[Event]):
    def __init__(
        self, directory: Path, deliver: Callable[[tuple[Event, ...]], object], interval: float = FLUSH_INTERVAL
    ) -> None:
        super().__init__(deliver, interval)
        self.directory = directory
        self._done = threading.Event()  # the app quits: stop reading

    def run(self) -> None:
        """Not one of the runners a hang-up stops (`ThreadRunner.stop_all`): the run is another process's, and a
        dropped SSH session must leave it going."""
        self._run()

    def _run(self) -> None:
        tail = EventTail(self.directory)
        self._deliver((Status(f"following {self.directory}, written by another process"),))
        while not self._done.is_set():
            alive = writer_alive(self.directory)  # before reading: what it wrote before it ended is read too
            events = tail.read()
            if events:
                self._deliver(tuple(events))
            if any(isinstance(event, Finished | Stopped | Failed) for event in events):
                return
            if not alive:
                self._deliver((Failed(INTERRUPTED, None),))
                return
            self._done.wait(self._interval)

    def stop(self) -> None:
        """Stop the run as Ctrl+C in its terminal would (between batches, saving it as stopped): its writer is
        sent SIGINT, if it runs on this machine. The events go on coming until its last one."""
        summary = read_summary(self.directory)
        pid, host = summary.get("pid"), summary.get("host")
        if isinstance(pid, int) and host == socket.gethostname() and writer_alive(self.directory):
            os.kill(pid, signal.SIGINT)

    def leave(self) -> None:
        """Stop reading; the run goes on."""
        self._done.set()

    @property
    def stoppable(self) -> bool:
        """Whether `stop` can reach the run: its writer runs on this machine."""
        return read_summary(self.directory).get("host") == socket.gethostname()
