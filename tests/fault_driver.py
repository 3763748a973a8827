"""`python -m tests.fault_driver PHASE ACTION -- RUN-ARGS…`: `prunetui run RUN-ARGS…` with a fault armed in PHASE.

The SIGKILL cases need a process of their own to die; the fault suite starts this one. PHASE may name several
phases, comma-separated: this process then imports torch once and forks a child per phase, each running with
`{phase}` in RUN-ARGS replaced by its phase, and prints `PHASE EXIT-CODE` for each (-9: killed by SIGKILL). Six
processes that each imported torch and its compiler took 19.5 s of CPU for the six SIGKILLed runs; forked, 5 s.
"""

from __future__ import annotations

import os
import sys
import traceback

import pytest

from prunetui.cli import main
from tests.faults import ACTIONS, arm


def faulty_run(phase: str, action: str, run_args: list[str]) -> int:
    arm(pytest.MonkeyPatch(), phase, ACTIONS[action])
    return main(["run", *(arg.replace("{phase}", phase) for arg in run_args)])


def forked_run(phase: str, action: str, run_args: list[str]) -> int:
    """The child's pid; the child runs `faulty_run` and ends there, whatever happens."""
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        os.dup2(2, 1)  # what the run prints goes to stderr: stdout is the exit codes'
        code = faulty_run(phase, action, run_args)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    phases, action, separator, *run_args = sys.argv[1:]
    assert separator == "--", "usage: python -m tests.fault_driver PHASE[,PHASE…] ACTION -- RUN-ARGS…"
    import torch

    torch.set_num_threads(1)  # as in the tests: tiny models gain nothing from a second thread
    if "," not in phases:
        sys.exit(faulty_run(phases, action, run_args))
    import prunetui.engine.core.experiment  # noqa: F401 - what every child needs, loaded once before they fork
    from prunetui.engine.core.preload import load_torch_optim

    load_torch_optim().join()  # torch's compiler, which each run's first optimizer loads: as long as torch took
    children = {forked_run(phase, action, run_args): phase for phase in phases.split(",")}
    for _ in children:
        pid, status = os.wait()
        print(children[pid], os.waitstatus_to_exitcode(status), flush=True)
