"""Shared helpers for the runs, sweep, sensitivity and export tests."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from prunetui.engine import ExperimentConfig
from prunetui.engine.core.data import Split, load_dataset
from prunetui.engine.core.training import evaluate


def tiny_flags(config: ExperimentConfig) -> list[str]:
    """The flags of `tiny_config`, for any subcommand."""
    return [
        "--dataset", config.dataset, "--data-dir", config.data_dir, "--epochs", "2", "--finetune-epochs", "1",
        "--batch-size", "64", "--device", "cpu", "--optimizer", "adam", "--lr", "0.003",
    ]  # fmt: skip


def tiny_test_split(config: ExperimentConfig) -> Split:
    return load_dataset(config.dataset, config.data_dir, torch.device("cpu"), download=False).test


def accuracy(model: nn.Module, config: ExperimentConfig) -> float:
    return evaluate(model, tiny_test_split(config)).accuracy


def only_dir(root: Path) -> Path:
    (directory,) = [path for path in root.iterdir() if path.is_dir()]
    return directory
