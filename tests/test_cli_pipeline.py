"""The command line as a tool in a pipeline: what a run's last line claims, output that is not a terminal,
`prunetui runs` at 80 columns, as JSON and CSV, deleting runs, and naming a run by a prefix or `last`."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
from rich.console import Console

from prunetui.cli import main
from prunetui.cli.analysis_view import line_chart
from prunetui.engine import ExperimentConfig
from prunetui.engine.core.experiment import Experiment
from prunetui.engine.storage.recording import record_claimed
from prunetui.engine.storage.runs import claim_new_run_dir, list_runs, runs_root
from tests import zygote
from tests.analysis_helpers import only_dir, tiny_flags

# The stable field names of `prunetui runs --json` and `--csv`, spelled out: renaming one breaks scripts.
RUN_FIELDS = [
    "name", "status", "complete", "started", "model", "dataset", "method", "target_sparsity", "sparsity",
    "dense_accuracy", "accuracy", "compression", "message", "path",
    "group", "seed", "n", "dense_accuracy_std", "accuracy_std", "sparsity_std", "compression_std",
    "weight_compression", "weight_compression_std",  # added later, at the end
]  # fmt: skip


def saved_run(root: Path, name: str, config: ExperimentConfig, **summary: object) -> Path:
    """A run directory as `record_run` leaves it: config.toml and summary.json."""
    directory = root / name
    directory.mkdir(parents=True)
    (directory / "config.toml").write_text(config.to_toml())
    (directory / "summary.json").write_text(json.dumps({"config": config.to_dict(), **summary}))
    return directory


@contextmanager
def running_run(config: ExperimentConfig) -> Iterator[Path]:
    """A run under the runs root that is really running: its recorder started, and paused, in this process."""
    lock = claim_new_run_dir(runs_root(), config, datetime(2026, 4, 1, 12))
    directory = lock.directory
    events = record_claimed(Experiment(config, download=False), lock)
    next(events)
    try:
        yield directory
    finally:
        events.close()


def finished(accuracy: float, sparsity: float, started: str) -> dict[str, object]:
    return {
        "status": "finished", "complete": True, "started": started, "dense_accuracy": 0.961,
        "accuracy": accuracy, "sparsity": sparsity, "compression": 1 / (1 - sparsity),
    }  # fmt: skip


@pytest.fixture
def three_runs(tmp_path: Path) -> list[Path]:
    """Under the tests' runs root: two finished runs (the newest first) and one killed without a word."""
    root = tmp_path / "runs"
    structured = ExperimentConfig(
        model="lenet300", dataset="fashion-mnist", criterion="ln-structured", schedule="iterative",
        layer_sparsity="fc1=0.6", sparsity=0.5,
    )  # fmt: skip
    return [
        saved_run(root, "20260301-120000-aaaaaa", structured, **finished(0.884, 0.5, "2026-03-01T12:00:00+0000")),
        saved_run(
            root, "20260201-120000-bbbbbb", ExperimentConfig(), **finished(0.958, 0.9, "2026-02-01T12:00:00+0000")
        ),
        saved_run(root, "20260101-120000-aaaaaa", ExperimentConfig(scope="global"), status="running", pid=0),
    ]


