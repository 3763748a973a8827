"""Sweeps: one dense training, every point pruned from it and fine-tuned, results in a CSV, resumable."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from rich.console import Console
from torch.nn.utils import prune

from prunetui.cli import main
from prunetui.cli.sweep_command import point_recipe, sweep_table
from prunetui.engine import ExperimentConfig, Finished
from prunetui.engine.analyses import (
    Progress,
    SweepEnded,
    SweepPoint,
    SweepSpec,
    SweepStarted,
    parse_fractions,
    parse_methods,
    read_sweep_csv,
    sensitivity_file,
    sweep_csv,
    sweep_directory,
    sweep_means,
    sweep_series,
)
from prunetui.engine.analyses.sweep import Sweep, data_fingerprint
from prunetui.engine.core.data import load_dataset
from prunetui.engine.core.errors import ConfigError
from prunetui.engine.core.experiment import Experiment
from prunetui.engine.core.metrics import weight_layers
from prunetui.engine.storage.export import load_model
from tests.analysis_helpers import accuracy, tiny_flags
from tests.idx import write_dataset

METHODS = ("l1:layer:one-shot", "random:layer:one-shot")


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[ExperimentConfig]:
    """The config of every experiment the sweep starts."""
    configs: list[ExperimentConfig] = []

    class Counted(Experiment):
        def __init__(self, config: ExperimentConfig, **kwargs: object) -> None:
            configs.append(config)
            super().__init__(config, **kwargs)

    monkeypatch.setattr("prunetui.engine.analyses.sweep_jobs.Experiment", Counted)
    return configs


def sweep_events(spec: SweepSpec, directory: Path, stop_after: int = 0) -> list[object]:
    """Every event of a sweep; with `stop_after`, stopped once that many points are done."""
    sweep = Sweep(spec, directory, download=False)
    events = []
    for event in sweep.run():
        events.append(event)
        if isinstance(event, SweepPoint) and sum(isinstance(e, SweepPoint) for e in events) == stop_after:
            sweep.stop()
    return events


def test_points_start_from_one_trained_model_and_reach_their_sparsity(
    tiny_config: ExperimentConfig, tmp_path: Path, started: list[ExperimentConfig]
) -> None:
    spec = SweepSpec(tiny_config.replace(finetune_epochs=0), METHODS, (0.0, 0.5, 0.9))
    events = sweep_events(spec, tmp_path)
    points = [event for event in events if isinstance(event, SweepPoint)]
    assert isinstance(events[0], SweepStarted) and events[0].done == ()
    assert isinstance(events[-1], SweepEnded) and events[-1].status == "finished"
    assert events[-1].points == tuple(points)
    assert [(point.method, point.sparsity, point.seed) for point in points] == spec.points()

    # One dense training, then one experiment per point with no training of its own.
    assert [config.epochs for config in started] == [2] + [0] * 6
    assert [config.sparsity for config in started[1:]] == [0.0, 0.5, 0.9] * 2
    dense_accuracy = accuracy(load_model(tmp_path / "dense.pt"), tiny_config)
    for point in points:
        assert point.dense_accuracy == dense_accuracy
        assert point.reached_sparsity == pytest.approx(point.sparsity, abs=1e-4)
        assert point.accuracy == point.pruned_accuracy  # no fine-tuning epochs
    assert points[0].accuracy == dense_accuracy  # sparsity 0 is the dense model itself
    assert points[2].compression > points[1].compression > points[0].compression == 1.0

    # The l1 point at 50 % is exactly the dense model with each layer's smallest half of weights removed.
    model = load_model(tmp_path / "dense.pt")
    for _, module in weight_layers(model):
        prune.l1_unstructured(module, "weight", amount=0.5)
    assert accuracy(model, tiny_config) == points[1].pruned_accuracy

    with open(tmp_path / "sweep.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [(row["method"], float(row["sparsity"]), float(row["accuracy"])) for row in rows] == [
        (point.method, point.sparsity, point.accuracy) for point in points
    ]


def test_a_stopped_sweep_resumes_without_redoing_finished_points(
    tiny_config: ExperimentConfig, tmp_path: Path, started: list[ExperimentConfig]
) -> None:
    spec = SweepSpec(tiny_config, METHODS, (0.5, 0.9))
    first = sweep_events(spec, tmp_path, stop_after=2)
    assert isinstance(first[-1], SweepEnded) and first[-1].status == "stopped"
    assert len(first[-1].points) == 2 and len(started) == 3  # dense + 2 points
    assert len(read_sweep_csv((tmp_path / "sweep.csv").read_text())) == 2

    started.clear()
    wider = SweepSpec(tiny_config, METHODS, (0.5, 0.8, 0.9))  # resuming may add points
    second = sweep_events(wider, tmp_path)
    assert isinstance(second[0], SweepStarted) and second[0].done == first[-1].points
    assert [(config.criterion, config.sparsity) for config in started] == [  # no dense training: dense.pt is kept
        ("l1", 0.8), ("random", 0.5), ("random", 0.8), ("random", 0.9),
    ]  # fmt: skip
    assert isinstance(second[-1], SweepEnded) and len(second[-1].points) == 6
    assert second[-1].points[0] == first[-1].points[0]  # read back from the CSV unchanged
    assert len(read_sweep_csv((tmp_path / "sweep.csv").read_text())) == 6


def test_a_sweep_directory_refuses_other_shared_settings(
    tiny_config: ExperimentConfig, tmp_path: Path, started: list[ExperimentConfig]
) -> None:
    sweep_events(SweepSpec(tiny_config, METHODS[:1], (0.5,)), tmp_path)
    started.clear()
    events = sweep_events(SweepSpec(tiny_config.replace(lr=0.01), METHODS[:1], (0.5,)), tmp_path)
    assert events == [SweepEnded("failed", events[0].message, ())]
    assert "--lr 0.003 there, 0.01 here" in events[0].message and started == []


def test_default_result_paths_are_one_name_under_the_runs_root_whatever_paths_the_specs_hold(tmp_path: Path) -> None:
    """A user's file and image folder given by path: their folders are not nested under sweeps/ (as they once were)."""
    config = ExperimentConfig(model="/home/me/nets/mynet.py:build", dataset="imagefolder:/data/pets/")
    other = config.replace(dataset="imagefolder:/elsewhere/pets")
    sweep, sensitivity = sweep_directory(tmp_path, config), sensitivity_file(tmp_path, config)
    assert sweep.parent == tmp_path / "sweeps" and sweep.name.startswith("mynet.py:build-imagefolder:pets-")
    assert sensitivity.parent == tmp_path / "sensitivity" and sensitivity.name.startswith(
        "mynet.py:build-imagefolder:pets-"
    )
    assert sweep_directory(tmp_path, other) != sweep  # the settings' hash tells the two folders apart
    assert sweep_directory(tmp_path, ExperimentConfig()).name.startswith("lenet5-fashion-mnist-mini-")  # as before


