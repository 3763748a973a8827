"""Training throughput: the engine against the usual torchvision + DataLoader loop.

    .venv/bin/python tests/benchmarks/bench_training.py [--epochs 3] [--batch-size 128] [--train-subset 0]
    .venv/bin/python tests/benchmarks/bench_training.py --model resnet20 --dataset cifar-shaped [--device cuda
        --precision bf16 --batch-size 512]

Both train the same model with the same optimizer (SGD, momentum 0.9), seed, batch size, epochs and
images; only the data path (and for the engine --precision) differs. On real Fashion-MNIST (--dataset
fashion-mnist, LeNet-5 by default) the engine slices whole normalised tensors; the reference decodes each sample
with transforms.Compose([ToTensor(), Normalize(...)]) and collates batches in a DataLoader. On cifar-shaped data
(random uint8 3x32x32 images, as many as CIFAR-10's 50,000, made here: throughput does not depend on content)
the reference is the common CIFAR recipe: PIL images through RandomCrop(32, padding=4) + RandomHorizontalFlip +
ToTensor + Normalize in a DataLoader with 2 workers, fp32; the engine trains as `prunetui run` does, on a
`file.py:factory` data set with --augment crop-flip (batched on the device), its conv nets in channels_last.
Images/s counts training epochs only (no evaluation) for both. The contenders take turns epoch by epoch,
so load from other processes on the machine hits them alike. On a busy machine two torch threads that
spin-wait for each other can lose 10x in one epoch and not the next: run more epochs and compare the best.
Not a pytest test: named bench_*.py.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset
from torchvision import datasets, transforms

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a checkout without installing

from prunetui.engine import EpochEnd, Experiment, ExperimentConfig, Failed, RunStarted, StepLoss
from prunetui.engine.core.networks.registry import resolve
from prunetui.engine.core.networks.spec import InputShape

LR = 0.05
SEED = 0
FASHION_MNIST_MEAN, FASHION_MNIST_STD = 0.2860, 0.3530  # the usual published constants
ENGINE = "engine"
CIFAR_SHAPED = "cifar-shaped"
CIFAR_IMAGES, CIFAR_TEST_IMAGES, CIFAR_CLASSES = 50_000, 1_000, 10
CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)  # CIFAR-10's, as the recipe uses
IMAGES_VARIABLE = "PRUNETUI_BENCH_IMAGES"  # how many cifar-shaped training images the engine's factory makes


@dataclass(frozen=True)
class Epoch:
    images: int
    seconds: float
    loss: float  # mean training loss over the epoch

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--model", default="lenet5", help="any --model of prunetui's, the same for both")
    parser.add_argument("--dataset", default="fashion-mnist", choices=("fashion-mnist", CIFAR_SHAPED))
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "fp16"), help="the engine's")
    parser.add_argument("--data-path", default="auto", choices=("auto", "memory", "stream"), help="the engine's")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--train-subset", type=int, default=0, help="first N training images (0: all)")
    parser.add_argument("--data-dir", default="/tmp/prunetui-bench-data", help="filled from /usr/share/datasets")
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        help="num_workers values for the reference (default: 2 on cifar-shaped, else 0 2)",
    )
    parser.add_argument("--threads", type=int, default=0, help="torch threads for both (0: torch's default)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda, for both")
    args = parser.parse_args()
    args.workers = args.workers or ([2] if args.dataset == CIFAR_SHAPED else [0, 2])
    return args


def cifar_shaped_tensors(train: int) -> tuple[TensorDataset, TensorDataset]:
    """`train` random uint8 3x32x32 training images (CIFAR_TEST_IMAGES test ones) and labels, the same each call."""
    generator = torch.Generator().manual_seed(SEED)
    splits = []
    for count in (train, CIFAR_TEST_IMAGES):
        images = torch.randint(0, 256, (count, 3, 32, 32), dtype=torch.uint8, generator=generator)
        splits.append(TensorDataset(images, torch.randint(0, CIFAR_CLASSES, (count,), generator=generator)))
    return splits[0], splits[1]


def cifar_shaped() -> tuple[TensorDataset, TensorDataset]:
    """The engine's data set (`--dataset bench_training.py:cifar_shaped`), read in the process that trains."""
    return cifar_shaped_tensors(int(os.environ.get(IMAGES_VARIABLE, CIFAR_IMAGES)))


