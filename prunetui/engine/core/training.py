"""Training and evaluation, batch by batch in a shuffled order: slices of tensors already on the device, or batches
streamed to it (`Split.batches`)."""

from __future__ import annotations

import contextlib
import math
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim import SGD, Adam, AdamW, Optimizer
from torch.optim.lr_scheduler import LRScheduler

from prunetui.engine.core.augment import Draws, crop_flip, draw
from prunetui.engine.core.data.loading import Split
from prunetui.engine.core.errors import DivergedError
from prunetui.engine.core.precision import LossScale, autocast
from prunetui.engine.core.preload import load_torch_optim

T = TypeVar("T")
LOSS_EVERY = 20  # batches between StepLoss reports: reading the loss forces a device sync
EVAL_BATCH = 512  # larger batches were up to 1.7 times slower on the CPU (cache); the GPU barely minds
# Cross-entropy over 10 classes starts near ln 10 = 2.3; a mean this large only comes from weights that have
# blown up. Such a run can fall back to a finite loss with dead ReLUs, so checking for NaN alone misses it.
DIVERGED_LOSS = 1e3
TOP5_CLASSES = 100  # data sets of this many classes or more report top-5 accuracy beside top-1, as their papers do


class StopRequested(Exception):
    """Raised between batches when another thread asked the run to stop."""


def make_optimizer(
    model: nn.Module,
    name: str,
    lr: float,
    *,
    momentum: float = 0.9,
    nesterov: bool = False,
    weight_decay: float = 0.0,
    decay_norm_bias: bool = True,
) -> Optimizer:
    """torch.optim's optimizer `name` (config.OPTIMIZERS) over the model's parameters (`parameter_groups`).

    On CUDA it takes torch's multi-tensor (foreach) path, one kernel launch per operation for all parameters; on
    other devices its loop over the tensors, which on the CPU computes what prunetui's own SGD and Adam computed
    before, bit for bit (the baseline's numbers). The first construction in a process imports torch's compiler:
    it waits for `preload.load_torch_optim`, which does that (and starts it if nothing has)."""
    load_torch_optim().join()
    groups = parameter_groups(model, weight_decay, decay_norm_bias)
    foreach = all(p.is_cuda for group in groups for p in group["params"])
    if name == "sgd":
        return SGD(groups, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov, foreach=foreach)
    kind = {"adam": Adam, "adamw": AdamW}[name]
    return kind(groups, lr=lr, weight_decay=weight_decay, foreach=foreach)


def parameter_groups(model: nn.Module, weight_decay: float, decay_norm_bias: bool) -> list[dict[str, Any]]:
    """One group of every parameter; or, when weight decay spares biases and normalisation weights
    (`decay_norm_bias` off), the parameters of two or more dimensions (conv and linear weights) in one group and
    the 1-D ones (biases, BatchNorm's weights and biases) in a second with weight_decay 0, as timm groups them."""
    parameters = list(model.parameters())
    if decay_norm_bias or not weight_decay:
        return [{"params": parameters}]
    decayed = [p for p in parameters if p.ndim > 1]
    spared = [p for p in parameters if p.ndim <= 1]
    return [group for group in ({"params": decayed}, {"params": spared, "weight_decay": 0.0}) if group["params"]]


@dataclass(frozen=True, slots=True)
class Evaluation:
    loss: float
    accuracy: float
    top5: float | None = None  # with TOP5_CLASSES classes or more: a label among the five highest scores
    per_class: tuple[float | None, ...] = ()  # with `classes`: each class's accuracy (None: no image of it)


@torch.no_grad()
def evaluate(model: nn.Module, split: Split, classes: int = 0) -> Evaluation:
    """Mean loss and accuracy over `split`; given the number of `classes`, each class's accuracy too."""
    model.eval()
    device = split.device
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    correct5 = torch.zeros((), dtype=torch.long, device=device)
    class_correct = torch.zeros(classes, dtype=torch.long, device=device)
    top5 = False
    with contextlib.closing(split.batches(EVAL_BATCH)) as batches:
        for images, labels in batches:
            logits = model(images)
            total_loss += F.cross_entropy(logits, labels, reduction="sum")
            hits = logits.argmax(1) == labels
            correct += hits.sum()
            if classes:
                class_correct += torch.bincount(labels[hits], minlength=classes)[:classes]
            top5 = logits.shape[1] >= TOP5_CLASSES
            if top5:
                correct5 += (logits.topk(5, 1).indices == labels[:, None]).any(1).sum()
    n = max(len(split), 1)
    per_class: tuple[float | None, ...] = ()
    if classes:
        counts = torch.bincount(split.labels, minlength=classes)[:classes].tolist()
        per_class = tuple(c / total if total else None for c, total in zip(class_correct.tolist(), counts, strict=True))
    return Evaluation(total_loss.item() / n, correct.item() / n, correct5.item() / n if top5 else None, per_class)