def test_sweep_stops_while_training_the_dense_model(tiny_config: ExperimentConfig, tmp_path: Path) -> None:
    sweep = Sweep(SweepSpec(tiny_config, METHODS, (0.5,)), tmp_path, download=False)
    events = []
    for event in sweep.run():
        events.append(event)
        if isinstance(event, Progress) and event.stage == "dense model":
            sweep.stop()
    assert events[-1] == SweepEnded("stopped", "", ())
    assert not (tmp_path / "dense.pt").exists()


def test_methods_and_sparsities_are_parsed_and_checked() -> None:
    assert parse_methods("l1, l1:global ,taylor:layer:agp,l1") == (
        "l1:layer:one-shot", "l1:global:one-shot", "taylor:layer:agp",
    )  # fmt: skip
    assert parse_fractions("0.9,0.5,0.9", "--sparsities") == (0.5, 0.9)
    for bad, message in [("l1:lay", "scope 'lay'"), ("magic", "criterion 'magic'"), ("l1:a:b:c", "is not")]:
        with pytest.raises(ConfigError, match=message):
            parse_methods(bad)
    with pytest.raises(ConfigError, match=r"1\.5 is not in"):
        parse_fractions("0.5,1.5", "--sparsities")
    with pytest.raises(ConfigError, match=r"ln-structured:global:one-shot at sparsity 0\.5: invalid --scope"):
        SweepSpec(ExperimentConfig(), ("ln-structured:global",), (0.5,)).validate()


