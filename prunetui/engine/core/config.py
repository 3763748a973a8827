"""The experiment's settings: one schema for the CLI flags, the TOML file, validation and the app's form.

Each field carries its help text and its allowed choices in dataclass metadata (`schema.setting`), so a new setting
is added in one place and every face (argparse, TOML, the app's form) picks it up. A setting only one criterion or
schedule reads lives beside that strategy, in its settings dataclass; the schema composes those here.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import functools
import inspect
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, get_type_hints

from prunetui.engine.core.data.memory import DATA_PATHS
from prunetui.engine.core.data.specs import AUGMENTS, DATASETS, IMAGEFOLDER_PREFIX, DatasetChoices, spec_problem
from prunetui.engine.core.device import DEVICES
from prunetui.engine.core.errors import ConfigError
from prunetui.engine.core.lr_schedule import LR_SCHEDULES, parse_milestones
from prunetui.engine.core.networks.layer_names import said_shortly
from prunetui.engine.core.networks.registry import BUILT_INS, resolve
from prunetui.engine.core.networks.spec import NetworkSpec
from prunetui.engine.pruning import registry
from prunetui.engine.pruning.budget import capped_zeros
from prunetui.engine.pruning.criterion import Criterion
from prunetui.engine.pruning.schedules import PlanSettings, Retraining, Schedule
from prunetui.engine.schema import FRACTION, Interval, Role, setting, setting_names

MODELS = tuple(BUILT_INS)  # the built-ins; --model also takes torchvision:NAME and the user's module:factory
SCOPES = ("layer", "global")
OPTIMIZERS = ("sgd", "adam", "adamw")  # torch.optim's (training.make_optimizer)
PRECISIONS = ("fp32", "bf16", "fp16")  # the arithmetic of training's forward passes (precision.py)
INITS = ("default", "kaiming-normal", "xavier-normal")  # default: each layer's own (PyTorch's) initialisation
# The LeNets' weight layers in forward order, the last being the output layer, with their weight counts; known
# here so that settings naming layers, and the sparsity a cap allows, can be checked without importing torch
# (a test holds this to the models themselves). Other networks' layers are found when the run builds them
# (`networks.spec.NetworkSpec.layers`), and the settings naming layers are checked then.
MODEL_LAYER_WEIGHTS = {
    "lenet5": {"conv1": 6 * 25, "conv2": 16 * 6 * 25, "fc1": 120 * 400, "fc2": 84 * 120, "fc3": 10 * 84},
    "lenet300": {"fc1": 300 * 784, "fc2": 100 * 300, "fc3": 10 * 100},
    "lenet5-caffe": {"conv1": 20 * 25, "conv2": 50 * 20 * 25, "fc1": 500 * 800, "fc2": 10 * 500},
}
MODEL_LAYERS = {model: tuple(weights) for model, weights in MODEL_LAYER_WEIGHTS.items()}

C = TypeVar("C", bound=type)


def strategy_settings() -> list[type]:
    """The settings classes the config composes: the retraining settings every schedule reads, then each registered
    schedule's and criterion's own, in registry order. Read when the config is imported: a strategy with settings
    is registered in `registry.py`, not later."""
    strategies: list[Schedule | Criterion] = [*registry.SCHEDULES.values(), *registry.CRITERIA.values()]
    own = [strategy.settings for strategy in strategies if strategy.settings is not None]
    return list(dict.fromkeys([Retraining, *own]))  # once each, should two strategies share one


def _composing(after: str) -> Callable[[C], C]:
    """Make the strategies' settings fields of the class, after its field `after`: flat, as `config.agp_interval`,
    `--agp-interval` and `agp-interval = 3` in a TOML file. Applied before @dataclass, which then sees them as the
    class's own (with their types resolved where they are declared)."""

    def compose(cls: C) -> C:
        own = inspect.get_annotations(cls)
        annotations: dict[str, Any] = {}
        for name, kind in own.items():
            annotations[name] = kind
            if name != after:
                continue
            for settings in strategy_settings():
                types = get_type_hints(settings)
                for f in dataclasses.fields(settings):
                    if f.name in annotations or f.name in own:
                        raise TypeError(f"setting {f.name} of {settings.__name__} is declared twice")
                    annotations[f.name] = types[f.name]
                    setattr(cls, f.name, dataclasses.field(default=f.default, metadata=f.metadata))
        cls.__annotations__ = annotations
        return cls

    return compose


