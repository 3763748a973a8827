"""Saved runs: the runs root, unique readable names, reading runs back whatever state they are in, `prunetui runs`."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from prunetui.cli import main
from prunetui.engine import ExperimentConfig, StepLoss
from prunetui.engine.core.errors import PrunetuiError
from prunetui.engine.core.experiment import Experiment
from prunetui.engine.storage.export import load_model
from prunetui.engine.storage.recording import record_claimed, record_run
from prunetui.engine.storage.run_lock import RunLock, writer_alive
from prunetui.engine.storage.runs import (
    claim_new_run_dir,
    list_runs,
    load_history,
    read_run,
    resolve_run,
    runs_root,
)
from tests.analysis_helpers import accuracy, only_dir, tiny_flags
from tests.engine_helpers import printed_by


def released(lock: RunLock) -> Path:
    """The directory of `lock`, let go: a run directory as one whose writer ended leaves it."""
    lock.release()
    return lock.directory


def test_runs_root_is_the_flag_then_the_environment_then_the_user_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PRUNETUI_RUNS", str(tmp_path / "env"))
    assert runs_root(tmp_path / "flag") == tmp_path / "flag"
    assert runs_root() == tmp_path / "env"
    monkeypatch.delenv("PRUNETUI_RUNS")
    monkeypatch.setattr("platformdirs.user_data_dir", lambda app: str(tmp_path / "data" / app))
    assert runs_root() == tmp_path / "data" / "prunetui" / "runs"


def test_run_names_are_time_and_config_hash_and_never_collide(tmp_path: Path) -> None:
    config, now = ExperimentConfig(), datetime(2026, 1, 2, 3, 4, 5)
    locks = [claim_new_run_dir(tmp_path, c, now) for c in (config, config, config.replace(sparsity=0.5))]
    first, second, other = (lock.directory for lock in locks)
    assert first.name.startswith("20260102-030405-") and len(first.name) == len("20260102-030405-abcdef")
    assert second.name == f"{first.name}-2"
    assert other.name[:16] == first.name[:16] and other.name != first.name  # another config, another hash
    # Each holds only its lock, held from the moment the directory exists: a reader sees a run starting.
    assert all([entry.name for entry in path.iterdir()] == [".lock"] for path in (first, second, other))
    assert all(writer_alive(path) for path in (first, second, other))
    assert {run.status for run in list_runs(tmp_path)} == {"running"}
    for lock in locks:
        lock.release()
    assert sorted(entry.name for entry in tmp_path.iterdir()) == sorted(p.name for p in (first, second, other))


def test_a_recorded_run_reads_back_with_its_numbers_history_and_dense_model(
    tiny_config: ExperimentConfig, tmp_path: Path
) -> None:
    """`prunetui run` without --out saves under the runs root ($PRUNETUI_RUNS in the tests)."""
    assert main(["run", *tiny_flags(tiny_config), "--model", "lenet300", "--sparsity", "0.8"]) == 0
    directory = only_dir(tmp_path / "runs")
    summary = json.loads((directory / "summary.json").read_text())

    (run,) = list_runs(tmp_path / "runs")
    assert (run.name, run.status, run.complete) == (directory.name, "finished", True)
    assert run.method == "l1 layer one-shot" and run.config is not None and run.config.model == "lenet300"
    assert (run.accuracy, run.dense_accuracy) == (summary["accuracy"], summary["dense_accuracy"])
    assert run.sparsity == pytest.approx(0.8, abs=0.001) and run.compression == summary["compression"]
    assert run.model_path == directory / "model.pt"

    history = load_history(directory)
    assert [row.event for row in history] == ["epoch", "epoch", "prune", "epoch"]
    assert history[-1].accuracy == summary["accuracy"] and history[2].sparsity == pytest.approx(0.8, abs=0.001)
    assert history[0].train_loss is not None and history[2].train_loss is None

    # dense.pt is the trained model from just before pruning: it scores the dense accuracy.
    dense = load_model(directory / "dense.pt")
    assert int((dense.fc1.weight == 0).sum()) == 0
    assert accuracy(dense, tiny_config) == summary["dense_accuracy"]


def test_runs_that_did_not_finish_are_listed_as_incomplete(tiny_config: ExperimentConfig, tmp_path: Path) -> None:
    root = tmp_path / "root"
    stopped = Experiment(tiny_config, download=False)
    for event in record_claimed(stopped, claim_new_run_dir(root, tiny_config, datetime(2026, 1, 1, 10))):
        if isinstance(event, StepLoss):
            stopped.stop()
    # A run killed without a word: its summary still says "running", from a process that is gone.
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    killed = released(claim_new_run_dir(root, tiny_config, datetime(2026, 1, 1, 11)))
    (killed / "config.toml").write_text(tiny_config.to_toml())
    killed_summary = {"status": "running", "pid": int(gone.stdout), "host": socket.gethostname()}
    (killed / "summary.json").write_text(json.dumps({**killed_summary, "started": "2026-01-01T11:00:00+0000"}))
    broken = root / "20260101-120000-abcdef"
    broken.mkdir()
    (broken / "summary.json").write_text("{ not json")
    (root / "sweeps").mkdir()  # not a run: skipped

    runs = list_runs(root)  # newest first: the stopped run started just now, the others by their names' times
    assert [run.name for run in runs] == [f"20260101-100000-{killed.name[16:22]}", broken.name, killed.name]
    assert [(run.status, run.complete) for run in runs] == [
        ("stopped", False),
        ("unreadable", False),
        ("interrupted", False),
    ]
    assert runs[0].accuracy is not None and runs[0].dense_accuracy is None  # stopped while training
    assert runs[2].config == tiny_config and runs[2].accuracy is None
    assert load_history(broken) == []


def test_runs_started_within_one_second_sort_by_their_start(tiny_config: ExperimentConfig, tmp_path: Path) -> None:
    """summary.json's start is to the microsecond, so the newest run comes first without waiting a second between
    runs; a summary written before, to the second, still reads."""
    root, same_second = tmp_path / "root", datetime(2026, 1, 1, 10)
    for _ in range(3):  # one after the other, within a second or two: their names alone cannot order them
        experiment = Experiment(tiny_config.replace(epochs=0), download=False)
        for _ in record_claimed(experiment, claim_new_run_dir(root, tiny_config)):
            pass
    recorded = list_runs(root)
    starts = [json.loads((run.path / "summary.json").read_text())["started"] for run in recorded]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d{4}", start) for start in starts), starts
    assert [run.started for run in recorded] == sorted((run.started for run in recorded), reverse=True)  # type: ignore[type-var]
    assert len({run.started for run in recorded}) == 3

    for name, started in (("a", "2026-01-01T10:00:00.250000+0000"), ("b", "2026-01-01T10:00:00.750000+0000")):
        run = claim_new_run_dir(root, tiny_config.replace(seed=ord(name)), same_second)
        run.release()
        (run.directory / "summary.json").write_text(json.dumps({"status": "finished", "started": started}))
    older = claim_new_run_dir(root, tiny_config, same_second)
    older.release()
    earlier = {"status": "finished", "started": "2026-01-01T09:59:59+0000"}  # to the second, as before
    (older.directory / "summary.json").write_text(json.dumps(earlier))
    by_start = [str(run.started) for run in list_runs(root)[3:]]
    assert by_start == [
        "2026-01-01 10:00:00.750000+00:00",
        "2026-01-01 10:00:00.250000+00:00",
        "2026-01-01 09:59:59+00:00",
    ]


def test_a_running_run_of_this_process_reads_as_running(tiny_config: ExperimentConfig, tmp_path: Path) -> None:
    experiment = Experiment(tiny_config, download=False)
    events = record_run(experiment, tmp_path / "live")
    next(events)
    assert read_run(tmp_path / "live").status == "running"
    events.close()


def test_runs_command_lists_runs_in_a_table(
    tiny_config: ExperimentConfig, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["runs"]) == 0
    assert "No runs in" in capsys.readouterr().out
    assert main(["run", *tiny_flags(tiny_config), "--criterion", "random", "--sparsity", "0.5"]) == 0
    capsys.readouterr()
    assert main(["runs"]) == 0
    printed = capsys.readouterr().out
    assert "random layer one-shot" in printed and "50.0 %" in printed and "finished" in printed


def test_runs_are_found_by_path_name_or_unique_start(tmp_path: Path) -> None:
    config = ExperimentConfig()
    first = released(claim_new_run_dir(tmp_path, config, datetime(2026, 1, 1)))
    second = released(claim_new_run_dir(tmp_path, config, datetime(2026, 2, 1)))
    assert resolve_run(str(first), tmp_path / "elsewhere") == first
    assert resolve_run(second.name, tmp_path) == second
    assert resolve_run("202602", tmp_path) == second
    with pytest.raises(PrunetuiError, match="2 runs start with it"):
        resolve_run("2026", tmp_path)
    with pytest.raises(PrunetuiError, match="not found"):
        resolve_run("nope", tmp_path)


def test_listing_runs_and_reading_analyses_needs_no_torch() -> None:
    """The app's Runs screen and `prunetui runs` open at once: torch is imported only to train or prune."""
    code = "import sys, prunetui.engine.storage.runs, prunetui.engine.analyses; print('torch' in sys.modules)"
    assert printed_by(code) == ["False"]