def test_the_first_line_counts_one_point_in_the_singular(tiny_config: ExperimentConfig) -> None:
    from prunetui.cli.sweep_command import _line

    spec = SweepSpec(tiny_config, ("l1",), (0.5,))
    started = SweepStarted("sweeps/x", tiny_config, spec.methods, spec.sparsities, (0,), ())
    assert _line(spec, started) == "sweep of 1 point in sweeps/x"
    two = SweepSpec(tiny_config, ("l1",), (0.5, 0.9))
    assert _line(two, replace(started, sparsities=two.sparsities)) == "sweep of 2 points in sweeps/x"


def test_sweep_command_prints_a_table_and_writes_the_csv(
    tiny_config: ExperimentConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "150")
    argv = ["sweep", *tiny_flags(tiny_config), "--methods", "l1,l1:global", "--sparsities", "0.5,0.9"]
    assert main([*argv, "--log-compression"]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"l1:global:one-shot at 90 %: compression [\d.]+× weights, 9\.7× all parameters", printed)
    assert "Test accuracy (%) after fine-tuning" in printed and "compression, all parameters (×, log scale)" in printed
    (directory,) = (tmp_path / "runs" / "sweeps").iterdir()  # default: under the runs root, named by the settings
    assert directory.name.startswith("lenet5-mnist-")
    assert len(read_sweep_csv((directory / "sweep.csv").read_text())) == 4

    assert main(argv) == 0  # the same command again: everything is done already
    assert "sweep of 4 points" in (printed := capsys.readouterr().out) and "4 already done" in printed
    assert "without MACs" not in printed

    # A sweep.csv from before MACs were counted: its points are off a MACs chart, and the user is told so.
    with open(directory / "sweep.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    with open(directory / "sweep.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, [name for name in rows[0] if name != "macs_kept"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    assert main([*argv, "--macs"]) == 0
    assert "4 points without MACs (older sweep.csv): not on the chart" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--methods", "l1:lay"], "invalid --methods: scope 'lay'"),
        (["--sparsities", "0.5,1"], "invalid --sparsities: 1 is not in [0, 1)"),
        (["--sparsity", "0.5"], "unrecognized arguments: --sparsity"),
        (["--methods", "l1:global:agp", "--epochs", "0"], "invalid --epochs"),
    ],
)
def test_bad_sweep_flags_are_one_line_errors(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        code = main(["sweep", *flags])
    except SystemExit as exit_:
        code = exit_.code
    assert code == 2
    error = capsys.readouterr().err
    assert message in error and len(error.strip().splitlines()) == 1


def test_points_train_no_more_except_agp_which_prunes_while_training(tiny_config: ExperimentConfig) -> None:
    spec = SweepSpec(tiny_config, METHODS, (0.5,))
    point = spec.point_config("l1:global:agp", 0.5, 0)
    assert (point.criterion, point.scope, point.schedule, point.epochs) == ("l1", "global", "agp", 2)
    assert spec.point_config("l1:layer:iterative", 0.9, 0).epochs == 0
    dense = spec.dense_config(0)
    assert (dense.sparsity, dense.finetune_epochs, dense.epochs) == (0.0, 0, 2)


def test_sweep_failures_end_the_sweep_with_one_line(
    tiny_config: ExperimentConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "file").write_text("not a directory")
    (ended,) = sweep_events(SweepSpec(tiny_config, METHODS, (0.5,)), tmp_path / "file")
    assert ended.status == "failed" and ended.message.startswith(f"cannot write to {tmp_path / 'file'}")

    def broken(*args: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("prunetui.engine.analyses.sweep.save_state", broken)
    ended = sweep_events(SweepSpec(tiny_config, METHODS, (0.5,)), tmp_path / "sweep")[-1]
    assert ended == SweepEnded("failed", ended.message, ())
    assert ended.message.startswith("unexpected RuntimeError: disk on fire (") and "\n" not in ended.message


def test_a_sweep_in_a_worker_thread_stops_from_another_thread(tiny_config: ExperimentConfig, tmp_path: Path) -> None:
    sweep = Sweep(SweepSpec(tiny_config, METHODS, (0.5, 0.9)), tmp_path, download=False)
    first_point, events = threading.Event(), []

    def work() -> None:
        for event in sweep.run():
            events.append(event)
            if isinstance(event, SweepPoint):
                first_point.set()
                time.sleep(0.2)  # the app's worker goes on while the user presses stop

    worker = threading.Thread(target=work)
    worker.start()
    assert first_point.wait(30)
    sweep.stop()
    worker.join(30)
    assert isinstance(events[-1], SweepEnded) and events[-1].status == "stopped"
    assert 1 <= len(events[-1].points) < 4


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (lambda lines: [*lines[:2], lines[2].replace(",", ",x", 1), *lines[3:]], "line 3 is not a sweep result ("),
        (lambda lines: [*lines[:2], lines[2].rsplit(",", 2)[0]], "line 3 is not a sweep result (14 fields expected)"),
        (lambda lines: ["method;accuracy", *lines[1:]], "line 1 is not the header method,sparsity,"),
        (lambda lines: [*lines[:1], lines[1].replace("l1:", "magic:")], "line 2 is not a sweep result (invalid --"),
    ],
    ids=["not-a-number", "short-row", "foreign-header", "unknown-method"],
)
def test_a_damaged_sweep_csv_is_refused_naming_the_line_and_left_untouched(
    tiny_config: ExperimentConfig,
    tmp_path: Path,
    started: list[ExperimentConfig],
    damage: Callable[[list[str]], list[str]],
    why: str,
) -> None:
    spec = SweepSpec(tiny_config.replace(finetune_epochs=0), METHODS[:1], (0.5, 0.9))
    sweep_events(spec, tmp_path)
    results = tmp_path / "sweep.csv"
    results.write_text("\n".join(damage(results.read_text().splitlines())) + "\n")
    damaged = results.read_bytes()
    started.clear()
    events = sweep_events(SweepSpec(spec.base, METHODS[:1], (0.5, 0.8, 0.9)), tmp_path)
    assert events == [SweepEnded("failed", events[0].message, ())]
    assert events[0].message.startswith(f"{results} {why}")
    assert events[0].message.endswith("; left as it is: repair or delete that line, or move the file away, to go on")
    assert results.read_bytes() == damaged and started == []


