"""SIGTERM (`kill`) and SIGHUP (a closed terminal, a dropped SSH session) stop a run as Ctrl+C does: between
batches, saved as `stopped` with its model. Each case is a subprocess that receives the real signal mid-training
(`tests/signal_driver.py`)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from prunetui.cli.run_command import STOP_SIGNALS, stop_on_interrupt
from prunetui.engine import ExperimentConfig
from prunetui.engine.analyses import Progress, SweepSpec
from prunetui.engine.analyses.sweep import Sweep
from prunetui.engine.storage.export import load_model
from prunetui.engine.storage.scratch import PREFIXES, remove_orphans
from tests import zygote
from tests.analysis_helpers import tiny_flags

REPO = Path(__file__).resolve().parent.parent
STOPPED = 130  # the exit code of a stopped run, whichever signal stopped it


@pytest.fixture
def scratch() -> Iterator[Path]:
    """The subprocess's TMPDIR: a short path, as users' are, where multiprocessing's fork server can put its socket
    (a Unix socket's path has at most 107 bytes, and pytest's tmp_path leaves too few: workers would be spawned)."""
    path = Path(tempfile.mkdtemp(prefix="sig-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def driven(signal_name: str, args: list[str], scratch: Path, nohup: bool = False) -> subprocess.CompletedProcess[str]:
    """`prunetui ARGS…` in a subprocess that sends itself the signal mid-epoch; its temporary files in `scratch`;
    with `nohup`, started with SIGHUP ignored, as `nohup` starts a command."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        "TMPDIR": str(scratch),
        "COLUMNS": "200",
    }
    command = [sys.executable, "-m", "tests.signal_driver", *(["--nohup"] if nohup else []), signal_name, "--", *args]
    return zygote.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


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
def test_a_run_stops_and_saves_on(
    signal_name: str, tiny_config: ExperimentConfig, tmp_path: Path, scratch: Path
) -> None:
    out = tmp_path / "run"
    done = driven(signal_name, ["run", *tiny_flags(tiny_config), "--out", str(out)], scratch)
    assert_stopped_quietly(done, signal_name)
    assert_saved_stopped(out)


def test_a_second_sigterm_ends_a_stopping_run_at_once(
    tiny_config: ExperimentConfig, tmp_path: Path, scratch: Path
) -> None:
    """`kill`, then `kill` again while the run stops: the second ends the process by SIGTERM, as it says."""
    done = driven("TERM,TERM", ["run", *tiny_flags(tiny_config), "--out", str(tmp_path / "run")], scratch)
    assert done.returncode == -signal.SIGTERM, done.stdout + done.stderr
    assert done.stdout.count("SIGTERM: stopping after this batch… (SIGTERM again to abort)") == 1
    assert "Traceback" not in done.stdout + done.stderr


