"""Dense against compact: MACs, parameters and latency of resnet20, resnet56 and vgg16-bn with half the channels
of every group removed structurally (Torch-Pruning, group L1, layer scope), on 3x32x32 images of 10 classes.

    .venv/bin/python tests/benchmarks/bench_models.py [--models resnet56] [--batches 1 256] [--repeats 5]

The goal (issue 16): the compact ResNet-56 at 50 % of channels is at least 2x faster than the dense one at batch
256 on a 2-core CPU. The two models take turns, batch after batch, so load from other processes hits them alike;
the median of `--repeats` forward passes is reported. Weights are random (speed does not depend on them); the
compact model's outputs are checked against the masked model's first. Quick by default: three repeats, and a
larger batch only where asked. Not a pytest test: named bench_*.py.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a checkout without installing

from prunetui.engine.core.networks.cost import measure_cost, measure_latency
from prunetui.engine.core.networks.registry import resolve
from prunetui.engine.core.networks.spec import InputShape
from prunetui.engine.pruning.structural import apply_masks, compact_model, plain_copy, plan_pruning

SHAPE = InputShape(3, 32, 10)
FRACTION = 0.5


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["resnet20", "resnet56", "vgg16-bn"])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 256])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"{SHAPE}, {FRACTION:.0%} of channels pruned; device {args.device}, {torch.get_num_threads()} torch threads, "
        f"{os.cpu_count()} CPUs, load average {load:.1f}; median of {args.repeats}"
    )
    columns = f"{'model':<10} {'params':>17} {'MACs':>20} {'MACs kept':>9}"
    print(f"{columns}  batch  {'dense ms':>9} {'compact ms':>10} speed-up")
    for name in args.models:
        torch.manual_seed(0)
        spec = resolve(name)
        model = spec.build(SHAPE).eval()
        example = spec.example_input(SHAPE)
        output = spec.layers(model, SHAPE).output
        pruning = plan_pruning(model, example, output_layer=output, importance="l1", fraction=FRACTION)
        compact = compact_model(model, example, pruning).eval()
        masked = plain_copy(model)
        apply_masks(masked, pruning)
        with torch.no_grad():
            difference = float((masked.eval()(example) - compact(example)).abs().max())
        dense_cost, compact_cost = measure_cost(model, example), measure_cost(compact, example)
        latencies = measure_latency(
            [model, compact], example[0], batches=args.batches, device=args.device, repeats=args.repeats
        )
        for i, latency in enumerate(latencies):
            head = (
                f"{name:<10} {dense_cost.parameters / 1e6:>6.2f}M → {compact_cost.parameters / 1e6:>6.2f}M "
                f"{dense_cost.macs / 1e6:>7.1f}M → {compact_cost.macs / 1e6:>7.1f}M "
                f"{compact_cost.macs / dense_cost.macs:>9.1%}"
                if i == 0
                else " " * 59
            )
            dense_ms, compact_ms = latency.milliseconds
            print(f"{head}  {latency.batch:>5}  {dense_ms:>9.1f} {compact_ms:>10.1f} {latency.speedup():>7.2f}x")
        print(f"{'':<10} outputs: masked vs compact differ by at most {difference:.2g}")


if __name__ == "__main__":
    main()
