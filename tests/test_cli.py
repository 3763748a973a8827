"""`prunetui run` end to end on tiny data, and its error handling."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from prunetui.cli import main
from prunetui.cli.main import build_parser
from prunetui.cli.options import config_from_args, note_unused
from prunetui.describe import counted
from prunetui.engine import ExperimentConfig
from prunetui.engine.storage.export import load_model
from prunetui.engine.storage.runs import load_history
from tests import zygote


def exit_code(argv: list[str]) -> int | str | None:
    """main's return value, or the code of the SystemExit that argparse raises."""
    try:
        return main(argv)
    except SystemExit as exit_:
        return exit_.code


def tiny_flags(config: ExperimentConfig) -> list[str]:
    return [
        "run", "--dataset", config.dataset, "--data-dir", config.data_dir, "--epochs", "2", "--finetune-epochs", "1",
        "--batch-size", "64", "--device", "cpu", "--optimizer", "adam", "--lr", "0.003",
    ]  # fmt: skip


def test_run_writes_readable_config_history_summary_and_model(
    tiny_config: ExperimentConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    flags = ["--schedule", "iterative", "--rounds", "2", "--sparsity", "0.75", "--out", str(out)]
    assert main([*tiny_flags(tiny_config), *flags]) == 0

    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["complete"] is True
    assert summary["sparsity"] == pytest.approx(0.75, abs=0.005)
    assert [layer["name"] for layer in summary["layers"]] == ["conv1", "conv2", "fc1", "fc2", "fc3"]
    assert summary["nonzero_parameters"] < summary["total_parameters"] == 61_706
    assert 0.5 < summary["accuracy"] <= 1.0  # the tiny data set is learnable after pruning and fine-tuning

    rows = list(csv.DictReader((out / "history.csv").open()))
    assert [row["event"] for row in rows] == ["epoch", "epoch", "prune", "epoch", "prune", "epoch"]
    assert float(rows[-1]["accuracy"]) == pytest.approx(summary["accuracy"])
    assert float(rows[-2]["sparsity"]) == pytest.approx(summary["sparsity"])
    assert float(rows[-1]["val_accuracy"]) == pytest.approx(summary["val_accuracy"])  # the held-out 10 %
    assert all(0 <= float(row["val_accuracy"]) <= 1 for row in rows)
    assert [row.val_accuracy for row in load_history(out)] == [float(row["val_accuracy"]) for row in rows]

    config = ExperimentConfig.load(out / "config.toml")
    assert (config.schedule, config.rounds, config.sparsity) == ("iterative", 2, 0.75)

    model = load_model(out / "model.pt")  # permanent: plain weights, no masks
    assert not any(name.endswith("_orig") for name, _ in model.named_parameters())
    fc1_zeros = int((model.fc1.weight == 0).sum())
    assert fc1_zeros == next(layer["zeros"] for layer in summary["layers"] if layer["name"] == "fc1")
    assert summary["export"]["sparse_bytes"] < summary["export"]["dense_bytes"]

    printed = capsys.readouterr().out
    assert "round 2/2: pruned to 75.0 %" in printed
    assert "Sparsity per layer" in printed


def test_flags_override_the_config_file(tiny_config: ExperimentConfig, tmp_path: Path) -> None:
    config_file = tmp_path / "exp.toml"
    config_file.write_text('criterion = "random"\nsparsity = 0.3\nepochs = 1\n')
    out = tmp_path / "out"
    args = [*tiny_flags(tiny_config), "--config", str(config_file), "--sparsity", "0.6", "--out", str(out)]
    assert main(args) == 0
    saved = ExperimentConfig.load(out / "config.toml")
    assert (saved.criterion, saved.sparsity, saved.epochs) == ("random", 0.6, 2)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--sparsity", "1.0"], "invalid --sparsity: must be in [0, 1)"),
        (["--sparsity", "-0.1"], "invalid --sparsity"),
        (["--epochs", "-1"], "invalid --epochs: must be between 0 and 1,000"),
        (["--rounds", "99999999999999999999"], "invalid --rounds: must be between 1 and 100"),
        (
            ["--scope", "global", "--max-layer-sparsity", "0.01", "--sparsity", "0.9"],
            "invalid --sparsity: 0.9 is out of reach: with --max-layer-sparsity 0.01, "
            "global scope reaches at most 0.0099",
        ),
        (["--model", "resnet"], "invalid --model: unknown model 'resnet'"),
        (["--lr", "fast"], "invalid float value: 'fast'"),
        (["--criterion", "ln-structured", "--scope", "global"], "invalid --scope"),
    ],
)
def test_invalid_values_give_one_line_and_exit_2(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert exit_code(["run", *flags]) == 2
    error = capsys.readouterr().err
    assert message in error
    assert len(error.strip().splitlines()) == 1


def test_unknown_or_missing_config_file_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("sparsty = 0.5\n")
    assert main(["run", "--config", str(bad)]) == 2
    assert "unknown setting 'sparsty'" in capsys.readouterr().err
    assert main(["run", "--config", str(tmp_path / "none.toml")]) == 2
    assert "config file not found" in capsys.readouterr().err


def test_missing_data_set_is_a_clear_error_not_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--data-dir", str(tmp_path / "empty"), "--dataset", "kmnist", "--out", str(tmp_path / "o")])
    assert code == 2  # said before the run starts: offline, nothing could be downloaded
    error = capsys.readouterr().err
    assert "kmnist is not on this machine" in error
    assert str(tmp_path / "empty" / "KMNIST" / "raw") in error
    assert "Traceback" not in error and not (tmp_path / "o").exists()
    assert not (tmp_path / "o").exists()  # a start that never trained is no run to keep


def test_help_explains_every_setting(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code(["run", "--help"]) == 0
    text = capsys.readouterr().out
    for field in ExperimentConfig.fields():
        assert "--" + field.name.replace("_", "-") in text
    assert "Ctrl+C" in text


def test_help_says_an_empty_default_in_words(capsys: pytest.CaptureFixture[str], wide_console: None) -> None:
    assert exit_code(["run", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "['']" not in text
    assert "e.g. conv1=0.5,fc1=0.95 (see sensitivity) [none] --optimizer" in text
    assert "(default: $PRUNETUI_DATA, else a per-user cache) --criterion" in text  # said once, in words
    assert "[0, 1) [0.9] --rounds" in text and "train --epochs again [off]" in text


@pytest.mark.parametrize(("schedule", "before"), [("agp", "before the first prune"), ("one-shot", "dense")])
def test_the_accuracy_before_pruning_is_named_for_what_it_is(
    schedule: str, before: str, tiny_config: ExperimentConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """agp prunes during training: the model just before its first prune is partly trained, no dense baseline."""
    monkeypatch.setenv("COLUMNS", "300")
    out = tmp_path / "out"
    assert main([*tiny_flags(tiny_config), "--schedule", schedule, "--rounds", "2", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    printed = " ".join(capsys.readouterr().out.split())  # the table's caption wraps at the table's width
    accuracies = f"accuracy {summary['dense_accuracy'] * 100:.1f} % {before} → {summary['accuracy'] * 100:.1f} %"
    assert f"{accuracies}, " in printed  # the closing line
    assert f" {accuracies} · " in printed  # the line under the table
    assert (" dense → " in printed) == (schedule != "agp")


@pytest.mark.parametrize(
    ("flags", "note"),
    [
        (["--rewind-step", "5"], "note: --rewind-step has no effect: needs --rewind\n"),
        (
            ["--dataset", "cifar10", "--image-size", "16"],
            "note: --image-size has no effect: image folders only; cifar10's images keep their size\n",
        ),
        (
            ["--rewind", "--finetune-epochs", "3"],
            "note: --finetune-epochs has no effect: rewind retrains the full --epochs\n",
        ),
        (["--rewind", "--reinit"], "note: --rewind has no effect: reinit draws fresh weights instead\n"),
        (
            ["--criterion", "l1", "--structured-norm", "l1"],
            "note: --structured-norm has no effect: ln-structured only\n",
        ),
        ([], ""),  # the defaults: nothing to say
        (["--preset", "han2015-lenet300"], ""),  # nor about a preset's settings
    ],
)
def test_settings_given_that_have_no_effect_are_noted_on_stderr(
    flags: list[str], note: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config_from_args(build_parser().parse_args(["run", *flags]))
    assert capsys.readouterr().err == note


def test_a_config_file_key_with_no_effect_is_noted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "c.toml").write_text("agp-interval = 5\n")
    config_from_args(build_parser().parse_args(["run", "--config", str(tmp_path / "c.toml")]))
    assert capsys.readouterr().err == "note: --agp-interval has no effect: agp only\n"


def test_replaying_a_runs_own_config_notes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A run's config.toml holds every key, most at their defaults; only a key set away from it is a setting given."""
    (tmp_path / "c.toml").write_text(ExperimentConfig(epochs=3).to_toml())
    config_from_args(build_parser().parse_args(["run", "--config", str(tmp_path / "c.toml")]))
    assert capsys.readouterr().err == ""
    (tmp_path / "c.toml").write_text(ExperimentConfig(agp_interval=7).to_toml())
    config_from_args(build_parser().parse_args(["run", "--config", str(tmp_path / "c.toml")]))
    assert capsys.readouterr().err == "note: --agp-interval has no effect: agp only\n"


def test_a_sweep_notes_a_setting_only_when_no_method_uses_it(capsys: pytest.CaptureFixture[str]) -> None:
    configs = [ExperimentConfig(criterion=criterion) for criterion in ("l1", "ln-structured")]
    note_unused(["structured_norm"], configs)
    note_unused(["structured_norm"], configs[:1])
    assert capsys.readouterr().err == "note: --structured-norm has no effect: ln-structured only\n"


def test_a_run_piped_to_a_reader_that_leaves_stops_quietly(tiny_config: ExperimentConfig, tmp_path: Path) -> None:
    """As `prunetui run | head -1`: once the reader has gone, the run stops as Ctrl+C stops it, saved as stopped,
    with no traceback."""
    out = tmp_path / "out"
    command = [sys.executable, "-m", "prunetui", *tiny_flags(tiny_config), "--out", str(out)]
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    process = zygote.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline() == "importing torch …\n"
    process.stdout.close()  # the reader goes, as head does after its line
    _, errors = process.communicate(timeout=120)
    assert errors == ""
    assert process.returncode == 130  # as Ctrl+C
    assert json.loads((out / "summary.json").read_text())["status"] == "stopped"


EXIT_AFTER_TORCH = """
import concurrent.futures, multiprocessing.util, sys, threading, time
import torch
from prunetui.cli.main import exit_process


pool = concurrent.futures.ThreadPoolExecutor(1)  # never shut down: threading's exit hooks stop its idle thread
pool.submit(print, "pooled", end=" ").result()

class Noisy:
    def __del__(self):
        print("torn down")

kept = Noisy()  # the interpreter's teardown would print
print(multiprocessing.util.get_temp_dir())  # multiprocessing's exit handler removes it
threading.Thread(target=lambda: (time.sleep(0.2), open(sys.argv[1], "w").close())).start()
print("last words", end="")  # still in the pipe's buffer
exit_process(3)
"""


def test_a_command_that_imported_torch_ends_without_the_teardown_after_what_an_exit_does_first(
    tmp_path: Path,
) -> None:
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent), "TMPDIR": str(tmp_path)}
    command = [sys.executable, "-c", EXIT_AFTER_TORCH, str(tmp_path / "thread-done")]
    done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stderr
    pooled_temporary, last = done.stdout.splitlines()
    pooled, temporary = pooled_temporary.split(" ")
    assert pooled == "pooled"
    assert last == "last words" and not Path(temporary).exists()
    assert (tmp_path / "thread-done").exists()  # the thread was awaited


def test_counts_of_one_are_singular() -> None:
    assert [counted(n, "epoch") for n in (0, 1, 2)] == ["0 epochs", "1 epoch", "2 epochs"]
    assert counted(1000, "training image") == "1,000 training images"


def test_a_sweep_starts_from_a_preset_as_a_run_does() -> None:
    parser = build_parser()
    preset = ["--preset", "han2015-lenet300", "--epochs", "1"]
    sweep, run = (config_from_args(parser.parse_args([command, *preset])) for command in ("sweep", "run"))
    assert sweep == run and sweep.model == "lenet300" and sweep.epochs == 1