def test_a_first_signal_leaves_the_second_its_own_action_and_a_second_ctrl_c_aborts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The first SIGTERM stops, and leaves SIGTERM to the kernel's default: a second one ends the process even while
    its main thread is held in native code. Ctrl+C likewise, and its second raises KeyboardInterrupt. After, every
    handler is as it was."""
    stops: list[str] = []
    console = Console(file=sys.stdout, width=200)
    before = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    with pytest.raises(KeyboardInterrupt), stop_on_interrupt(lambda: stops.append("stop"), console):
        assert all(callable(signal.getsignal(signum)) for signum in STOP_SIGNALS)
        os.kill(os.getpid(), signal.SIGTERM)
        assert stops == ["stop"] and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
        os.kill(os.getpid(), signal.SIGINT)
        assert stops == ["stop", "stop"] and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        os.kill(os.getpid(), signal.SIGINT)  # the second Ctrl+C
    assert {signum: signal.getsignal(signum) for signum in STOP_SIGNALS} == before
    assert capsys.readouterr().out.count("stopping after this batch") == 2


def test_under_nohup_a_hangup_leaves_the_run_going(
    tiny_config: ExperimentConfig, tmp_path: Path, scratch: Path
) -> None:
    """`nohup prunetui run … &`, then the SSH session drops: SIGHUP was ignored when the command began, so it stays
    ignored and the run ends as it would have (the app follows such a run from its recorded events)."""
    out = tmp_path / "run"
    done = driven("HUP", ["run", *tiny_flags(tiny_config), "--out", str(out)], scratch, nohup=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SIGHUP" not in done.stdout + done.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["status"], summary["complete"]) == ("finished", True)


def test_a_seed_group_stops_and_saves_its_running_seed_on_sighup(
    tiny_config: ExperimentConfig, tmp_path: Path, scratch: Path
) -> None:
    root = tmp_path / "runs"
    done = driven("HUP", ["run", *tiny_flags(tiny_config), "--seeds", "0,1", "--runs-dir", str(root)], scratch)
    assert_stopped_quietly(done, "HUP")
    assert "seed 1 not started" in done.stdout
    (run,) = [path for path in root.iterdir() if path.is_dir()]  # seed 0, stopped; seed 1 never started
    assert_saved_stopped(run)
    assert list(scratch.iterdir()) == []  # the seed's temporary directory is gone


@pytest.mark.parametrize(
    ("command", "signal_name"),
    [
        (["sweep", "--methods", "l1", "--sparsities", "0.5"], "TERM"),
        (["sensitivity", "--amounts", "0.5"], "HUP"),
    ],
)
def test_an_analysis_stops_on(
    command: list[str], signal_name: str, tiny_config: ExperimentConfig, tmp_path: Path, scratch: Path
) -> None:
    flags = tiny_flags(tiny_config)
    if command[0] == "sensitivity":  # it takes no fine-tuning
        at = flags.index("--finetune-epochs")
        del flags[at : at + 2]
    done = driven(signal_name, [*command, *flags, "--out", str(tmp_path / "out")], scratch)
    assert_stopped_quietly(done, signal_name)
    assert list(scratch.iterdir()) == []


# -- a parallel sweep: its workers and their scratch directories (`engine.storage.scratch`) -------------------


@pytest.fixture(scope="module")
def trained_dense(tmp_path_factory: pytest.TempPathFactory) -> Callable[[ExperimentConfig], Path]:
    """A sweep directory holding the dense model of `config` (dense.pt and sweep.toml, no point yet), made here
    once per settings: a sweep started on a copy goes straight to its points' workers, as a resumed one does,
    instead of training it in its own process first (about 2 s of CPU, the first optimizer's import of torch's
    compiler included). Settings or data that differ from the sweep's make it refuse the directory."""
    made: dict[ExperimentConfig, Path] = {}

    def directory(config: ExperimentConfig) -> Path:
        if config not in made:
            made[config] = tmp_path_factory.mktemp("dense") / "sweep"
            spec = SweepSpec(config, ("l1",), (0.5,))
            sweep = Sweep(spec, made[config], download=False)
            for event in sweep.run():
                if isinstance(event, Progress) and event.stage != spec.dense_stage(config.seed):
                    sweep.stop()  # dense.pt is saved: its first point has begun, and is dropped
            assert (made[config] / "dense.pt").is_file(), event
        return made[config]

    return directory


@pytest.fixture
def start_sweep(
    tiny_config: ExperimentConfig, trained_dense: Callable[[ExperimentConfig], Path], tmp_path: Path, scratch: Path
) -> Callable[..., subprocess.Popen[str]]:
    """`start_sweep(finetune_epochs, **popen)`: `prunetui sweep --jobs 2` of two points, in a session of its own
    (a terminal's process group), in tmp_path/sweep, whose dense model is trained already."""

    def start(finetune_epochs: int = 40, **popen: Any) -> subprocess.Popen[str]:
        config = tiny_config.replace(finetune_epochs=finetune_epochs)  # long enough to be caught mid-point
        flags = tiny_flags(config)
        flags[flags.index("--finetune-epochs") + 1] = str(finetune_epochs)
        shutil.copytree(trained_dense(config), tmp_path / "sweep")
        command = [
            *[sys.executable, "-m", "prunetui", "sweep", "--methods", "l1", "--sparsities", "0.5,0.75", "--jobs", "2"],
            *[*flags, "--out", str(tmp_path / "sweep")],
        ]
        env = {**environment(scratch), "PYTHONPATH": str(REPO)}
        options: dict[str, Any] = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE} | popen
        return zygote.Popen(command, cwd=REPO, env=env, text=True, start_new_session=True, **options)

    return start


