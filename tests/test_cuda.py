"""Runs on a real GPU: skipped on machines without CUDA (CI has none; a GPU box runs them).

The CPU tests check the device plumbing; these check that training, pruning, saving and parallel sweep points
really happen on the GPU and give the numbers the CPU gives where the arithmetic allows it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from prunetui.engine import ExperimentConfig, Finished, Pruned
from prunetui.engine.analyses import SweepEnded, SweepSpec
from prunetui.engine.analyses.executor import Parallel
from prunetui.engine.analyses.sweep import Sweep
from prunetui.engine.core.experiment import Experiment
from prunetui.engine.storage.export import load_model, permanent_state
from prunetui.engine.storage.recording import record_run
from tests.analysis_helpers import accuracy
from tests.engine_helpers import of_type, run

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_auto_picks_the_gpu_and_a_run_trains_prunes_and_saves_there(
    tiny_config: ExperimentConfig, tmp_path: Path
) -> None:
    config = tiny_config.replace(device="auto", sparsity=0.8, scope="global")
    experiment = Experiment(config, download=False)
    events = list(record_run(experiment, tmp_path / "run"))
    finished = events[-1]
    assert isinstance(finished, Finished), finished
    assert finished.summary.device.startswith("cuda")
    assert experiment.model is not None and next(experiment.model.parameters()).is_cuda
    assert finished.summary.sparsity.global_sparsity == pytest.approx(0.8, abs=1e-3)
    assert finished.summary.accuracy is not None and finished.summary.accuracy > 0.5  # it learnt the tiny set

    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["environment"]["device"].startswith("cuda") and summary["environment"]["gpu"]
    saved = load_model(tmp_path / "run" / "model.pt")  # CUDA-trained weights load on the CPU
    assert not next(saved.parameters()).is_cuda
    assert accuracy(saved, tiny_config) == pytest.approx(finished.summary.accuracy, abs=1 / 256)


def test_the_gpu_prunes_the_same_weights_as_the_cpu_from_the_same_dense_model(tiny_config: ExperimentConfig) -> None:
    _, dense_run = run(tiny_config.replace(sparsity=0.0, finetune_epochs=0))
    assert dense_run.model is not None
    dense = permanent_state(dense_run.model)
    masks: dict[str, dict[str, torch.Tensor]] = {}
    accuracies: dict[str, float] = {}
    for device in ("cpu", "cuda"):
        config = tiny_config.replace(device=device, sparsity=0.9, scope="global", epochs=0, finetune_epochs=0)
        experiment = Experiment(config, download=False, start_from=dense)
        events = list(experiment.run())
        assert isinstance(events[-1], Finished), events[-1]
        assert experiment.model is not None
        masks[device] = {name: mask.cpu() for name, mask in experiment.model.state_dict().items() if "mask" in name}
        accuracies[device] = of_type(events, Pruned)[-1].accuracy
    assert masks["cpu"].keys() == masks["cuda"].keys()
    for name, mask in masks["cpu"].items():
        assert torch.equal(mask, masks["cuda"][name]), name
    assert accuracies["cuda"] == pytest.approx(accuracies["cpu"], abs=1 / 256)


def test_two_jobs_share_one_gpu_and_give_what_one_process_on_the_gpu_gives(
    tiny_config: ExperimentConfig, tmp_path: Path
) -> None:
    spec = SweepSpec(tiny_config.replace(device="cuda"), ("l1:layer:one-shot", "l1:global:one-shot"), (0.5, 0.9))
    serial = list(Sweep(spec, tmp_path / "serial", download=False).run())[-1]
    shared = Parallel(jobs=2, threads=1, devices=("cuda:0",))
    parallel = list(Sweep(spec, tmp_path / "parallel", parallel=shared, download=False).run())[-1]
    assert isinstance(serial, SweepEnded) and isinstance(parallel, SweepEnded)
    assert serial.status == parallel.status == "finished", (serial.message, parallel.message)
    assert len(parallel.points) == 4
    for ours, theirs in zip(serial.points, parallel.points, strict=True):
        assert (ours.method, ours.sparsity) == (theirs.method, theirs.sparsity)
        assert ours.reached_sparsity == theirs.reached_sparsity  # the same weights pruned
        assert ours.accuracy == pytest.approx(theirs.accuracy, abs=2 / 256)  # cuDNN may sum in another order
    for summary in (tmp_path / "parallel" / "runs").glob("*/summary.json"):
        assert json.loads(summary.read_text())["environment"]["device"].startswith("cuda")
