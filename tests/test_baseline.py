"""The engine's numbers, pinned: final weights and results of runs, a seed group, a sweep and a sensitivity analysis.

A digest here changes only on purpose (a fix to a model or a recipe), and the commit that re-records it says why.
Refactors keep every digest. On a failure the message holds the new digest, to paste here after checking why.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest
import torch

from prunetui.cli import main
from prunetui.engine import ExperimentConfig
from tests.engine_helpers import run

TINY = {
    "train_subset": 600, "epochs": 1, "finetune_epochs": 1, "batch_size": 64, "device": "cpu", "seed": 3,
    "optimizer": "adam", "lr": 0.003,
}  # fmt: skip

DEFAULTS = ExperimentConfig()
# name: (settings over TINY, digest of the final effective weights)
RUNS = {
    # the default recipe (optimizer, rate and batch size), so a change of default shows here
    "lenet5-l1-one-shot": (
        {
            "model": "lenet5",
            "criterion": "l1",
            "sparsity": 0.8,
            "optimizer": DEFAULTS.optimizer,
            "lr": DEFAULTS.lr,
            "batch_size": DEFAULTS.batch_size,
        },
        "b7e70db3d08ab6f4",
    ),
    "lenet300-taylor-global-iterative": (
        {"model": "lenet300", "criterion": "taylor", "scope": "global", "schedule": "iterative", "rounds": 2},
        "d4c2a55dd545f453",
    ),
    "lenet5-caffe-ln-structured": (
        {"model": "lenet5-caffe", "criterion": "ln-structured", "sparsity": 0.5},
        "423c895cd546bda1",
    ),
    "lenet5-agp": ({"model": "lenet5", "schedule": "agp", "epochs": 2, "rounds": 3}, "e7525446dfb148d1"),
    "lenet5-rewind-random": (
        {"model": "lenet5", "criterion": "random", "rewind": True, "optimizer": "adam"},
        "a52c249efe337fa8",
    ),
}
SEEDS_DIGEST = "5906c98314d5ebee"
SWEEP_DIGEST = "d0d6f6352f1f5a6b"
SENSITIVITY_DIGEST = "35d49ab86125144e"


def weights_digest(state: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for name in sorted(state):
        digest.update(name.encode())
        digest.update(state[name].detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def effective_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Weights as the model computes with them (masks applied), whether or not pruning is still attached."""
    state = {}
    for module_name, module in model.named_modules():
        for name in ("weight", "bias"):
            value = getattr(module, name, None)
            if isinstance(value, torch.Tensor):
                state[f"{module_name}.{name}"] = value
    return state


def check(name: str, actual: str, expected: str) -> None:
    assert actual == expected, f"{name}: digest {actual!r}, baseline {expected!r}"


@pytest.mark.parametrize("name", RUNS)
def test_run_final_weights(name: str) -> None:
    settings, expected = RUNS[name]
    _, experiment = run(ExperimentConfig(**{**TINY, **settings}))
    check(name, weights_digest(effective_state(experiment.model)), expected)


def _flags(settings: dict[str, object], skip: tuple[str, ...] = ("seed",)) -> list[str]:
    return [f"--{key.replace('_', '-')}={value}" for key, value in settings.items() if key not in skip]


def test_seed_group_models(tmp_path: Path) -> None:
    assert main(["run", "--seeds", "0-1", "--runs-dir", str(tmp_path), *_flags(TINY), "--sparsity=0.7"]) == 0
    digests = []
    for model in sorted(tmp_path.rglob("model.pt")):
        state = torch.load(model, weights_only=True, map_location="cpu")
        state = state.get("state_dict", state) if isinstance(state, dict) else state
        digests.append(weights_digest({key: value for key, value in state.items() if torch.is_tensor(value)}))
    assert len(digests) == 2
    check("seeds", text_digest(" ".join(sorted(digests))), SEEDS_DIGEST)


def _result_numbers(path: Path, columns: tuple[str, ...]) -> str:
    with path.open() as file:
        rows = [tuple(row[column] for column in columns) for row in csv.DictReader(file)]
    return json.dumps(sorted(rows))


def test_sweep_results(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    methods = "l1:layer:one-shot,random:global:one-shot"
    flags = [*_flags(TINY, skip=()), "--sparsities", "0.5,0.9", "--methods", methods]
    assert main(["sweep", "--out", str(sweep), *flags]) == 0
    results = sweep / "sweep.csv"
    check("sweep", text_digest(_result_numbers(results, ("method", "sparsity", "accuracy"))), SWEEP_DIGEST)


def test_sensitivity_results(tmp_path: Path) -> None:
    results = tmp_path / "sensitivity.csv"
    flags = _flags(TINY, skip=("finetune_epochs",))
    assert main(["sensitivity", "--out", str(results), *flags, "--amounts", "0.5,0.9"]) == 0
    check("sensitivity", text_digest(_result_numbers(results, ("layer", "amount", "accuracy"))), SENSITIVITY_DIGEST)
