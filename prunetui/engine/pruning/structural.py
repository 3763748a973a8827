"""Structural pruning of any graph: whole channels go, with every tensor that shares them.

Torch-Pruning's dependency graph (Fang et al., CVPR 2023), traced from one forward pass, knows which channels a
residual add, a BatchNorm, a concatenation or a depthwise conv ties together; a *group* is one such set, and its
channels go together from every layer in it (the producing conv's rows, the BatchNorm's entries, the next layers'
input columns). This module turns a pruning decision into two things:

- masks over the full-size model's parameters that cover each removed channel's whole group, so the masked model
  computes what the compact one does (training can go on at full size, rewinding stays exact);
- the physically smaller model, made by replaying Torch-Pruning's pruning history on a copy.

Both come from the history alone: replayed on a copy whose every entry holds its own index, it says which entries
of each tensor the compact model keeps (`ChannelPruning.kept`). The history is a plain list of (layer, out?,
indices), so a checkpoint can store it and rebuild the compact model without pickling classes.

    pruning = plan_pruning(model, example, output_layer="fc", importance="l1", fraction=0.5)
    apply_masks(model, pruning)                       # full size, masked
    small = compact_model(model, example, pruning)    # fewer channels, same outputs

Torch-Pruning is imported inside the functions, only when a run prunes structurally.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from torch import Tensor, nn

IMPORTANCES = ("l1", "l2", "taylor", "random")  # group L1/L2 magnitude (Li et al. 2017 rank by L1), Taylor, random
SCOPES = ("layer", "global")
# "mean": Torch-Pruning's group importance, every layer of the group counted (normalised by its mean); "first": the
# root layer's own rows only, as torch's ln_structured ranks them (the LeNets keep their numbers with it).
REDUCTIONS = ("mean", "first")

# Importances set by `_LostChannelsFirst`, beyond any a criterion gives (normalised ones are about 1).
LOST_SCORE = -1e9  # a channel an earlier round removed
KEPT_SCORE = 1e9  # the best channel of each group: a group keeps one channel at least

# One pruning step of Torch-Pruning's history: the layer's module path, whether its output channels (not its
# inputs) were cut, and which indices.
Step = tuple[str, bool, tuple[int, ...]]


class StructuralError(Exception):
    """Torch-Pruning cannot trace this graph, or cannot prune it as asked. The message is one line."""


@dataclass(frozen=True)
class ChannelPruning:
    """Which channels go, as Torch-Pruning's history and as the entries each tensor keeps."""

    history: tuple[Step, ...]
    # For each state-dict entry (parameters and buffers) that loses entries: the flat indices of the full-size
    # tensor that the compact model keeps, in the compact tensor's order, and both shapes.
    kept: Mapping[str, Tensor]
    full_shapes: Mapping[str, tuple[int, ...]]
    shapes: Mapping[str, tuple[int, ...]]

    def masks(self) -> dict[str, Tensor]:
        """A 0/1 mask of the full-size shape for every tensor that loses entries."""
        import torch

        masks = {}
        for name, kept in self.kept.items():
            mask = torch.zeros(self.full_shapes[name]).flatten()
            mask[kept] = 1.0
            masks[name] = mask.view(self.full_shapes[name])
        return masks

    def select(self, tensors: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Full-size tensors (a state dict, fresh draws for --reinit) cut to the compact model's shapes; tensors
        that keep every entry pass through."""
        return {
            name: tensor.flatten()[self.kept[name].to(tensor.device)].view(self.shapes[name])
            if name in self.kept
            else tensor
            for name, tensor in tensors.items()
        }

    def channels(self) -> dict[str, tuple[int, int]]:
        """(kept, total) output channels of each layer (conv, linear, norm) that loses some, by module path."""
        widths = {}
        for name, full in self.full_shapes.items():
            if name.endswith(".weight") and self.shapes[name][0] != full[0]:
                widths[name.removesuffix(".weight")] = (self.shapes[name][0], full[0])
        return widths


def plan_pruning(
    model: nn.Module,
    example: Tensor,
    *,
    output_layer: str,
    importance: str = "l2",
    scope: str = "layer",
    fraction: float = 0.5,
    ignored: Sequence[str] = (),
    layer_fractions: Mapping[str, float] | None = None,
    max_fraction: float = 1.0,
    reduction: str = "mean",
    score_batches: Sequence[tuple[Tensor, Tensor]] = (),
    loss: Callable[[Tensor, Tensor], Tensor] | None = None,
) -> ChannelPruning:
    """Decide which `fraction` of the channels go (of each group in layer scope, of all groups ranked together in
    global scope, where no layer loses more than `max_fraction`), never the output layer's (its classes) nor those
    of the `ignored` layers.

    The model may be full size and masked already (an earlier round): the channels it has lost rank lowest, so
    they go again and the new history covers every round. `taylor` needs `score_batches` (and `loss`, cross-entropy
    by default). Random draws come from torch's global generator. The model itself is not changed.
    """
    import torch
    import torch_pruning as tp

    _check_choice("importance", importance, IMPORTANCES)
    _check_choice("scope", scope, SCOPES)
    _check_choice("reduction", reduction, REDUCTIONS)
    if not 0.0 <= fraction < 1.0:
        raise StructuralError(f"the fraction of channels to prune must be in [0, 1), not {fraction:g}")
    twin = plain_copy(model)
    modules = dict(twin.named_modules())
    for name in (output_layer, *ignored, *(layer_fractions or {})):
        if name not in modules:
            raise StructuralError(f"{name} is not a layer of this network")
    if importance == "taylor":
        if not score_batches:
            raise StructuralError("taylor importance needs batches to measure gradients on")
        _accumulate_gradients(twin, score_batches, loss or torch.nn.functional.cross_entropy)
    scorer = _LostChannelsFirst(_importance(importance, reduction))
    mode = twin.training
    twin.eval()  # tracing runs a forward pass: BatchNorm's running statistics must not move
    try:
        with torch.enable_grad():
            pruner = tp.pruner.BasePruner(
                twin,
                example,
                importance=scorer,
                global_pruning=scope == "global",
                pruning_ratio=fraction,
                max_pruning_ratio=max_fraction,
                pruning_ratio_dict={modules[name]: value for name, value in (layer_fractions or {}).items()},
                ignored_layers=[modules[output_layer], *(modules[name] for name in ignored)],
                root_module_types=[torch.nn.modules.conv._ConvNd, torch.nn.Linear],
            )
    except Exception as error:  # the pruner traces the graph first
        raise StructuralError(f"Torch-Pruning cannot trace this graph: {one_line(error)}") from error
    try:
        pruner.step()
    except Exception as error:
        raise StructuralError(f"Torch-Pruning could not prune this graph: {one_line(error)}") from error
    twin.train(mode)
    history = tuple(
        (name, bool(out), tuple(int(i) for i in indices)) for name, out, indices in pruner.pruning_history()
    )
    return _kept_entries(model, example, history)


def compact_model(model: nn.Module, example: Tensor, pruning: ChannelPruning | Sequence[Step]) -> nn.Module:
    """The physically smaller model: a plain copy of `model` (masks folded in) with the pruned channels cut out.
    `pruning` may also be a history alone, as a checkpoint stores it."""
    history = pruning.history if isinstance(pruning, ChannelPruning) else tuple(pruning)
    twin = plain_copy(model)
    replay(twin, example, history)
    return twin


def replay(model: nn.Module, example: Tensor, history: Sequence[Step]) -> None:
    """Cut the channels of `history` out of `model`, in place (a freshly built full-size model, for a checkpoint)."""
    graph = dependency_graph(model, example)
    try:
        graph.load_pruning_history([[name, out, list(indices)] for name, out, indices in history])
    except Exception as error:
        raise StructuralError(f"the pruning history does not fit this network: {one_line(error)}") from error


def dependency_graph(model: nn.Module, example: Tensor) -> Any:
    """Torch-Pruning's dependency graph of `model`, traced in eval mode with autograd on."""
    import torch
    import torch_pruning as tp

    mode = model.training
    model.eval()
    try:
        with torch.enable_grad():
            return tp.DependencyGraph().build_dependency(model, example_inputs=example, verbose=False)
    except Exception as error:
        raise StructuralError(f"Torch-Pruning cannot trace this graph: {one_line(error)}") from error
    finally:
        model.train(mode)


def apply_masks(model: nn.Module, pruning: ChannelPruning) -> None:
    """Mask every parameter of the pruned groups with torch.nn.utils.prune, so the masks hold while the model
    trains (buffers, such as BatchNorm's running statistics, need none: their channel's scale and shift are 0)."""
    from torch.nn.utils import prune

    masks = pruning.masks()
    modules = dict(model.named_modules())
    for name, mask in masks.items():
        module_name, _, tensor_name = name.rpartition(".")
        module = modules[module_name]
        if tensor_name in module._parameters or f"{tensor_name}_orig" in module._parameters:
            prune.custom_from_mask(module, tensor_name, mask.to(_tensor_of(module, tensor_name).device))


def plain_copy(model: nn.Module) -> nn.Module:
    """A deep copy of `model` with torch.nn.utils.prune's masks folded into plain parameters.

    A masked weight of a model stopped mid-batch is not a graph leaf and cannot be deep-copied: it is given a
    detached stand-in, which `prune.remove` then replaces with orig x mask anyway."""
    from torch import Tensor
    from torch.nn.utils import prune

    memo: dict[int, Any] = {}
    for module in model.modules():
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, prune.BasePruningMethod):
                tensor = getattr(module, hook._tensor_name, None)
                if isinstance(tensor, Tensor):
                    memo[id(tensor)] = tensor.detach().clone()
    twin = copy.deepcopy(model, memo)
    for module in twin.modules():
        for hook in list(module._forward_pre_hooks.values()):
            if isinstance(hook, prune.BasePruningMethod):
                prune.remove(module, hook._tensor_name)
    return twin