class PILImages(Dataset[tuple[torch.Tensor, int]]):
    """As torchvision's CIFAR10 serves its images: a PIL image per item through the transform."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform: transforms.Compose) -> None:
        self.images = images.permute(0, 2, 3, 1).numpy()  # N x H x W x C, as CIFAR10 keeps them
        self.labels, self.transform = labels.tolist(), transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.transform(Image.fromarray(self.images[index])), self.labels[index]


def engine_epochs(args: argparse.Namespace) -> Iterator[Epoch]:
    """The engine's own run, one training epoch per item; its timing is the Trainer's (training loop only)."""
    cifar = args.dataset == CIFAR_SHAPED
    if cifar:
        os.environ[IMAGES_VARIABLE] = str(args.train_subset or CIFAR_IMAGES)
    config = ExperimentConfig(
        model=args.model,
        dataset=f"{Path(__file__).resolve()}:cifar_shaped" if cifar else "fashion-mnist",
        data_dir=args.data_dir,
        augment="crop-flip" if cifar else "none",
        precision=args.precision,
        data_path=args.data_path,
        validation_split=0.0,
        schedule="one-shot",
        sparsity=0.0,
        epochs=args.epochs,
        finetune_epochs=0,
        optimizer="sgd",
        lr=LR,
        batch_size=args.batch_size,
        seed=SEED,
        device=args.device,
        train_subset=0 if cifar else args.train_subset,
    )
    started = time.perf_counter()
    weighted, previous, batches, images = 0.0, 0, 1, 0
    # Paused only at EpochEnd (between epochs), never inside the Trainer's timed loop.
    for event in Experiment(config).run():
        if isinstance(event, RunStarted):
            images = event.train_size
            print(f"engine: data ready in {time.perf_counter() - started:.1f} s ({images:,} training images)")
        elif isinstance(event, StepLoss):  # each report is the mean over the batches since the previous one
            weighted += event.loss * (event.batch - previous)
            previous, batches = event.batch % event.batches, event.batches
        elif isinstance(event, EpochEnd) and event.phase == "train":
            yield Epoch(images, images / event.images_per_s, weighted / batches)
            weighted = 0.0
        elif isinstance(event, Failed):
            sys.exit(f"engine run failed: {event.message}")


def reference_epochs(args: argparse.Namespace, workers: int) -> Iterator[Epoch]:
    """The common loop: per-sample transforms through a DataLoader, the loss read every batch."""
    dataset: Dataset[tuple[torch.Tensor, int]]
    if args.dataset == CIFAR_SHAPED:
        transform = transforms.Compose(
            [
                transforms.RandomCrop(32, padding=4),
                transforms.RandomHorizontalFlip(),
                transforms.ToTensor(),
                transforms.Normalize(CIFAR_MEAN, CIFAR_STD),
            ]
        )
        train, _ = cifar_shaped_tensors(args.train_subset or CIFAR_IMAGES)
        dataset, shape = PILImages(*train.tensors, transform), InputShape(3, 32, CIFAR_CLASSES)
    else:
        transform = transforms.Compose(
            [transforms.ToTensor(), transforms.Normalize((FASHION_MNIST_MEAN,), (FASHION_MNIST_STD,))]
        )
        dataset = datasets.FashionMNIST(args.data_dir, train=True, transform=transform)  # the files the engine copied
        if args.train_subset:
            dataset = Subset(dataset, range(args.train_subset))
        shape = InputShape(1, 28, 10)
    on_gpu = args.device == "cuda"
    loader = DataLoader(dataset, batch_size=args.batch_size, shuffle=True, num_workers=workers, pin_memory=on_gpu)
    torch.manual_seed(SEED)
    model = resolve(args.model).build(shape).to(args.device)  # contiguous, as the recipe leaves it
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    for _ in range(args.epochs):
        model.train()
        started, total, batches, images = time.perf_counter(), 0.0, 0, 0
        for cpu_inputs, cpu_labels in loader:
            inputs = cpu_inputs.to(args.device, non_blocking=on_gpu)
            labels = cpu_labels.to(args.device, non_blocking=on_gpu)
            optimizer.zero_grad()
            loss = F.cross_entropy(model(inputs), labels)
            loss.backward()
            optimizer.step()
            total += loss.item()
            batches += 1
            images += len(labels)
        if on_gpu:
            torch.cuda.synchronize()
        yield Epoch(images, time.perf_counter() - started, total / batches)


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    subset = f"{args.train_subset:,}" if args.train_subset else "all"
    print(
        f"{args.model} on {args.dataset}: epochs {args.epochs}, batch {args.batch_size}, {subset} training images, "
        f"SGD lr {LR} momentum 0.9, engine {args.precision}, --data-path {args.data_path}; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {os.cpu_count()} CPUs, device {device_name(args.device)}, "
        f"load average {' '.join(f'{load:.2f}' for load in os.getloadavg())}"
    )
    contenders = {ENGINE: engine_epochs(args)}
    contenders |= {f"reference, num_workers={w}": reference_epochs(args, w) for w in args.workers}
    results: dict[str, list[Epoch]] = {name: [] for name in contenders}
    for epoch in range(1, args.epochs + 1):  # take turns, so background load hits every contender alike
        for name, epochs in contenders.items():
            result = next(epochs)
            results[name].append(result)
            print(f"{name}: epoch {epoch}: {result.images_per_s:,.0f} images/s, mean loss {result.loss:.4f}")

    report(results)
    print(f"load average at the end: {' '.join(f'{load:.2f}' for load in os.getloadavg())}")


def device_name(device: str) -> str:
    return torch.cuda.get_device_name() if device == "cuda" else "cpu"


def report(results: dict[str, list[Epoch]]) -> None:
    """A table of each contender's speed, and the engine's ratio to each reference three ways."""

    def overall(epochs: list[Epoch]) -> float:
        return sum(e.images for e in epochs) / sum(e.seconds for e in epochs)

    def best(epochs: list[Epoch]) -> float:
        return max(e.images_per_s for e in epochs)

    engine = results[ENGINE]
    print(f"\n{'images/s':>38}{'best epoch':>12}{'loss*':>8}   engine ÷ this: overall, median epoch, best ÷ best")
    for name, epochs in results.items():
        ratios = ""
        if name != ENGINE:
            median = statistics.median(a.images_per_s / b.images_per_s for a, b in zip(engine, epochs, strict=True))
            ratios = f"{overall(engine) / overall(epochs):>17.2f}×{median:>13.2f}×{best(engine) / best(epochs):>13.2f}×"
        print(f"{name:28}{overall(epochs):>10,.0f}{best(epochs):>12,.0f}{epochs[-1].loss:>8.4f}{ratios}")
    print("* mean training loss of the last epoch: same model, optimizer and data, so they should be close")
    fastest = max((name for name in results if name != ENGINE), key=lambda name: best(results[name]))
    print(
        f"\nengine ÷ fastest reference ({fastest}), best epoch against best epoch: "
        f"{best(engine) / best(results[fastest]):.2f}× (targets: LeNet-5 on Fashion-MNIST ≥ 1.9× on 2 CPU cores; "
        "resnet20 on cifar-shaped ≥ 1.3× on a CPU, ≥ 3× on a GPU). On a busy machine the "
        "best epochs are the least disturbed; on an idle one the three ratios agree."
    )


if __name__ == "__main__":
    main()