def test_a_run_that_failed_in_training_names_only_the_files_it_wrote(
    tiny_config: ExperimentConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An SGD learning rate of 10 diverges in the first epoch: no epoch ends, so there is no history.csv."""
    out = tmp_path / "[out]"  # brackets, which Rich would read as markup
    flags = [*tiny_flags(tiny_config), "--optimizer", "sgd", "--lr", "10", "--out", str(out)]
    assert main(["run", *flags, "--validation-split", "0"]) == 1  # on the 461 images after 51, it sticks at chance
    printed, error = capsys.readouterr()
    assert error.startswith("failed: training loss diverged (") and error.count("\n") == 1  # on an error's stream
    assert "failed:" not in printed
    assert f"saved {out / 'model.pt'}: " in printed
    written = sorted(name for name in os.listdir(out) if not name.startswith("."))  # hidden: locks, temporaries
    assert written == ["config.toml", "events.jsonl", "model.pt", "summary.json"]
    assert printed.splitlines()[-1] == f"config.toml, summary.json and model.pt are in {out}"


def test_a_finished_run_names_all_five_files_and_exports_as_last(
    tiny_config: ExperimentConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", *tiny_flags(tiny_config)]) == 0
    directory = only_dir(tmp_path / "runs")
    last_line = capsys.readouterr().out.splitlines()[-1]
    assert last_line == f"config.toml, history.csv, summary.json, model.pt and dense.pt are in {directory}"
    assert main(["export", "last"]) == 0
    assert capsys.readouterr().out.startswith(f"{directory.name}: lenet5, l1 layer one-shot · in {directory}")


def test_a_start_that_fails_before_training_leaves_no_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mirror: None
) -> None:
    # A mirror host answers, so the run starts and tries the download, which fails (the data's own mirrors are dead).
    assert main(["run", "--data-dir", str(tmp_path / "empty"), "--dataset", "kmnist"]) == 1
    printed, error = capsys.readouterr()
    assert error.startswith("failed: kmnist data set not found")
    assert "nothing kept: the run failed before training" in printed
    assert list((tmp_path / "runs").iterdir()) == []
    assert main(["runs", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


@pytest.mark.slow
def test_output_that_is_not_a_terminal_keeps_each_line_whole(tiny_config: ExperimentConfig, tmp_path: Path) -> None:
    """Through a pipe Rich used to wrap at 80 columns, cutting `… 423 \\nimg/s`."""
    env = {key: value for key, value in os.environ.items() if key not in ("COLUMNS", "LINES")}
    flags = [*tiny_flags(tiny_config), "--schedule", "iterative", "--rounds", "2", "--out", str(tmp_path / "r")]
    result = zygote.run(
        [sys.executable, "-m", "prunetui", "run", *flags], capture_output=True, text=True, env=env, check=True
    )
    lines = result.stdout.splitlines()
    epoch = re.compile(
        r"^round 2 fine-tune epoch 1/1: train loss [\d.]+, test loss [\d.]+, accuracy [\d.]+ %, validation [\d.]+ %, "
        r"[\d,]+ img/s$"
    )
    assert any(epoch.match(line) for line in lines), lines
    started = re.compile(
        r"^lenet5 on mnist \(461 training images, 51 held out for validation\), 61,706 parameters, "
        r"device cpu: l1 layer iterative"
    )
    assert any(started.match(line) for line in lines), lines
    # compression both ways: the weights (as papers count), then all parameters, biases included
    counts = re.compile(
        r"^[\d,]+ of 61,470 weights non-zero \([\d.]+×\) · all parameters, biases included: [\d,]+ of 61,706 "
        r"\([\d.]+×\)$"
    )
    assert any(counts.match(line) for line in lines), lines
    assert any("all weights" in line and "61,470" in line for line in lines), lines  # rows of the layer table
    assert any("all parameters (biases, norms)" in line and "61,706" in line for line in lines), lines
    totals = re.compile(r"^accuracy [\d.]+ % dense → [\d.]+ % · .* img/s on cpu$")
    assert any(totals.match(line) for line in lines), lines


def terminal_lines(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """`prunetui runs` as an 80-column terminal shows it, colours left out."""
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # Rich takes the capture for an 80-column terminal
    monkeypatch.setenv("NO_COLOR", "1")
    assert main(["runs"]) == 0
    return re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().out).splitlines()  # bold and dim stay without colours


def test_runs_table_is_one_line_per_run_at_80_columns(
    three_runs: list[Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = terminal_lines(capsys, monkeypatch)
    assert max(map(len, lines)) <= 80 and lines[0].startswith("3 runs in ")  # the root's path may wrap
    rows = lines[next(i for i, line in enumerate(lines) if line.startswith("run ")) + 1 :]  # after the header
    assert [row.split()[0] for row in rows] == [path.name for path in three_runs]  # one line per run
    newest, one_shot, killed = rows
    assert " …iterative per-layer " in newest and "50.0 % 96.1 % → 88.4 % finished" in newest  # the schedule kept
    assert "l1 layer one-shot" in one_shot and killed.split()[-6:] == ["(90.0", "%)", "–", "→", "–", "interrupted"]


def test_a_seed_groups_row_names_it_as_delete_takes_it_at_80_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, group = tmp_path / "runs", "seeds-20260301-120000-aaaaaa"
    for seed, name, accuracy in ((0, "20260301-120000-aaaaaa", 0.884), (1, "20260301-120000-aaaaaa-2", 0.894)):
        config = ExperimentConfig(dataset="fashion-mnist-mini", seed=seed, criterion="ln-structured")
        saved_run(root, name, config, group=group, **finished(accuracy, 0.5, "2026-03-01T12:00:00+0000"))
    long_name = "a-sweep-point-named-at-length-ln-structured-0.9-seed0"
    saved_run(root, long_name, ExperimentConfig(model="lenet300"), **finished(0.9, 0.9, "2026-02-01T12:00:00+0000"))
    lines = terminal_lines(capsys, monkeypatch)
    at = next(i for i, line in enumerate(lines) if line.startswith("run ")) + 1  # after the header
    assert max(map(len, lines)) <= 80 and len(lines) == at + 4  # the group's row, its two runs, the long-named run
    group_row, seed0, seed1, named = lines[at:]
    assert group_row.split()[0] == group and group_row.rstrip().endswith("96.1 → 88.9±0.7 % n = 2")  # sqrt(0.005)
    assert " ln-st… one-shot " in group_row and "50.0 %" in group_row  # the schedule kept
    assert seed0.split()[:3] == ["20260301-120000-aaaaaa", "seed", "0"] and seed1.split()[1:3] == ["seed", "1"]
    assert named.startswith("a-sweep-point…ured-0.9-seed0 ") and named.split()[1:4] == ["l1", "la…", "one-shot"]
    assert main(["runs", "--delete", group, "--yes"]) == 0
    assert not (root / "20260301-120000-aaaaaa").exists() and (root / long_name).is_dir()


def test_delete_takes_the_unique_start_of_a_seed_groups_name_and_lists_an_ambiguous_ones_groups(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "runs"
    for first in ("20260301-120000-aaaaaa", "20260302-090000-bbbbbb"):
        for seed, name in enumerate((first, f"{first}-2")):
            config = ExperimentConfig(dataset="fashion-mnist-mini", seed=seed)
            saved_run(root, name, config, group=f"seeds-{first}", **finished(0.9, 0.5, "2026-03-01T12:00:00+0000"))
    runs_dir = ["--runs-dir", str(root)]
    assert main(["runs", "--delete", "seeds-202603", "--yes", *runs_dir]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and error.endswith(
        "2 seed groups start with it: seeds-20260301-120000-aaaaaa, seeds-20260302-090000-bbbbbb"
    )
    assert len(list(root.iterdir())) == 4  # nothing deleted

    assert main(["runs", "--delete", "seeds-20260302", "--yes", *runs_dir]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("seeds-20260302: seed group seeds-20260302-090000-bbbbbb\n")  # which it took
    assert sorted(path.name for path in root.iterdir()) == ["20260301-120000-aaaaaa", "20260301-120000-aaaaaa-2"]


def test_runs_through_a_pipe_are_one_whole_line_each(
    three_runs: list[Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")  # a pipe's lines stay whole whatever the terminal around it
    assert main(["runs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line for line in lines if line[:8].isdigit()]
    assert [row.split()[0] for row in rows] == [path.name for path in three_runs]
    assert len(lines) == 2 + len(rows)  # the title, one header line, one line per run
    assert rows[0].split()[-1] == "finished" and "lenet300 on fashion-mnist, ln-structured" in rows[0]
    assert rows[2].split()[-1] == "interrupted" and "(90.0 %)" in rows[2]


def test_runs_as_json_and_csv_have_stable_fields(three_runs: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [list(record) for record in records] == [RUN_FIELDS] * 3
    newest, _, killed = records
    assert newest == {
        "name": "20260301-120000-aaaaaa", "status": "finished", "complete": True,
        "started": "2026-03-01T12:00:00+00:00", "model": "lenet300", "dataset": "fashion-mnist",
        "method": "ln-structured layer iterative per-layer", "target_sparsity": 0.5, "sparsity": 0.5,
        "dense_accuracy": 0.961, "accuracy": 0.884, "compression": 2.0, "message": "",
        "path": str(three_runs[0]), "group": None, "seed": 0, "n": None, "dense_accuracy_std": None,
        "accuracy_std": None, "sparsity_std": None, "compression_std": None,
        "weight_compression": None, "weight_compression_std": None,  # a summary with no layers to count from
    }  # fmt: skip
    assert (killed["status"], killed["accuracy"], killed["sparsity"]) == ("interrupted", None, None)

    assert main(["runs", "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [list(row) for row in rows] == [RUN_FIELDS] * 3
    assert (rows[1]["name"], rows[1]["accuracy"], rows[1]["method"]) == (
        "20260201-120000-bbbbbb",
        "0.958",
        "l1 layer one-shot",
    )
    assert (rows[2]["accuracy"], rows[2]["complete"]) == ("", "False")

    with pytest.raises(SystemExit):
        main(["runs", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert ", ".join(RUN_FIELDS) in help_text and "fractions in [0, 1]" in help_text


def test_runs_are_named_by_a_unique_prefix_or_last_in_every_command(
    three_runs: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (["export", "2026"], ["sensitivity", "--run", "2026"], ["runs", "--delete", "2026"]):
        assert main(argv) == 2
        error = capsys.readouterr().err.strip()
        assert error == (
            f"prunetui: error: run '2026' is ambiguous in {three_runs[0].parent}: 3 runs start with it: "
            "20260101-120000-aaaaaa, 20260201-120000-bbbbbb, 20260301-120000-aaaaaa"
        )
    # Found (runs saved by hand have no model to load): each error names the run the prefix or `last` meant.
    assert main(["export", "202602"]) == 2
    assert "run 20260201-120000-bbbbbb " in capsys.readouterr().err
    assert main(["sensitivity", "--run", "last"]) == 2
    assert f"run {three_runs[0].name} " in capsys.readouterr().err
    assert main(["export", "2027"]) == 2
    assert "run '2027' not found" in capsys.readouterr().err


def test_last_with_no_runs_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "last"]) == 2
    assert "no runs in" in capsys.readouterr().err


def test_delete_asks_then_deletes_the_named_runs(
    three_runs: list[Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    newest, middle, killed = three_runs
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    assert main(["runs", "--delete", "last", "202602"]) == 1
    assert "Nothing deleted." in capsys.readouterr().out
    assert all(path.is_dir() for path in three_runs)

    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    assert main(["runs", "--delete", "last", "202602", newest.name]) == 0
    printed = capsys.readouterr().out
    assert "Delete these 2 runs? [y/N]" in printed
    assert f"Deleted {newest.name} and {middle.name}." in printed
    assert [run.path for run in list_runs(runs_root())] == [killed]
    assert [path.name for path in runs_root().iterdir()] == [killed.name]  # nothing left half deleted

    assert main(["runs", "--delete", killed.name, "--yes"]) == 0
    assert list(runs_root().iterdir()) == []


def test_delete_refuses_a_running_run_or_foreign_files_and_then_deletes_nothing(
    three_runs: list[Path], tiny_config: ExperimentConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    newest, middle, _ = three_runs
    with running_run(tiny_config) as running:
        assert main(["runs", "--delete", middle.name, "20260401", "--yes"]) == 2
        assert f"run {running.name} is still running; stop it first, nothing deleted" in capsys.readouterr().err
        assert running.is_dir() and middle.is_dir()

    (newest / "notes.txt").write_text("mine")
    assert main(["runs", "--delete", newest.name, "--yes"]) == 2
    assert "also holds notes.txt, not written by prunetui" in capsys.readouterr().err
    assert all(path.is_dir() for path in three_runs)


def test_a_piped_chart_tells_its_lines_apart_by_their_marks() -> None:
    piped = Console(file=io.StringIO(), color_system=None, width=80)
    series = {"conv1": ([10.0, 90.0], [90.0, 50.0]), "fc1": ([10.0, 90.0], [91.0, 70.0])}
    lines = line_chart(series, "layer pruned (%)", "accuracy (%)", piped).plain.splitlines()
    assert lines[-1] == "** conv1   ++ fc1"  # without colors, braille marks would all read the same
    assert sum(line.count("*") for line in lines[:-1]) > 10 and sum(line.count("+") for line in lines[:-1]) > 10
    assert lines[-3].split() == ["10", "90"]  # the x axis ticks at the values the lines have


def test_a_chart_of_accuracies_keeps_its_axis_inside_0_to_100_with_even_labels() -> None:
    """Two points at 100 %, one with an error bar: plotext's own range ran from 50 to 150 %."""
    piped = Console(file=io.StringIO(), color_system=None, width=80)
    series = {"l1": ([50.0, 75.0], [100.0, 100.0]), "ln": ([50.0, 75.0], [100.0, 96.0])}
    chart = line_chart(series, "sparsity (%)", "accuracy (%)", piped, errors={"ln": ([50.0, 75.0], [0.0, 2.0])})
    labels = [
        float(y) for line in chart.plain.splitlines() if (y := line.split("┤")[0].strip()).replace(".", "").isdigit()
    ]
    assert max(labels) == 100.0 and min(labels) <= 94.0 and len(labels) == 4, chart.plain  # 96 - 2 in the range
    assert len({round(b - a, 1) for a, b in zip(sorted(labels), sorted(labels)[1:], strict=False)}) == 1  # evenly


def test_the_table_says_the_output_layer_lost_inputs_when_whole_units_went(
    tiny_config: ExperimentConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """ln-structured pruning removes fc2's neurons and with them fc3's inputs: fc3 is not pruned, yet half zeros."""
    monkeypatch.setenv("COLUMNS", "120")
    flags = [*tiny_flags(tiny_config), "--criterion", "ln-structured", "--sparsity", "0.5"]
    assert main(["run", *flags, "--out", str(tmp_path / "r")]) == 0
    (row,) = [line for line in capsys.readouterr().out.splitlines() if line.lstrip("│ ").startswith("fc3")]
    assert "fc3 (inputs cut)" in row and "50.0 %" in row
