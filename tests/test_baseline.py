"""The engine's numbers, pinned: final weights and results of runs, a seed group, a sweep and a sensitivity analysis.

A baseline here changes only on purpose (a fix to a model or a recipe), and the commit that re-records it says why
(`python -m tests.test_baseline` writes the weights' file). Refactors keep every number. On a failure the message
holds the new value.

Weights are pinned by each tensor's non-zero count, exactly, and its L2 norm, to within RELATIVE, not by a digest of
their bits: CPUs round differently (oneDNN's and MKL's AVX-512 and AVX2 kernels add in other orders), and a new CI
machine (AMD EPYC, AVX2) failed every weight digest recorded on another while every accuracy agreed. Across kernel
paths on one machine the largest difference of a norm, relative to it, was 8.3e-4 (oneDNN's SSE4.1 convolutions
instead of AVX2, lenet5-caffe-ln-structured); ATen's generic kernels, MKL's compatible mode or one thread gave at
most 1.5e-5. A learning rate 0.1 % off moves some tensor of each run by 2.6e-4 to 5.6e-2, one training image fewer
by 1.2e-1.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
import tempfile
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
WEIGHTS_FILE = Path(__file__).with_name("baseline_weights.json")
RELATIVE = 3e-3  # 3.6 times the largest difference between kernel paths
# name: settings over TINY
RUNS = {
    # the default recipe (optimizer, rate and batch size), so a change of default shows here
    "lenet5-l1-one-shot": {
        "model": "lenet5",
        "criterion": "l1",
        "sparsity": 0.8,
        "optimizer": DEFAULTS.optimizer,
        "lr": DEFAULTS.lr,
        "batch_size": DEFAULTS.batch_size,
    },
    "lenet300-taylor-global-iterative": {
        "model": "lenet300",
        "criterion": "taylor",
        "scope": "global",
        "schedule": "iterative",
        "rounds": 2,
    },
    "lenet5-caffe-ln-structured": {"model": "lenet5-caffe", "criterion": "ln-structured", "sparsity": 0.5},
    "lenet5-agp": {"model": "lenet5", "schedule": "agp", "epochs": 2, "rounds": 3},
    "lenet5-rewind-random": {"model": "lenet5", "criterion": "random", "rewind": True, "optimizer": "adam"},
}
SWEEP_DIGEST = "d0d6f6352f1f5a6b"
SENSITIVITY_DIGEST = "35d49ab86125144e"


Summary = dict[str, list[float]]  # tensor name: [non-zero entries, L2 norm]


def weights_summary(state: dict[str, torch.Tensor]) -> Summary:
    return {
        name: [int(tensor.count_nonzero()), float(f"{tensor.detach().double().norm():.10g}")]
        for name, tensor in sorted(state.items())
    }


def check_weights(name: str, actual: Summary) -> None:
    expected = json.loads(WEIGHTS_FILE.read_text())[name]
    new = f"{name}: now {json.dumps(actual)}"
    assert actual.keys() == expected.keys(), new
    for tensor, (nonzero, norm) in expected.items():
        assert actual[tensor][0] == nonzero and abs(actual[tensor][1] - norm) <= RELATIVE * norm, f"{tensor}; {new}"


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


def final_weights(name: str) -> Summary:
    _, experiment = run(ExperimentConfig(**{**TINY, **RUNS[name]}))
    return weights_summary(effective_state(experiment.model))


@pytest.mark.parametrize("name", RUNS)
def test_run_final_weights(name: str) -> None:
    check_weights(name, final_weights(name))


def _flags(settings: dict[str, object], skip: tuple[str, ...] = ("seed",)) -> list[str]:
    return [f"--{key.replace('_', '-')}={value}" for key, value in settings.items() if key not in skip]


def seed_group_weights(runs: Path) -> Summary:
    """Both seeds' final weights, each tensor named by its seed."""
    assert main(["run", "--seeds", "0-1", "--runs-dir", str(runs), *_flags(TINY), "--sparsity=0.7"]) == 0
    summary = {}
    for model in sorted(runs.rglob("model.pt")):
        seed = json.loads((model.parent / "summary.json").read_text())["config"]["seed"]
        state = torch.load(model, weights_only=True, map_location="cpu")["state_dict"]
        summary |= {f"seed {seed}: {name}": value for name, value in weights_summary(state).items()}
    assert {name.partition(":")[0] for name in summary} == {"seed 0", "seed 1"}
    return summary


def test_seed_group_models(tmp_path: Path) -> None:
    check_weights("seeds", seed_group_weights(tmp_path))


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


if __name__ == "__main__":  # re-record the weights, on purpose: python -m tests.test_baseline
    with tempfile.TemporaryDirectory() as runs:
        recorded = {name: final_weights(name) for name in RUNS} | {"seeds": seed_group_weights(Path(runs))}
    runs_text = (
        f'  "{name}": {{\n' + ",\n".join(f'    "{tensor}": {json.dumps(value)}' for tensor, value in summary.items())
        for name, summary in recorded.items()
    )  # a line a tensor: a re-recording's diff shows which tensors moved
    WEIGHTS_FILE.write_text("{\n" + "\n  },\n".join(runs_text) + "\n  }\n}\n")
    print(f"{WEIGHTS_FILE} written", file=sys.stderr)
