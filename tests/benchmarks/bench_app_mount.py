"""CPU of opening the app: one session from start to idle once the form's deferred rows and the run's panels are in.

    PYTHONPATH=$PWD python tests/benchmarks/bench_app_mount.py [--repeats 5] [--profile FILE]

A session is what a pilot test opens: `PruneApp(ExperimentConfig(device="cpu"))` in `run_test`, waiting until the
main screen's `after_first_frame` has mounted the panels, one `pilot.pause()`, exit. CPU seconds
(`time.process_time`, all threads) per session, median of `--repeats` after one warm-up session (imports, torch
loaded in the background, the online check), at 80x24 and 140x44. `--profile FILE` writes a cProfile of the
sessions (`python -m pstats FILE`). Runs and remembered settings go to temporary directories. Not a pytest test.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a checkout without installing

SIZES = ((80, 24), (140, 44))


async def session(size: tuple[int, int]) -> float:
    """CPU seconds of one app session at `size`, to idle after the deferred rows and panels."""
    from prunetui.app.app import PruneApp
    from prunetui.engine import ExperimentConfig

    started = time.process_time()
    app = PruneApp(ExperimentConfig(device="cpu"))
    async with app.run_test(size=size) as pilot:
        while not app.main_screen.query("#status"):  # after_first_frame has mounted the rows, then the panels
            await pilot.pause()
        await pilot.pause()
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--profile", help="write a cProfile of the timed sessions here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="prunetui-bench-") as scratch:
        os.environ["PRUNETUI_CONFIG_DIR"] = scratch
        os.environ["PRUNETUI_RUNS"] = scratch
        from prunetui.engine.core.preload import load_torch_optim

        asyncio.run(session(SIZES[0]))  # warm-up: imports, caches
        load_torch_optim().join()  # torch's import in its thread must not count against a timed session
        profiler = cProfile.Profile() if args.profile else None
        print(f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, medians of {args.repeats} sessions")
        for size in SIZES:
            if profiler is not None:
                profiler.enable()
            times = [asyncio.run(session(size)) for _ in range(args.repeats)]
            if profiler is not None:
                profiler.disable()
            spread = ", ".join(f"{t:.2f}" for t in times)
            print(f"{size[0]}x{size[1]}: {statistics.median(times):.3f} s CPU per session ({spread})")
        if profiler is not None:
            profiler.dump_stats(args.profile)


if __name__ == "__main__":
    main()