@dataclass(frozen=True, slots=True)
class LossReport:
    batch: int
    batches: int
    loss: float
    images_per_s: float


@dataclass(slots=True)
class Trainer:
    """Runs epochs of an optimizer on one split; owns the shuffling generator so runs are reproducible."""

    model: nn.Module
    data: Split
    batch_size: int
    generator: torch.Generator
    stop: threading.Event
    augment: bool = False  # random crop and flip of each training batch (augment.crop_flip)
    precision: str = "fp32"  # the forward passes' arithmetic (precision.PRECISIONS)
    label_smoothing: float = 0.0  # the training loss's (F.cross_entropy's); evaluation's loss is plain cross-entropy
    loss_scale: LossScale | None = None  # fp16's, kept across epochs; made at the first fp16 epoch
    images_seen: int = 0
    seconds: float = 0.0

    def batches_per_epoch(self) -> int:
        return math.ceil(len(self.data) / self.batch_size)

    def skip_epochs(self, epochs: int) -> None:
        """Draw the shuffles of `epochs` epochs trained elsewhere, so the next epoch's is the one they would have
        been followed by."""
        for _ in range(epochs):
            torch.randperm(len(self.data), generator=self.generator)
            if self.augment:
                draw(len(self.data), self.generator, torch.device("cpu"))

    def epoch(
        self,
        optimizer: Optimizer,
        scheduler: LRScheduler | None = None,
        *,
        before_batch: Callable[[int], Iterator[T]] | None = None,
    ) -> Iterator[LossReport | T]:
        """Train one epoch, yielding the mean loss every LOSS_EVERY batches and at the end.

        `scheduler` is stepped after every batch (else the optimizer's rates stay). `before_batch(b)` runs before
        batch b and may yield items of its own (agp prunes there).
        """
        self.model.train()
        order = torch.randperm(len(self.data), generator=self.generator)
        draws = draw(len(self.data), self.generator, self.data.device) if self.augment else None
        with contextlib.closing(self.data.batches(self.batch_size, order)) as batches:  # closed: no worker is left
            yield from self._steps(optimizer, scheduler, batches, draws, before_batch)

    def _steps(
        self,
        optimizer: Optimizer,
        scheduler: LRScheduler | None,
        batches: Iterator[tuple[torch.Tensor, torch.Tensor]],
        draws: Draws | None,
        before_batch: Callable[[int], Iterator[T]] | None,
    ) -> Iterator[LossReport | T]:
        count = self.batches_per_epoch()
        running = torch.zeros((), device=self.data.device)
        since, started, images = 0, time.perf_counter(), 0
        for batch, (inputs, labels) in enumerate(batches):
            if self.stop.is_set():
                raise StopRequested
            if before_batch:
                yield from before_batch(batch)
            if draws is not None:
                batch_slice = slice(batch * self.batch_size, (batch + 1) * self.batch_size)
                inputs = crop_flip(
                    inputs, draws.rows[batch_slice], draws.columns[batch_slice], draws.flips[batch_slice]
                )
            with autocast(self.precision, inputs.device):
                loss = F.cross_entropy(self.model(inputs), labels, label_smoothing=self.label_smoothing)
            optimizer.zero_grad()
            if self.precision == "fp16":
                self._scaled_step(loss, optimizer, scheduler)
            else:
                loss.backward()
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
            running += loss.detach()
            since += 1
            images += len(labels)
            if since == LOSS_EVERY or batch == count - 1:
                mean = running.item() / since
                if not mean < DIVERGED_LOSS:  # also true for NaN
                    raise DivergedError(
                        f"training loss diverged ({mean:.3g}) at batch {batch + 1}; lower the learning rate"
                    )
                elapsed = time.perf_counter() - started
                yield LossReport(batch + 1, count, mean, images / max(elapsed, 1e-9))
                running.zero_()
                since = 0
        self.images_seen += images
        self.seconds += time.perf_counter() - started

    def _scaled_step(self, loss: torch.Tensor, optimizer: Optimizer, scheduler: LRScheduler | None) -> None:
        """fp16: backward of the scaled loss, the step only when no gradient overflowed. The schedule moves on
        either way (its rates follow the batches, as with torch.amp.GradScaler), without torch's warning that it
        stepped before the optimizer did, which a phase whose first step is skipped would otherwise print."""
        if self.loss_scale is None:
            self.loss_scale = LossScale()
        (loss * self.loss_scale.scale).backward()
        if self.loss_scale.unscale(self.model.parameters()):
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
        elif scheduler is not None:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "Detected call of `lr_scheduler.step", UserWarning)
                scheduler.step()

    @property
    def images_per_s(self) -> float:
        return self.images_seen / self.seconds if self.seconds else 0.0
