"""Checked before anything trains: the network builds, takes the data, gives one score per class, fits the weights
file, and (for structural pruning) traces and still works once channels go. Each failure is one ConfigError line
naming the cause.

    checked = check_network(resolve("nets.py:build"), InputShape(3, 32, 10), weights="trained.pt", structural=True)
    checked.model, checked.layers, checked.example
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from prunetui.engine.core.errors import ConfigError
from prunetui.engine.core.networks.spec import InputShape, NetworkLayers, NetworkSpec, exclude
from prunetui.engine.core.networks.user_code import check_source
from prunetui.engine.pruning.registry import CRITERIA
from prunetui.engine.pruning.structural import one_line

if TYPE_CHECKING:
    from torch import Tensor, nn

TRIAL_FRACTION = 0.5  # the trial prune removes half of every group's channels
TRIAL_TOLERANCE = 1e-4  # masked and compact outputs may differ by this much (times the outputs' scale, at least 1)
LARGEST_PROBED_SIZE = 512  # a network that fails at every size up to this one fails for another reason


@dataclass(frozen=True)
class CheckedNetwork:
    spec: NetworkSpec
    shape: InputShape
    model: nn.Module  # built, with the weights file loaded if one was given
    layers: NetworkLayers
    example: Tensor  # the example batch every check ran on


def check_network(
    spec: NetworkSpec,
    shape: InputShape,
    *,
    init: str = "default",
    weights: str | Path | None = None,
    structural: bool = False,
    excluded: Sequence[str] = (),
) -> CheckedNetwork:
    """Build `spec` for `shape` and check it with one forward pass of an example batch; with `structural`, also
    trace it and prune half the channels of a copy, refusing a network whose compact copy breaks or computes
    something else than the masked one. `excluded` are --exclude-layers patterns."""
    import torch

    model = build_checked(spec, shape, init)
    if weights is not None:
        load_weights(model, weights, spec.name)
    example = spec.example_input(shape)
    model.eval()
    try:
        with torch.no_grad():
            output = model(example)
    except Exception as error:
        raise ConfigError(_forward_failure(spec, model, shape, error)) from error
    finally:
        model.train()
    _check_output(spec.name, output, example, shape)
    layers = spec.layers(model, shape)
    kept_out = exclude(layers.prunable, excluded)
    if structural:
        trial_prune(
            spec.name, model, example, layers.output, [name for name in layers.prunable if name not in kept_out]
        )
    return CheckedNetwork(spec, shape, model, layers, example)


def build_checked(spec: NetworkSpec, shape: InputShape, init: str = "default") -> nn.Module:
    """`spec.build`, with whatever the builder raises turned into one line."""
    from torch import nn

    try:
        model = spec.build(shape, init)
    except ConfigError:
        raise
    except Exception as error:
        raise ConfigError(f"building {spec.name} raised {one_line(error)}") from error
    if not isinstance(model, nn.Module):
        raise ConfigError(f"{spec.name} built a {type(model).__name__}, not a torch.nn.Module")
    return model


def missing_sources(model: str, weights: str) -> dict[str, str]:
    """The network's file or the --weights file that is not there, by setting name: a run says so before its data
    loads (not minutes later, when it builds the network), the app's form under the field."""
    problems = {}
    try:
        check_source(model)
    except ConfigError as error:
        problems["model"] = str(error)
    try:
        if weights:
            _weights_file(weights)
    except ConfigError as error:
        problems["weights"] = str(error)
    return problems


def check_sources(model: str, weights: str) -> None:
    """ConfigError for the first of `missing_sources`."""
    for problem in missing_sources(model, weights).values():
        raise ConfigError(problem)


def _weights_file(path: str | Path) -> Path:
    """The weights file at `path` (`~` expanded, as the form passes it as typed); one line if it is not there."""
    if not (found := Path(path).expanduser()).is_file():
        raise ConfigError(f"--weights {path}: no such file")
    return found


def load_weights(model: nn.Module, path: str | Path, name: str) -> None:
    """Load the state dict in `path` (torch.load with weights_only=True) into `model`; one line if it is missing,
    is no state dict, or does not fit the network."""
    import torch

    path = _weights_file(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ConfigError(f"--weights {path} is not a state dict torch loads safely: {one_line(error)}") from error
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]  # a checkpoint that wraps its state dict
    if not isinstance(state, dict) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise ConfigError(f"--weights {path} holds a {type(state).__name__}, not a state dict of tensors")
    own = model.state_dict()
    missing = [key for key in own if key not in state]
    unexpected = [key for key in state if key not in own]
    if missing or unexpected:
        parts = [f"{len(missing)} missing ({_first(missing)})"] if missing else []
        parts += [f"{len(unexpected)} unknown ({_first(unexpected)})"] if unexpected else []
        raise ConfigError(f"--weights {path} does not fit {name}: {'; '.join(parts)}")
    for key, tensor in state.items():
        if tensor.shape != own[key].shape:
            raise ConfigError(
                f"--weights {path} does not fit {name}: {key} is {_size(tensor.shape)} in the file, "
                f"{_size(own[key].shape)} in the network"
            )
    model.load_state_dict(state)


