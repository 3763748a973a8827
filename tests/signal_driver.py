"""`python -m tests.signal_driver SIGNAL -- ARGS…`: `prunetui ARGS…`, which sends itself SIGNAL (TERM, HUP, INT)
mid-epoch of the first training it runs in this process (after `faults.MID_EPOCH_STEP` optimizer steps): a real
signal, at a known moment, as `kill` or a dropped SSH session would send it.
"""

from __future__ import annotations

import os
import signal
import sys

import pytest

from prunetui.cli.main import exit_process, main
from tests.faults import arm

if __name__ == "__main__":
    name, separator, *args = sys.argv[1:]
    assert separator == "--", "usage: python -m tests.signal_driver SIGNAL -- ARGS…"
    import torch

    torch.set_num_threads(1)  # as in the tests
    signum = signal.Signals[f"SIG{name}"]
    arm(pytest.MonkeyPatch(), "training", lambda: os.kill(os.getpid(), signum))
    exit_process(main(args))  # as `python -m prunetui` ends
