"""The validation split: held out of the training images the same way for every seed, measured at every epoch end
and prune, saved in the summary, and what sensitivity suggestions go by."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from prunetui.engine import EpochEnd, ExperimentConfig, Pruned
from prunetui.engine.analyses import SensitivityEnded, SensitivityPoint, SensitivityStarted, dense_config
from prunetui.engine.analyses.sensitivity import Sensitivity
from prunetui.engine.core.config import parse_layer_amounts
from prunetui.engine.core.data import Split, load_dataset
from prunetui.engine.core.errors import ConfigError
from prunetui.engine.core.training import evaluate
from prunetui.engine.storage.runs import read_run
from tests.analysis_helpers import only_dir, tiny_flags
from tests.engine_helpers import of_type, run

CPU = torch.device("cpu")


def rows(split: Split) -> set[tuple[int, bytes]]:
    """Each image with its label, as something a set can hold."""
    return {(int(label), image.numpy().tobytes()) for image, label in zip(split.images, split.labels, strict=True)}


def test_validation_images_are_held_out_of_the_training_images(tiny_data: Path) -> None:
    whole = load_dataset("mnist", tiny_data, CPU, download=False)
    split = load_dataset("mnist", tiny_data, CPU, validation_split=0.1, download=False)
    assert whole.validation is None and split.validation is not None
    assert (len(split.train), len(split.validation), len(split.test)) == (461, 51, 256)  # 512 = 461 + 51
    train, held = rows(split.train), rows(split.validation)
    assert len(train) == 461 and len(held) == 51  # no image twice
    assert not train & held and train | held == rows(whole.train)  # disjoint, and together every training image
    assert torch.equal(split.validation.images, whole.train.images[:51])  # the first ones: a slice, no copy
    assert torch.equal(split.test.images, whole.test.images)  # normalised as before the split
    again = load_dataset("mnist", tiny_data, CPU, validation_split=0.1, download=False)
    assert again.validation is not None and torch.equal(again.validation.images, split.validation.images)


def test_the_split_is_drawn_from_the_train_subset_and_is_the_same_for_every_seed(tiny_config: ExperimentConfig) -> None:
    subset = load_dataset("mnist", tiny_config.data_dir, CPU, train_subset=100, validation_split=0.2, download=False)
    first = load_dataset("mnist", tiny_config.data_dir, CPU, train_subset=100, download=False)
    assert subset.validation is not None and (len(subset.train), len(subset.validation)) == (80, 20)
    assert rows(subset.train) | rows(subset.validation) == rows(first.train)  # only the first 100 images
    none = load_dataset("mnist", tiny_config.data_dir, CPU, validation_split=0.0009, download=False)
    assert none.validation is None and len(none.train) == 512  # 0.46 of an image rounds to none held out

    config = tiny_config.replace(epochs=1, finetune_epochs=0, train_subset=100, validation_split=0.2)
    for seed in (0, 5):  # the run's seed draws its weights and batches, never its validation images
        events, experiment = run(config.replace(seed=seed))
        summary = events[-1].summary  # type: ignore[union-attr]
        assert subset.validation is not None and experiment.model is not None
        assert summary.val_accuracy == evaluate(experiment.model, subset.validation).accuracy


def test_every_epoch_end_and_prune_measures_validation_accuracy(tiny_config: ExperimentConfig) -> None:
    events, _ = run(tiny_config.replace(schedule="iterative", rounds=2, sparsity=0.95, model="lenet300"))
    measured = [*of_type(events, EpochEnd), *of_type(events, Pruned)]
    assert len(measured) == 6 and all(0.0 <= event.val_accuracy <= 1.0 for event in measured)  # type: ignore[operator]
    summary = events[-1].summary  # type: ignore[union-attr]
    assert summary.dense_val_accuracy == of_type(events, EpochEnd)[1].val_accuracy
    held_out, _ = run(tiny_config.replace(validation_split=0.0, epochs=1, finetune_epochs=0))
    assert all(event.val_accuracy is None for event in of_type(held_out, EpochEnd))
    assert held_out[-1].summary.val_accuracy is None  # type: ignore[union-attr]


def test_the_summary_keeps_validation_accuracy_and_old_runs_read_as_holding_none_out(
    tiny_config: ExperimentConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str], wide_console: None
) -> None:
    from prunetui.cli import main

    assert main(["run", *tiny_flags(tiny_config), "--model", "lenet300", "--epochs", "1"]) == 0
    printed = capsys.readouterr().out
    directory = only_dir(tmp_path / "runs")
    summary = json.loads((directory / "summary.json").read_text())
    assert 0.0 <= summary["val_accuracy"] <= 1.0 and 0.0 <= summary["dense_val_accuracy"] <= 1.0
    validation = f"validation {summary['dense_val_accuracy'] * 100:.1f} % → {summary['val_accuracy'] * 100:.1f} %"
    assert validation in printed
    assert read_run(directory).config.validation_split == 0.1  # type: ignore[union-attr]

    # A run saved before validation_split existed trained on all its images: read back, it held none out.
    config = directory / "config.toml"
    config.write_text("".join(line for line in config.read_text().splitlines(True) if "validation" not in line))
    del summary["val_accuracy"], summary["dense_val_accuracy"]
    (directory / "summary.json").write_text(json.dumps(summary))
    old = read_run(directory)
    assert old.status == "finished" and old.config is not None and old.config.validation_split == 0.0
    assert main(["runs"]) == 0 and directory.name in capsys.readouterr().out


@pytest.fixture
def pruned_run(tiny_config: ExperimentConfig, tmp_path: Path) -> Path:
    """A finished LeNet-300-100 run pruned by l1 to 80 %, under the runs root."""
    from prunetui.cli import main

    assert main(["run", *tiny_flags(tiny_config), "--model", "lenet300", "--sparsity", "0.8"]) == 0
    return only_dir(tmp_path / "runs")


def test_sensitivity_from_a_pruned_run_prunes_further_and_keeps_its_zeros(
    pruned_run: Path, tiny_config: ExperimentConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Random pruning draws among all weights: only a kept mask makes 90 % mean the layer's zeros, old ones too."""
    import prunetui.engine.analyses.sensitivity as sensitivity
    import prunetui.engine.analyses.sensitivity_jobs as sensitivity_jobs

    saved = read_run(pruned_run)
    assert saved.config is not None and saved.model_path is not None
    zeros_before = {
        name: module.weight == 0
        for name, module in sensitivity.load_model(saved.model_path).named_children()
        if isinstance(module, nn.Linear)
    }
    measured: list[dict[str, torch.Tensor]] = []
    measure = sensitivity.measure

    def measure_and_keep(model: nn.Module, data: object) -> object:
        measured.append({name: module.weight == 0 for name, module in model.named_children() if name in zeros_before})
        return measure(model, data)  # type: ignore[arg-type]

    for module in (sensitivity, sensitivity_jobs):  # the model as loaded; each evaluation (a job, run here)
        monkeypatch.setattr(module, "measure", measure_and_keep)
    config = saved.config.replace(criterion="random")
    events = list(Sensitivity(config, (0.5, 0.9), model_path=saved.model_path, download=False).run())
    started, ended = events[0], events[-1]
    assert isinstance(started, SensitivityStarted) and isinstance(ended, SensitivityEnded)
    assert ended.status == "finished" and started.sparsity == pytest.approx((0.8, 0.8, 0.8), abs=1e-3)
    loaded, trials = measured[0], measured[1:]
    points = [event for event in events if isinstance(event, SensitivityPoint)]
    assert [(p.layer, p.amount) for p in points] == [("fc1", 0.9), ("fc2", 0.9), ("fc3", 0.9)]  # 50 %: had it
    for point, zeros in zip(points, trials, strict=True):
        layer = zeros[point.layer]
        assert bool((layer | ~zeros_before[point.layer]).all())  # every zero it had is still zero
        assert int(layer.sum()) == round(point.amount * layer.numel())
        others = [name for name in zeros if name != point.layer]
        assert all(torch.equal(zeros[name], loaded[name]) for name in others)