def test_a_sweep_directory_refuses_other_data_under_the_same_names(
    tiny_config: ExperimentConfig, tmp_path: Path, started: list[ExperimentConfig]
) -> None:
    spec = SweepSpec(tiny_config.replace(finetune_epochs=0), METHODS[:1], (0.5,))
    sweep_events(spec, tmp_path / "sweep")
    dense = (tmp_path / "sweep" / "dense.pt").read_bytes()

    same = tmp_path / "same-data"
    shutil.copytree(tiny_config.data_dir, same)  # the same files elsewhere: the data dir is a place, not a setting
    started.clear()
    events = sweep_events(SweepSpec(spec.base.replace(data_dir=str(same)), METHODS[:1], (0.5,)), tmp_path / "sweep")
    assert isinstance(events[-1], SweepEnded) and events[-1].status == "finished" and started == []

    other = tmp_path / "other-data"
    write_dataset(other, "mnist", n_train=300)  # same file names, other images
    events = sweep_events(SweepSpec(spec.base.replace(data_dir=str(other)), METHODS[:1], (0.5,)), tmp_path / "sweep")
    assert events == [SweepEnded("failed", events[0].message, ())]
    assert events[0].message.startswith(f"{tmp_path / 'sweep'} holds a sweep on other data (data fingerprint ")
    assert started == [] and (tmp_path / "sweep" / "dense.pt").read_bytes() == dense

    settings = tmp_path / "sweep" / "sweep.toml"  # a sweep that never recorded its data cannot vouch for it
    settings.write_text("\n".join(line for line in settings.read_text().splitlines() if "fingerprint" not in line))
    events = sweep_events(spec, tmp_path / "sweep")
    assert events == [SweepEnded("failed", events[0].message, ())] and "(no data fingerprint, " in events[0].message
    settings.unlink()  # nor can results without their settings file
    events = sweep_events(spec, tmp_path / "sweep")
    assert events[0].message == (
        f"{tmp_path / 'sweep'} holds dense.pt but no sweep.toml, so nothing tells which settings and data it came "
        "from; move it away or use another directory"
    )
    assert started == [] and not settings.exists()


