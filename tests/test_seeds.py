"""`prunetui run --seeds`: one real run per seed, grouped; mean ± std (n) after the group and in `prunetui runs`."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from prunetui.cli import main, seed_group
from prunetui.engine import Event, ExperimentConfig, StepLoss
from prunetui.engine.core.presets import Preset
from prunetui.engine.core.seed_stats import MeanStd, mean_std, parse_seeds
from prunetui.engine.storage.groups import RunGroup, band, grouped
from prunetui.engine.storage.runs import list_runs
from tests.analysis_helpers import tiny_flags
from tests.test_cli import exit_code

# Seeds that differ: random pruning of half of the weights after one epoch on 256 images.
QUICK = ["--train-subset", "256", "--epochs", "1", "--criterion", "random", "--sparsity", "0.5"]


def seeds_run(config: ExperimentConfig, seeds: str, *flags: str) -> int | str | None:
    return exit_code(["run", *tiny_flags(config), *QUICK, "--seeds", seeds, *flags])


def summaries(root: Path) -> list[dict[str, object]]:
    """Every run's summary.json under `root`, by seed (runs started in the same second sort by config hash)."""
    found = [json.loads((run.path / "summary.json").read_text()) for run in list_runs(root)]
    return sorted(found, key=lambda summary: summary["config"]["seed"])  # type: ignore[index]


