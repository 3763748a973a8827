"""An experiment: train, prune on a schedule, fine-tune, and report everything as a stream of events.

experiment = Experiment(config)          # validates the config
for event in experiment.run():           # RunStarted, StepLoss, EpochEnd, Pruned, ..., Finished
    ...
experiment.stop()                        # from any thread: ends between batches with Stopped
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
import traceback
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from prunetui.engine.core.config import ExperimentConfig
from prunetui.engine.core.data.loading import DataSet, run_data_loading
from prunetui.engine.core.data.specs import augmentation
from prunetui.engine.core.device import resolve_device
from prunetui.engine.core.errors import BadDataError, ConfigError, PrunetuiError, out_of_memory, unexpected
from prunetui.engine.core.events import (
    EpochEnd,
    Event,
    Failed,
    Finished,
    Pruned,
    Rewound,
    RunStarted,
    RunSummary,
    Status,
    StepLoss,
    Stopped,
)
from prunetui.engine.core.lr_schedule import LRSchedule, parse_milestones
from prunetui.engine.core.metrics import sparsity_report, weight_layers
from prunetui.engine.core.models import LENET_INPUT, build_model
from prunetui.engine.core.networks.checks import check_network, check_sources, load_weights
from prunetui.engine.core.networks.cost import Cost, measure_cost
from prunetui.engine.core.networks.spec import InputShape, NetworkSpec
from prunetui.engine.core.preload import load_torch_optim
from prunetui.engine.core.training import (
    LossReport,
    StopRequested,
    Trainer,
    evaluate,
    make_optimizer,
)
from prunetui.engine.pruning.allocation import overall_target, prune_to
from prunetui.engine.pruning.criterion import Batches, weight_of
from prunetui.engine.pruning.ln_structured import LnStructured
from prunetui.engine.pruning.masks import reinit_seed, rewind, weights_of
from prunetui.engine.pruning.schedules import FineTune, Prune, Rewind, Round, Train
from prunetui.engine.pruning.structural import ChannelPruning, StructuralError, apply_masks, plan_pruning


@dataclass(frozen=True, slots=True)
class Measured:
    """A model evaluated on the test images, the numbers reported, and on the validation images, the accuracy
    anything that chooses goes by (None when none are held out)."""

    loss: float
    accuracy: float
    val_accuracy: float | None
    top5: float | None = None  # top-5 test accuracy, for data sets of 100 classes or more
    per_class: tuple[float | None, ...] = ()  # test accuracy of each class (None: no test image of it)


def at_chance(accuracy: float, classes: int) -> str:
    """A note when a trained model is no better than guessing (a learning rate too high for the batch size makes
    training diverge to it): its numbers after pruning would mean nothing, and a sensitivity analysis of it less."""
    if classes < 2 or accuracy > (chance := 1 / classes) + 0.05 * (1 - chance):
        return ""
    return (
        f"note: after training the model is no better than chance ({accuracy * 100:.1f} % on {classes} classes, "
        f"chance {chance * 100:.1f} %): it did not learn; a lower --lr, another --optimizer or more --epochs may help"
    )


def measure(model: nn.Module, data: DataSet) -> Measured:
    test = evaluate(model, data.test, classes=data.shape.classes)
    val = evaluate(model, data.validation).accuracy if data.validation is not None else None
    return Measured(test.loss, test.accuracy, val, test.top5, test.per_class)


def channels_last(model: nn.Module, example: torch.Tensor) -> nn.Module:
    """A conv net that is given its images in channels_last (NHWC) order, where the convolutions of PyTorch's CPU
    (oneDNN) and GPU (cuDNN) libraries run fastest; each activation after keeps that order. One training step of
    resnet20 on 128 CIFAR-shaped images measured 1.5 to 1.6 times as fast so on the project's 2-core CPU (noisy),
    against 1.1 to 1.4 times with the weights in channels_last too: the weights stay contiguous, as torch's pruning
    (`.view(-1)` of a weight) needs them.
    The LeNets are left as they are: their baseline digests pin every bit of their numbers, which another order of
    summation would change. A network of the user's that needs contiguous activations (`x.view(n, -1)` after a
    convolution) fails one trial forward pass so and is left as it is too."""
    if not any(isinstance(module, nn.Conv2d) for module in model.modules()):
        return model
    hook = model.register_forward_pre_hook(_channels_last_input)
    training = model.training
    try:
        with torch.no_grad():
            model.eval()(example)  # eval: no batch-norm statistics move, no dropout draws
    except RuntimeError:
        hook.remove()
    finally:
        model.train(training)
    return model


def _channels_last_input(_model: nn.Module, inputs: tuple[Any, ...]) -> tuple[Any, ...] | None:
    first, *rest = inputs
    if isinstance(first, torch.Tensor) and first.dim() == 4:
        return (first.contiguous(memory_format=torch.channels_last), *rest)
    return None


def checkpoint_fields(config: ExperimentConfig, shape: InputShape, output_layer: str = "") -> dict[str, Any] | None:
    """The spec a checkpoint of a network other than the LeNets keeps beside the weights (see
    `storage.export.Network`); for the LeNets, whose name says the rest, the data's shape where it is not their
    usual 1x28x28 of 10 classes (None where it is: their checkpoints stay as they were)."""
    if config.layers_known:
        return None if shape == LENET_INPUT else {"input": [shape.channels, shape.size, shape.classes]}
    return {
        "model_args": config.model_arguments,
        "input": [shape.channels, shape.size, shape.classes],
        "output_layer": output_layer or config.output_layer,
    }


class Experiment:
    def __init__(
        self,
        config: ExperimentConfig,
        *,
        system_data_dir: Path | None = None,
        download: bool = True,
        start_from: Mapping[str, torch.Tensor] | None = None,
        trained_epochs: int = 0,
    ) -> None:
        """`start_from`: weights (a plain state dict) to load instead of the seed's fresh ones, e.g. a trained
        dense model to prune with epochs=0. `trained_epochs`: the epochs those weights were trained, with this
        config's seed and data; the shuffling and the step count go on from there, so the run prunes and
        fine-tunes exactly as one that trained them itself. Rewinding goes back to the seed's initial weights (or
        those after `rewind_step` steps of this run's training)."""
        self.config = config.validate()
        self.model: nn.Module | None = None  # the model as trained and pruned so far (masks attached)
        self._system_data_dir = system_data_dir
        self._download = download
        self._start_from = start_from
        self._trained_epochs = trained_epochs if start_from is not None else 0
        self._stop = threading.Event()
        self.ran_out_of_memory = False  # the run failed for want of memory: save it without copying its weights
        self._device = "?"
        self._started = 0.0
        self._step = 0  # optimizer steps so far
        self._epoch_start = 0  # the step at which the current epoch began
        self._last: Measured | None = None  # evaluation of the model as it is now
        self._dense: Measured | None = None  # evaluation just before the first prune
        self._trainer: Trainer | None = None
        self._data: DataSet | None = None
        self._rewind_to: tuple[int, dict[str, torch.Tensor]] = (0, {})  # rewinding's optimizer step and weights
        self.network: NetworkSpec | None = None  # --model resolved; built for `shape`, the data's
        self.shape: InputShape | None = None
        self.example: torch.Tensor | None = None  # the batch the network was checked on, on the run's device
        self.output_layer = ""
        self.layer_names: tuple[str, ...] = ()  # the layers this run prunes, by module path
        # Structural pruning through Torch-Pruning's groups (networks other than the LeNets, which keep their own
        # row pruning and numbers): the last round's channels, whose history covers every round.
        self.channel_pruning: ChannelPruning | None = None
        self.dense_cost: Cost | None = None

    def stop(self) -> None:
        """Ask the run to end before its next batch. Safe to call from any thread."""
        self._stop.set()

    def run(self) -> Generator[Event, None, None]:
        """Run the experiment, yielding events; always ends with Finished, Stopped or Failed."""
        self._started = time.perf_counter()
        try:
            yield from self._run()
            yield Finished(self._summary(complete=True))
        except StopRequested:
            summary = self._summary_as_it_stands()
            assert summary is not None, "a stop comes between training batches, so the model exists"
            yield Stopped(summary)
        except PrunetuiError as error:
            yield Failed(str(error), self._summary_as_it_stands(), isinstance(error, ConfigError | BadDataError))
        except Exception as error:  # a bug or an environment problem: still a message, never a crash
            message = out_of_memory(error)
            if message is None:
                yield Failed(unexpected(error), self._summary_as_it_stands())
                return
            # Out of memory: what the failed step held goes (the traceback's frames keep its activations), and
            # the summary describes the model as last evaluated, without evaluating it again.
            traceback.clear_frames(error.__traceback__)
            del error
            self.ran_out_of_memory = True
            yield Failed(message, self._summary_as_it_stands(evaluate=False))

    # -- the schedule -------------------------------------------------------------------------------

    def _run(self) -> Iterator[Event]:
        config = self.config
        load_torch_optim()  # for the first optimizer: it loads while the data loads and the network builds
        device = resolve_device(config.device)
        self._device = str(device)
        if device.type == "cuda":  # cuDNN times its kernels for each new input shape once and keeps the fastest
            torch.backends.cudnn.benchmark = True
        torch.manual_seed(config.seed)
        check_sources(config.model, config.weights)
        data = yield from run_data_loading(config, device, download=self._download, system_dir=self._system_data_dir)
        self._data = data
        augment = augmentation(config.augment, config.dataset)
        facts = data.facts.lines()
        for line in facts[:-1]:
            yield Status(line)
        yield Status(f"{facts[-1]}; augmentation {augment}")
        schedule, settings = config.pruning_schedule, config.plan_settings
        steps_per_epoch = math.ceil(len(data.train) / config.batch_size)
        problem = schedule.problem(settings, steps_per_epoch)  # step counts depend on the data: checked here
        if problem:
            raise ConfigError(problem)
        model = self.model = self._build(data.shape, device)
        if self._start_from is not None:
            model.load_state_dict(self._start_from)
        layers = self._prunable_layers(model)
        targets = config.layer_targets(self.layer_names)
        problems = schedule.target_problems(settings, targets)  # the LeNets' were checked with the config
        if problems:
            name, why = next(iter(problems.items()))
            raise ConfigError(f"invalid --{name.replace('_', '-')}: {why}")
        if config.sparsity > config.reachable_sparsity({name: weight_of(m).numel() for name, m in layers}):
            raise ConfigError(f"invalid --sparsity: {config.sparsity:g} is out of reach with --max-layer-sparsity")
        self._trainer = Trainer(
            model,
            data.train,
            config.batch_size,
            torch.Generator().manual_seed(config.seed),
            self._stop,
            augment=augment == "crop-flip",
            precision=config.precision,
            label_smoothing=config.label_smoothing,
        )
        self._trainer.skip_epochs(self._trained_epochs)
        self._step = self._trained_epochs * self._trainer.batches_per_epoch()
        plan = schedule.plan(schedule.rounds(targets, settings), settings, steps_per_epoch)
        yield RunStarted(
            config,
            self._device,
            sum(p.numel() for p in model.parameters()),
            tuple(name for name, _ in layers),
            len(data.train),
            len(data.test),
            self._trainer.batches_per_epoch(),
            config.total_epochs,
            len(data.validation) if data.validation is not None else 0,
        )
        if config.epochs == 0:  # the first prune's "before"; otherwise the first epoch evaluates (it costs time
            self._last = measure(model, data)  # before the first step: 10,000 test images take a second)
        for step in plan:  # training (pruning during it, for agp), prune rounds, rewinding, fine-tuning or retraining
            match step:
                case Train():
                    yield from self._train("train", 0, step.epochs, data, self._during_training(step, layers, data))
                    self._keep_if_due(step, self._step)  # rewinding to the end of training
                    last = self._last if step.epochs > 0 else None  # not a model loaded as it is (a sweep point's)
                    if last is not None and (warning := at_chance(last.accuracy, data.shape.classes)):
                        yield Status(warning)
                case Prune():
                    assert self._last is not None, "every plan trains or measures before its first prune"
                    yield from self._prune(step.round, layers, data, self._last)
                case Rewind():
                    yield from self._rewind(step.round, model, data)
                case FineTune():
                    yield from self._train(step.phase, step.round, step.epochs, data)

    def _during_training(
        self, train: Train, layers: list[tuple[str, nn.Module]], data: DataSet
    ) -> Callable[[int], Iterator[Event]] | None:
        """What runs before each training batch: keeping the weights to rewind to, and the prune rounds the
        schedule puts at that optimizer step."""
        if not train.prune_at and train.keep_at is None:
            return None
        due = dict(train.prune_at)

        model = self.model
        assert model is not None

        def before_batch(batch: int) -> Iterator[Event]:
            step = self._epoch_start + batch
            self._keep_if_due(train, step)
            if step in due:
                self._step = step
                for round_ in due.pop(step):
                    yield from self._prune(round_, layers, data, measure(model, data))
                model.train()

        return before_batch

    def _keep_if_due(self, train: Train, step: int) -> None:
        """Late rewinding: keep the weights after `train.keep_at` optimizer steps."""
        if step == train.keep_at:
            assert self.model is not None
            self._rewind_to = (step, weights_of(self.model))

    def _build(self, shape: InputShape, device: torch.device) -> nn.Module:
        """The network for the data, checked (one forward pass; for structural pruning a trial prune), with
        --weights loaded: the weights rewinding goes back to. The LeNets are built as they always were, so they
        keep every number they give."""
        config = self.config
        self.network, self.shape = config.network, shape
        if config.layers_known:
            model = build_model(config.model, init=config.init, input_shape=shape)
            if config.weights:
                load_weights(model, config.weights, config.model)
            all_layers = tuple(name for name, _ in weight_layers(model))
            self.output_layer = config.output_layer or all_layers[-1]
            self.example = self.network.example_input(shape).to(device)
        else:
            checked = check_network(
                self.network,
                shape,
                init=config.init,
                weights=config.weights or None,
                structural=config.structured,
                excluded=config.excluded_patterns,
            )
            model, all_layers, self.output_layer = checked.model, checked.layers.prunable, checked.layers.output
            self.example = checked.example.to(device)
        self.layer_names = config.select_layers(all_layers, self.output_layer)
        model = model.to(device)
        if not config.layers_known:
            model = channels_last(model, self.example)
        self._rewind_to = (0, weights_of(model))
        with contextlib.suppress(Exception):  # the cost is reported where it can be measured, never fails a run
            self.dense_cost = measure_cost(model, self.example)
        return model

    def checkpoint_network(self, *, pruned: bool = True) -> dict[str, Any] | None:
        """What a checkpoint keeps beside the weights so that a network other than the LeNets is rebuilt
        (`storage.export.Network`): its spec, and with `pruned` the channels structural pruning removed; and for
        whoever uses the model, its data's class names by label and the standardisation its input takes."""
        if self.shape is None:
            return None
        network = checkpoint_fields(self.config, self.shape, self.output_layer)
        if network is not None and pruned and self.channel_pruning is not None:
            network["pruned_channels"] = [[name, out, list(idx)] for name, out, idx in self.channel_pruning.history]
        data = self._data
        if data is None or data.normalisation is None:
            return network
        mean, std = list(data.normalisation.mean), list(data.normalisation.std)
        return {**(network or {}), "data": {"classes": list(data.facts.class_names), "mean": mean, "std": std}}

    @property
    def structural(self) -> bool:
        """Whether whole channels go through Torch-Pruning's groups (structured criteria, other than LeNets)."""
        return self.config.structured and not self.config.layers_known

    def _prunable_layers(self, model: nn.Module) -> list[tuple[str, nn.Module]]:
        """The layers this run prunes (`layer_names`), with their modules."""
        return [(name, model.get_submodule(name)) for name in self.layer_names]

    def _train(
        self,
        phase: str,
        round_: int,
        epochs: int,
        data: DataSet,
        before_batch: Callable[[int], Iterator[Event]] | None = None,
    ) -> Iterator[Event]:
        assert self.model is not None and self._trainer is not None
        config = self.config
        base = config.lr if phase == "train" else config.finetune_lr or config.lr  # phases after training: its own
        optimizer = make_optimizer(
            self.model,
            config.optimizer,
            base,
            momentum=config.momentum,
            nesterov=config.nesterov,
            weight_decay=config.weight_decay,
            decay_norm_bias=config.decay_norm_bias,
        )
        batches = self._trainer.batches_per_epoch()
        milestones = config.lr_milestones if phase == "train" else config.finetune_lr_milestones or config.lr_milestones
        schedule = LRSchedule(config.lr_schedule, config.lr_step_epochs, config.lr_gamma, parse_milestones(milestones))
        scheduler = schedule.scheduler(optimizer, batches, epochs * batches)
        for epoch in range(1, epochs + 1):
            self._epoch_start = self._step
            report = None
            for item in self._trainer.epoch(optimizer, scheduler, before_batch=before_batch):
                if not isinstance(item, LossReport):
                    yield item  # an event from before_batch
                    continue
                report = item
                self._step = self._epoch_start + report.batch
                yield StepLoss(
                    phase,
                    round_,
                    epoch,
                    epochs,
                    report.batch,
                    report.batches,
                    self._step,
                    report.loss,
                    report.images_per_s,
                )
            self._last = measure(self.model, data)
            yield EpochEnd(
                phase,
                round_,
                epoch,
                epochs,
                self._step,
                report.loss if report else float("nan"),
                self._last.loss,
                self._last.accuracy,
                report.images_per_s if report else 0.0,
                self._last.val_accuracy,
            )

    def _prune(
        self, round_: Round, layers: list[tuple[str, nn.Module]], data: DataSet, before: Measured
    ) -> Iterator[Event]:
        assert self.model is not None
        config, criterion = self.config, self.config.pruning_criterion
        batches = []
        if criterion.needs_batches:
            yield Status(f"round {round_.number}: measuring {criterion.measures} over {criterion.batches} batches …")
            batches = self._importance_batches(data, round_.number, criterion.batches)
        if self._dense is None:
            self._dense = before
        if self.structural:
            self._prune_channels(round_.targets, batches)
        else:
            scores = criterion.scores(self.model, layers, batches)
            prune_to(layers, criterion, round_.targets, scores, config.global_cap)
        self._last = measure(self.model, data)
        yield Pruned(
            round_.number,
            config.rounds_used,
            self._step,
            overall_target(layers, round_.targets),
            sparsity_report(self.model, {name for name, _ in layers}, structured=self._rows_counted),
            before.accuracy,
            self._last.accuracy,
            self._last.loss,
            self._last.val_accuracy,
        )

    def _prune_channels(self, targets: Mapping[str, float], batches: Batches) -> None:
        """Remove channels of the groups the pruned layers root (Torch-Pruning's group importance, by the criterion's
        ranking): in layer scope the fraction `targets[layer]` of each layer's, in global scope that fraction of
        all, ranked together (no layer beyond --max-layer-sparsity). Every tensor of each group is masked: the
        masked model computes what the compact one does. Earlier rounds' channels go again, so the history covers
        every round."""
        assert self.model is not None and self.example is not None and self.network is not None
        criterion = self.config.pruning_criterion
        assert isinstance(criterion, LnStructured), f"{criterion.name} does not prune channels"
        ignored = [name for name, _ in weight_layers(self.model) if name not in self.layer_names]
        scope = self.config.scope
        try:
            pruning = plan_pruning(
                self.model,
                self.example,
                output_layer=self.output_layer,
                importance=criterion.group_importance,
                scope=scope,
                fraction=max(targets.values(), default=0.0) if scope == "global" else self.config.sparsity,
                ignored=[name for name in ignored if name != self.output_layer],
                layer_fractions=None if scope == "global" else targets,
                score_batches=batches,
                loss=self.network.loss,
                max_fraction=self.config.max_layer_sparsity if scope == "global" else 1.0,
            )
        except StructuralError as error:
            raise PrunetuiError(f"{self.config.model}: {error}") from error
        apply_masks(self.model, pruning)
        self.channel_pruning = pruning

    @property
    def _rows_counted(self) -> bool:
        """Whether sparsity counts a removed row's dead inputs as zeros (the LeNets' row pruning); the groups'
        masks of structural pruning zero those inputs themselves."""
        return self.config.structured and not self.structural

    def _rewind(self, round_: int, model: nn.Module, data: DataSet) -> Iterator[Event]:
        """Survivors go back to the kept weights, or under reinit to fresh random ones; masks stay."""
        if self.config.reinit:
            to_step = None
            with torch.random.fork_rng(devices=[]):  # the run's own random stream is left as it was
                torch.manual_seed(reinit_seed(self.config.seed, round_))
                rewind(model, weights_of(self._fresh()))
        else:
            to_step, weights = self._rewind_to
            rewind(model, weights)
        self._last = measure(model, data)
        yield Rewound(round_, self._step, self._last.accuracy, to_step)

    def _fresh(self) -> nn.Module:
        """A freshly drawn full-size network (reinit's weights), from torch's global generator."""
        assert self.network is not None and self.shape is not None
        if self.config.layers_known:
            return build_model(self.config.model, init=self.config.init, input_shape=self.shape)
        return self.network.build(self.shape, self.config.init)

    def _importance_batches(self, data: DataSet, round_: int, count: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        size = self.config.batch_size
        generator = torch.Generator().manual_seed(self.config.seed + round_)
        order = torch.randperm(len(data.train), generator=generator)[: count * size]
        order = order.to(data.train.images.device)
        return [data.train.batch(index) for index in order.split(size)]

    # -- results ------------------------------------------------------------------------------------

    def _summary_as_it_stands(self, *, evaluate: bool = True) -> RunSummary | None:
        """After a stop or a failure, if the model exists: it may have trained since it was last evaluated (ended
        mid-epoch), so it is evaluated again (unless not to `evaluate`: memory ran out) and the summary describes
        the model that is saved."""
        if self.model is None:
            return None
        if self._data is not None and evaluate:
            # The error that ended the run may strike again here: the summary then has the last evaluation.
            with contextlib.suppress(Exception):
                self._last = measure(self.model, self._data)
        return self._summary(complete=False)

    def _summary(self, complete: bool) -> RunSummary:
        assert self.model is not None
        layers = set(self.layer_names)
        return RunSummary(
            self.config,
            self._device,
            complete,
            self._dense.accuracy if self._dense else None,
            self._dense.loss if self._dense else None,
            self._last.accuracy if self._last else None,
            self._last.loss if self._last else None,
            sparsity_report(self.model, layers, structured=self._rows_counted),
            self._trainer.images_per_s if self._trainer else 0.0,
            time.perf_counter() - self._started,
            self._dense.val_accuracy if self._dense else None,
            self._last.val_accuracy if self._last else None,
            self.dense_cost,
            self._cost(),
            dense_top5=self._dense.top5 if self._dense else None,
            top5=self._last.top5 if self._last else None,
            per_class_accuracy=self._per_class(),
        )

    def _per_class(self) -> tuple[tuple[str, float], ...] | None:
        """The last evaluation's test accuracy of each class, by name; classes without test images left out."""
        if self._last is None or self._data is None or not self._last.per_class:
            return None
        names = self._data.facts.class_names
        return tuple(
            (name, accuracy) for name, accuracy in zip(names, self._last.per_class, strict=True) if accuracy is not None
        )

    def _cost(self) -> Cost | None:
        """The pruned model's cost: for structural pruning the compact model's, else the masked model's (both MAC
        counts: a dense kernel's and the non-zero weights'). None where it cannot be measured."""
        if self.model is None or self.example is None:
            return None
        try:
            if self.channel_pruning is not None:
                from prunetui.engine.pruning.structural import compact_model

                return measure_cost(compact_model(self.model, self.example, self.channel_pruning), self.example)
            return measure_cost(self.model, self.example)
        except Exception:  # the summary is reported whatever the counter makes of the network
            return None
