"""The app's cost: the same experiment headless (the engine alone) and driven by the app, and time to first paint.

    .venv/bin/python tests/benchmarks/bench_app.py [--train-subset 20000] [--epochs 2] [--repeats 4]

Throughput is the engine's own mean training images/s (RunSummary.images_per_s) for an iterative run on real
Fashion-MNIST (copied from /usr/share/datasets); the app drives it from headless Textual (`run_test`), with
every chart, bar and log being updated as in a terminal. Headless and app runs take turns, so background
load hits both alike. Target: app / headless ≥ 0.95. Time to first paint is measured in a fresh process,
from before it starts to the app's Ready event (first frame), with whether torch was imported by then.
Not a pytest test: named bench_*.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
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


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--train-subset", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=4, help="headless/app pairs, in ABBA order")
    parser.add_argument("--data-dir", default="/tmp/prunetui-bench-data", help="filled from /usr/share/datasets")
    return parser.parse_args()


def headless(config: ExperimentConfig) -> float:
    from prunetui.engine import Experiment, Failed

    for event in Experiment(config).run():
        if isinstance(event, Failed):
            sys.exit(f"headless run failed: {event.message}")
    return event.summary.images_per_s  # type: ignore[union-attr]


async def in_app(config: ExperimentConfig) -> float:
    app = PruneApp(config)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+r")
        while app.run_state.active:
            await asyncio.sleep(0.1)
        summary = app.run_state.summary
        if summary is None or not summary.complete:
            sys.exit(f"app run did not finish: {app.run_state.error}")
        return summary.images_per_s


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
    paints = [first_paint() for _ in range(3)]
    median = statistics.median(seconds for seconds, _ in paints)
    print(
        f"time to first paint (fresh process, headless Textual): median {median:.2f} s over {len(paints)}; "
        f"torch imported by then: {any(loaded for _, loaded in paints)}"
    )
    print(
        f"LeNet-5, Fashion-MNIST {args.train_subset:,} images, {config.epochs} epochs + {config.rounds} rounds × "
        f"{config.finetune_epochs} fine-tune, batch {config.batch_size}; {os.cpu_count()} CPUs"
    )
    headless(config.replace(epochs=1, rounds=1, train_subset=2000))  # warm up torch: the first run is slower
    speeds: dict[str, list[float]] = {"headless": [], "app": []}
    for repeat in range(1, args.repeats + 1):
        order = ["headless", "app"] if repeat % 2 else ["app", "headless"]  # ABBA: drifts in load hit both
        for name in order:
            speeds[name].append(headless(config) if name == "headless" else asyncio.run(in_app(config)))
        print(f"pair {repeat}: headless {speeds['headless'][-1]:,.0f} images/s, app {speeds['app'][-1]:,.0f} images/s")
    ratios = [app / alone for alone, app in zip(speeds["headless"], speeds["app"], strict=True)]
    alone, app = statistics.median(speeds["headless"]), statistics.median(speeds["app"])
    print(
        f"\nmedian: headless {alone:,.0f} images/s, app {app:,.0f} images/s: app / headless {app / alone:.3f}; "
        f"per pair {', '.join(f'{r:.3f}' for r in ratios)}, median {statistics.median(ratios):.3f} (target ≥ 0.95)"
    )


if __name__ == "__main__":
    main()
