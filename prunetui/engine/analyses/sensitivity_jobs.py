"""A sensitivity analysis's evaluations as executor jobs (`sensitivity`): one layer of the analysed model pruned
to one amount, the rest as it was, no fine-tuning, and measured.

A module-level function of plain, picklable arguments, so a worker process or a Ray task runs it as well as this
process. Each job finds the analysed model's data in its process (`analysis_data`), on the device its worker was
given, else the config's: loaded by the first of the analysis's jobs there, or in this process by the analysis.
"""

from __future__ import annotations

import copy
from collections.abc import Generator
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import prune

from prunetui.engine.analyses import SensitivityPoint
from prunetui.engine.analyses.executor import JobContext
from prunetui.engine.analyses.sweep_jobs import DataPlace
from prunetui.engine.core.config import MODEL_LAYERS, ExperimentConfig
from prunetui.engine.core.data.loading import DataSet, load_run_data
from prunetui.engine.core.device import resolve_device
from prunetui.engine.core.experiment import measure
from prunetui.engine.core.metrics import weight_layers
from prunetui.engine.core.networks.spec import InputShape
from prunetui.engine.pruning.allocation import prune_to
from prunetui.engine.pruning.criterion import weight_of
from prunetui.engine.pruning.ln_structured import LnStructured
from prunetui.engine.pruning.structural import apply_masks, plan_pruning

# The data set this process's evaluations measure on (`analysis_data`): at most one, under its key.
_held: dict[tuple[object, ...], DataSet] = {}


def analysis_data(analysis: str, config: ExperimentConfig, device: torch.device, place: DataPlace) -> DataSet:
    """The data set that analysis `analysis` measures on (as a run of `config` trains on it), loaded once in this
    process for all of its evaluations here. Loaded again per evaluation it cost little for an IDX set (2-21 ms
    against 0.3-1 s of measuring, on this project's 2-core CPU) but 1.4 s of CPU for a CIFAR-sized uint8 one,
    whose statistics are taken over every training image at each load. Keyed by the analysis, its config
    (whatever the seed) and device, and where the data is found: other data, settings or analyses (files changed
    in between) never share a load."""
    key = (analysis, config.replace(seed=0), str(device), place)
    data = _held.get(key)
    if data is None:
        data = load_run_data(config, device, download=place.download, system_dir=place.system_data_dir)
        _held.clear()  # one at a time: another analysis's data set goes
        _held[key] = data
    return data


def forget_analysis_data(analysis: str) -> None:
    """Let go of the data set analysis `analysis` holds in this process (at its end: the memory goes back)."""
    for key in [key for key in _held if key[0] == analysis]:
        _held.pop(key, None)


@dataclass(frozen=True, slots=True)
class EvaluationJob:
    analysis: str  # names the analysis: its jobs in one process share its data set (`analysis_data`)
    config: ExperimentConfig  # of the model's seed: its criterion, seed, data and device
    model: nn.Module  # the model as loaded, on the CPU; never changed (each job prunes a copy)
    layer: str
    amount: float  # the layer's sparsity after pruning, zeros it had included
    place: DataPlace
    layers: tuple[str, ...]  # every layer the analysis prunes (`prunable_layers`)
    output: str  # the output layer


def evaluate_pruned(job: EvaluationJob, context: JobContext) -> Generator[None, None, SensitivityPoint]:
    """The accuracy and loss of the model with `job.layer` pruned to `job.amount`."""
    yield from ()  # a job is a generator; this one has no progress to tell
    config = job.config.replace(device=context.device) if context.device else job.config
    device = resolve_device(config.device)
    data = analysis_data(job.analysis, config, device, job.place)
    trial = copy.deepcopy(job.model).to(device)
    pruner = LayerPruner(config, trial, job.output, job.layers)
    torch.manual_seed(config.seed)  # the random criterion draws the same weights every time, wherever it runs
    pruner.prune(trial, job.layer, job.amount, config.network.example_input(data.shape).to(device))
    result = measure(trial, data)
    return SensitivityPoint(job.layer, job.amount, result.accuracy, result.loss, result.val_accuracy, config.seed)


def prunable_layers(config: ExperimentConfig, model: nn.Module, shape: InputShape) -> tuple[tuple[str, ...], str]:
    """The layers a run of `config` prunes in `model` (the LeNets' by name; another network's found by walking it,
    less --exclude-layers and, when whole channels go, the output layer), and the output layer."""
    if config.layers_known:
        names = MODEL_LAYERS[config.model]
        return config.prunable_layer_names, config.output_layer or names[-1]
    found = config.network.layers(model, shape)
    return config.select_layers(found.prunable, found.output), found.output


class LayerPruner:
    """Prunes one layer of a copy of the model to an amount, as a run of the config would: its weights (unstructured
    criteria, and the LeNets' rows), or the channels of the groups it belongs to through Torch-Pruning (structural
    pruning of any other network). A saved model's zeros stay and count toward the amount."""

    def __init__(self, config: ExperimentConfig, model: nn.Module, output: str, layers: tuple[str, ...]) -> None:
        self.criterion = config.pruning_criterion
        self.structural = config.structured and not config.layers_known
        self.output = output
        # Layers a run would not prune: excluded ones stay whole (the output layer is kept apart).
        self.ignored = [name for name, _ in weight_layers(model) if name not in layers and name != output]

    def present(self, model: nn.Module, layer: str) -> float:
        """The layer's sparsity as the model stands: its zero weights, or for structural pruning its zero channels."""
        weight = weight_of(model.get_submodule(layer)).detach()
        if self.structural:
            return float((weight.flatten(1) == 0).all(1).float().mean())
        return float((weight == 0).float().mean())

    def prune(self, model: nn.Module, layer: str, amount: float, example: torch.Tensor) -> None:
        """Prune `layer` of `model` to `amount`; `example` is an input batch, for tracing the network's groups."""
        if self.structural:
            assert isinstance(self.criterion, LnStructured)
            pruning = plan_pruning(
                model,
                example,
                output_layer=self.output,
                importance=self.criterion.group_importance,
                fraction=0.0,
                ignored=self.ignored,
                layer_fractions={layer: amount},
            )
            apply_masks(model, pruning)
            return
        module = model.get_submodule(layer)
        prune.custom_from_mask(module, "weight", module.weight != 0)  # its zeros stay, and count
        prune_to([(layer, module)], self.criterion, {layer: amount})
