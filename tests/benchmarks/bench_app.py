"""The app's cost: the same experiment headless (the engine alone) and driven by the app, and time to first paint.

    .venv/bin/python tests/benchmarks/bench_app.py [--train-subset 20000] [--epochs 2] [--repeats 3] [--size 160x48]

Throughput is the engine's own mean training images/s (RunSummary.images_per_s) for an iterative run on real
Fashion-MNIST (copied from /usr/share/datasets); the app drives it from headless Textual (`run_test`), with
every chart, bar and log being updated as in a terminal. Each run is a fresh process, as a user would start
either: torch's OpenMP threads spin-wait for work only while the process has no more of them than CPUs, and
a process that has already trained from another thread keeps an idle team that makes the next one sleep
instead, which would charge the app for the benchmark's own history. Headless and app take turns going first, so
background load hits both alike. Target: app / headless ≥ 0.95. Also reported: the app's UI thread CPU while a run
goes (target ≤ 2 % of a core), and counting its work once the run has ended. Time to first paint is measured in a
fresh process, from before it starts to the app's Ready event (first frame), with whether torch was imported by
then. Not a pytest test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a checkout without installing

from prunetui.app.app import PruneApp
from prunetui.engine import ExperimentConfig

PAINT_PROBE = """
import sys, time
from prunetui.app.app import PruneApp

class Probe(PruneApp):
    def on_ready(self) -> None:
        print(time.time(), "torch" in sys.modules, flush=True)
        self.exit()

Probe().run(headless=True, size=(120, 40))
"""


def terminal_size(text: str) -> tuple[int, int]:
    columns, _, rows = text.partition("x")
    return int(columns), int(rows)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--train-subset", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="headless/app pairs")
    parser.add_argument("--size", type=terminal_size, default=(160, 48), help="the app's terminal, COLSxROWS")
    parser.add_argument("--data-dir", default="/tmp/prunetui-bench-data", help="filled from /usr/share/datasets")
    parser.add_argument("--contender", choices=("headless", "app"), help=argparse.SUPPRESS)  # one run, in a child
    return parser.parse_args()


def headless(config: ExperimentConfig) -> dict[str, float]:
    from prunetui.engine import Experiment, Failed

    for event in Experiment(config).run():
        if isinstance(event, Failed):
            sys.exit(f"headless run failed: {event.message}")
    return {"images_per_s": event.summary.images_per_s}  # type: ignore[union-attr]


async def in_app(config: ExperimentConfig, size: tuple[int, int]) -> dict[str, float]:
    app = PruneApp(config)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+r")
        cpu, wall = time.thread_time(), time.perf_counter()
        going = (0.0, 0.0)  # the UI thread's CPU and wall seconds at the last look that found the run going
        while app.main_screen.run_state.active:
            going = (time.thread_time() - cpu, time.perf_counter() - wall)
            await asyncio.sleep(0.1)
        # With the app's work once the run ended (the form unlocked, the summary laid out), which training never
        # waits for, but which weighs on a short run's share
        ui_cpu_to_end = (time.thread_time() - cpu) / (time.perf_counter() - wall)
        summary = app.main_screen.run_state.summary
        if summary is None or not summary.complete:
            sys.exit(f"app run did not finish: {app.main_screen.run_state.error}")
        return {"images_per_s": summary.images_per_s, "ui_cpu": going[0] / going[1], "ui_cpu_to_end": ui_cpu_to_end}


def run_child(contender: str) -> dict[str, float]:
    """One run in a fresh process, with this script's arguments."""
    argv = [sys.executable, __file__, *sys.argv[1:], "--contender", contender]
    return json.loads(subprocess.run(argv, capture_output=True, text=True, check=True).stdout.splitlines()[-1])


def first_paint() -> tuple[float, bool]:
    """Seconds from starting a fresh Python process to the app's first frame, and whether torch was loaded."""
    started = time.time()
    out = subprocess.run([sys.executable, "-c", PAINT_PROBE], capture_output=True, text=True, check=True).stdout
    painted, torch_loaded = out.split()
    return float(painted) - started, torch_loaded == "True"


def main() -> None:
    args = parse_args()
    config = ExperimentConfig(
        dataset="fashion-mnist",
        data_dir=args.data_dir,
        schedule="iterative",
        rounds=2,
        sparsity=0.8,
        epochs=args.epochs,
        finetune_epochs=1,
        device="cpu",
        train_subset=args.train_subset,
    )
    if args.contender:
        os.environ.setdefault("PRUNETUI_RUNS", tempfile.mkdtemp(prefix="prunetui-bench-runs-"))  # the app saves runs
        print(json.dumps(headless(config) if args.contender == "headless" else asyncio.run(in_app(config, args.size))))
        return
    paints = [first_paint() for _ in range(3)]
    print(
        f"time to first paint (fresh process, headless Textual): median "
        f"{statistics.median(seconds for seconds, _ in paints):.2f} s over {len(paints)}; "
        f"torch imported by then: {any(loaded for _, loaded in paints)}"
    )
    print(
        f"LeNet-5, Fashion-MNIST {args.train_subset:,} images, {config.epochs} epochs + {config.rounds} rounds × "
        f"{config.finetune_epochs} fine-tune, batch {config.batch_size}; {os.cpu_count()} CPUs; "
        f"the app at {args.size[0]}×{args.size[1]}"
    )
    results: dict[str, list[dict[str, float]]] = {"headless": [], "app": []}
    for repeat in range(args.repeats):
        for name in ("headless", "app") if repeat % 2 == 0 else ("app", "headless"):
            results[name].append(run_child(name))
        alone, app = results["headless"][-1]["images_per_s"], results["app"][-1]["images_per_s"]
        print(f"pair {repeat + 1}: headless {alone:,.0f} images/s, app {app:,.0f} images/s, ratio {app / alone:.3f}")
    alone, app = (statistics.median(r["images_per_s"] for r in results[name]) for name in ("headless", "app"))
    ui_cpu, to_end = (statistics.median(r[key] for r in results["app"]) for key in ("ui_cpu", "ui_cpu_to_end"))
    print(
        f"\nmedian: headless {alone:,.0f} images/s, app {app:,.0f} images/s, app / headless {app / alone:.3f} "
        f"(target ≥ 0.95); the app's UI thread used {ui_cpu:.1%} of one core while the run went "
        f"({to_end:.1%} with its work once the run ended)"
    )


if __name__ == "__main__":
    main()