def environment(scratch: Path) -> dict[str, str]:
    return {**os.environ, "TMPDIR": str(scratch), "COLUMNS": "200"}


def scratch_dirs(scratch: Path) -> list[Path]:
    return sorted(path for path in scratch.iterdir() if path.name.startswith(PREFIXES))


def wait_until(condition: Callable[[], object], what: str, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def points_running(scratch: Path, count: int = 2) -> list[int]:
    """The ids of the worker processes, once `count` run a point (each point's scratch directory names its owner).
    A point of 8 fine-tuning epochs may end before a worker started late under load begins the other: wait for
    one only, unless the test needs both at once (40 epochs)."""
    wait_until(lambda: len(scratch_dirs(scratch)) >= count, f"{count} point(s) to start")
    return [int(path.name.split("-")[2]) for path in scratch_dirs(scratch)]


def ended(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize("signal_name", ["TERM", "INT", "HUP"])
def test_a_parallel_sweep_stops_quietly_and_cleans_up_on(
    signal_name: str, start_sweep: Callable[..., subprocess.Popen[str]], scratch: Path
) -> None:
    """SIGTERM to the caller; Ctrl+C and a closed terminal's SIGHUP to the whole process group, as a terminal
    sends them: the caller stops, its workers end without a traceback (no BrokenPipeError), nothing is left."""
    process = start_sweep()
    points_running(scratch)
    signum = signal.Signals[f"SIG{signal_name}"]
    if signal_name == "TERM":
        process.send_signal(signum)
    else:
        os.killpg(process.pid, signum)
    out, err = process.communicate(timeout=120)
    assert process.returncode == STOPPED, out + err
    assert "Traceback" not in out + err and "Error" not in err
    assert scratch_dirs(scratch) == []


def test_a_killed_sweep_leaves_no_scratch_directories(
    start_sweep: Callable[..., subprocess.Popen[str]], scratch: Path
) -> None:
    """The caller SIGKILLed: its workers notice, unwind their points and end."""
    process = start_sweep()
    workers = points_running(scratch)
    process.kill()
    process.communicate(timeout=60)
    wait_until(lambda: all(ended(pid) for pid in workers), "the workers to end", timeout=30)
    assert scratch_dirs(scratch) == []


def test_a_killed_worker_leaves_no_scratch_directory(
    start_sweep: Callable[..., subprocess.Popen[str]], tmp_path: Path, scratch: Path
) -> None:
    """A worker SIGKILLed mid-point: its point is run again, and its scratch directory removed."""
    process = start_sweep(finetune_epochs=8)
    victim = points_running(scratch, 1)[0]
    os.kill(victim, signal.SIGKILL)
    out, err = process.communicate(timeout=240)
    assert process.returncode == 0, out + err
    assert "Traceback" not in out + err
    assert scratch_dirs(scratch) == []
    assert len(list((tmp_path / "sweep" / "runs").iterdir())) == 2  # both points, the killed one redone


def test_a_sweep_piped_into_head_leaves_no_scratch_directories(
    start_sweep: Callable[..., subprocess.Popen[str]], scratch: Path
) -> None:
    """`prunetui sweep --jobs 2 | head -1`: the reader goes, the sweep stops at its next line and cleans up."""
    process = start_sweep(finetune_epochs=8)
    assert process.stdout is not None
    assert process.stdout.readline().startswith("sweep of 2 points")
    points_running(scratch, 1)
    process.stdout.close()  # as head does after its line
    _, err = process.communicate(timeout=240)
    assert process.returncode in (0, STOPPED), err  # stopped at the first point's line, or done by then
    assert "Traceback" not in err
    assert scratch_dirs(scratch) == []


def test_a_later_start_removes_scratch_directories_whose_owner_died(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    orphan = tmp_path / f"prunetui-point-{int(dead.stdout)}-abc"
    ours = tmp_path / f"prunetui-seed-{os.getpid()}-abc"
    unrelated = tmp_path / "prunetui-point-notapid"
    for directory in (orphan, ours, unrelated):
        (directory / "run").mkdir(parents=True)
    assert remove_orphans(tmp_path) == [orphan]
    assert sorted(tmp_path.iterdir()) == sorted([ours, unrelated])