def test_sensitivity_command_from_the_final_model(
    pruned_run: Path, capsys: pytest.CaptureFixture[str], wide_console: None
) -> None:
    from prunetui.cli import main

    capsys.readouterr()
    assert main(["sensitivity", "--run", pruned_run.name, "--from", "final", "--amounts", "0.9"]) == 0
    printed = capsys.readouterr().out
    assert f"(model: {pruned_run / 'model.pt'}, seed 0; already sparse: fc1 80.0 %, fc2 80.0 %, fc3 80.0 %)" in printed
    assert "largest amount per layer keeping validation accuracy within 1 percentage point of the model as loaded" in (
        " ".join(printed.split())
    )


def test_sensitivity_of_a_pruned_model_never_suggests_less_than_it_has(
    pruned_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], wide_console: None
) -> None:
    """Each layer is 80 % sparse: 50 % is no new point, and no suggestion goes below 80 %."""
    from prunetui.cli import main

    capsys.readouterr()
    out = tmp_path / "final.csv"
    flags = ["sensitivity", "--run", pruned_run.name, "--from", "final", "--out", str(out)]
    assert main([*flags, "--amounts", "0.5,0.95,0.99"]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    with open(out, newline="") as file:
        assert {float(row["amount"]) for row in csv.DictReader(file)} == {0.95, 0.99}
    assert "as sparse as every amount" not in printed  # each layer has amounts above its 80 %
    suggestion = re.search(r"--layer-sparsity (\S+)", printed)
    assert suggestion is not None
    amounts = parse_layer_amounts(suggestion.group(1))
    assert set(amounts) == {"fc1", "fc2", "fc3"}
    assert all(amount >= 0.8 - 1e-6 for amount in amounts.values())
    assert amounts["fc3"] == pytest.approx(0.8, abs=1e-6)  # the output layer keeps nothing at 95 %: as it is

    assert main([*flags, "--amounts", "0.1,0.5,0.8"]) == 0  # nothing above 80 %: no point, and a warning says so
    printed = " ".join(capsys.readouterr().out.split())
    assert (
        "fc1 (80.0 %), fc2 (80.0 %), fc3 (80.0 %) are already as sparse as every amount: give amounts above that, "
        "e.g. --amounts 0.85,0.9,0.95" in printed
    )
    assert "Accuracy (%) with one layer pruned" not in printed


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--from", "final"], "invalid --from: it picks one of a saved run's models; give the run with --run"),
        (["--run", "last", "--validation-split", "0.2"], "invalid --validation-split: with --run it is the run's own"),
        (["--run", "last", "--train-subset", "100"], "invalid --train-subset: with --run it is the run's own (0)"),
        (["--run", "last", "--seeds", "0,1"], "invalid --seeds: a saved run's model was trained with its one seed"),
    ],
)
def test_a_saved_run_is_measured_on_the_images_it_held_out(
    flags: list[str], message: str, pruned_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from prunetui.cli import main

    capsys.readouterr()
    assert main(["sensitivity", *flags]) == 2
    error = capsys.readouterr().err
    assert message in error and len(error.strip().splitlines()) == 1


def test_sensitivity_over_seeds_trains_one_model_per_seed(tiny_config: ExperimentConfig) -> None:
    config = tiny_config.replace(model="lenet300", epochs=1)
    events = list(Sensitivity(config, (0.5, 0.99), seeds=(0, 1), download=False).run())
    ended = events[-1]
    assert isinstance(ended, SensitivityEnded) and ended.status == "finished"
    assert [start.seed for start in ended.starts] == [0, 1]
    assert ended.starts[0].dense_val_accuracy is not None
    assert [(p.seed, p.layer, p.amount) for p in ended.points] == [
        (seed, layer, amount) for seed in (0, 1) for layer in ("fc1", "fc2", "fc3") for amount in (0.5, 0.99)
    ]
    # Each seed's model is the one an experiment of that seed trains: its accuracy as Sensitivity measured it.
    for start in ended.starts:
        _, experiment = run(dense_config(config.replace(seed=start.seed)))
        data = load_dataset("mnist", config.data_dir, CPU, validation_split=0.1, download=False)
        assert experiment.model is not None and data.validation is not None
        assert evaluate(experiment.model, data.validation).accuracy == start.dense_val_accuracy
    with pytest.raises(ConfigError, match="invalid --seeds: a saved run's model was trained with its one seed"):
        Sensitivity(config, (0.5,), model_path="dense.pt", seeds=(0, 1))


def test_sensitivity_command_over_seeds_shows_mean_and_spread(
    tiny_config: ExperimentConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str], wide_console: None
) -> None:
    from prunetui.cli import main

    out = tmp_path / "seeds.csv"
    flags = [
        "--dataset", "mnist", "--data-dir", tiny_config.data_dir, "--device", "cpu", "--optimizer", "adam",
        "--lr", "0.003", "--batch-size", "64", "--model", "lenet300", "--epochs", "1", "--amounts", "0.5,0.99",
    ]  # fmt: skip
    assert main(["sensitivity", *flags, "--seeds", "0,1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "seed 0" in printed and "seed 1" in printed
    assert "Accuracy (%) with one layer pruned, no fine-tuning: mean ± std over 2 seeds" in printed
    saved = out.read_text().splitlines()
    assert saved[0] == "layer,amount,accuracy,test_loss,val_accuracy,seed" and len(saved) == 1 + 2 * 3 * 2
    fc3 = [line.split(",") for line in saved[1:] if line.startswith("fc3,0.99,")]
    values = [float(row[2]) * 100 for row in fc3]  # test accuracy of each seed's fc3 at 99 %
    mean, std = sum(values) / 2, abs(values[0] - values[1]) / 2**0.5
    assert f"{mean:.1f}±{std:.1f}" in printed