@dataclass(frozen=True)
@_composing(after="finetune_epochs")
class ExperimentConfig:
    """Everything that defines a pruning experiment. Immutable: derive a new one with `replace`.

    Its own fields are the settings of every experiment; each strategy's settings (`strategy_settings`) are
    composed in after `finetune_epochs`, and read as fields like these."""

    if TYPE_CHECKING:  # the composed settings, which the type checker cannot see

        def __getattr__(self, name: str) -> Any: ...

    model: str = setting(
        "lenet5",
        f"{', '.join(MODELS)}, torchvision:NAME or your file.py:factory",
        empty="required: a network, e.g. resnet20",  # what an empty field shows (it is a problem)
    )
    dataset: str = setting(
        "fashion-mnist-mini",
        f"a built-in ({', '.join(DATASETS)}: the first ships with prunetui, the others download), imagefolder:PATH, "
        "or your file.py:factory",
        DatasetChoices(),
    )
    data_dir: str = setting(
        "",
        "data set folder: torchvision's layout (<dir>/MNIST/raw/…), the four IDX files themselves, or CIFAR's "
        "cifar-10-batches-py/, cifar-100-python/ or their .tar.gz "
        "(default: $PRUNETUI_DATA, else a per-user cache)",
        empty="$PRUNETUI_DATA or cache",
        roles=("place",),
    )
    criterion: str = setting(
        "l1",
        "which weights go: magnitude, random, Taylor importance, whole rows",
        registry.CRITERIA.keys(),  # a live view: criteria registered later are choices too
        roles=("point",),
    )
    scope: str = setting(
        "layer", "same fraction per layer, or one threshold across layers", SCOPES, roles=("point", "plan")
    )
    schedule: str = setting(
        "one-shot",
        "prune once, in rounds with fine-tuning, or gradually (AGP)",
        registry.SCHEDULES.keys(),
        roles=("point", "plan"),
    )
    sparsity: float = setting(
        0.9,
        "target fraction of prunable weights that are zero, in [0, 1)",
        interval=FRACTION,
        roles=("point", "plan"),
    )
    rounds: int = setting(4, "prune rounds for iterative and agp schedules", interval=Interval(1, 100), roles=("plan",))
    epochs: int = setting(3, "training epochs before pruning (agp prunes during them)", interval=Interval(0, 1000))
    finetune_epochs: int = setting(
        1, "fine-tuning epochs after each prune round", interval=Interval(0, 1000), roles=("plan",)
    )
    max_layer_sparsity: float = setting(
        1.0,
        "global scope: no layer pruned beyond this fraction, in (0, 1]",
        interval=Interval(0.0, 1.0, low_open=True),
        roles=("plan",),
    )
    keep_output: bool = setting(False, "leave the output layer unpruned")
    layer_sparsity: str = setting(
        "",
        "layer scope: targets for named layers instead of sparsity, e.g. conv1=0.5,fc1=0.95 (see sensitivity)",
        empty="none, e.g. fc1=0.95",
        roles=("plan",),
    )
    optimizer: str = setting("sgd", "torch.optim's SGD (with --momentum), Adam or AdamW", OPTIMIZERS)
    momentum: float = setting(0.9, "SGD's momentum, in [0, 1)", interval=Interval(0.0, 1.0, high_open=True))
    nesterov: bool = setting(False, "SGD with Nesterov momentum")
    lr: float = setting(0.05, "learning rate", interval=Interval(0.0, 10.0, low_open=True))
    weight_decay: float = setting(
        0.0,
        "torch.optim's weight_decay, in [0, 1]: an L2 penalty's gradient (sgd, adam), decoupled decay (adamw)",
        interval=Interval(0.0, 1.0),
    )
    decay_norm_bias: bool = setting(
        True, "weight decay on biases and BatchNorm's weights too (every 1-D parameter); off: on the other weights only"
    )
    label_smoothing: float = setting(
        0.0,
        "ε of training's cross-entropy: the target is 1 - ε on the label plus ε spread over all classes, in [0, 1)",
        interval=FRACTION,
    )
    lr_schedule: str = setting(
        "constant",
        "the learning rate within each training and fine-tuning phase: constant, step (cut every --lr-step-epochs), "
        "multistep (cut at --lr-milestones), cosine (down to 0, batch by batch)",
        LR_SCHEDULES,
    )
    lr_step_epochs: int = setting(1, "step schedule: epochs between rate cuts", interval=Interval(1, 1000))
    lr_milestones: str = setting(
        "",
        "multistep schedule: the epochs after which the rate is cut, e.g. 80,120; counted in each phase from its "
        "start (training, then each fine-tuning or retraining, unless --finetune-lr-milestones)",
        empty="none, e.g. 80,120",
    )
    lr_gamma: float = setting(
        0.1,
        "step and multistep schedules: each cut multiplies the rate by this, in (0, 1]",
        interval=Interval(0.0, 1.0, low_open=True),
    )
    finetune_lr: float = setting(
        0.0,
        "learning rate of fine-tuning and retraining (0: the same as --lr), in [0, 10]",
        interval=Interval(0.0, 10.0),
        roles=("plan",),
    )
    finetune_lr_milestones: str = setting(
        "",
        "multistep schedule of fine-tuning and retraining: epochs of each such phase to cut the rate after "
        "(empty: --lr-milestones)",
        empty="--lr-milestones",
        roles=("plan",),
    )
    init: str = setting("default", "initial weights: PyTorch's default, Kaiming (He) or Glorot (Xavier) normal", INITS)
    # 64 with SGD at 0.05: seeds 0-4 of the default run end within 3 points of their median (128 spread wider on few
    # images); tests/benchmarks/bench_default_recipe.py measures it.
    batch_size: int = setting(64, "training batch size", interval=Interval(1, 65536))
    seed: int = setting(  # torch's seeds are 64-bit
        0, "random seed: same seed and config give the same numbers on CPU", interval=Interval(0, 2**63 - 1)
    )
    device: str = setting("auto", "where to train: auto picks cuda, then mps, then cpu", DEVICES, roles=("place",))
    train_subset: int = setting(
        0, "train on the first N images only (0: all) for quick runs", interval=Interval(0, 10_000_000)
    )
    validation_split: float = setting(
        0.1,
        "fraction of the training images held out to choose by (the same images for every seed), in [0, 0.5]",
        interval=Interval(0.0, 0.5),
    )
    # The network's own settings, read when the run builds it (in the process that trains).
    model_args: str = setting(
        "", 'your network\'s factory: keyword arguments as a JSON object, e.g. {"width": 32}', empty="none"
    )
    weights: str = setting(
        "", "start from this state dict (a .pt file, loaded with weights_only=True)", empty="fresh weights"
    )
    exclude_layers: str = setting(
        "",
        "layers kept out of pruning: comma-separated shell-style patterns, e.g. layer3.?.conv1,fc",
        empty="none, e.g. layer3.*",
    )
    output_layer: str = setting("", "the layer whose outputs are the class scores", empty="the last linear layer")
    image_size: int = setting(
        0,
        "imagefolder: images resized (shorter side, then centre crop) to N x N; 0: as they are",
        interval=Interval(0, 4096),
    )
    augment: str = setting(
        "auto",
        "random crop (4-pixel padding) and horizontal flip of training images; auto: crop-flip on cifar10, cifar100",
        AUGMENTS,
    )
    precision: str = setting(
        "fp32",
        "training arithmetic: fp32, or autocast to bf16 or fp16 (fp16 with loss scaling, for GPUs without bf16)",
        PRECISIONS,
    )
    data_path: str = setting(
        "auto",
        "memory: held on the training device; stream: fed to it by worker processes; "
        "auto: memory if the images take at most ¼ of its free memory",
        DATA_PATHS,
    )

    @classmethod
    def fields(cls) -> tuple[dataclasses.Field[Any], ...]:
        return dataclasses.fields(cls)

    @classmethod
    def settings_with(cls, role: Role) -> tuple[str, ...]:
        """The names of the settings with `role` in the analyses."""
        return tuple(f.name for f in cls.fields() if role in f.metadata["roles"])

    def not_applicable(self, name: str) -> str | None:
        """Why setting `name` has no effect with this config's other settings; None when it has."""
        schedule = registry.SCHEDULES.get(self.schedule)
        retrains = schedule is not None and schedule.retrains(self.plan_settings)
        match name:
            case "rounds" if schedule and not schedule.has_rounds:
                return f"{self.schedule} prunes once"
            case "finetune_epochs" if retrains:
                return f"{'reinit' if self.reinit else 'rewind'} retrains the full --epochs"
            case "rewind" | "reinit" | "rewind_step" if schedule and schedule.prunes_while_training:
                return f"{self.schedule} prunes during training"
            case "rewind" if self.reinit:
                return "reinit draws fresh weights instead"
            case "rewind_step" if self.reinit or not self.rewind:
                return "reinit draws fresh weights" if self.reinit else "needs --rewind"
            case "scope" if self.structured and self.layers_known:
                return f"{self.criterion} prunes each of {self.model}'s layers on its own"
            case "max_layer_sparsity" if self.scope != "global":
                return "global scope only"
            case "max_layer_sparsity" if self.structured:
                return f"{self.criterion} in global scope leaves each group of channels one at least, no cap"
            case "structured_norm" if self.structured and self.structured_importance != "magnitude":
                return f"{self.structured_importance} importance ranks by no norm"
            case "layer_sparsity" if self.scope == "global":
                return "layer scope only"
            case "lr_step_epochs" if self.lr_schedule != "step":
                return "step schedule only"
            case "lr_milestones" if self.lr_schedule != "multistep":
                return "multistep schedule only"
            case "lr_gamma" if self.lr_schedule not in ("step", "multistep"):
                return "step and multistep schedules only"
            case "momentum" | "nesterov" if self.optimizer != "sgd":
                return f"sgd only; {self.optimizer} keeps its own running averages"
            case "decay_norm_bias" if self.weight_decay == 0:
                return "no --weight-decay"
            case "finetune_lr" | "finetune_lr_milestones" if self.finetune_epochs == 0 and not retrains:
                return "no fine-tuning"
            case "finetune_lr_milestones" if self.lr_schedule != "multistep":
                return "multistep schedule only"
            case "image_size" if not self.dataset.startswith(IMAGEFOLDER_PREFIX):
                return f"image folders only; {self.dataset}'s images keep their size"
        for kind, chosen in ((registry.SCHEDULES, self.schedule), (registry.CRITERIA, self.criterion)):
            readers = [reader for reader, value in kind.items() if name in setting_names(value.settings)]
            if readers and chosen not in readers:
                return f"{', '.join(readers)} only"
        return None

    @property
    def pruning_criterion(self) -> Criterion:
        """The criterion, given its own settings (`Criterion.settings`)."""
        criterion = registry.CRITERIA[self.criterion]
        return criterion.configured(self._own(criterion.settings))

    @property
    def pruning_schedule(self) -> Schedule:
        return registry.SCHEDULES[self.schedule]

    @property
    def plan_settings(self) -> PlanSettings:
        """What the schedule reads of this config."""
        return PlanSettings(
            self.rounds,
            self.epochs,
            self.finetune_epochs,
            retrain=self.rewind or self.reinit,
            rewind_step=0 if self.reinit else self.rewind_step,  # reinit goes back to no step of training
            own=self._own(self.pruning_schedule.settings),
        )

    def _own(self, settings: type | None) -> Any:
        """A strategy's own settings (an instance of its `settings` class) with this config's values; None for a
        strategy without any."""
        return settings(**{name: getattr(self, name) for name in setting_names(settings)}) if settings else None

    @property
    def rounds_used(self) -> int:
        """Rounds actually run: a schedule without rounds (one-shot) prunes once; agp adds one at t0 when s_i > 0."""
        return self.pruning_schedule.round_count(self.plan_settings)

    @property
    def total_epochs(self) -> int:
        """Training plus all fine-tuning (or, under rewind, retraining) epochs of a run."""
        return self.pruning_schedule.total_epochs(self.plan_settings)

    @property
    def trains_from_scratch(self) -> bool:
        """Whether pruning needs the run's own training: agp prunes during it, rewinding goes back into it and
        trains its budget again. Otherwise a trained model can be pruned with epochs=0 (as sweeps do)."""
        schedule = self.pruning_schedule
        return schedule.prunes_while_training or schedule.retrains(self.plan_settings)

    @property
    def structured(self) -> bool:
        return self.criterion in registry.CRITERIA and self.pruning_criterion.structured

    @property
    def global_cap(self) -> float | None:
        """For global scope, the most any one layer is pruned (1.0: no cap); None for layer scope."""
        return self.max_layer_sparsity if self.scope == "global" else None

    @property
    def network(self) -> NetworkSpec:
        """The spec of --model (with --model-args and --output-layer); resolving imports nothing (ConfigError)."""
        return resolve(self.model, self.model_arguments, self.output_layer or None)

    @property
    def model_arguments(self) -> dict[str, Any]:
        """--model-args as a dict (ValueError when it is not a JSON object)."""
        if not self.model_args.strip():
            return {}
        try:
            value = json.loads(self.model_args)
        except json.JSONDecodeError as error:
            raise ValueError(f'{self.model_args!r} is not JSON ({error.msg}), e.g. {{"width": 32}}') from None
        if not isinstance(value, dict):
            raise ValueError(f'{self.model_args!r} is not a JSON object, e.g. {{"width": 32}}')
        return value

    @property
    def excluded_patterns(self) -> tuple[str, ...]:
        return tuple(filter(None, (part.strip() for part in self.exclude_layers.split(","))))

    @property
    def layers_known(self) -> bool:
        """Whether this network's layers are known without building it (the LeNets)."""
        return self.model in MODEL_LAYERS

    @property
    def prunable_layer_names(self) -> tuple[str, ...]:
        """The layers this config prunes, for the LeNets (others: () until built; `select_layers` then)."""
        layers = MODEL_LAYERS.get(self.model)
        if layers is None:
            return ()
        output = self.output_layer or layers[-1]
        return tuple(name for name in self.select_layers(layers, output, strict=False))

    def select_layers(self, layers: tuple[str, ...], output: str, *, strict: bool = True) -> tuple[str, ...]:
        """Of a network's weight layers, those this config prunes: never the output layer when it is kept or when
        whole rows go (removing output neurons would delete classes), nor those --exclude-layers names. `strict`:
        a pattern that matches no layer is a ConfigError naming the layers there are."""
        patterns = self.excluded_patterns
        if strict:
            for pattern in patterns:
                if not fnmatch.filter(layers, pattern):
                    raise ConfigError(
                        f"--exclude-layers {pattern} matches no layer; the layers are {said_shortly(layers)}"
                    )
        return tuple(
            name
            for name in layers
            if not ((self.keep_output or self.structured) and name == output)
            and not any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)
        )

    def reachable_sparsity(self, weights: Mapping[str, int] | None = None) -> float:
        """The highest sparsity pruning can reach: global scope stops each layer at `max_layer_sparsity` (a whole
        number of weights, as `allocation.prune_to` counts), layer scope reaches any target in [0, 1). `weights`:
        each prunable layer's weight count (the LeNets' are known here; another network's once built)."""
        if self.scope != "global" or self.max_layer_sparsity >= 1.0:
            return 1.0
        if weights is None:
            if not self.layers_known:
                return 1.0  # checked when the run has built the network
            weights = {name: MODEL_LAYER_WEIGHTS[self.model][name] for name in self.prunable_layer_names}
        sizes = list(weights.values())
        return sum(capped_zeros(self.max_layer_sparsity, size) for size in sizes) / sum(sizes)

    def layer_targets(self, layers: tuple[str, ...] | None = None) -> dict[str, float]:
        """Each prunable layer's final sparsity: from `layer_sparsity` (shell-style patterns, the last that matches
        a layer winning), else `sparsity`. `layers`: the prunable layers (default `prunable_layer_names`). A
        pattern that matches none of them is a ConfigError naming them."""
        layers = self.prunable_layer_names if layers is None else layers
        named = parse_layer_amounts(self.layer_sparsity)
        for pattern in named:
            if layers and not fnmatch.filter(layers, pattern):
                raise ConfigError(f"{pattern} matches no layer this run prunes; those are {said_shortly(layers)}")
        targets = {}
        for name in layers:
            matching = [amount for pattern, amount in named.items() if fnmatch.fnmatchcase(name, pattern)]
            targets[name] = matching[-1] if matching else self.sparsity
        return targets

    def problems(self) -> dict[str, str]:
        """Every invalid setting, as {field name: why}. Empty when the config can run."""
        problems: dict[str, str] = {}
        for f in self.fields():
            value = getattr(self, f.name)
            kind = setting_type(f)
            if not isinstance(value, (int, float) if kind is float else kind) or (
                isinstance(value, bool) and kind is not bool
            ):
                problems[f.name] = f"must be {_type_word(f)}, got {value!r}"
            elif f.name == "dataset" and (problem := spec_problem(str(value))):
                problems[f.name] = problem
            elif f.metadata["choices"] and value not in f.metadata["choices"]:
                problems[f.name] = f"must be one of {', '.join(f.metadata['choices'])}; got {value!r}"
            elif f.metadata["interval"] and value not in f.metadata["interval"]:
                problems[f.name] = f"must be {f.metadata['interval']}"
        if problems:
            return problems
        network_problems = self._network_problems()
        if network_problems:
            return network_problems
        reachable = self.reachable_sparsity()
        if self.sparsity > reachable:
            problems["sparsity"] = (
                f"{self.sparsity:g} is out of reach: with --max-layer-sparsity {self.max_layer_sparsity:g}, "
                f"global scope reaches at most {math.floor(reachable * 10_000) / 10_000:g}"
            )
        if self.nesterov and self.optimizer == "sgd" and self.momentum == 0:
            problems["nesterov"] = "Nesterov momentum needs --momentum above 0"
        if self.structured and self.scope == "global" and self.layers_known:  # other networks: Torch-Pruning's groups
            problems["scope"] = (
                f"{self.criterion} prunes {self.model}'s rows per layer; global scope ranks the channels of other "
                "networks (resnet20, torchvision:NAME, your file): use --scope layer"
            )
        problems.update(self._milestones_problems())
        layer_problem = self._layer_sparsity_problem()
        if layer_problem:
            problems["layer_sparsity"] = layer_problem
        if self.pruning_schedule.prunes_while_training and self.epochs == 0:
            problems["epochs"] = f"{self.schedule} prunes during training, so it needs at least 1 epoch"
        elif self.pruning_schedule.retrains(self.plan_settings) and self.epochs == 0:
            what = "reinit" if self.reinit else "rewind"
            problems["epochs"] = f"{what} trains --epochs again after each prune, so it needs at least 1 epoch"
        if not layer_problem:
            problems.update(self.pruning_schedule.target_problems(self.plan_settings, self.layer_targets()))
        return problems

    def _network_problems(self) -> dict[str, str]:
        """The network settings' problems that show without building it (torch is not imported): the form of
        --model, --model-args, and for the LeNets the layers named. Whatever needs the network is checked when the
        run builds it."""
        try:
            _ = self.model_arguments
        except ValueError as error:
            return {"model_args": str(error)}
        try:
            _ = self.network
        except ConfigError as error:
            return {"model_args" if "--model-args" in str(error) else "model": str(error)}
        if self.layers_known:
            layers = MODEL_LAYERS[self.model]
            if self.output_layer and self.output_layer not in layers:
                return {"output_layer": f"{self.output_layer} is not a layer of {self.model}: {', '.join(layers)}"}
            try:
                self.select_layers(layers, self.output_layer or layers[-1])
            except ConfigError as error:
                return {"exclude_layers": str(error).removeprefix(f"{flag_name('exclude_layers')} ")}
        return {}

    def _milestones_problems(self) -> dict[str, str]:
        problems = {}
        for name in ("lr_milestones", "finetune_lr_milestones"):
            try:
                parse_milestones(getattr(self, name))
            except ValueError as error:
                problems[name] = str(error)
        if self.lr_schedule == "multistep" and not self.lr_milestones.strip(" ,") and not problems:
            problems["lr_milestones"] = "the multistep schedule needs the epochs to cut the rate after, e.g. 80,120"
        return problems

    def _layer_sparsity_problem(self) -> str | None:
        try:
            named = parse_layer_amounts(self.layer_sparsity)
        except ValueError as error:
            return str(error)
        if named and self.scope == "global":
            return "per-layer targets need layer scope; global scope sets one threshold"
        try:
            self.layer_targets()
        except ConfigError as error:
            return str(error)
        return None

    def validate(self) -> ExperimentConfig:
        """Return self, or raise ConfigError naming the first invalid setting."""
        problems = self.problems()
        if problems:
            name, why = next(iter(problems.items()))
            raise ConfigError(f"invalid {flag_name(name)}: {why}")
        return self

    def with_absolute_paths(self) -> ExperimentConfig:
        """This config with its files (a network's or a data set's file, an image folder, --data-dir, --weights)
        named by absolute paths, for a worker process (or a Ray worker on this machine) whose working directory
        differs, and for the run's config.toml, read from anywhere."""
        from prunetui.engine.core.networks.user_code import absolute_factory

        def absolute(path: str) -> str:
            return str(Path(path).expanduser().resolve()) if path else ""

        if self.dataset.startswith(IMAGEFOLDER_PREFIX):
            dataset = IMAGEFOLDER_PREFIX + absolute(self.dataset.removeprefix(IMAGEFOLDER_PREFIX))
        else:
            dataset = absolute_factory(self.dataset)  # a data set's file as a network's; a built-in as it is
        return self.replace(
            model=absolute_factory(self.model),
            weights=absolute(self.weights),
            dataset=dataset,
            data_dir=absolute(self.data_dir),
        )

    def replace(self, **changes: Any) -> ExperimentConfig:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], base: ExperimentConfig | None = None) -> ExperimentConfig:
        """Build from TOML-style keys (dashes or underscores). Unknown keys are an error, not ignored."""
        known = {f.name for f in cls.fields()}
        changes = {}
        for key, value in values.items():
            name = key.replace("-", "_")
            if name not in known:
                keys = sorted(toml_key(field_name) for field_name in known)  # as config.toml writes them
                close = difflib.get_close_matches(toml_key(name), keys, n=1)
                if close:  # a typo: the one it meant, not the 50 it did not (the app's notice filled the screen)
                    raise ConfigError(f"unknown setting {key!r}; did you mean {close[0]}?")
                raise ConfigError(f"unknown setting {key!r}; known settings: {', '.join(keys)}")
            changes[name] = value
        return dataclasses.replace(base or cls(), **changes)

    @classmethod
    def load(cls, path: str | Path, base: ExperimentConfig | None = None) -> ExperimentConfig:
        """The settings in a TOML file; those it leaves out are `base`'s (default: the defaults)."""
        return cls.from_mapping(read_toml(path), base)

    def to_toml(self) -> str:
        import tomli_w

        return tomli_w.dumps({toml_key(f.name): getattr(self, f.name) for f in self.fields()})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def parse_layer_amounts(text: str) -> dict[str, float]:
    """ "conv1=0.5, fc1=0.95" -> {"conv1": 0.5, "fc1": 0.95}; ValueError saying what is wrong."""
    amounts: dict[str, float] = {}
    for part in filter(None, (part.strip() for part in text.split(","))):
        name, equals, value = (piece.strip() for piece in part.partition("="))
        try:
            amount = float(value) if equals and name else None
        except ValueError:
            amount = None
        if amount is None:
            raise ValueError(f"{part!r} is not layer=fraction, as in conv1=0.5")
        if not 0.0 <= amount < 1.0:
            raise ValueError(f"{name}: {amount:g} is not in [0, 1)")
        if name in amounts:
            raise ValueError(f"{name} is named twice")
        amounts[name] = amount
    return amounts


