"""Honest export: what pruning buys in file size, and in speed only when whole channels and neurons go.

Unstructured pruning (l1, random, taylor) leaves zeros inside dense tensors. PyTorch multiplies by those
zeros like any other number, so a masked model is exactly as large in memory and as slow as the dense
one: unstructured masks alone do not speed up dense PyTorch inference. The zeros pay off only in storage
(sparse CSR, or gzip). ln-structured pruning zeroes whole rows (conv filters, linear neurons); those can be
cut out, with the matching input channels or columns of the next layer, into a physically smaller LeNet
that computes the same function and runs faster.

    report = export_run(run_dir)     # sizes, and for ln-structured runs the smaller model, checked and timed
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from prunetui.engine.core.errors import PrunetuiError
from prunetui.engine.core.events import Exported, SparsityReport
from prunetui.engine.core.files import write_atomic
from prunetui.engine.core.metrics import sparsity_report, weight_layers
from prunetui.engine.core.models import LENET_INPUT, MODELS, build_model
from prunetui.engine.core.networks.cost import Cost, Latency, measure_cost, measure_latency
from prunetui.engine.core.networks.registry import resolve
from prunetui.engine.core.networks.spec import InputShape
from prunetui.engine.pruning.criterion import weight_of
from prunetui.engine.pruning.structural import StructuralError, compact_model
from prunetui.engine.storage.export import lenet_input, load_model, save_sized, saved_network, saved_sizes
from prunetui.engine.storage.onnx_export import OnnxReport, write_onnx
from prunetui.engine.storage.runs import (
    COMPACT_MODEL_FILE,
    MODEL_FILE,
    ONNX_FILES,
    SUMMARY_FILE,
    is_run_dir,
    json_text,
    read_run,
)

# Which constructor argument each prunable layer's width sets, in forward order (the output layer keeps 10).
SHAPE_ARGUMENTS = {
    "lenet5": ("channels", "channels", "hidden", "hidden"),
    "lenet300": ("hidden", "hidden"),
    "lenet5-caffe": ("channels", "channels", "hidden"),
}
CHECK_BATCH = 256
TIMING_REPEATS = 30
EQUAL_OUTPUTS = 1e-4  # the compact model's outputs may differ from the masked model's by this much at most


@dataclass(frozen=True, slots=True)
class LayerWidth:
    name: str
    kept: int  # filters or neurons left
    total: int


@dataclass(frozen=True, slots=True)
class Compacted:
    model: nn.Module  # the smaller network, in eval mode
    shape: dict[str, tuple[int, ...]]  # its constructor arguments, e.g. {"channels": (3, 8), "hidden": (60, 42)}
    widths: tuple[LayerWidth, ...]


@dataclass(frozen=True, slots=True)
class Timing:
    batch: int
    dense_ms: float  # per batch, the full-size model with its zeros
    compact_ms: float

    @property
    def speedup(self) -> float:
        return self.dense_ms / self.compact_ms if self.compact_ms else 0.0


@dataclass(frozen=True, slots=True)
class CompactReport:
    saved: Exported  # the smaller model's file and sizes
    widths: tuple[LayerWidth, ...]
    parameters: int
    same_predictions: bool  # identical argmax on the check batch
    max_logit_difference: float
    timing: Timing
    latencies: tuple[Latency, ...] = ()  # dense vs compact at batch 1 and a large batch (other networks than LeNets)


@dataclass(frozen=True, slots=True)
class ExportReport:
    run: str
    model: str
    method: str
    structured: bool
    saved: Exported  # the run's model.pt: masks folded in with prune.remove
    parameters: int  # in model.pt, zeros included
    nonzero: int  # as the run counted them: for ln-structured, what the compacted model keeps
    sparsity: float | None  # over the prunable weights, as the summary says, else measured (None: no config)
    compact: CompactReport | None  # ln-structured runs only
    counted: SparsityReport  # the weights and all parameters as the run counted them (`nonzero` is its parameters)
    dense_cost: Cost | None = None  # parameters and MACs per image of model.pt
    cost: Cost | None = None  # of the smaller network, for structured runs (else model.pt's, its zeros counted)
    onnx: OnnxReport | None = None  # with `export --onnx`: the smaller network's ONNX file, else model.pt's

    @property
    def weight_compression(self) -> float:
        """Weights over non-zero weights, biases left out, as papers count."""
        return self.counted.weight_compression

    @property
    def compression(self) -> float:
        """All parameters over non-zero ones, biases included."""
        return self.counted.compression


def compact(model: nn.Module, model_name: str, input_shape: InputShape = LENET_INPUT) -> Compacted:
    """Cut the all-zero rows of every hidden layer out of a plain (mask-free) LeNet built for `input_shape`.

    A removed unit still outputs a constant: relu(bias) where a ReLU follows its layer (the model's
    `activated_layers`), else its bias (max-pooling keeps a constant); that constant's contribution is folded
    into the next layer's bias, so the smaller model computes the same function. The output layer is never cut.
    """
    if model_name not in SHAPE_ARGUMENTS:
        raise PrunetuiError(f"cannot compact {model_name}: known models are {', '.join(SHAPE_ARGUMENTS)}")
    layers = weight_layers(model)
    activated = set(getattr(model, "activated_layers", ()))
    weights = [weight_of(module).detach().clone() for _, module in layers]
    biases = [_bias(module) for _, module in layers]
    widths = []
    for i, (name, _) in enumerate(layers[:-1]):
        units = weights[i].shape[0]
        alive = weights[i].flatten(1).abs().sum(1) != 0
        keep = alive.nonzero().flatten() if alive.any() else torch.tensor([0])  # a layer keeps one unit at least
        gone = torch.ones(units, dtype=torch.bool)
        gone[keep] = False
        following = layers[i + 1][1]
        if isinstance(following, nn.Conv2d) and following.padding != (0, 0):
            raise PrunetuiError(f"cannot compact {name}: the next layer pads its input, so a constant does not fold")
        grouped = weights[i + 1].reshape(weights[i + 1].shape[0], units, -1)  # next layer's inputs, per unit
        constant = torch.relu(biases[i][gone]) if name in activated else biases[i][gone]
        biases[i + 1] = biases[i + 1] + (grouped[:, gone, :].sum(2) * constant).sum(1)
        kept_inputs = grouped[:, keep, :]
        if weights[i + 1].dim() == 4:
            weights[i + 1] = kept_inputs.reshape(weights[i + 1].shape[0], len(keep), *weights[i + 1].shape[2:])
        else:
            weights[i + 1] = kept_inputs.reshape(weights[i + 1].shape[0], -1)
        weights[i], biases[i] = weights[i][keep], biases[i][keep]
        widths.append(LayerWidth(name, len(keep), units))
    shape: dict[str, tuple[int, ...]] = {}
    for argument, width in zip(SHAPE_ARGUMENTS[model_name], widths, strict=True):
        shape[argument] = (*shape.get(argument, ()), width.kept)
    small = build_model(model_name, init="default", input_shape=input_shape, **shape)  # the state replaces all
    state = {}
    for (name, _), weight, bias in zip(layers, weights, biases, strict=True):
        state[f"{name}.weight"], state[f"{name}.bias"] = weight, bias
    small.load_state_dict(state)
    return Compacted(small.eval(), shape, tuple(widths))


@torch.no_grad()
def compare_predictions(reference: nn.Module, other: nn.Module, images: Tensor) -> tuple[bool, float]:
    """Whether both models pick the same class for every image, and the largest difference of their logits."""
    expected, got = reference.eval()(images), other.eval()(images)
    return bool((expected.argmax(1) == got.argmax(1)).all()), float((expected - got).abs().max())


@torch.inference_mode()
def time_inference(models: list[nn.Module], images: Tensor, repeats: int = TIMING_REPEATS) -> list[float]:
    """Median milliseconds per forward pass over `images`, for each model.

    The models take turns, batch after batch, so a machine that gets busier halfway slows them alike.
    """
    times: list[list[float]] = [[] for _ in models]
    for model in models:
        model.eval()
        model(images)  # warm-up
    for _ in range(repeats):
        for model, timings in zip(models, times, strict=True):
            started = time.perf_counter()
            model(images)
            timings.append(time.perf_counter() - started)
    return [statistics.median(timings) * 1000 for timings in times]


# Why a run has no model: a run saves it when it ends, unless it ended before training or was killed first.
NO_MODEL_REASONS = {
    "interrupted": "the process was killed before the run ended and saved it",
    "running": "it is still running; the model is saved when the run ends",
    "unreadable": "its summary.json is damaged, and it saved no model",
}
NO_MODEL_REASON = "the run ended before it trained"


def export_run(run_dir: str | Path, batch: int = CHECK_BATCH, onnx: bool = False) -> ExportReport:
    """Report the run's exported model sizes; for ln-structured runs also save, check and time the smaller model.
    With `onnx`, also write the smaller model (else model.pt's) as ONNX, checked with onnxruntime (the extra
    `prunetui[onnx]` installed: see `onnx_export.onnx_missing`)."""
    if not is_run_dir(run_dir):
        raise PrunetuiError(f"{run_dir} is not a run: it holds no {SUMMARY_FILE} or config.toml of a prunetui run")
    run = read_run(run_dir)
    if run.model_path is None:
        raise PrunetuiError(
            f"run {run.name} has no {MODEL_FILE} ({run.status}): {NO_MODEL_REASONS.get(run.status, NO_MODEL_REASON)}"
        )
    model = load_model(run.model_path)
    model_name = run.config.model if run.config else "?"
    structured = bool(run.config and run.config.structured)
    network = saved_network(run.model_path)
    if network["model"] not in MODELS:  # a network other than the LeNets: Torch-Pruning's groups
        return _export_network(run, model, network, batch, structured, onnx)
    report = None
    shape = lenet_input(network)
    example = torch.randn(2, shape.channels, shape.size, shape.size, generator=torch.Generator().manual_seed(0))
    images = torch.randn(batch, *example.shape[1:], generator=torch.Generator().manual_seed(0))
    compact_cost, exported = None, model
    if structured:
        compacted = compact(model, model_name, shape)
        exported = compacted.model
        same, difference = compare_predictions(model, compacted.model, images)
        timing = Timing(batch, *time_inference([model, compacted.model], images))
        report = CompactReport(
            save_sized(
                compacted.model.state_dict(),
                model_name,
                run.path / COMPACT_MODEL_FILE,
                compacted.shape,
                {key: network[key] for key in ("input", "data") if key in network} or None,
            ),
            compacted.widths,
            _parameters(compacted.model),
            same,
            difference,
            timing,
        )
        compact_cost = measure_cost(compacted.model, example)
    counted = sparsity_report(model, set(), structured=structured)  # as the run counted
    sparsity = run.sparsity
    if sparsity is None and run.config is not None:  # summary.json damaged: measured, not taken for 0
        prunable = set(run.config.prunable_layer_names)
        sparsity = sparsity_report(model, prunable, structured=structured).global_sparsity
    dense_cost = measure_cost(model, example)
    return ExportReport(
        run.name,
        model_name,
        run.method,
        structured,
        saved_sizes(run.model_path),
        _parameters(model),
        counted.nonzero_parameters,
        sparsity,
        report,
        counted,
        dense_cost,
        compact_cost or dense_cost,
        _onnx(exported, images, run.path, compact=exported is not model) if onnx else None,
    )


def _export_network(
    run: Any, model: nn.Module, network: dict[str, Any], batch: int, structured: bool, onnx: bool
) -> ExportReport:
    """Export a network other than the LeNets: for a structured run, the compact model Torch-Pruning's history
    gives, its outputs checked against the masked model's, its cost counted and its latency measured."""
    spec = resolve(network["model"], network.get("model_args") or {}, network.get("output_layer") or None)
    shape = InputShape(*network["input"])
    example = spec.example_input(shape)
    history = [(name, bool(out), tuple(idx)) for name, out, idx in network.get("pruned_channels") or ()]
    dense_cost = measure_cost(model, example)
    report, cost, exported = None, dense_cost, model
    images = spec.example_input(shape, batch)
    if structured and history:
        try:
            small = exported = compact_model(model, example, history).eval()
        except StructuralError as error:
            raise PrunetuiError(f"cannot compact {network['model']}: {error}") from error
        same, difference = compare_predictions(model, small, images)
        if difference > EQUAL_OUTPUTS:
            raise PrunetuiError(
                f"the compact {network['model']} computes something else than the masked one (outputs differ by "
                f"{difference:.3g}, more than {EQUAL_OUTPUTS:g}); {COMPACT_MODEL_FILE} not written"
            )
        latencies = tuple(measure_latency([model, small], images[0], batches=(1, batch)))
        large = latencies[-1]
        kept = {key: value for key, value in network.items() if key != "pruned_channels"}
        saved = save_sized(
            small.state_dict(),
            network["model"],
            run.path / COMPACT_MODEL_FILE,
            network={**kept, "compact_history": [[name, out, list(idx)] for name, out, idx in history]},
        )
        widths = tuple(
            LayerWidth(name, weight_of(module).shape[0], weight_of(full).shape[0])
            for (name, module), (_, full) in zip(weight_layers(small), weight_layers(model), strict=True)
            if weight_of(module).shape[0] != weight_of(full).shape[0]
        )
        timing = Timing(large.batch, *large.milliseconds)
        report = CompactReport(saved, widths, _parameters(small), same, difference, timing, latencies)
        cost = measure_cost(small, example)
        _record_latencies(run.path, latencies)
    counted = sparsity_report(model, set())
    return ExportReport(
        run.name,
        network["model"],
        run.method,
        structured,
        saved_sizes(run.model_path),
        _parameters(model),
        counted.nonzero_parameters,
        run.sparsity if run.sparsity is not None else counted.global_sparsity,
        report,
        counted,
        dense_cost,
        cost,
        _onnx(exported, images, run.path, compact=exported is not model) if onnx else None,
    )


def _onnx(model: nn.Module, images: Tensor, run_dir: Path, compact: bool) -> OnnxReport:
    """The exported model (the compact one where there is one) written as ONNX beside it, checked on `images`."""
    return write_onnx(model, images, run_dir / ONNX_FILES[compact])


def _record_latencies(run_dir: Path, latencies: tuple[Latency, ...]) -> None:
    """summary.json gets the measured latencies: milliseconds per batch, dense and compact, on export's device."""
    path = run_dir / SUMMARY_FILE
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return  # a damaged summary stays as it is; export prints the numbers anyway
    document["latency"] = [
        {"batch": lat.batch, "dense_ms": lat.milliseconds[0], "compact_ms": lat.milliseconds[1], "device": lat.device}
        for lat in latencies
    ]
    write_atomic(path, json_text(document))


def _bias(module: nn.Module) -> Tensor:
    bias = module.bias  # a tensor, or None for a layer made without one
    return bias.detach().clone() if isinstance(bias, Tensor) else torch.zeros(weight_of(module).shape[0])


def _parameters(model: nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())
