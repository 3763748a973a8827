"""Sensitivity analysis: prune one layer at a time to each amount, no fine-tuning, and measure accuracy.

It works on any network: the LeNets, resnet20, torchvision's, the user's own (their prunable layers, found by
walking the module). Unstructured criteria zero a layer's weights; ln-structured removes its channels, on other
networks than the LeNets with every channel Torch-Pruning's groups tie to them (a residual add's stage goes
together). It shows which layers tolerate pruning (usually the big fully connected ones) and which do not (the first
convolution, the output layer); `analyses.suggest_amounts` turns the results into per-layer amounts, judged by
validation accuracy (test accuracy is only reported).

    analysis = Sensitivity(config, amounts)             # trains config's model first
    analysis = Sensitivity(config, amounts, seeds=(0, 1, 2))  # one model per seed, the same analysis on each
    analysis = Sensitivity(config, model_path=path)     # or analyses a saved model (a run's dense.pt or model.pt)
    analysis = Sensitivity(config, amounts, out=path)   # and saves the results there as CSV when it ends
    for event in analysis.run():    # Progress… (training), SensitivityStarted, SensitivityPoint…, SensitivityEnded
        ...
    analysis.stop()                 # from any thread

A saved model that is already pruned keeps its zeros: each layer is pruned further from what it has, and an amount
is the layer's sparsity after, zeros it had included; amounts at or below what it has would change nothing, so they
are left out for that layer.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils import prune

from prunetui.engine.analyses import (
    DEFAULT_AMOUNTS,
    SensitivityEnded,
    SensitivityEvent,
    SensitivityPoint,
    SensitivityStarted,
    sensitivity_criteria,
)
from prunetui.engine.analyses.series import ExperimentSeries, Interrupted
from prunetui.engine.analyses.sweep_jobs import DataPlace, trained_model
from prunetui.engine.core.config import MODEL_LAYERS, ExperimentConfig
from prunetui.engine.core.data.loading import DataSet, load_run_data
from prunetui.engine.core.device import resolve_device
from prunetui.engine.core.errors import ConfigError, OutputError, PrunetuiError, unexpected
from prunetui.engine.core.experiment import measure
from prunetui.engine.core.files import write_atomic
from prunetui.engine.core.metrics import weight_layers
from prunetui.engine.core.networks.spec import InputShape
from prunetui.engine.pruning.allocation import prune_to
from prunetui.engine.pruning.criterion import weight_of
from prunetui.engine.pruning.ln_structured import AS_IT_IS, LnStructured
from prunetui.engine.pruning.structural import apply_masks, plan_pruning
from prunetui.engine.storage.csv_text import to_csv
from prunetui.engine.storage.export import load_model


class Sensitivity(ExperimentSeries):
    def __init__(
        self,
        config: ExperimentConfig,
        amounts: tuple[float, ...] = DEFAULT_AMOUNTS,
        *,
        model_path: str | Path | None = None,
        seeds: tuple[int, ...] = (),
        out: str | Path | None = None,
        system_data_dir: Path | None = None,
        download: bool = True,
    ) -> None:
        """Prune by `config.criterion` (l1, random, or ln-structured's rows or channels) the model at `model_path`,
        any network, or, without
        one, a model trained now with `config`'s settings (its sparsity and schedule are not used), one per seed of
        `seeds` (default: `config.seed`). The points measured are saved to `out` (atomically) when the analysis
        ends, also when it stopped early."""
        super().__init__(place=DataPlace(system_data_dir, download))
        self.config = config.replace(scope="layer", layer_sparsity="").validate()
        if self.config.pruning_criterion.needs_batches and self.config.structured:
            raise ConfigError(
                "invalid --structured-importance: sensitivity prunes the model as it is, measuring no gradients: "
                f"{' or '.join(AS_IT_IS)}"
            )
        if self.config.pruning_criterion.needs_batches:
            usable = ", ".join(sensitivity_criteria())
            raise ConfigError(f"invalid --criterion: sensitivity prunes by {usable}, not {config.criterion}")
        if not amounts:
            raise ConfigError("invalid --amounts: give at least one amount")
        if model_path and seeds:
            raise ConfigError(
                "invalid --seeds: a saved run's model was trained with its one seed; --seeds trains a model per "
                "seed, so leave out --run"
            )
        self.amounts = amounts
        self.model_path = Path(model_path) if model_path else None
        self.seeds = tuple(dict.fromkeys(seeds)) or (self.config.seed,)
        self.out = Path(out) if out else None
        self._starts: list[SensitivityStarted] = []
        self._points: list[SensitivityPoint] = []

    def run(self) -> Iterator[SensitivityEvent]:
        """Always ends with SensitivityEnded."""
        try:
            yield from self._run()
            yield self._ended("finished")
        except Interrupted as end:
            yield self._ended(end.status, end.message)
        except PrunetuiError as error:
            yield self._ended("failed", str(error))
        except Exception as error:  # a bug or an environment problem: still a message, never a crash
            yield self._ended("failed", unexpected(error))

    def _run(self) -> Iterator[SensitivityEvent]:
        config = self.config
        device = resolve_device(config.device)
        # The images the model trained on, and so the same validation images.
        data = load_run_data(config, device, download=self.place.download, system_dir=self.place.system_data_dir)
        for seed in self.seeds:
            yield from self._analyse(config.replace(seed=seed), data, device)

    def _analyse(self, config: ExperimentConfig, data: DataSet, device: torch.device) -> Iterator[SensitivityEvent]:
        if self.model_path:
            model, source = load_model(self.model_path), str(self.model_path)
        else:
            model, source = trained_model(config, data.shape, (yield from self.train_dense(config))), "trained now"
        model = model.to(device)
        loaded = measure(model, data)
        layers, output = prunable_layers(config, model, data.shape)
        pruner = LayerPruner(config, model, output, layers, config.network.example_input(data.shape).to(device))
        sparsity = tuple(pruner.present(model, layer) for layer in layers)
        started = SensitivityStarted(
            layers, self.amounts, loaded.accuracy, source, loaded.val_accuracy, config.seed, sparsity
        )
        self._starts.append(started)
        yield started
        for layer in layers:
            for amount in started.amounts_above(layer):
                self.check_stop()
                trial = copy.deepcopy(model)
                torch.manual_seed(config.seed)  # the random criterion draws the same weights every time
                pruner.prune(trial, layer, amount)
                result = measure(trial, data)
                point = SensitivityPoint(layer, amount, result.accuracy, result.loss, result.val_accuracy, config.seed)
                self._points.append(point)
                yield point

    def _ended(self, status: str, message: str = "") -> SensitivityEnded:
        results_file = not_saved = ""
        if self._points and self.out is not None:
            try:
                results_file = str(write_atomic(self.out, to_csv(self._points, SensitivityPoint)))
            except OutputError as error:
                not_saved = str(error)
        points = tuple(self._points)
        return SensitivityEnded(status, message, tuple(self._starts), points, results_file, not_saved)


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

    def __init__(
        self, config: ExperimentConfig, model: nn.Module, output: str, layers: tuple[str, ...], example: torch.Tensor
    ) -> None:
        self.criterion = config.pruning_criterion
        self.structural = config.structured and not config.layers_known
        self.output, self.example = output, example
        # Layers a run would not prune: excluded ones stay whole (the output layer is kept apart).
        self.ignored = [name for name, _ in weight_layers(model) if name not in layers and name != output]

    def present(self, model: nn.Module, layer: str) -> float:
        """The layer's sparsity as the model stands: its zero weights, or for structural pruning its zero channels."""
        weight = weight_of(model.get_submodule(layer)).detach()
        if self.structural:
            return float((weight.flatten(1) == 0).all(1).float().mean())
        return float((weight == 0).float().mean())

    def prune(self, model: nn.Module, layer: str, amount: float) -> None:
        if self.structural:
            assert isinstance(self.criterion, LnStructured)
            pruning = plan_pruning(
                model,
                self.example,
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
