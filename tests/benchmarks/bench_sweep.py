"""Sweep wall time: points one after another in this process, against --jobs 2 and Ray with 2 CPUs.

    python tests/benchmarks/bench_sweep.py [--repeats 3] [--train-subset 10000] [--finetune-epochs 2] [--no-ray]
                                           [--model lenet5] [--batch-size 128] [--device cpu]

One small sweep on the built-in fashion-mnist-mini (3 methods by 4 sparsities, each point pruned and fine-tuned
for two epochs). The dense model is trained once, before timing, and copied into each fresh sweep directory, so
every setting times the same points and only them; a setting's time includes starting its workers (spawned
processes importing torch) but not starting Ray, which is timed apart. The settings take turns, so load from
other processes hits them alike; the table shows medians, and the speed-up is the best serial median over each
parallel one. With `--device cuda` every setting trains on the GPU, `--jobs 4` joins them (the workers share the
GPU) and Ray is left out. Not a pytest test: named bench_*.py.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a checkout without installing

from prunetui.describe import counted
from prunetui.engine import ExperimentConfig
from prunetui.engine.analyses import SweepEnded, SweepSpec
from prunetui.engine.analyses.executor import Parallel
from prunetui.engine.analyses.sweep import SETTINGS_FILE, Sweep
from prunetui.engine.storage.runs import DENSE_MODEL_FILE

METHODS = ("l1:layer:one-shot", "l1:global:one-shot", "random:layer:one-shot")
SPARSITIES = (0.5, 0.8, 0.9, 0.95)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of each setting (the median counts)")
    parser.add_argument("--train-subset", type=int, default=10000, help="training images (10,000: all of them)")
    parser.add_argument("--finetune-epochs", type=int, default=2, help="fine-tuning epochs per point")
    parser.add_argument("--no-ray", action="store_true", help="leave Ray out (it is an optional extra)")
    parser.add_argument("--model", default="lenet5", help="network (lenet300 with --batch-size 60: lth-lenet300's)")
    parser.add_argument("--batch-size", type=int, default=128, help="training batch size")
    parser.add_argument(
        "--device", default="cpu", help="cpu, or cuda: the points on the GPU, --jobs 2 and 4 sharing it (no Ray)"
    )
    return parser.parse_args()


def timed_sweep(spec: SweepSpec, prepared: Path, parallel: Parallel) -> float:
    """Seconds for the sweep's points in a fresh directory holding the prepared dense model."""
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as temporary:
        directory = Path(temporary) / "sweep"
        directory.mkdir()
        for name in (SETTINGS_FILE, DENSE_MODEL_FILE):
            shutil.copy(prepared / name, directory / name)
        started = time.perf_counter()
        ended = list(Sweep(spec, directory, parallel=parallel).run())[-1]
        seconds = time.perf_counter() - started
    assert isinstance(ended, SweepEnded) and ended.status == "finished", ended
    assert len(ended.points) == len(spec.points())
    return seconds


def main() -> None:
    args = parse_args()
    config = ExperimentConfig(
        model=args.model,
        batch_size=args.batch_size,
        train_subset=args.train_subset,
        epochs=1,
        finetune_epochs=args.finetune_epochs,
        device=args.device,
    )
    spec = SweepSpec(config, METHODS, SPARSITIES)
    settings = {
        "serial, 1 thread": Parallel(threads=1),
        "serial, 2 threads": Parallel(threads=2),
        "--jobs 2 (1 thread each)": Parallel(jobs=2, threads=1),
    }
    if args.device == "cuda":  # every worker trains on the config's device: they share the GPU
        settings["--jobs 4 (1 thread each)"] = Parallel(jobs=4, threads=1)
    ray_start = None
    if not args.no_ray and args.device != "cuda":
        import ray

        started = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, logging_level="error")
        ray_start = time.perf_counter() - started
        settings["Ray, 2 CPUs (1 thread a task)"] = Parallel(threads=1, ray="")
    with tempfile.TemporaryDirectory(prefix="bench-sweep-dense-") as prepared:
        print(f"training the dense model once ({args.train_subset} images, 1 epoch) …", flush=True)
        dense = list(Sweep(SweepSpec(config, METHODS[:1], SPARSITIES[:1]), prepared).run())[-1]
        assert isinstance(dense, SweepEnded) and dense.status == "finished", dense
        times: dict[str, list[float]] = {name: [] for name in settings}
        for repeat in range(args.repeats):
            for name, parallel in settings.items():
                times[name].append(timed_sweep(spec, Path(prepared), parallel))
                print(f"  round {repeat + 1}: {name}: {times[name][-1]:.1f} s", flush=True)
    medians = {name: statistics.median(values) for name, values in times.items()}
    best_serial = min(medians[name] for name in medians if name.startswith("serial"))
    sweep = f"{len(METHODS)} methods × {len(SPARSITIES)} sparsities"
    each = f"{args.model}, batch {args.batch_size}, {counted(args.train_subset, 'image')}, "
    each += f"{counted(args.finetune_epochs, 'fine-tuning epoch')} each"
    print(f"\n{len(spec.points())} points ({sweep}, {each}), medians of {args.repeats}:")
    for name, median in medians.items():
        speedup = "" if name.startswith("serial") else f"   {best_serial / median:.2f}× the best serial"
        spread = f"{min(times[name]):.1f}–{max(times[name]):.1f}"
        print(f"  {name:32} {median:6.1f} s  (runs {spread} s){speedup}")
    if ray_start is not None:
        print(f"  (starting Ray itself, not counted above: {ray_start:.1f} s)")
        ray.shutdown()


if __name__ == "__main__":
    main()