def spread(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation of two values, worked out by hand: |a - b| / √2."""
    a, b = values
    return (a + b) / 2, abs(a - b) / math.sqrt(2)


def test_seeds_make_one_grouped_run_each_and_the_mean_and_std_of_their_summaries(
    tiny_config: ExperimentConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str], wide_console: None
) -> None:
    assert seeds_run(tiny_config, "0,1") == 0
    first, second = summaries(tmp_path / "runs")
    assert [first["config"]["seed"], second["config"]["seed"]] == [0, 1]  # type: ignore[index]
    assert first["status"] == second["status"] == "finished"
    group = first["group"]
    assert isinstance(group, str) and group == second["group"] and group.startswith("seeds-")
    assert [run.group for run in list_runs(tmp_path / "runs")] == [group, group]

    accuracies = [float(s["accuracy"]) for s in (first, second)]  # type: ignore[arg-type]
    assert accuracies[0] != accuracies[1]  # the seeds differ: the spread below is not a trivial zero
    mean, std = spread(accuracies)
    dense_mean, dense_std = spread([float(s["dense_accuracy"]) for s in (first, second)])  # type: ignore[arg-type]
    printed = capsys.readouterr().out
    assert f"{group} (seeds 0, 1)" in printed
    assert f"accuracy dense {dense_mean * 100:.1f} ± {dense_std * 100:.1f} %" in " ".join(printed.split())
    assert f"accuracy {mean * 100:.1f} ± {std * 100:.1f} %" in " ".join(printed.split())
    assert "mean ± std (n = 2)" in printed

    # A run of its own beside the group: --csv has a row per run plus the group's aggregate row, just before its runs.
    assert exit_code(["run", *tiny_flags(tiny_config), *QUICK]) == 0
    capsys.readouterr()
    assert main(["runs", "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(row["status"], row["group"], row["seed"], row["n"]) for row in rows] == [
        ("finished", "", "0", ""),
        ("aggregate", group, "", "2"),
        ("finished", group, "0", ""),
        ("finished", group, "1", ""),
    ]
    aggregate = rows[1]
    assert aggregate["name"] == group and aggregate["path"] == ""
    assert float(aggregate["accuracy"]) == pytest.approx(mean) and float(aggregate["accuracy_std"]) == pytest.approx(
        std
    )
    assert float(aggregate["dense_accuracy_std"]) == pytest.approx(dense_std)
    assert [float(rows[i]["accuracy"]) for i in (2, 3)] == accuracies  # seeds 0 and 1

    assert main(["runs"]) == 0
    table = capsys.readouterr().out
    assert f"→ {mean * 100:.1f}±{std * 100:.1f} %" in table and "n = 2" in table and f"\n{group} " in table
    assert main(["export", rows[3]["name"]]) == 0  # a group's runs are runs like any other
    capsys.readouterr()
    assert main(["runs", "--delete", group, "--yes"]) == 0  # the group's name stands for all its runs
    assert [run.name for run in list_runs(tmp_path / "runs")] == [rows[0]["name"]]


def test_ctrl_c_stops_the_seed_that_runs_and_the_group(
    tiny_config: ExperimentConfig,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    wide_console: None,
) -> None:
    show_run = seed_group.show_run
    shown: list[int] = []

    def interrupted_in_second_seed(events: Iterator[Event], console: Console, preset: Preset | None) -> Event:
        """The real display, with a real SIGINT at the second seed's first step, as Ctrl+C sends it."""
        shown.append(len(shown))

        def with_ctrl_c() -> Iterator[Event]:
            pressed = len(shown) != 2
            for event in events:
                if isinstance(event, StepLoss) and not pressed:
                    os.kill(os.getpid(), signal.SIGINT)
                    pressed = True
                yield event

        return show_run(with_ctrl_c(), console, preset)

    monkeypatch.setattr(seed_group, "show_run", interrupted_in_second_seed)
    assert seeds_run(tiny_config, "0-2") == 130
    printed = capsys.readouterr().out
    assert "the seeds after this one will not start" in printed
    assert "the group ends here: seed 2 not started" in printed
    assert "mean (n = 1)" in printed  # the stopped seed's numbers are of a model cut short: left out
    assert "±" not in printed  # one value has no spread: the mean alone, no "± 0.0"

    first, second = summaries(tmp_path / "runs")  # no directory for seed 2
    assert (first["status"], second["status"]) == ("finished", "stopped")
    assert first["group"] == second["group"]
    assert main(["runs", "--json"]) == 0
    aggregate = json.loads(capsys.readouterr().out)[0]
    assert (aggregate["status"], aggregate["n"], aggregate["accuracy"]) == ("aggregate", 1, first["accuracy"])
    assert aggregate["accuracy_std"] is None and aggregate["complete"] is False
    assert main(["runs", "--csv"]) == 0
    row = next(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert (row["status"], row["n"], row["accuracy_std"], row["compression_std"]) == ("aggregate", "1", "", "")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--seeds", "0,1", "--seed", "3"], "--seeds and --seed conflict"),
        (["--seeds", "0,1", "--out", "somewhere"], "--out is one run's directory, and --seeds saves one run per seed"),
        (["--seeds", "3-1"], "invalid --seeds: 3-1 counts down; write 1-3"),
        (["--seeds", "0,1,1"], "0,1,1 names a seed twice"),
        (["--seeds", "x"], "invalid --seeds: 'x' is neither a seed (0, 1, …) nor a range (0-4)"),
        (["--seeds", "-1"], "'-1' is neither a seed"),
        (["--seeds", "0-100"], "at most 100 seeds"),
        (["--seeds", "0-98,99,100"], "at most 100 seeds"),
        (["--seeds", "0,1", "--sparsity", "2"], "invalid --sparsity"),
        (["--jobs", "2"], "--jobs, --threads, --devices and --ray run the seeds of --seeds; one run takes --device"),
        (["--seeds", "0,1", "--jobs", "x"], "invalid --jobs: 'x' is not a number or auto"),
        (["--seeds", "0,1", "--devices", "tpu"], "invalid --devices: 'tpu' is not cpu, mps, cuda or cuda:N"),
    ],
)
def test_bad_seeds_are_one_line_and_run_nothing(
    flags: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert exit_code(["run", *flags]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1
    assert not (tmp_path / "runs").exists()


def test_seed_lists_take_single_seeds_and_ranges_in_the_order_given() -> None:
    assert parse_seeds("0-2,7") == (0, 1, 2, 7)
    assert parse_seeds("5, 3") == (5, 3)
    assert len(parse_seeds("0-98,99")) == 100


def test_a_seed_that_cannot_start_ends_the_group_and_keeps_nothing(
    tiny_config: ExperimentConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # kmnist is not in the tiny data directory and the tests never download: every seed would fail the same way.
    assert seeds_run(tiny_config, "0,1", "--dataset", "kmnist", "--data-dir", str(tmp_path / "empty")) == 1
    printed = capsys.readouterr().out
    assert "seed 0: nothing kept: the run failed before training" in printed
    assert "the group ends here: seed 1 not started" in printed and "no seed finished" in printed
    assert list_runs(tmp_path / "runs") == []


def test_groups_are_read_from_summaries_and_old_summaries_have_none(tmp_path: Path) -> None:
    """Runs listed newest first; a group's runs are gathered under its row where its newest run stands, even with
    another run between them; a summary from before groups (no "group" key) or with a foreign one is no group."""
    started = {"a": "10:00:01", "b": "10:00:02", "c": "10:00:03", "d": "10:00:04", "e": "10:00:05"}
    groups = {"a": "seeds-x", "b": None, "c": "seeds-x", "d": 7, "e": "seeds-y"}
    for name, group in groups.items():
        (tmp_path / name).mkdir()
        summary = {"status": "finished", "accuracy": 0.5, "started": f"2026-01-01T{started[name]}+0000"}
        (tmp_path / name / "summary.json").write_text(json.dumps(summary | ({"group": group} if group else {})))
    items = grouped(list_runs(tmp_path))
    names = [(type(item).__name__, item.name) for item in items]
    assert names == [
        ("RunGroup", "seeds-y"), ("RunRecord", "e"), ("RunRecord", "d"),
        ("RunGroup", "seeds-x"), ("RunRecord", "c"), ("RunRecord", "a"), ("RunRecord", "b"),
    ]  # fmt: skip
    assert [run.group for run in list_runs(tmp_path)] == ["seeds-y", "", "seeds-x", "", "seeds-x"]
    group = items[3]
    assert isinstance(group, RunGroup) and group.stat("accuracy") == MeanStd(0.5, 0.0, 2)
    assert group.stat("sparsity") is None  # no run has it: no mean, never a zero


def test_a_band_is_as_long_as_the_shortest_history() -> None:
    full = [(0.0, 0.8), (0.5, 0.6), (0.5, 0.7)]
    stopped = [(0.0, 0.6), (0.5, 0.4)]
    assert band([full, stopped]) == [
        (0.0, mean_std([0.8, 0.6])),
        (0.5, mean_std([0.6, 0.4])),
    ]
