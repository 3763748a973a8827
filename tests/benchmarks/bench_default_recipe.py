"""How stable the default recipe is across seeds: the dense accuracy of seeds 0-4 of the default run, with its
min, median and max, and whether every seed is within 3 points of the median (what the defaults promise).

    python tests/benchmarks/bench_default_recipe.py [--data fashion-mnist-mini fashion-mnist] [--seeds 0-4]
        [--model lenet5] [--lr 0.05 --optimizer sgd --batch-size 128]  # a candidate recipe instead of the defaults

Dense accuracy is the test accuracy of the trained model just before pruning, so each run prunes once without
fine-tuning (finetune-epochs 0). Everything else is the default run: the default epochs, the whole training set
of each data set. Full Fashion-MNIST is found where Debian's dataset-fashion-mnist puts it, or under --data-dir.
Not a pytest test (named bench_*.py): five full runs take minutes on a CPU. Exits 1 when a seed is off.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a checkout without installing

from prunetui.engine import Experiment, ExperimentConfig, Failed, Finished

SPREAD = 0.03  # every seed's dense accuracy within 3 points of the seeds' median


def parse_args() -> argparse.Namespace:
    defaults = ExperimentConfig()
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", nargs="+", default=[defaults.dataset], help="data sets [the default]")
    parser.add_argument("--data-dir", default="", help="where the data sets are (default: as prunetui finds them)")
    parser.add_argument("--seeds", default="0-4", help="first-last [0-4]")
    parser.add_argument("--model", default=defaults.model)
    parser.add_argument("--optimizer", default=defaults.optimizer)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr-schedule", default=defaults.lr_schedule)
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--train-subset", type=int, default=0, help="the first N training images (0: all) [0]")
    parser.add_argument("--device", default="cpu")
    return parser.parse_args()


def dense_accuracy(config: ExperimentConfig) -> float:
    for event in Experiment(config).run():
        if isinstance(event, Failed):
            raise SystemExit(f"seed {config.seed} on {config.dataset}: {event.message}")
        if isinstance(event, Finished):
            assert event.summary.dense_accuracy is not None
            return event.summary.dense_accuracy
    raise AssertionError("an experiment ends with Finished, Stopped or Failed")


def main() -> int:
    args = parse_args()
    first, _, last = args.seeds.partition("-")
    seeds = range(int(first), int(last or first) + 1)
    recipe = ExperimentConfig(
        model=args.model,
        optimizer=args.optimizer,
        lr=args.lr,
        batch_size=args.batch_size,
        lr_schedule=args.lr_schedule,
        epochs=args.epochs,
        train_subset=args.train_subset,
        finetune_epochs=0,
        data_dir=args.data_dir,
        device=args.device,
    )
    print(
        f"{args.model}: {args.optimizer} lr {args.lr:g}, batch {args.batch_size}, {args.lr_schedule} rate, "
        f"{args.epochs} epochs{f', first {args.train_subset:,} images' if args.train_subset else ''}; "
        f"seeds {seeds.start}-{seeds.stop - 1}"
    )
    print("| data set | dense accuracy per seed (%) | min | median | max | within 3 points | seconds |")
    print("|---|---|---|---|---|---|---|")
    all_within = True
    for dataset in args.data:
        started = time.perf_counter()
        accuracies = [dense_accuracy(recipe.replace(dataset=dataset, seed=seed).validate()) for seed in seeds]
        median = statistics.median(accuracies)
        within = all(abs(accuracy - median) <= SPREAD for accuracy in accuracies)
        all_within &= within
        each = ", ".join(f"{accuracy * 100:.1f}" for accuracy in accuracies)
        print(
            f"| {dataset} | {each} | {min(accuracies) * 100:.1f} | {median * 100:.1f} | {max(accuracies) * 100:.1f} "
            f"| {'yes' if within else 'NO'} | {time.perf_counter() - started:.0f} |",
            flush=True,
        )
    return 0 if all_within else 1


if __name__ == "__main__":
    sys.exit(main())