def test_a_subsets_data_fingerprint_is_the_one_it_had_when_its_test_images_were_normalised_whole(
    tiny_data: Path,
) -> None:
    # A sweep started before the test images were normalised batch by batch still finds its data the same.
    whole = load_dataset("mnist", tiny_data, torch.device("cpu"), download=False)
    subset = load_dataset("mnist", tiny_data, torch.device("cpu"), train_subset=100, download=False)
    held = whole.train.images[:100]
    mean, std = held.mean().item(), held.std().item()
    digest = hashlib.blake2b(digest_size=8)
    for tensor in ((held - mean) / std, whole.train.labels[:100], (whole.test.images - mean) / std, whole.test.labels):
        digest.update(tensor.contiguous().numpy().data)
    assert data_fingerprint(subset) == digest.hexdigest() != data_fingerprint(whole)


def test_agp_points_train_from_scratch_with_the_dense_budget_and_compare_with_the_dense_model(
    tiny_config: ExperimentConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    starts: list[tuple[str, int, bool]] = []

    class Recorded(Experiment):
        def __init__(self, config: ExperimentConfig, **kwargs: Any) -> None:
            starts.append((config.schedule, config.epochs, kwargs["start_from"] is not None))
            super().__init__(config, **kwargs)

    monkeypatch.setattr("prunetui.engine.analyses.sweep_jobs.Experiment", Recorded)
    spec = SweepSpec(tiny_config, ("l1:layer:one-shot", "l1:layer:agp"), (0.5,))
    points = [event for event in sweep_events(spec, tmp_path) if isinstance(event, SweepPoint)]
    # the dense model, then one-shot from its weights, then agp from the seed's weights with the same 2 epochs
    assert starts == [("one-shot", 2, False), ("one-shot", 0, True), ("agp", 2, False)]
    dense = accuracy(load_model(tmp_path / "dense.pt"), tiny_config)
    assert [point.dense_accuracy for point in points] == [dense, dense]


@pytest.mark.parametrize(
    ("settings", "recipe"),
    [
        ({"finetune_epochs": 1}, "pruned, then fine-tuned for 1 epoch per prune round."),
        ({"rewind": True, "epochs": 3}, "pruned, then rewound and retrained for 3 epochs per prune round."),
        ({"reinit": True, "epochs": 1}, "pruned, then reinitialised and retrained for 1 epoch per prune round."),
    ],
)
def test_the_sweep_says_how_each_point_recovered(settings: dict[str, Any], recipe: str) -> None:
    assert point_recipe(ExperimentConfig(**settings), agp=False).endswith(recipe)


def test_a_cell_over_one_seed_shows_its_mean_without_a_spread_and_its_csv_has_no_mean_row(
    tiny_config: ExperimentConfig,
) -> None:
    spec = SweepSpec(tiny_config, methods=("l1",), sparsities=(0.5, 0.9), seeds=(0, 1))
    method = spec.methods[0]
    points = tuple(
        SweepPoint(method, sparsity, seed, sparsity, 2.0, 0.9, 0.5, accuracy, 0.3, 1.0)
        for sparsity, seed, accuracy in ((0.5, 0, 0.80), (0.5, 1, 0.82), (0.9, 0, 0.165))
    )  # std of 0.80, 0.82: sqrt(0.0002) = 0.01414; 90 % was stopped after seed 0
    console = Console(width=120, record=True)
    console.print(sweep_table(spec, points))
    printed = console.export_text()
    assert "81.0 ± 1.4 (2)" in printed and "16.5 (1)" in printed and "16.5 ±" not in printed
    means = [row for row in csv.DictReader(io.StringIO(sweep_csv(points))) if row["seed"] == "mean"]
    assert [(row["sparsity"], row["n"]) for row in means] == [("0.5", "2")]  # a mean row needs two seeds
    _, bands, _ = sweep_series(points)
    assert bands[method][1] == [pytest.approx(1.4142, abs=1e-3), 0.0]  # no error bar over one seed


def test_sweep_csv_holds_both_compressions_and_reads_one_from_before_weight_compression() -> None:
    points = [
        SweepPoint("l1:layer:one-shot", 0.9, seed, 0.9, 9.7, 0.9, 0.5, accuracy, 0.3, 1.0, weight_compression=10.0)
        for seed, accuracy in ((0, 0.8), (1, 0.82))
    ]
    text = sweep_csv(points)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(row["compression"], row["weight_compression"]) for row in rows] == [("9.7", "10.0")] * 3  # and the mean
    assert read_sweep_csv(text) == points

    def written_before(*fields: str) -> str:
        """`text` as a sweep.csv written before `fields` were."""
        header = [name for name in rows[0] if name not in fields]
        return ",".join(header) + "\n" + "".join(",".join(row[name] for name in header) + "\n" for row in rows)

    assert read_sweep_csv(written_before("macs_kept")) == points  # none counted: None either way
    read = read_sweep_csv(written_before("weight_compression", "macs_kept"))
    assert read == [replace(point, weight_compression=None) for point in points]
    (mean,) = sweep_means(read)
    assert mean.means["compression"] == 9.7 and "weight_compression" not in mean.means
    rewritten = list(csv.DictReader(io.StringIO(sweep_csv(read))))
    assert [row["weight_compression"] for row in rewritten] == ["", "", ""]  # unknown, not made up


