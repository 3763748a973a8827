"""Sensitivity analysis: one layer pruned at a time without fine-tuning; suggested per-layer amounts."""

from __future__ import annotations

import csv
import json
import re
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.nn.utils import prune

from prunetui.cli import main
from prunetui.describe import sensitivity_table, too_sparse_warning
from prunetui.engine import ExperimentConfig
from prunetui.engine.analyses import (
    Progress,
    SensitivityEnded,
    SensitivityPoint,
    SensitivityStarted,
    chooses_by_validation,
    dense_config,
    sensitivity_means,
    suggest_amounts,
)
from prunetui.engine.analyses.executor import Parallel
from prunetui.engine.analyses.sensitivity import Sensitivity
from prunetui.engine.core.config import format_layer_amounts, parse_layer_amounts
from prunetui.engine.core.data import DataSet, load_run_data
from prunetui.engine.core.errors import ConfigError
from prunetui.engine.core.seed_stats import MeanStd
from prunetui.engine.core.training import evaluate
from prunetui.engine.storage.export import load_model, permanent_state, save_state
from prunetui.engine.storage.runs import read_run
from tests.analysis_helpers import accuracy, only_dir, tiny_flags
from tests.engine_helpers import run
from tests.idx import write_dataset

CPU = torch.device("cpu")


@pytest.fixture
def trained(tiny_config: ExperimentConfig, tmp_path: Path) -> Path:
    """A trained, unpruned LeNet-300-100 saved as a model file."""
    _, experiment = run(dense_config(tiny_config.replace(model="lenet300")))
    assert experiment.model is not None
    save_state(permanent_state(experiment.model), "lenet300", tmp_path / "dense.pt")
    return tmp_path / "dense.pt"


def analyse(config: ExperimentConfig, amounts: tuple[float, ...], model_path: Path | None) -> list[object]:
    return list(Sensitivity(config, amounts, model_path=model_path, download=False).run())


def test_each_layer_is_pruned_alone_and_measured(tiny_config: ExperimentConfig, trained: Path) -> None:
    config = tiny_config.replace(model="lenet300")
    events = analyse(config, (0.0, 0.5, 0.99), trained)
    started, ended = events[0], events[-1]
    assert isinstance(started, SensitivityStarted) and isinstance(ended, SensitivityEnded)
    dense = accuracy(load_model(trained), config)
    assert started.layers == ("fc1", "fc2", "fc3") and started.dense_accuracy == dense
    assert ended.status == "finished" and ended.points == tuple(events[1:-1])
    assert [(p.layer, p.amount) for p in ended.points] == [
        (layer, amount) for layer in ("fc1", "fc2", "fc3") for amount in (0, 0.5, 0.99)
    ]

    by = {(p.layer, p.amount): p for p in ended.points}
    assert all(by[layer, 0.0].accuracy == dense for layer in started.layers)  # nothing pruned: the dense model
    assert by["fc3", 0.99].accuracy < dense - 0.3  # the output layer does not survive losing 99 %

    # Independently: the model with only fc3 at 99 % (smallest magnitudes) scores the same.
    model = load_model(trained)
    prune.l1_unstructured(model.fc3, "weight", amount=0.99)
    assert accuracy(model, config) == by["fc3", 0.99].accuracy
    assert accuracy(load_model(trained), config) == dense  # and the analysis left no layer pruned


def test_structured_sensitivity_leaves_the_output_layer_and_random_is_repeatable(
    tiny_config: ExperimentConfig, trained: Path
) -> None:
    config = tiny_config.replace(model="lenet300")
    structured = analyse(config.replace(criterion="ln-structured"), (0.5,), trained)
    assert structured[0].layers == ("fc1", "fc2")
    first, second = (analyse(config.replace(criterion="random"), (0.7,), trained)[-1] for _ in range(2))
    assert first.points == second.points


def test_sensitivity_trains_its_model_when_given_none_and_stops(tiny_config: ExperimentConfig) -> None:
    analysis = Sensitivity(tiny_config.replace(model="lenet300", epochs=1), (0.5, 0.9), download=False)
    events = []
    for event in analysis.run():
        events.append(event)
        if isinstance(event, SensitivityPoint):
            analysis.stop()
    started = next(e for e in events if isinstance(e, SensitivityStarted))
    assert events[-1] == SensitivityEnded("stopped", "", (started,), (events[-2],))
    assert started.source == "trained now"


