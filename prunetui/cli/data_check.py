"""Before a command imports torch: are the files it names there (its network's, its weights), and is its data set
on this machine, or could it be downloaded? If neither, say where prunetui looked and offer the built-in data set:
asked at a terminal, else named as the flag to add (not to a network that cannot take its images)."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.prompt import Confirm

from prunetui.engine.core.config import ExperimentConfig
from prunetui.engine.core.data import (
    EMBEDDED,
    NOT_AVAILABLE,
    availability,
    download_reachable,
    embedded_misfit,
    missing_text,
)
from prunetui.engine.core.networks.checks import check_sources


def data_set_here(config: ExperimentConfig, console: Console) -> tuple[ExperimentConfig, str | None]:
    """The config to run (its data set, or the built-in one if the user takes the offer), and the error to stop
    with instead (None: go on). ConfigError when the network's file or the weights are missing."""
    check_sources(config.model, config.weights)
    # Only the named data sets are known here; CIFAR, image folders and factories say what is missing as they load.
    state = availability(config.data_dir or None, download=False).get(config.dataset)
    if state is None or state != NOT_AVAILABLE:
        return config, None
    if download_reachable():  # imports torchvision: only when the files are missing
        return config, None
    missing = missing_text(config.dataset, config.data_dir or None)
    if misfit := embedded_misfit(config.model):  # no offer that would only lead to a refusal
        return config, f"{missing}; {misfit}"
    if sys.stdin.isatty() and console.is_terminal:
        console.print(missing, highlight=False, markup=False)
        if Confirm.ask(f"Run on the built-in {EMBEDDED} instead?", console=console, default=False):
            return config.replace(dataset=EMBEDDED), None
        return config, f"{config.dataset} is not on this machine"
    return config, f"{missing}. To run on the built-in data set instead, add --dataset {EMBEDDED}"