def format_layer_amounts(amounts: Mapping[str, float]) -> str:
    """{"conv1": 0.5, "fc1": 0.95} -> "conv1=0.5,fc1=0.95", what `parse_layer_amounts` reads."""
    return ",".join(f"{layer}={amount:g}" for layer, amount in amounts.items())


def read_toml(path: str | Path) -> dict[str, Any]:
    """A config file's keys and values, unchecked (`ExperimentConfig.from_mapping` checks them); ConfigError."""
    import tomllib  # here and in to_toml, not at the top: importing the schema (to paint the form) needs neither

    try:
        with open(path, "rb") as file:
            return tomllib.load(file)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:  # not UTF-8, or not TOML
        raise ConfigError(f"cannot read config file {path}: {error}") from None


def toml_key(name: str) -> str:
    """A field's key in a TOML file: finetune_epochs -> finetune-epochs (underscores are read too)."""
    return name.replace("_", "-")


def flag_name(name: str) -> str:
    """The command-line flag for a field: finetune_epochs -> --finetune-epochs."""
    return "--" + toml_key(name)


def setting_type(f: dataclasses.Field[Any]) -> type:
    """The Python type of a setting (str, int, float or bool), from the dataclass's annotations."""
    return _setting_types()[f.name]


@functools.cache
def _setting_types() -> dict[str, type]:
    return get_type_hints(ExperimentConfig)


def _type_word(f: dataclasses.Field[Any]) -> str:
    return {str: "text", int: "a whole number", float: "a number", bool: "true or false"}[setting_type(f)]
