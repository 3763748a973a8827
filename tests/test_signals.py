"""SIGTERM (`kill`) and SIGHUP (a closed terminal, a dropped SSH session) stop a run as Ctrl+C does: between
batches, saved as `stopped` with its model. Each case is a subprocess that receives the real signal mid-training
(`tests/signal_driver.py`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from prunetui.engine import ExperimentConfig
from prunetui.engine.storage.export import load_model
from tests.analysis_helpers import tiny_flags

REPO = Path(__file__).resolve().parent.parent
STOPPED = 130  # the exit code of a stopped run, whichever signal stopped it


def driven(signal_name: str, args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`prunetui ARGS…` in a subprocess that sends itself the signal mid-epoch; its temporary files in tmp_path."""
    scratch = tmp_path / "tmp"
    scratch.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        "TMPDIR": str(scratch),
        "COLUMNS": "200",
    }
    command = [sys.executable, "-m", "tests.signal_driver", signal_name, "--", *args]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def assert_stopped_quietly(done: subprocess.CompletedProcess[str], signal_name: str) -> None:
    assert done.returncode == STOPPED, done.stdout + done.stderr
    assert f"SIG{signal_name}: stopping after this batch" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def assert_saved_stopped(run: Path) -> None:
    summary = json.loads((run / "summary.json").read_text())
    assert (summary["status"], summary["complete"]) == ("stopped", False)
    model = load_model(run / "model.pt")  # the model as it stood, readable
    assert sum(parameter.numel() for parameter in model.parameters()) == summary["total_parameters"]


@pytest.mark.parametrize("signal_name", ["TERM", "HUP"])
def test_a_run_stops_and_saves_on(signal_name: str, tiny_config: ExperimentConfig, tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = driven(signal_name, ["run", *tiny_flags(tiny_config), "--out", str(out)], tmp_path)
    assert_stopped_quietly(done, signal_name)
    assert_saved_stopped(out)


def test_a_seed_group_stops_and_saves_its_running_seed_on_sighup(tiny_config: ExperimentConfig, tmp_path: Path) -> None:
    root = tmp_path / "runs"
    done = driven("HUP", ["run", *tiny_flags(tiny_config), "--seeds", "0,1", "--runs-dir", str(root)], tmp_path)
    assert_stopped_quietly(done, "HUP")
    assert "seed 1 not started" in done.stdout
    (run,) = [path for path in root.iterdir() if path.is_dir()]  # seed 0, stopped; seed 1 never started
    assert_saved_stopped(run)
    assert list((tmp_path / "tmp").iterdir()) == []  # the seed's temporary directory is gone


@pytest.mark.parametrize(
    ("command", "signal_name"),
    [
        (["sweep", "--methods", "l1", "--sparsities", "0.5"], "TERM"),
        (["sensitivity", "--amounts", "0.5"], "HUP"),
    ],
)
def test_an_analysis_stops_on(
    command: list[str], signal_name: str, tiny_config: ExperimentConfig, tmp_path: Path
) -> None:
    flags = tiny_flags(tiny_config)
    if command[0] == "sensitivity":  # it takes no fine-tuning
        at = flags.index("--finetune-epochs")
        del flags[at : at + 2]
    done = driven(signal_name, [*command, *flags, "--out", str(tmp_path / "out")], tmp_path)
    assert_stopped_quietly(done, signal_name)
    assert list((tmp_path / "tmp").iterdir()) == []
