"""How close the presets come to their papers: each preset run on the data sets present, its figures beside the
paper's, as a Markdown table.

    python tests/benchmarks/bench_fidelity.py [--data mnist] [--epochs 2] [--finetune-epochs 1] [--train-subset 10000]

By default it runs every preset reproduced here (not the CIFAR-10 recipes, `reproduced = false`, unless named)
on each data set that needs no download (the embedded fashion-mnist-mini and, where it is on disk, fashion-mnist
and mnist), on a budget cut short so that it ends in minutes on a CPU: at most
--epochs training epochs (rewinding retrains as many) and --finetune-epochs per round, on the first --train-subset
images, with AGP's mask updates spread over that training; the rounds, targets, optimizer and learning rates stay
the preset's. The budget is printed with the table. `--full` runs the presets
as they are (the papers' budgets: hours on a CPU). The papers used MNIST (Zhu & Gupta and Li et al. larger
networks and data sets): the `data set` column says what this run used. Not a pytest test: named bench_*.py.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a checkout without installing

from prunetui.describe_paper import control_flags, figures_text, measured, paper_text
from prunetui.engine import Experiment, ExperimentConfig, Failed, Finished, RunSummary
from prunetui.engine.core.data import availability
from prunetui.engine.core.data.sources import AVAILABLE_EMBEDDED, AVAILABLE_ON_DISK
from prunetui.engine.core.presets import all_presets


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", nargs="+", help="data sets to run on (default: those that need no download)")
    parser.add_argument("--data-dir", default="", help="where the data sets are (default: as prunetui finds them)")
    parser.add_argument("--presets", nargs="+", default=[], help="presets to run (default: all reproduced here)")
    parser.add_argument("--epochs", type=int, default=2, help="at most this many training epochs [2]")
    parser.add_argument("--finetune-epochs", type=int, default=1, help="at most this many per round [1]")
    parser.add_argument("--train-subset", type=int, default=10_000, help="the first N training images [10,000]")
    parser.add_argument("--full", action="store_true", help="the presets' own budgets, not cut short")
    parser.add_argument("--device", default="auto")
    return parser.parse_args()


def budget(config: ExperimentConfig, args: argparse.Namespace) -> ExperimentConfig:
    """A preset's config, with its training cut short unless --full."""
    config = config.replace(data_dir=args.data_dir, device=args.device)
    if args.full:
        return config
    return config.replace(
        epochs=min(config.epochs, args.epochs),
        finetune_epochs=min(config.finetune_epochs, args.finetune_epochs),
        train_subset=args.train_subset,
        agp_interval=0,  # AGP's ramp (t0 + nΔt steps) would outlast the short training: spread over it instead
    )


def run(config: ExperimentConfig) -> tuple[RunSummary, float]:
    started = time.perf_counter()
    for event in Experiment(config).run():
        if isinstance(event, Failed):
            raise SystemExit(f"{config.model} on {config.dataset}: {event.message}")
        if isinstance(event, Finished):
            return event.summary, time.perf_counter() - started
    raise AssertionError("an experiment ends with Finished, Stopped or Failed")


def main() -> None:
    args = parse_args()
    present = [
        name
        for name, state in availability(args.data_dir or None, download=False).items()
        if state in (AVAILABLE_EMBEDDED, AVAILABLE_ON_DISK)
    ]
    datasets = args.data or present
    # By default the presets reproduced here: the others are recipes for CIFAR-10 and a GPU, run when named.
    presets = [
        preset for preset in all_presets() if preset.name in args.presets or (not args.presets and preset.reproduced)
    ]
    if args.full:
        print("budget: each preset's own (the paper's where it says)")
    else:
        print(
            f"budget: at most {args.epochs} training epochs and {args.finetune_epochs} fine-tuning epochs per round, "
            f"on the first {args.train_subset:,} training images (AGP's updates spread over that training, not "
            "Δt apart); rounds, targets, optimizers and learning rates as in each preset"
        )
    print()
    print("| preset | data set | this run | the paper | seconds |")
    print("|---|---|---|---|---|")
    for preset in presets:
        paper = preset.paper
        runs = [(preset.name, budget(preset.config, args))]
        if preset.control_config:  # the paper's control, e.g. lth's --reinit
            runs.append((f"{preset.name} {control_flags(preset.control)}", budget(preset.control_config, args)))
        for dataset in datasets:
            for name, config in runs:
                summary, seconds = run(config.replace(dataset=dataset))
                used = dataset if paper.same_data(dataset) else f"{dataset} (paper: {paper.dataset})"
                said = paper_text(paper)
                row = f"| {name} | {used} | {figures_text(measured(paper, summary))} | {said} | {seconds:.0f} |"
                print(row, flush=True)


if __name__ == "__main__":
    main()