def trial_prune(name: str, model: nn.Module, example: Tensor, output_layer: str, ignored: Sequence[str]) -> None:
    """Prune half the channels of a copy structurally; refuse a graph Torch-Pruning cannot trace, that offers no
    channel to remove, or whose compact copy fails or computes something else than the masked one."""
    import torch

    from prunetui.engine.pruning.structural import (
        StructuralError,
        apply_masks,
        compact_model,
        plain_copy,
        plan_pruning,
    )

    try:
        pruning = plan_pruning(model, example, output_layer=output_layer, fraction=TRIAL_FRACTION, ignored=ignored)
        compact = compact_model(model, example, pruning)
    except StructuralError as error:
        raise ConfigError(f"{name} cannot be pruned structurally: {error}; {_still_work()}") from error
    if not pruning.kept:
        raise ConfigError(
            f"{name} cannot be pruned structurally: Torch-Pruning's trace finds no channel it can remove "
            f"(is part of the forward pass outside autograd?); {_still_work()}"
        )
    masked = plain_copy(model)
    apply_masks(masked, pruning)
    with torch.no_grad():
        expected = masked.eval()(example)
        try:
            got = compact.eval()(example)
        except Exception as error:
            raise ConfigError(f"{name} breaks once channels go: {one_line(error)}; {_still_work()}") from error
    if got.shape != expected.shape:
        raise ConfigError(f"{name} breaks once channels go: its output becomes {_size(got.shape)}; {_still_work()}")
    difference = float((got - expected).abs().max())
    if difference > TRIAL_TOLERANCE * max(1.0, float(expected.abs().max())):
        raise ConfigError(
            f"{name} breaks once channels go: without half its channels it computes something else than with them "
            f"masked (outputs differ by {difference:.3g}: a LayerNorm over channels, or a forward that pads or "
            f"reshapes by sizes fixed at construction?); {_still_work()}"
        )


def _still_work() -> str:
    """The criteria that prune this network all the same: those that zero single weights and remove no channel."""
    names = [name for name, criterion in CRITERIA.items() if not criterion.structured]
    return f"the unstructured criteria ({', '.join(names)}) still work"


def smallest_size(model: nn.Module, shape: InputShape, largest: int = LARGEST_PROBED_SIZE) -> int | None:
    """The smallest square image size above `shape.size` the model takes (doubling, then bisecting; one image per
    try), or None if it takes none up to `largest`."""
    import torch

    def takes(size: int) -> bool:
        try:
            with torch.no_grad():
                model(torch.zeros(1, shape.channels, size, size))
        except Exception:
            return False
        return True

    failing, size = shape.size, shape.size * 2
    while size <= largest and not takes(size):
        failing, size = size, size * 2
    if size > largest:
        return None
    while size - failing > 1:
        middle = (failing + size) // 2
        failing, size = (failing, middle) if takes(middle) else (middle, size)
    return size


def _forward_failure(spec: NetworkSpec, model: nn.Module, shape: InputShape, error: Exception) -> str:
    smallest = smallest_size(model, shape)
    if smallest is not None:
        return (
            f"{spec.name} cannot take {shape.size}×{shape.size} images: the smallest it takes is {smallest}×{smallest}"
        )
    return f"{spec.name} fails on a batch of {shape}: {one_line(error)}"


def _check_output(name: str, output: object, example: Tensor, shape: InputShape) -> None:
    import torch

    expected = (len(example), shape.classes)
    if not isinstance(output, torch.Tensor):
        raise ConfigError(f"{name} returns a {type(output).__name__}; it must return class scores, a tensor")
    if tuple(output.shape) != expected:
        raise ConfigError(
            f"{name} returns {_size(output.shape)} for a batch of {len(example)}; class scores are {_size(expected)}"
        )


def _first(keys: list[str], shown: int = 3) -> str:
    return ", ".join(keys[:shown]) + (", …" if len(keys) > shown else "")


def _size(shape: Sequence[int]) -> str:
    return "×".join(str(size) for size in shape)