def test_a_rewinding_sweep_says_its_points_were_retrained_not_fine_tuned(
    tiny_config: ExperimentConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "150")
    argv = ["sweep", *tiny_flags(tiny_config), "--methods", "l1:global", "--sparsities", "0.5", "--rewind"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    point = next(line for line in printed.splitlines() if line.startswith("l1:global:one-shot at 50 %"))
    assert point.endswith("retrained") and "fine-tuned" not in printed
    assert "Test accuracy (%) after retraining" in printed
    assert "rewound and retrained for 2 epochs per prune round" in printed

    # agp prunes while it trains: nothing to rewind to, so its points are fine-tuned even under --rewind
    assert main([*argv, "--methods", "l1:global,l1:global:agp", "--out", str(tmp_path / "mixed")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert next(line for line in lines if line.startswith("l1:global:agp at 50 %")).endswith("fine-tuned")
    assert next(line for line in lines if line.startswith("l1:global:one-shot at 50 %")).endswith("retrained")
    assert "Test accuracy (%) after fine-tuning or retraining" in lines


def test_a_point_gives_what_prunetui_run_gives_with_the_same_settings(
    tiny_config: ExperimentConfig, tmp_path: Path
) -> None:
    """The point starts from the sweep's dense model and goes on as a run that trained it itself: the same
    shuffling after training, so the same fine-tuning batches and numbers (one torch thread here)."""
    config = tiny_config.replace(sparsity=0.9, finetune_epochs=2)
    points = list(Sweep(SweepSpec(config, ("l1:layer:one-shot", "random:layer:one-shot"), (0.9,)), tmp_path).run())
    ended = points[-1]
    assert isinstance(ended, SweepEnded) and ended.status == "finished"
    for point in ended.points:
        criterion, scope, _ = point.method.split(":")
        events = list(Experiment(config.replace(criterion=criterion, scope=scope), download=False).run())
        finished = events[-1]
        assert isinstance(finished, Finished), finished
        summary = finished.summary
        assert (point.dense_accuracy, point.accuracy, point.test_loss) == (
            summary.dense_accuracy, summary.accuracy, summary.test_loss,
        ), point.method  # fmt: skip
