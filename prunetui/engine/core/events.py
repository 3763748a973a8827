"""The typed, immutable events an experiment yields while it runs (plain data: no torch here).

Every consumer (the CLI, the app, the tests) reads the same stream; nothing else leaves the engine.
`phase` is "train" (before pruning, or during it for agp), "finetune", or "retrain" (after a rewind or reinit);
`round` is 0 before the first prune and k after the k-th. `step` counts optimizer steps over the whole run, a common
x-axis for charts.
"""

from __future__ import annotations

from dataclasses import dataclass

from prunetui.engine.core.config import ExperimentConfig
from prunetui.engine.core.networks.cost import Cost


@dataclass(frozen=True, slots=True)
class LayerSparsity:
    name: str
    zeros: int
    total: int
    prunable: bool = True  # False for the output layer when it is kept dense

    @property
    def nonzero(self) -> int:
        return self.total - self.zeros

    @property
    def sparsity(self) -> float:
        return self.zeros / self.total if self.total else 0.0


@dataclass(frozen=True, slots=True)
class SparsityReport:
    layers: tuple[LayerSparsity, ...]  # every weight layer, prunable or not
    nonzero_parameters: int  # all parameters, biases included
    total_parameters: int

    @property
    def global_sparsity(self) -> float:
        """Fraction of zeros over the prunable weights: the number the target sparsity refers to."""
        zeros, total = self.prunable_counts
        return zeros / total if total else 0.0

    @property
    def prunable_counts(self) -> tuple[int, int]:
        """Zeros and weights of the prunable layers."""
        prunable = [layer for layer in self.layers if layer.prunable]
        return sum(layer.zeros for layer in prunable), sum(layer.total for layer in prunable)

    @property
    def compression(self) -> float:
        """All parameters over non-zero ones, biases included (1.0 for a dense model)."""
        return self.total_parameters / max(self.nonzero_parameters, 1)

    @property
    def total_weights(self) -> int:
        """The weights of every weight layer, biases not included: what Han et al. 2015 count."""
        return sum(layer.total for layer in self.layers)

    @property
    def nonzero_weights(self) -> int:
        return sum(layer.nonzero for layer in self.layers)

    @property
    def weight_compression(self) -> float:
        """Weights over non-zero weights, biases left out: the papers' compression (Han et al.'s 12 times for
        LeNet-5 counts 431K → 36K weights); `compression` counts the biases too, which pruning keeps."""
        return self.total_weights / max(self.nonzero_weights, 1)

    def layer(self, name: str) -> LayerSparsity:
        return next(layer for layer in self.layers if layer.name == name)


@dataclass(frozen=True, slots=True)
class RunStarted:
    config: ExperimentConfig
    device: str
    parameters: int
    layers: tuple[str, ...]  # prunable layers, in forward order
    train_size: int
    test_size: int
    steps_per_epoch: int
    total_epochs: int  # training plus all fine-tuning epochs
    validation_size: int = 0  # training images held out for validation, not trained on


@dataclass(frozen=True, slots=True)
class Status:
    """Something slow is happening that is not training (loading data, measuring importance)."""

    message: str


@dataclass(frozen=True, slots=True)
class StepLoss:
    phase: str
    round: int
    epoch: int  # 1-based, within the phase
    epochs: int
    batch: int  # batches done in this epoch
    batches: int
    step: int
    loss: float  # mean training loss over the batches since the previous StepLoss
    images_per_s: float


@dataclass(frozen=True, slots=True)
class EpochEnd:
    phase: str
    round: int
    epoch: int
    epochs: int
    step: int
    train_loss: float
    test_loss: float
    accuracy: float  # test accuracy, 0..1
    images_per_s: float
    val_accuracy: float | None = None  # on the validation images; None when none are held out


@dataclass(frozen=True, slots=True)
class Pruned:
    round: int
    rounds: int
    step: int
    target_sparsity: float  # what this round aimed for (over prunable weights)
    sparsity: SparsityReport  # what it reached, counted from the effective weights
    accuracy_before: float
    accuracy: float  # right after pruning, before any fine-tuning
    test_loss: float
    val_accuracy: float | None = None  # the same, on the validation images; None when none are held out


@dataclass(frozen=True, slots=True)
class Rewound:
    round: int
    step: int
    accuracy: float  # with surviving weights back at the values they went back to
    to_step: int | None  # the optimizer step whose weights they went back to (0: initial); None: fresh (reinit)


@dataclass(frozen=True, slots=True)
class RunSummary:
    config: ExperimentConfig
    device: str
    complete: bool
    # Just before the first prune (None if it never got there): the trained dense model, but under agp, which
    # prunes during training, an early, partly trained one (see `describe.before_pruning`).
    dense_accuracy: float | None
    dense_loss: float | None
    accuracy: float | None  # of the model as it is now
    test_loss: float | None
    sparsity: SparsityReport
    images_per_s: float  # mean training throughput
    seconds: float
    # Validation accuracy where dense_accuracy and accuracy are test accuracy; None when no images are held out.
    dense_val_accuracy: float | None = None
    val_accuracy: float | None = None
    # Parameters and MACs per image, of the dense network and of the pruned one (for structural pruning the compact
    # model's); None where they could not be counted.
    dense_cost: Cost | None = None
    cost: Cost | None = None
    # Top-5 test accuracy where the data set has 100 classes or more (CIFAR-100); None otherwise.
    dense_top5: float | None = None
    top5: float | None = None
    # The model's test accuracy of each class, by name (classes without test images left out); None before any
    # evaluation.
    per_class_accuracy: tuple[tuple[str, float], ...] | None = None

    @property
    def compression(self) -> float:
        return self.sparsity.compression

    @property
    def weight_compression(self) -> float:
        return self.sparsity.weight_compression


@dataclass(frozen=True, slots=True)
class Exported:
    """The model was saved with its masks made permanent (only when the run is recorded)."""

    path: str
    dense_bytes: int  # every parameter stored, zeros included
    sparse_bytes: int  # weight matrices in CSR (values + 32-bit indices), biases dense
    gzip_bytes: int  # the saved file, gzipped


@dataclass(frozen=True, slots=True)
class Finished:
    summary: RunSummary


@dataclass(frozen=True, slots=True)
class Stopped:
    """The run was asked to stop; what it finished is in the summary (complete=False)."""

    summary: RunSummary


@dataclass(frozen=True, slots=True)
class Failed:
    message: str  # one readable line, no traceback
    summary: RunSummary | None  # what was finished before the failure, if the model existed
    bad_setting: bool = False  # a setting found wrong once the run began (the network, its weights): exit code 2


Event = RunStarted | Status | StepLoss | EpochEnd | Pruned | Rewound | Exported | Finished | Stopped | Failed
