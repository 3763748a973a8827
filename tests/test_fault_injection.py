"""Faults in every phase of a run: afterwards its directory tells the truth and keeps everything finished.

For each phase (see `tests/faults.py`) a Ctrl+C, an exception and a SIGKILL: `prunetui runs` shows the run's
real status, `prunetui export` works or says in one line why not, the saved model is the one the summary
describes, and no temporary file is left.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from prunetui.cli import main
from prunetui.engine import ExperimentConfig
from prunetui.engine.core.metrics import weight_layers
from prunetui.engine.storage.export import load_model
from prunetui.engine.storage.runs import read_run
from tests import zygote
from tests.analysis_helpers import accuracy, tiny_flags
from tests.faults import ACTIONS, FAULT_FLAGS, PHASES, arm, temporaries

REPO = Path(__file__).resolve().parent.parent
EXIT_CODES = {"finished": 0, "stopped": 130, "failed": 1, "interrupted": -9}  # -9: killed by SIGKILL

pytestmark = [pytest.mark.usefixtures("wide_console"), pytest.mark.slow]  # a run killed in each phase


def expected(phase: str, action: str) -> tuple[str, bool]:
    """The status `prunetui runs` must show, and whether model.pt exists."""
    if action == "sigkill":
        return "interrupted", False  # model.pt is written only at the end
    if action == "ctrl+c":
        return ("finished" if phase == "saving" else "stopped"), True  # a stop while saving comes too late
    return "failed", phase not in ("loading", "saving")  # no model before loading; saving it failed


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("action", ["ctrl+c", "exception"])
def test_a_fault_in_process_leaves_a_truthful_run(
    phase: str,
    action: str,
    tiny_config: ExperimentConfig,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "runs" / f"{phase}-{action}"
    status, has_model = expected(phase, action)
    with monkeypatch.context() as hooks:
        arm(hooks, phase, ACTIONS[action])
        code = main(["run", *tiny_flags(tiny_config), *FAULT_FLAGS, "--out", str(out)])
    printed = capsys.readouterr()
    assert code == EXIT_CODES[status]
    assert "Traceback" not in printed.out + printed.err
    if action == "exception":
        assert "failed: unexpected RuntimeError: injected fault (faults.py:" in printed.err
    if (phase, action) == ("loading", "exception"):  # failed before training: no run is kept
        assert "nothing kept: the run failed before training" in printed.out and not out.exists()
        return
    assert temporaries(out) == []  # before anyone else looks: the run cleaned up after itself
    check_run(out, status, has_model, tiny_config, capsys)


@pytest.fixture(scope="session")  # with the tests' xdist_group: once, whatever pytest-xdist runs between them
def killed_runs(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, int, list[str]]]:
    """A run per phase, each SIGKILLed in its phase, all at once: child processes that one driver process forks
    after importing torch. Per phase: the run directory, the exit code and the temporary files left behind."""
    root = tmp_path_factory.mktemp("killed") / "runs"
    flags = tiny_flags(ExperimentConfig(dataset="mnist", data_dir=str(tiny_data)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    driver = [sys.executable, "-m", "tests.fault_driver", ",".join(PHASES), "sigkill", "--"]
    printed = zygote.run(
        [*driver, *flags, *FAULT_FLAGS, "--out", str(root / "{phase}-sigkill")],
        cwd=REPO, env=env, stdout=subprocess.PIPE, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    codes = {phase: int(code) for phase, code in (line.split() for line in printed.splitlines())}
    assert sorted(codes) == sorted(PHASES), printed
    return {
        phase: (root / f"{phase}-sigkill", codes[phase], temporaries(root / f"{phase}-sigkill")) for phase in PHASES
    }


@pytest.mark.xdist_group("killed-runs")  # one pytest-xdist worker: the fixture's subprocesses run once
@pytest.mark.parametrize("phase", PHASES)
def test_a_run_killed_in_any_phase_reads_as_interrupted(
    phase: str,
    killed_runs: dict[str, tuple[Path, int, list[str]]],
    tiny_config: ExperimentConfig,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out, code, left = killed_runs[phase]
    assert code == EXIT_CODES["interrupted"]
    # Killed while writing model.pt, the run leaves its temporary file: the next look at the runs removes it.
    assert len(left) == (phase == "saving")
    assert json.loads((out / "summary.json").read_text())["status"] == "running"  # as the dead writer left it
    check_run(out, *expected(phase, "sigkill"), tiny_config, capsys)


def check_run(
    out: Path,
    status: str,
    has_model: bool,
    config: ExperimentConfig,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["runs", "--runs-dir", str(out.parent)]) == 0
    (row,) = [line for line in capsys.readouterr().out.splitlines() if out.name in line]
    assert status in row
    assert read_run(out).status == status
    assert temporaries(out) == []

    code = main(["export", str(out)])
    printed = capsys.readouterr()
    assert (code == 0) == has_model == (out / "model.pt").is_file()
    if not has_model:
        assert printed.err.count("\n") == 1 and f"has no model.pt ({status})" in printed.err
        if status == "interrupted":  # killed after it trained, too: the message must not say it never trained
            assert "the process was killed before the run ended and saved it" in printed.err
        return
    # model.pt is the model the summary describes: the same zeros per layer, the same test accuracy.
    summary = json.loads((out / "summary.json").read_text())
    model = load_model(out / "model.pt")
    zeros = {name: int((module.weight == 0).sum()) for name, module in weight_layers(model)}
    assert zeros == {layer["name"]: layer["zeros"] for layer in summary["layers"]}
    assert accuracy(model, config) == summary["accuracy"]