def test_a_history_saved_before_validation_columns_still_reads(tmp_path: Path) -> None:
    (tmp_path / "history.csv").write_text(
        "event,phase,round,epoch,step,train_loss,test_loss,accuracy,sparsity\n"
        "epoch,train,0,1,8,0.9,0.8,0.7,\n"
        "prune,prune,1,0,8,,0.85,0.65,0.5\n"
    )
    rows = load_history(tmp_path)
    assert [(row.event, row.accuracy, row.sparsity, row.val_accuracy) for row in rows] == [
        ("epoch", 0.7, None, None), ("prune", 0.65, 0.5, None),
    ]  # fmt: skip


def test_a_summary_holds_both_compressions_and_one_from_before_reads_its_weights_from_its_layers(
    tiny_config: ExperimentConfig, tmp_path: Path
) -> None:
    assert main(["run", *tiny_flags(tiny_config), "--model", "lenet300", "--sparsity", "0.8"]) == 0
    directory = only_dir(tmp_path / "runs")
    summary = json.loads((directory / "summary.json").read_text())
    layers = summary["layers"]
    assert summary["total_weights"] == sum(layer["total"] for layer in layers) == 266_200
    assert summary["nonzero_weights"] == sum(layer["total"] - layer["zeros"] for layer in layers)
    assert summary["weight_compression"] == pytest.approx(266_200 / summary["nonzero_weights"])
    assert summary["total_parameters"] == 266_610  # the fields of before stay, as they were
    assert summary["compression"] == pytest.approx(266_610 / summary["nonzero_parameters"])
    assert summary["weight_compression"] > summary["compression"]  # biases are kept
    run = read_run(directory)
    assert (run.weight_compression, run.compression) == (summary["weight_compression"], summary["compression"])

    saved = summary["weight_compression"]
    for key in ("weight_compression", "nonzero_weights", "total_weights"):  # as a run of an earlier version
        del summary[key]
    (directory / "summary.json").write_text(json.dumps(summary))
    assert read_run(directory).weight_compression == pytest.approx(saved)