def one_line(error: BaseException) -> str:
    """An exception as one line: its type, and the first line of its message."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def _kept_entries(model: nn.Module, example: Tensor, history: tuple[Step, ...]) -> ChannelPruning:
    """Replay `history` on a copy whose entries hold their own flat index (in float64, exact for any tensor size)
    and read off, for each tensor, which entries survive."""
    import torch

    twin = plain_copy(model)
    graph = dependency_graph(twin, example)  # traced with the real values, then tagged
    full_shapes = {}
    with torch.no_grad():
        for name, tensor in [*twin.named_parameters(), *twin.named_buffers()]:
            if tensor.is_floating_point():
                full_shapes[name] = tuple(tensor.shape)
                tensor.data = torch.arange(tensor.numel(), dtype=torch.float64, device=tensor.device).view(tensor.shape)
    try:
        graph.load_pruning_history([[name, out, list(indices)] for name, out, indices in history])
    except Exception as error:
        raise StructuralError(f"Torch-Pruning could not replay its own pruning: {one_line(error)}") from error
    kept, shapes = {}, {}
    for name, tensor in [*twin.named_parameters(), *twin.named_buffers()]:
        if name in full_shapes and tuple(tensor.shape) != full_shapes[name]:
            kept[name] = tensor.detach().flatten().long().cpu()
            shapes[name] = tuple(tensor.shape)
    return ChannelPruning(history, kept, {name: full_shapes[name] for name in kept}, shapes)


def _importance(name: str, reduction: str) -> Any:
    import torch_pruning as tp

    match name:
        case "l1" | "l2":
            return tp.importance.GroupMagnitudeImportance(p=1 if name == "l1" else 2, group_reduction=reduction)
        case "taylor":
            return tp.importance.GroupTaylorImportance(group_reduction=reduction)
        case _:
            return tp.importance.RandomImportance()


class _LostChannelsFirst:
    """Wraps an importance so that channels an earlier round removed (their root layer's rows are all zero) rank
    below every other, in their group and across groups (global scope): a later round's target then includes them,
    whatever the criterion (random included). Each group's best channel ranks above every other: Torch-Pruning
    skips a group that would lose all its channels, which would leave the earlier rounds' channels in it too."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __call__(self, group: Any, **kwargs: Any) -> Tensor | None:
        import torch

        scores = self.inner(group, **kwargs)
        root = group[0].dep.target.module
        weight = getattr(root, "weight", None)
        if scores is None or not isinstance(weight, torch.Tensor):
            return scores
        out_dim = 1 if isinstance(root, torch.nn.modules.conv._ConvTransposeNd) else 0
        rows = weight.detach().abs().transpose(0, out_dim).flatten(1).sum(1)
        bias = getattr(root, "bias", None)
        if isinstance(bias, torch.Tensor):
            rows = rows + bias.detach().abs()
        lost = (rows == 0).to(scores.device)
        if len(lost) != len(scores) or len(scores) < 2 or lost.all():
            return scores
        scores = scores.clone()
        scores[lost] = LOST_SCORE
        scores[scores.argmax()] = KEPT_SCORE
        return scores


def _accumulate_gradients(
    model: nn.Module, batches: Sequence[tuple[Tensor, Tensor]], loss: Callable[[Tensor, Tensor], Tensor]
) -> None:
    import torch

    mode = model.training
    model.eval()
    model.zero_grad(set_to_none=True)
    with torch.enable_grad():
        for images, labels in batches:
            loss(model(images), labels).backward()
    model.train(mode)


def _tensor_of(module: nn.Module, name: str) -> torch.Tensor:
    return module._parameters.get(name, module._parameters.get(f"{name}_orig"))  # type: ignore[return-value]


def _check_choice(what: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise StructuralError(f"{what} {value!r} is not one of {', '.join(choices)}")
