"""Sensitivity analysis: prune one layer at a time to each amount, no fine-tuning, and measure accuracy.

It shows which layers tolerate pruning (usually the big fully connected ones) and which do not (the first
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
from prunetui.engine.analyses.sweep_jobs import DataPlace
from prunetui.engine.core.config import ExperimentConfig
from prunetui.engine.core.data.loading import DataSet, load_run_data
from prunetui.engine.core.device import resolve_device
from prunetui.engine.core.errors import ConfigError, OutputError, PrunetuiError, unexpected
from prunetui.engine.core.experiment import measure
from prunetui.engine.core.files import write_atomic
from prunetui.engine.core.models import build_model
from prunetui.engine.pruning.allocation import prune_to
from prunetui.engine.pruning.criterion import weight_of
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
        """Prune by `config.criterion` (l1, random or ln-structured rows) the model at `model_path`, or, without
        one, a model trained now with `config`'s settings (its sparsity and schedule are not used), one per seed of
        `seeds` (default: `config.seed`). The points measured are saved to `out` (atomically) when the analysis
        ends, also when it stopped early."""
        super().__init__(place=DataPlace(system_data_dir, download))
        self.config = config.replace(scope="layer", layer_sparsity="").validate()
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
        if not config.layers_known:  # its layers are found by building it, which this analysis does not do yet
            raise ConfigError(f"sensitivity analyses the LeNets for now, not {config.model}")
        if self.model_path:
            model, source = load_model(self.model_path), str(self.model_path)
        else:
            model, source = build_model(config.model, input_shape=data.shape), "trained now"
            model.load_state_dict((yield from self.train_dense(config)))
        model = model.to(device)
        loaded = measure(model, data)
        layers = config.prunable_layer_names
        sparsity = tuple(float((weight_of(model.get_submodule(layer)) == 0).float().mean()) for layer in layers)
        started = SensitivityStarted(
            layers, self.amounts, loaded.accuracy, source, loaded.val_accuracy, config.seed, sparsity
        )
        self._starts.append(started)
        yield started
        for layer in layers:
            for amount in started.amounts_above(layer):
                self.check_stop()
                trial = copy.deepcopy(model)
                module = trial.get_submodule(layer)
                prune.custom_from_mask(module, "weight", module.weight != 0)  # its zeros stay, and count
                torch.manual_seed(config.seed)  # the random criterion draws the same weights every time
                prune_to([(layer, module)], config.pruning_criterion, {layer: amount})
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
