"""Start latency: from starting `prunetui run` to its first training step, against `python -c "import torch"`.

    python tests/benchmarks/bench_start.py [--repeats 5] [--tree PATH]

Each measurement is a fresh process, timed by this script from just before it starts to the moment the child
prints a line: `import torch` prints after the import; `prunetui run` (the CLI's own code path, with the data
already on disk) prints at its first StepLoss event, which comes after its first optimizer step since it
trains on one batch, and exits there. The three take turns, so background load hits all alike; medians over
`--repeats` rounds. One warm-up run per data set first, as a user's first start would (it copies or decodes
the data once, and writes the bytecode caches that any install has; they are kept where PYTHONDONTWRITEBYTECODE
is set, or prunetui alone would be compiled from source at every start). `--before PATH` also runs another
checkout's prunetui (e.g. the main branch) in the same rounds, for a before/after under the same load; `--tree`
times another checkout instead of this one.
Each is also timed in CPU seconds (its process's user + system time), which a loaded machine stretches far less than
the wall clock. Target: prunetui run ÷ import torch ≤ 2.0 (its first optimizer imports torch's compiler, which
the app loads in the background; a run loads it while it reads its data and builds its network). Not a pytest test.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IMPORT_TORCH = "import torch; print('imported', flush=True)"
# The CLI's `prunetui run`, with its event stream watched: the first training step ends the process.
FIRST_STEP = """
import os, sys
from prunetui.engine import Experiment, StepLoss  # in every tree's layout
from prunetui.cli import main

experiment_run = Experiment.run

def watched(self):
    for event in experiment_run(self):
        if isinstance(event, StepLoss):
            print("first step", flush=True)
            os._exit(0)
        yield event

Experiment.run = watched
sys.exit(main(sys.argv[1:]))
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parents[2], help="prunetui checkout")
    parser.add_argument("--before", type=Path, help="another checkout to time in the same rounds")
    parser.add_argument("--datasets", default="fashion-mnist-mini,fashion-mnist", help="comma-separated")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "prunetui-bench-start")
    return parser.parse_args()


def seconds_to_first_line(argv: list[str], tree: Path, cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds from the start to the child's first line, and its whole CPU time (it exits at that line).
    Run outside any checkout (`python -c` puts the working directory first on the path), importing prunetui from
    `tree`."""
    env = {**os.environ, "PYTHONPATH": str(tree), "PRUNETUI_DATA": str(cwd / "data")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # see the module's docstring
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=cwd)
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith(("imported", "first step")):
            elapsed = time.perf_counter() - started
            break
    else:
        raise SystemExit(f"{' '.join(argv)} ended with code {child.wait()} before its first step")
    child.wait()
    now = resource.getrusage(resource.RUSAGE_CHILDREN)
    return elapsed, now.ru_utime + now.ru_stime - used.ru_utime - used.ru_stime


def main() -> None:
    args = parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    # One batch of 128 images: the engine reports the loss (StepLoss) after its first optimizer step.
    run = [sys.executable, "-c", FIRST_STEP, "run", "--epochs", "1", "--train-subset", "128"]
    contenders = {"import torch": ([sys.executable, "-c", IMPORT_TORCH], args.tree)}
    trees = {"": args.tree, " (before)": args.before} if args.before else {"": args.tree}
    for dataset in args.datasets.split(","):
        for suffix, tree in trees.items():
            argv = [*run, "--dataset", dataset, "--runs-dir", str(args.work / "runs")]
            contenders[f"run {dataset}{suffix}"] = argv, tree
            print(f"warm-up run {dataset}{suffix}: {seconds_to_first_line(argv, tree, args.work)[0]:.2f} s", flush=True)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
    for round_ in range(args.repeats):
        order = list(contenders)[round_ % len(contenders) :] + list(contenders)[: round_ % len(contenders)]
        for name in order:
            times[name].append(seconds_to_first_line(*contenders[name], args.work))
        print(
            f"round {round_ + 1}: " + ", ".join(f"{name} {times[name][-1][0]:.2f} s" for name in contenders), flush=True
        )
    wall_base = statistics.median(wall for wall, _ in times["import torch"])
    cpu_base = statistics.median(cpu for _, cpu in times["import torch"])
    before = f" (before: {args.before})" if args.before else ""
    load = os.getloadavg()[0]
    print(f"\nprunetui from {args.tree}{before}, {os.cpu_count()} CPUs, load {load:.1f}, medians of {args.repeats}")
    for name, values in times.items():
        wall, cpu = statistics.median(w for w, _ in values), statistics.median(c for _, c in values)
        spread = f"({min(w for w, _ in values):.2f}–{max(w for w, _ in values):.2f})"
        ratios = f"ratio {wall / wall_base:.2f}   CPU {cpu:5.2f} s  ratio {cpu / cpu_base:.2f}"
        print(f"{name:32} {wall:5.2f} s {spread}  {ratios}")


if __name__ == "__main__":
    main()
