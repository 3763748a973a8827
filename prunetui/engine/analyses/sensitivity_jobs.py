"""A sensitivity analysis's evaluations as executor jobs (`sensitivity`): one layer of the analysed model pruned
to one amount, the rest as it was, no fine-tuning, and measured.

A module-level function of plain, picklable arguments, so a worker process or a Ray task runs it as well as this
process. Each job loads the analysed model's data itself (the data cache makes that quick after the first), on
the device its worker was given, else the config's.
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
from prunetui.engine.core.config import ExperimentConfig
from prunetui.engine.core.data.loading import load_run_data
from prunetui.engine.core.device import resolve_device
from prunetui.engine.core.experiment import measure
from prunetui.engine.pruning.allocation import prune_to


@dataclass(frozen=True, slots=True)
class EvaluationJob:
    config: ExperimentConfig  # of the model's seed: its criterion, seed, data and device
    model: nn.Module  # the model as loaded, on the CPU; never changed (each job prunes a copy)
    layer: str
    amount: float  # the layer's sparsity after pruning, zeros it had included
    place: DataPlace


def evaluate_pruned(job: EvaluationJob, context: JobContext) -> Generator[None, None, SensitivityPoint]:
    """The accuracy and loss of the model with `job.layer` pruned to `job.amount`."""
    yield from ()  # a job is a generator; this one has no progress to tell
    config = job.config.replace(device=context.device) if context.device else job.config
    device = resolve_device(config.device)
    data = load_run_data(config, device, download=job.place.download, system_dir=job.place.system_data_dir)
    trial = copy.deepcopy(job.model).to(device)
    module = trial.get_submodule(job.layer)
    prune.custom_from_mask(module, "weight", module.weight != 0)  # its zeros stay, and count
    torch.manual_seed(config.seed)  # the random criterion draws the same weights every time, wherever it runs
    prune_to([(job.layer, module)], config.pruning_criterion, {job.layer: job.amount})
    result = measure(trial, data)
    return SensitivityPoint(job.layer, job.amount, result.accuracy, result.loss, result.val_accuracy, config.seed)
