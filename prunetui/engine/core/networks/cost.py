"""What a network costs: parameters and MACs (multiply-accumulates for one image, counted by Torch-Pruning's op
counter on the example input), and measured latency.

For a model with unstructured zeros two MAC counts are honest, and both are given: `macs`, what a dense kernel
still does (zeros are multiplied like any number), and `nonzero_macs`, what a kernel that skipped zero weights
would do. For a compact model (channels removed) the two agree up to the zeros left inside it.

    cost = measure_cost(model, example)           # Cost(parameters=..., nonzero_parameters=..., macs=..., ...)
    dense_ms, compact_ms = measure_latency([dense, compact], example[0], batch=256, device="cpu")
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prunetui.engine.pruning.criterion import weight_of
from prunetui.engine.pruning.structural import plain_copy

if TYPE_CHECKING:
    from torch import Tensor, nn

LATENCY_REPEATS = 20
LATENCY_BATCHES = (1, 256)  # one image (what a user waits for) and a large batch (throughput)


@dataclass(frozen=True, slots=True)
class Cost:
    parameters: int  # every parameter, zeros included
    nonzero_parameters: int
    macs: int  # per image, as a dense kernel computes it
    nonzero_macs: int  # per image, counting only the products with non-zero weights of conv and linear layers


def measure_cost(model: nn.Module, example: Tensor) -> Cost:
    """Parameters and per-image MACs of `model` (masks of torch.nn.utils.prune folded in), on the first image of
    `example`. The model is not changed."""
    import torch
    import torch_pruning as tp

    plain = plain_copy(model).eval()
    parameter = next(plain.parameters(), None)
    image = example[:1].to(parameter.device if parameter is not None else "cpu")
    positions: dict[nn.Module, int] = {}  # how many times each weight is used for one image

    def count(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        if isinstance(module, torch.nn.Linear):
            positions[module] = positions.get(module, 0) + inputs[0].numel() // inputs[0].shape[-1]
        else:
            positions[module] = positions.get(module, 0) + output[0].numel() // output.shape[1]

    weighted = [m for m in plain.modules() if isinstance(m, (torch.nn.modules.conv._ConvNd, torch.nn.Linear))]
    hooks = [module.register_forward_hook(count) for module in weighted]
    try:
        with torch.no_grad():
            plain(image)
    finally:
        for hook in hooks:
            hook.remove()
    with torch.no_grad():
        macs, _ = tp.utils.count_ops_and_params(plain, image)
    zero_macs = sum(int((weight_of(module) == 0).sum()) * uses for module, uses in positions.items())
    parameters = list(plain.parameters())
    return Cost(
        sum(p.numel() for p in parameters),
        sum(int(p.count_nonzero()) for p in parameters),
        int(macs),
        int(macs) - zero_macs,
    )


@dataclass(frozen=True, slots=True)
class Latency:
    batch: int
    milliseconds: tuple[float, ...]  # median per batch, one per model, in the order given
    device: str

    def speedup(self, reference: int = 0, other: int = 1) -> float:
        """How many times faster model `other` is than model `reference`."""
        return self.milliseconds[reference] / self.milliseconds[other] if self.milliseconds[other] else 0.0


def measure_latency(
    models: Sequence[nn.Module],
    image: Tensor,
    *,
    batches: Sequence[int] = LATENCY_BATCHES,
    device: Any = "cpu",
    repeats: int = LATENCY_REPEATS,
) -> list[Latency]:
    """Median milliseconds of a forward pass of each model over a batch of `batch` copies of noise shaped like
    `image` (CxHxW), for each batch size, on `device`. The models take turns, batch after batch, so a machine
    that gets busier halfway slows them alike; the models are moved to `device` and left in eval mode."""
    import torch

    device = torch.device(device)
    plains = [plain_copy(model).to(device).eval() for model in models]
    generator = torch.Generator().manual_seed(0)
    results = []
    with torch.inference_mode():
        for batch in batches:
            images = torch.randn(batch, *image.shape[-3:], generator=generator).to(device)
            times: list[list[float]] = [[] for _ in plains]
            for model in plains:
                model(images)  # warm-up
            for _ in range(repeats):
                for model, timings in zip(plains, times, strict=True):
                    _synchronise(device)
                    started = time.perf_counter()
                    model(images)
                    _synchronise(device)
                    timings.append(time.perf_counter() - started)
            results.append(Latency(batch, tuple(statistics.median(t) * 1000 for t in times), str(device)))
    return results


def _synchronise(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)
