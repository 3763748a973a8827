"""`python -m tests.signal_driver SIGNAL -- ARGS…`: `prunetui ARGS…`, which sends itself SIGNAL (TERM, HUP, INT)
mid-epoch of the first training it runs in this process (after `faults.MID_EPOCH_STEP` optimizer steps): a real
signal, at a known moment, as `kill` or a dropped SSH session would send it. `TERM,TERM` sends two, one after
the other (each handled before the next is sent). `--nohup` first: the command starts with SIGHUP ignored, as
`nohup` starts it.
"""

from __future__ import annotations

import os
import signal
import sys

import pytest

from prunetui.cli.main import exit_process, main
from tests.faults import arm

if __name__ == "__main__":
    nohup = sys.argv[1] == "--nohup"
    name, separator, *args = sys.argv[2 if nohup else 1 :]
    assert separator == "--", "usage: python -m tests.signal_driver [--nohup] SIGNAL -- ARGS…"
    if nohup:
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # what nohup does before it runs the command
    import torch

    torch.set_num_threads(1)  # as in the tests
    signums = [signal.Signals[f"SIG{one}"] for one in name.split(",")]

    def send() -> None:
        for signum in signums:
            os.kill(os.getpid(), signum)  # Python runs its handler on return, before the next is sent

    arm(pytest.MonkeyPatch(), "training", send)
    exit_process(main(args))  # as `python -m prunetui` ends
