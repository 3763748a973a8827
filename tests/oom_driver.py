"""`python -m tests.oom_driver MARGIN_MB -- RUN-ARGS…`: `prunetui run RUN-ARGS…` whose memory runs out mid-epoch.

After `faults.MID_EPOCH_STEP` training steps the process's address space is capped at what it uses plus
MARGIN_MB (RLIMIT_AS), and a tensor larger than that is asked for: torch's allocator fails for real, and the
failure handler has only the margin left. lenet300 is widened to 4096 and 4096 hidden units (80 MB of weights),
so copying the weights, as a normal save does, cannot fit in the margin.
"""

from __future__ import annotations

import resource
import sys

import pytest

from prunetui.cli import main
from tests.faults import arm


def address_space() -> int:
    """This process's virtual memory size in bytes (VmSize)."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmSize:"))
    return int(line.split()[1]) * 1024


if __name__ == "__main__":
    margin, separator, *run_args = sys.argv[1:]
    assert separator == "--", "usage: python -m tests.oom_driver MARGIN_MB -- RUN-ARGS…"
    import torch

    from prunetui.engine.core.models import LeNet300

    torch.set_num_threads(1)
    LeNet300.__init__.__defaults__ = ((4096, 4096), *LeNet300.__init__.__defaults__[1:])  # hidden, then the rest

    def exhaust_memory() -> None:
        limit = address_space() + int(margin) * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
        torch.empty(limit, dtype=torch.uint8)  # more than is left: the allocator fails

    arm(pytest.MonkeyPatch(), "training", exhaust_memory)
    sys.exit(main(["run", *run_args]))
