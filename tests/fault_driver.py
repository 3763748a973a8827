"""`python -m tests.fault_driver PHASE ACTION -- RUN-ARGS…`: `prunetui run RUN-ARGS…` with a fault armed in PHASE.

The SIGKILL cases need a process of their own to die; the fault suite starts this one.
"""

from __future__ import annotations

import sys

import pytest

from prunetui.cli import main
from tests.faults import ACTIONS, arm

if __name__ == "__main__":
    phase, action, separator, *run_args = sys.argv[1:]
    assert separator == "--", "usage: python -m tests.fault_driver PHASE ACTION -- RUN-ARGS…"
    import torch

    torch.set_num_threads(1)  # as in the tests: tiny models gain nothing from a second thread
    arm(pytest.MonkeyPatch(), phase, ACTIONS[action])
    sys.exit(main(["run", *run_args]))
