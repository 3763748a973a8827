"""What the analyses report: progress of the experiments they run, one event per result, and their end."""

from __future__ import annotations

from dataclasses import dataclass

from prunetui.engine.core.config import ExperimentConfig
from prunetui.engine.core.events import Event
from prunetui.engine.storage.groups import RunGroup

RUNNING_IN = "running in "  # a Progress's Status when its job went elsewhere: "running in worker process 4242"


@dataclass(frozen=True, slots=True)
class Progress:
    """An event of an experiment the analysis runs, for progress displays."""

    stage: str  # "dense model", or the sweep point: "l1:layer:one-shot at 90 %"
    event: Event


@dataclass(frozen=True, slots=True)
class SweepPoint:
    """One finished point of a sweep: a row of sweep.csv."""

    method: str  # criterion:scope:schedule
    sparsity: float  # the target
    seed: int
    reached_sparsity: float  # over the prunable weights, counted from the weights
    compression: float  # all parameters over non-zero ones, biases included
    dense_accuracy: float  # the sweep's dense model (never pruned), the same for every point
    pruned_accuracy: float  # right after the last prune, before fine-tuning
    accuracy: float  # after fine-tuning (or retraining, under --rewind or --reinit)
    test_loss: float
    seconds: float
    # Weights over non-zero weights, biases left out (the papers' count); None in a sweep.csv from before it was.
    weight_compression: float | None = None
    # MACs per image of the non-zero weights over the dense network's (the compact network's, for structural
    # pruning); None where they were not counted, or in a sweep.csv from before they were.
    macs_kept: float | None = None

    @property
    def key(self) -> tuple[str, float, int]:
        return point_key(self.method, self.sparsity, self.seed)


@dataclass(frozen=True, slots=True)
class SweepStarted:
    directory: str
    base: ExperimentConfig
    methods: tuple[str, ...]
    sparsities: tuple[float, ...]
    seeds: tuple[int, ...]
    done: tuple[SweepPoint, ...]  # requested points finished by an earlier session, not run again


@dataclass(frozen=True, slots=True)
class Ended:
    """The last event of an analysis."""

    status: str  # finished, stopped or failed
    message: str  # why it failed, one line


@dataclass(frozen=True, slots=True)
class SweepEnded(Ended):
    points: tuple[SweepPoint, ...]  # every requested point finished so far, this session or before


@dataclass(frozen=True, slots=True)
class SensitivityPoint:
    """One layer pruned alone to `amount` (its sparsity then, zeros it had included), the rest of the model as it
    was: a row of the sensitivity CSV."""

    layer: str
    amount: float
    accuracy: float  # on the test images
    test_loss: float
    val_accuracy: float | None = None  # on the validation images; None when none were held out
    seed: int = 0  # of the model pruned: with several seeds, one model is trained per seed

    @property
    def stage(self) -> str:
        return sensitivity_stage(self.layer, self.amount, self.seed)


def sensitivity_stage(layer: str, amount: float, seed: int) -> str:
    """How progress names a sensitivity point's evaluation: "fc1 at 90 %, seed 0"."""
    return f"{layer} at {amount * 100:g} %, seed {seed}"


SAME_SPARSITY = 1e-6  # an amount this close to a layer's sparsity is that sparsity (float32 counting)


def prunes_further(amount: float, sparsity: float) -> bool:
    """Whether pruning a layer of `sparsity` to `amount` is a point to measure: an amount above it, or any amount
    of a dense layer (0 too: the model as loaded, where a chart's lines start)."""
    return sparsity <= SAME_SPARSITY or amount > sparsity + SAME_SPARSITY


@dataclass(frozen=True, slots=True)
class SensitivityStarted:
    """The model to prune is ready: one such event per seed."""

    layers: tuple[str, ...]
    amounts: tuple[float, ...]
    dense_accuracy: float  # test accuracy of the model as loaded (dense, unless taken from a pruned run)
    source: str  # where the trained model came from
    dense_val_accuracy: float | None = None  # its validation accuracy; None when no images were held out
    seed: int = 0
    sparsity: tuple[float, ...] = ()  # each layer's sparsity as loaded (zero for a dense model), as `layers`

    def present(self, layer: str) -> float:
        """`layer`'s sparsity as loaded."""
        return self.sparsity[self.layers.index(layer)] if self.sparsity else 0.0

    def amounts_above(self, layer: str) -> tuple[float, ...]:
        """The amounts that prune `layer` further: those at or below its sparsity as loaded would change nothing."""
        return tuple(amount for amount in self.amounts if prunes_further(amount, self.present(layer)))

    @property
    def evaluations(self) -> int:
        """How many points the analysis of this model measures."""
        return sum(len(self.amounts_above(layer)) for layer in self.layers)


@dataclass(frozen=True, slots=True)
class SensitivityEnded(Ended):
    starts: tuple[SensitivityStarted, ...]  # one per model analysed (per seed)
    points: tuple[SensitivityPoint, ...]
    results_file: str = ""  # the CSV the points were saved to; empty when none were
    not_saved: str = ""  # why the points could not be saved, in one line


def seed_stage(seed: int) -> str:
    """How a seed group's progress names a seed's run."""
    return f"seed {seed}"


@dataclass(frozen=True, slots=True)
class SeedGroupStarted:
    """A seed group's first run directory is made, which names the group."""

    group: str  # seeds-<name of the first run's directory>
    base: ExperimentConfig  # the experiment repeated (each run has its own seed)
    seeds: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class SeedEnded:
    """One seed's run ended (in any order when they run side by side)."""

    seed: int
    directory: str  # its run directory; "" when its job failed without a run (its worker died, say)
    last: Event  # Finished, Stopped or Failed
    discarded: bool = False  # it failed before training, and its directory was removed (no experiment in it)


@dataclass(frozen=True, slots=True)
class SeedGroupEnded(Ended):
    group: RunGroup | None  # its runs as saved, read back; None when no run was kept
    cut: tuple[int, ...]  # seeds started but ended before the end (stopped, not kept)
    not_started: tuple[int, ...]


SweepEvent = SweepStarted | Progress | SweepPoint | SweepEnded
SensitivityEvent = SensitivityStarted | Progress | SensitivityPoint | SensitivityEnded
SeedGroupEvent = SeedGroupStarted | Progress | SeedEnded | SeedGroupEnded
AnalysisEvent = SweepEvent | SensitivityEvent | Ended  # Ended alone: the analysis could not even start


def point_key(method: str, sparsity: float, seed: int) -> tuple[str, float, int]:
    return method, round(sparsity, 6), seed
