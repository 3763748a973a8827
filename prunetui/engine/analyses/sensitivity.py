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
    analysis = Sensitivity(config, amounts, parallel=Parallel(jobs=2))  # evaluations in 2 worker processes
    for event in analysis.run():    # Progress… (training), SensitivityStarted, SensitivityPoint…, SensitivityEnded
        ...
    analysis.stop()                 # from any thread

Each model is trained (or loaded) in this process; its evaluations, one per layer and amount, are jobs of the
series' executor (`sensitivity_jobs`): one after another here by default, or side by side in worker processes or
on Ray, where they may end in any order. The points are reported as they come, and the results (the ended
event's points, the CSV) are in the order of a serial analysis: seed, layer, amount.

A saved model that is already pruned keeps its zeros: each layer is pruned further from what it has, and an amount
is the layer's sparsity after, zeros it had included; amounts at or below what it has would change nothing, so they
are left out for that layer.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import torch

from prunetui.engine.analyses import (
    DEFAULT_AMOUNTS,
    Progress,
    SensitivityEnded,
    SensitivityEvent,
    SensitivityPoint,
    SensitivityStarted,
    sensitivity_criteria,
)
from prunetui.engine.analyses.events import sensitivity_stage
from prunetui.engine.analyses.executor import Executor, Job, JobFailed, Parallel
from prunetui.engine.analyses.sensitivity_jobs import (
    EvaluationJob,
    LayerPruner,
    analysis_data,
    evaluate_pruned,
    forget_analysis_data,
    prunable_layers,
)
from prunetui.engine.analyses.series import SERIAL, ExperimentSeries, Interrupted
from prunetui.engine.analyses.sweep_jobs import DataPlace, trained_model
from prunetui.engine.core.config import ExperimentConfig
from prunetui.engine.core.data.loading import DataSet
from prunetui.engine.core.device import resolve_device
from prunetui.engine.core.errors import ConfigError, OutputError, PrunetuiError, unexpected
from prunetui.engine.core.experiment import measure
from prunetui.engine.core.files import write_atomic
from prunetui.engine.core.networks.checks import check_sources
from prunetui.engine.pruning.ln_structured import AS_IT_IS
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
        parallel: Parallel = SERIAL,
        system_data_dir: Path | None = None,
        download: bool = True,
    ) -> None:
        """Prune by `config.criterion` (l1, random, or ln-structured's rows or channels) the model at `model_path`,
        any network, or, without
        one, a model trained now with `config`'s settings (its sparsity and schedule are not used), one per seed of
        `seeds` (default: `config.seed`), its evaluations run as `parallel` says. The points measured are saved to
        `out` (atomically) when the analysis ends, also when it stopped early."""
        super().__init__(parallel, DataPlace(system_data_dir, download))
        # Files by absolute paths (`with_absolute_paths`): worker processes may run in other directories.
        self.config = config.replace(scope="layer", layer_sparsity="").validate().with_absolute_paths()
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
        self._points: list[SensitivityPoint] = []  # in the order they came
        self._layers: tuple[str, ...] = ()  # the layers analysed (the same network for every seed)
        self._analysis = uuid.uuid4().hex  # names its data set in the processes that evaluate (`analysis_data`)

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
        if self.model_path is None:  # it trains one: a missing network or weights file is said before the data loads
            check_sources(config.model, config.weights)
        # The images the model trained on, and so the same validation images; evaluations in this process use them.
        try:
            data = analysis_data(self._analysis, config, device, self.place)
            with self.start_executor() as executor:
                for seed in self.seeds:
                    yield from self._analyse(config.replace(seed=seed), data, device, executor)
        finally:
            forget_analysis_data(self._analysis)

    def _analyse(
        self, config: ExperimentConfig, data: DataSet, device: torch.device, executor: Executor
    ) -> Iterator[SensitivityEvent]:
        if self.model_path:
            model, source = load_model(self.model_path), str(self.model_path)
        else:
            model, source = trained_model(config, data.shape, (yield from self.train_dense(config))), "trained now"
        model = model.to(device)
        loaded = measure(model, data)
        layers, output = prunable_layers(config, model, data.shape)
        self._layers = layers
        pruner = LayerPruner(config, model, output, layers)
        sparsity = tuple(pruner.present(model, layer) for layer in layers)
        started = SensitivityStarted(
            layers, self.amounts, loaded.accuracy, source, loaded.val_accuracy, config.seed, sparsity
        )
        self._starts.append(started)
        yield started
        model = model.cpu()  # the jobs' copy: each evaluation moves its own to where it runs
        for layer in layers:
            for amount in started.amounts_above(layer):
                job = EvaluationJob(self._analysis, config, model, layer, amount, self.place, layers, output)
                executor.submit(Job(sensitivity_stage(layer, amount, config.seed), evaluate_pruned, job))
        for outcome in self.outcomes(executor):
            if isinstance(outcome, Progress):  # an evaluation went to a worker process or to Ray
                yield outcome
            elif isinstance(outcome, JobFailed):
                raise Interrupted("failed", f"{outcome.key}: {outcome.message}")
            else:
                self._points.append(outcome.result)
                yield outcome.result
        self.check_stop()

    def _serial_place(self, point: SensitivityPoint) -> tuple[int, int, int]:
        """Where a serial analysis measures `point`: by seed, then layer, then amount."""
        return self.seeds.index(point.seed), self._layers.index(point.layer), self.amounts.index(point.amount)

    def _ended(self, status: str, message: str = "") -> SensitivityEnded:
        results_file = not_saved = ""
        points = tuple(sorted(self._points, key=self._serial_place))
        if points and self.out is not None:
            try:
                results_file = str(write_atomic(self.out, to_csv(points, SensitivityPoint)))
            except OutputError as error:
                not_saved = str(error)
        return SensitivityEnded(status, message, tuple(self._starts), points, results_file, not_saved)