def test_evaluations_in_worker_processes_give_the_serial_results_in_the_serial_order(
    tiny_config: ExperimentConfig, trained: Path, tmp_path: Path
) -> None:
    """--jobs 2: each layer and amount a job of its own in a worker process; random draws the same weights there."""
    config = tiny_config.replace(model="lenet300", criterion="random")
    ended: dict[int, SensitivityEnded] = {}
    elsewhere: list[Progress] = []
    for jobs in (1, 2):
        parallel = Parallel(jobs, threads=1)
        analysis = Sensitivity(config, (0.3, 0.9), model_path=trained, out=tmp_path / f"{jobs}.csv", parallel=parallel)
        events = list(analysis.run())
        assert isinstance(events[-1], SensitivityEnded) and events[-1].status == "finished"
        ended[jobs] = events[-1]
        elsewhere += [event for event in events if isinstance(event, Progress)]
    assert ended[2].points == ended[1].points and len(ended[1].points) == 6
    assert (tmp_path / "2.csv").read_text() == (tmp_path / "1.csv").read_text()
    assert {event.stage for event in elsewhere} == {point.stage for point in ended[2].points}  # all ran there
    assert all(str(event.event.message).startswith("running in worker process") for event in elsewhere)


def test_a_serial_analysis_loads_its_data_once_and_the_next_analysis_loads_it_afresh(
    tiny_config: ExperimentConfig, trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[ExperimentConfig] = []

    def counted(config: ExperimentConfig, device: torch.device, **where: Any) -> DataSet:
        loads.append(config)
        return load_run_data(config, device, **where)

    monkeypatch.setattr("prunetui.engine.analyses.sensitivity_jobs.load_run_data", counted)
    shutil.copytree(tiny_config.data_dir, tmp_path / "data")
    config = tiny_config.replace(model="lenet300", data_dir=str(tmp_path / "data"))
    model = load_model(trained)

    def dense_points(analysed: ExperimentConfig) -> set[float]:
        """The accuracies at amount 0 (nothing pruned) of an analysis of `analysed`: one per layer."""
        ended = analyse(analysed, (0.0, 0.9), trained)[-1]
        assert isinstance(ended, SensitivityEnded) and len(ended.points) == 6
        return {point.accuracy for point in ended.points if point.amount == 0.0}

    # Six evaluations and the analysis's own measurement share one load (there was one per evaluation as well).
    assert dense_points(config) == {evaluate(model, load_run_data(config, CPU).test).accuracy} and len(loads) == 1
    # Other settings load their own data: a subset's statistics normalise the test images otherwise.
    subset = config.replace(train_subset=100)
    assert dense_points(subset) == {evaluate(model, load_run_data(subset, CPU).test).accuracy}
    assert [loaded.train_subset for loaded in loads] == [0, 100]
    # The same settings in a later analysis read the files again: they may have changed in between.
    write_dataset(tmp_path / "data", "mnist", n_train=512, n_test=100)
    assert dense_points(config) == {evaluate(model, load_run_data(config, CPU).test).accuracy} and len(loads) == 3
    assert len(load_run_data(config, CPU).test) == 100


def test_taylor_and_empty_amounts_are_refused(tiny_config: ExperimentConfig) -> None:
    with pytest.raises(ConfigError, match="sensitivity prunes by l1, random, ln-structured"):
        Sensitivity(tiny_config.replace(criterion="taylor"))
    with pytest.raises(ConfigError, match="at least one amount"):
        Sensitivity(tiny_config, ())


def test_suggested_amounts_stop_at_the_first_amount_that_costs_too_much() -> None:
    points = [
        SensitivityPoint("conv1", 0.3, 0.985, 0.1),
        SensitivityPoint("conv1", 0.1, 0.99, 0.1),
        SensitivityPoint("conv1", 0.5, 0.95, 0.1),
        SensitivityPoint("conv1", 0.7, 0.99, 0.1),  # recovers, but 0.5 already cost too much
        SensitivityPoint("fc1", 0.1, 0.99, 0.1),
        SensitivityPoint("fc1", 0.9, 0.981, 0.1),
        SensitivityPoint("fc3", 0.1, 0.97, 0.1),
    ]
    no_validation = SensitivityStarted(("conv1", "fc1", "fc3"), (0.1, 0.3, 0.5, 0.7, 0.9), 0.99, "trained now")
    assert not chooses_by_validation([no_validation])  # then test accuracy chooses, and the CLI says so
    suggestion = suggest_amounts(points, [no_validation], tolerance=0.01)
    assert suggestion == {"conv1": 0.3, "fc1": 0.9, "fc3": 0.0}
    assert format_layer_amounts(suggestion) == "conv1=0.3,fc1=0.9,fc3=0"


def test_suggestions_go_by_validation_accuracy_where_test_accuracy_disagrees() -> None:
    """fc1 loses 3 points on the test images at 90 % but none on the validation images, fc2 the other way round:
    the suggestion follows validation, never test."""
    started = SensitivityStarted(("fc1", "fc2"), (0.5, 0.9), 0.90, "trained now", dense_val_accuracy=0.80)
    points = [
        SensitivityPoint("fc1", 0.5, 0.90, 0.3, val_accuracy=0.80),
        SensitivityPoint("fc1", 0.9, 0.87, 0.4, val_accuracy=0.795),
        SensitivityPoint("fc2", 0.5, 0.90, 0.3, val_accuracy=0.78),
        SensitivityPoint("fc2", 0.9, 0.90, 0.3, val_accuracy=0.70),
    ]
    assert chooses_by_validation([started])
    assert suggest_amounts(points, [started], tolerance=0.01) == {"fc1": 0.9, "fc2": 0.0}
    by_test = replace(started, dense_val_accuracy=None)  # what test accuracy would have chosen
    assert suggest_amounts(points, [by_test], tolerance=0.01) == {"fc1": 0.5, "fc2": 0.9}


def test_a_pruned_layer_is_never_suggested_less_than_it_has_nor_tabled_below_it() -> None:
    """fc2 is 91 % sparse as loaded: 50 % is nothing new for it, and 95 % costs too much, so it stays at 91 %."""
    started = SensitivityStarted(("fc1", "fc2"), (0.5, 0.95), 0.9, "model.pt", 0.8, sparsity=(0.0, 0.91))
    assert started.amounts_above("fc2") == (0.95,) and started.evaluations == 3
    points = [
        SensitivityPoint("fc1", 0.5, 0.9, 0.3, val_accuracy=0.8),
        SensitivityPoint("fc1", 0.95, 0.9, 0.3, val_accuracy=0.8),
        SensitivityPoint("fc2", 0.95, 0.5, 0.3, val_accuracy=0.5),
    ]
    assert suggest_amounts(points, [started]) == {"fc1": 0.95, "fc2": 0.91}
    table = sensitivity_table(tuple(points), (started,), 0.01)
    assert [row.cells for row in table.rows] == [("80.0", "80.0"), ("90.0", "90.0"), ("already", "50.0"),
                                                 ("already", "50.0")]  # fmt: skip
    assert table.marks.endswith("; already: the layer is at least that sparse as loaded")
    assert too_sparse_warning(started, "--amounts") is None
    everything = replace(started, amounts=(0.5, 0.9), sparsity=(0.9, 0.918))
    assert too_sparse_warning(everything, "--amounts") == (
        "fc1 (90.0 %), fc2 (91.8 %) are already as sparse as every amount: give amounts above that, e.g. "
        "--amounts 0.94,0.96,0.98"
    )
    assert suggest_amounts([], [everything]) == {"fc1": 0.9, "fc2": 0.918}


def test_with_seeds_the_suggestion_goes_by_the_mean() -> None:
    starts = [
        SensitivityStarted(("fc1",), (0.5, 0.9), 0.95, "trained now", dense_val_accuracy=0.90, seed=seed)
        for seed in (0, 1)
    ]
    points = [  # at 90 % one seed keeps its validation accuracy and one loses 3 points: 1.5 on average
        SensitivityPoint("fc1", 0.5, 0.95, 0.2, 0.90, seed=0),
        SensitivityPoint("fc1", 0.5, 0.95, 0.2, 0.90, seed=1),
        SensitivityPoint("fc1", 0.9, 0.95, 0.2, 0.90, seed=0),
        SensitivityPoint("fc1", 0.9, 0.95, 0.2, 0.87, seed=1),
    ]
    means = sensitivity_means(points, validation=True)
    assert means["fc1", 0.9] == MeanStd(pytest.approx(0.885), pytest.approx(0.0212132, abs=1e-6), 2)
    assert suggest_amounts(points, starts, tolerance=0.01) == {"fc1": 0.5}
    assert suggest_amounts(points, starts, tolerance=0.02) == {"fc1": 0.9}


def test_with_seeds_a_cell_only_one_seed_reached_has_its_mean_without_a_spread() -> None:
    starts = tuple(SensitivityStarted(("fc1",), (0.5, 0.9), 0.95, "trained now", seed=seed) for seed in (0, 1))
    points = (  # stopped before seed 1 reached 90 %
        SensitivityPoint("fc1", 0.5, 0.94, 0.2, seed=0),
        SensitivityPoint("fc1", 0.5, 0.92, 0.2, seed=1),
        SensitivityPoint("fc1", 0.9, 0.80, 0.2, seed=0),
    )
    (row,) = sensitivity_table(points, starts, tolerance=0.01).rows
    assert row.cells == ("93.0±1.4", "80.0 (1)")  # std of 0.94, 0.92: sqrt(0.0002) = 0.0141


def test_sensitivity_command_on_a_saved_run(
    tiny_config: ExperimentConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "150")
    assert main(["run", *tiny_flags(tiny_config), "--model", "lenet300", "--sparsity", "0.9"]) == 0
    directory = only_dir(tmp_path / "runs")
    dense_accuracy = json.loads((directory / "summary.json").read_text())["dense_accuracy"]
    capsys.readouterr()
    out = tmp_path / "sensitivity.csv"
    assert main(["sensitivity", "--run", directory.name, "--amounts", "0,0.9", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"model: {directory / 'dense.pt'}" in printed  # the run's model from before pruning
    assert "Accuracy (%) with one layer pruned" in printed
    assert "largest amount per layer keeping validation accuracy within 1 percentage point of dense" in printed
    with open(out, newline="") as file:
        rows = list(csv.DictReader(file))
    assert [(row["layer"], float(row["amount"])) for row in rows] == [
        (layer, amount) for layer in ("fc1", "fc2", "fc3") for amount in (0.0, 0.9)
    ]
    assert float(rows[0]["accuracy"]) == dense_accuracy

    # The suggestion seeds a run: each layer is pruned to its suggested amount.
    suggestion = re.search(r"--layer-sparsity (\S+)", printed)
    assert suggestion is not None
    amounts = parse_layer_amounts(suggestion.group(1))
    assert set(amounts) == {"fc1", "fc2", "fc3"}
    assert main(["run", "--config", str(directory / "config.toml"), "--layer-sparsity", suggestion.group(1)]) == 0
    (seeded,) = [path for path in (tmp_path / "runs").iterdir() if path.is_dir() and path != directory]
    summary = json.loads((seeded / "summary.json").read_text())
    assert {layer["name"]: layer["sparsity"] for layer in summary["layers"]} == pytest.approx(amounts, abs=1e-3)
    assert read_run(seeded).method == "l1 layer one-shot per-layer"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--amounts", "0.5,x"], "invalid --amounts: 'x' is not a number"),
        (["--run", "nope"], "run 'nope' not found"),
        (["--tolerance", "2"], "invalid --tolerance"),
    ],
)
def test_bad_sensitivity_flags_are_one_line_errors(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sensitivity", *flags]) == 2
    error = capsys.readouterr().err
    assert message in error and len(error.strip().splitlines()) == 1


def test_sensitivity_help_offers_only_the_settings_and_criteria_it_uses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], wide_console: None
) -> None:
    with pytest.raises(SystemExit):
        main(["sensitivity", "--help"])
    text = capsys.readouterr().out
    assert "--criterion {l1,random,ln-structured}" in text and "taylor" not in text.lower()
    assert "--criterion picks how (l1, random or ln-structured)" in text
    assert "--layer-sparsity" not in text and "agp" not in text  # what a pruning run uses, not this analysis
    with pytest.raises(SystemExit) as exit_:
        main(["sensitivity", "--criterion", "taylor"])
    assert exit_.value.code == 2 and "invalid choice: 'taylor'" in capsys.readouterr().err
    config = tmp_path / "taylor.toml"  # the same refusal when the criterion comes from a file
    config.write_text('criterion = "taylor"\n')
    assert main(["sensitivity", "--config", str(config)]) == 2
    assert "invalid --criterion: sensitivity prunes by l1, random, ln-structured" in capsys.readouterr().err
