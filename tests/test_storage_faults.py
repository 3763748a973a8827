"""What is kept when things go wrong around the runs root: a second process, a kill, a damaged or copied file, a
directory that cannot be written. Each test reproduces one defect of issue 19 (its item number in the name's
comment) with a real subprocess, signal or file, and checks what a user then sees."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from prunetui.app.screens.runs import detail_text
from prunetui.cli import main
from prunetui.describe import percent
from prunetui.engine import ExperimentConfig
from prunetui.engine.analyses import read_sweep_csv
from prunetui.engine.storage.runs import list_runs, read_run, write_run_files
from tests import zygote
from tests.analysis_helpers import tiny_flags

REPO = Path(__file__).resolve().parent.parent
WAIT = 120  # seconds a subprocess may take to import torch and get where it is going, on a busy machine
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

pytestmark = pytest.mark.usefixtures("wide_console")


def environment(**more: str) -> dict[str, str]:
    """This environment for a subprocess that runs this checkout (after any PYTHONPATH given, so that a run of
    these tests against other sources tests those)."""
    paths = [os.environ.get("PYTHONPATH", ""), str(REPO)]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, paths)), **more}


def driven(phase: str, action: str, *run_args: str, **env: str) -> subprocess.Popen[bytes]:
    """`prunetui run RUN-ARGS…` in a subprocess, with ACTION armed in PHASE (`tests/faults.py`)."""
    command = [sys.executable, "-m", "tests.fault_driver", phase, action, "--", *run_args]
    return zygote.Popen(command, cwd=REPO, env=environment(**env), stdout=subprocess.DEVNULL)


def wait_stopped(process: subprocess.Popen[bytes]) -> None:
    """Until `process` has stopped itself (SIGSTOP); fails if it ends instead."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        assert process.poll() is None, f"ended with {process.returncode} before it stopped"
        state = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state == "T":
            return
        time.sleep(0.02)
    pytest.fail("the process never stopped")


@pytest.fixture
def frozen() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test stops: continued and ended whatever the test does."""
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.kill()
            process.wait()


def hand_made_run(root: Path, name: str, summary: dict[str, Any] | str, config: ExperimentConfig | None = None) -> Path:
    """A run directory as a finished (or damaged) run leaves it, written by hand: no torch needed."""
    directory = root / name
    directory.mkdir(parents=True)
    (directory / "config.toml").write_text((config or ExperimentConfig()).to_toml())
    text = summary if isinstance(summary, str) else json.dumps(summary)
    (directory / "summary.json").write_text(text)
    return directory


FINISHED = {"status": "finished", "complete": True, "started": "2026-01-01T10:00:00+0000", "accuracy": 0.5}


def runs_json(root: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """`prunetui runs --json`, parsed as strict JSON (no NaN, no Infinity)."""
    assert main(["runs", "--json", "--runs-dir", str(root)]) == 0

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    return json.loads(capsys.readouterr().out, parse_constant=refuse)


# -- 1: a run that is still starting is running, and no reader deletes it ---------------------------------------


def test_a_run_still_starting_is_running_and_cannot_be_deleted(
    tiny_config: ExperimentConfig,
    tmp_path: Path,
    frozen: list[subprocess.Popen[bytes]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The writer is frozen with its directory claimed and nothing written into it yet (no summary.json)."""
    root = tmp_path / "runs"
    process = driven("starting", "sigstop", *tiny_flags(tiny_config), "--runs-dir", str(root))
    frozen.append(process)
    wait_stopped(process)
    (directory,) = list(root.iterdir())
    assert not (directory / "summary.json").exists()

    (row,) = runs_json(root, capsys)
    assert row["status"] == "running"
    assert main(["runs", "--delete", directory.name, "--yes", "--runs-dir", str(root)]) == 2
    assert "still running" in capsys.readouterr().err
    assert main(["export", str(directory)]) == 2
    assert "it is still running" in capsys.readouterr().err
    assert directory.is_dir()

    process.send_signal(signal.SIGCONT)
    assert process.wait(timeout=WAIT) == 0
    run = read_run(directory)
    assert run.status == "finished" and run.config is not None and run.config.sparsity == tiny_config.sparsity
    assert (directory / "config.toml").is_file() and (directory / "model.pt").is_file()


# -- 12: a start that dies before training leaves no directory --------------------------------------------------


@pytest.mark.parametrize("how", ["sigkill", "importerror"])
def test_a_start_that_dies_importing_torch_leaves_no_run_directory(
    how: str, tiny_config: ExperimentConfig, tmp_path: Path
) -> None:
    """An out-of-memory kill (SIGKILL) or a broken install while torch is imported: a torch that does just that."""
    fake = tmp_path / "fake" / "torch"
    fake.mkdir(parents=True)
    dies = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)" if how == "sigkill" else "raise ImportError('no')"
    (fake / "__init__.py").write_text(dies + "\n")
    root = tmp_path / "runs"
    env = environment()
    env["PYTHONPATH"] = os.pathsep.join([str(fake.parent), env["PYTHONPATH"]])
    result = subprocess.run(
        [sys.executable, "-m", "prunetui", "run", *tiny_flags(tiny_config), "--runs-dir", str(root)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=WAIT,
    )  # fmt: skip
    assert result.returncode != 0 and "importing torch" in result.stdout
    assert not root.exists() or list(root.iterdir()) == []


# -- 2: one sweep at a time in a sweep directory ----------------------------------------------------------------


def test_a_second_sweep_on_a_directory_in_use_is_refused_naming_the_first(
    tiny_config: ExperimentConfig,
    tmp_path: Path,
    frozen: list[subprocess.Popen[bytes]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    directory = tmp_path / "sweep"
    flags = [*tiny_flags(tiny_config), "--methods", "l1", "--sparsities", "0.5,0.75", "--out", str(directory)]
    first = zygote.Popen(
        [sys.executable, "-m", "prunetui", "sweep", *flags], cwd=REPO, env=environment(), stdout=subprocess.DEVNULL
    )
    frozen.append(first)
    deadline = time.monotonic() + WAIT
    while not (directory / "sweep.toml").exists():  # written once the first holds the directory and its data
        assert time.monotonic() < deadline and first.poll() is None
        time.sleep(0.02)
    first.send_signal(signal.SIGSTOP)

    assert main(["sweep", *flags]) == 1
    printed = capsys.readouterr()
    (line,) = [line for line in printed.out.splitlines() if "in use" in line]
    assert f"{directory} is in use by another sweep (pid {first.pid} on " in line and "since 20" in line
    assert "sweep.csv" not in printed.out or (directory / "sweep.csv").exists()

    first.send_signal(signal.SIGCONT)
    assert first.wait(timeout=WAIT) == 0
    assert len(read_sweep_csv((directory / "sweep.csv").read_text())) == 2  # nothing lost: both points
    assert len(list((directory / "runs").iterdir())) == 2


# -- 9: a serial seed group records each seed in place -----------------------------------------------------------


def test_a_seed_group_killed_mid_seed_keeps_that_seed_s_files_in_its_run_directory(
    tiny_config: ExperimentConfig, tmp_path: Path
) -> None:
    root, temporary = tmp_path / "runs", tmp_path / "tmp"
    temporary.mkdir()
    process = driven("fine-tune", "sigkill", *tiny_flags(tiny_config), "--seeds", "0-1", "--runs-dir", str(root),
                     TMPDIR=str(temporary))  # fmt: skip
    assert process.wait(timeout=WAIT) == -signal.SIGKILL
    (run,) = list_runs(root)  # seed 0, killed in its fine-tune; seed 1 never started, so has no directory
    assert run.status == "interrupted" and run.config is not None and run.config.seed == 0
    assert run.group == f"seeds-{run.name}"
    assert (run.path / "config.toml").is_file() and (run.path / "history.csv").is_file()
    assert (run.path / "dense.pt").is_file()  # written when it pruned, before the kill in the fine-tune
    assert list(temporary.iterdir()) == []  # nothing recorded elsewhere


# -- 10: a damaged summary.json is unreadable, and the app and export agree ------------------------------------


def test_a_damaged_summary_is_unreadable_and_the_app_and_export_agree(
    tiny_config: ExperimentConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "runs" / "run"
    assert main(["run", *tiny_flags(tiny_config), "--sparsity", "0.5", "--out", str(out)]) == 0
    summary = (out / "summary.json").read_text()
    (out / "summary.json").write_text(summary[: len(summary) // 2])  # cut short, as a full disk or an editor leaves it
    capsys.readouterr()

    (row,) = runs_json(out.parent, capsys)
    assert row["status"] == "unreadable"
    assert main(["export", str(out)]) == 0
    exported = capsys.readouterr().out
    assert "0 % sparse" not in exported and "Nothing is pruned" not in exported
    assert "They pay off in storage only" in exported  # about the zeros it has: half its prunable weights
    detail = detail_text(read_run(out))
    assert "unreadable" in detail and "saved no model" not in detail and "e exports it" in detail


# -- 13: a symbolic link, a runs root that cannot be written ----------------------------------------------------


def test_deleting_a_symlinked_run_removes_the_link_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "runs"
    target = hand_made_run(tmp_path / "elsewhere", "20260101-100000-abcdef", FINISHED)
    root.mkdir()
    (root / "kept-run").symlink_to(target)
    assert main(["runs", "--delete", "kept-run", "--yes", "--runs-dir", str(root)]) == 0
    assert "Deleted kept-run" in capsys.readouterr().out
    assert list(root.iterdir()) == []  # no hidden link left behind
    assert read_run(target).status == "finished"  # the run itself is not the link's to delete


@pytest.mark.parametrize("how", ["under a file", "read-only"])
def test_a_sweep_whose_runs_root_cannot_be_written_says_so_and_names_no_results(
    how: str, tiny_config: ExperimentConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if how == "read-only":
        if AS_ROOT:
            pytest.skip("root writes into a read-only directory all the same, so chmod cannot refuse it")
        (tmp_path / "runs").mkdir(mode=0o500)
        root = tmp_path / "runs"
    else:
        (tmp_path / "file").write_text("")
        root = tmp_path / "file" / "runs"
    code = main(["sweep", *tiny_flags(tiny_config), "--methods", "l1", "--sparsities", "0.5", "--runs-dir", str(root)])
    printed = capsys.readouterr().out
    assert code == 1
    assert "cannot write to" in printed
    assert "sweep.csv" not in printed and "no results saved in" in printed


def children(pid: int) -> dict[int, bytes]:
    """The processes `pid` started, by pid, with their command lines."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found[int(stat.parent.name)] = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):  # ended meanwhile
            continue
    return found


# Ray's control store declares a node dead after 5 health checks 3 s apart have failed: a sweep whose raylet was
# killed took 8-10 s, or 24-25 s where it waited for that (1 run in 3). Ray reads its settings from RAY_* variables.
RAY_NOTICES_SOONER = {"RAY_health_check_period_ms": "500", "RAY_health_check_failure_threshold": "2"}


@pytest.mark.ray
def test_a_ray_sweep_whose_node_dies_ends_with_one_prunetui_line(tiny_config: ExperimentConfig, tmp_path: Path) -> None:
    """The raylet killed while the points run as Ray tasks: Ray ends the sweep's process at once, from C++."""
    pytest.importorskip("ray")
    directory = tmp_path / "sweep"
    flags = [*tiny_flags(tiny_config), "--finetune-epochs", "30", "--methods", "l1,random", "--sparsities", "0.5"]
    sweep = zygote.Popen(
        [sys.executable, "-m", "prunetui", "sweep", *flags, "--ray", "--out", str(directory)],
        cwd=REPO, env=environment(**RAY_NOTICES_SOONER), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + WAIT
        while not (directory / "dense.pt").exists():  # the points are Ray tasks from now on
            assert time.monotonic() < deadline and sweep.poll() is None
            time.sleep(0.05)
        (raylet,) = [pid for pid, command in children(sweep.pid).items() if b"raylet" in command]
        os.kill(raylet, signal.SIGKILL)
        output, _ = sweep.communicate(timeout=WAIT)
    finally:
        if sweep.poll() is None:
            sweep.kill()
            sweep.communicate()
    assert sweep.returncode == 1
    # Ray's own log lines aside, one line of prunetui's says how it ended: its own, or its watcher's.
    ending = [line for line in output.splitlines() if line.startswith(("prunetui: error:", "failed:"))]
    assert len(ending) == 1 and "Ray" in ending[0], output[-2000:]


# -- 14: the small ones -------------------------------------------------------------------------------------------


def test_runs_on_a_runs_root_that_is_a_file_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "runs").write_text("")
    assert main(["runs", "--runs-dir", str(tmp_path / "runs")]) == 2
    printed = capsys.readouterr()
    assert printed.err.count("\n") == 1 and "is a file, not a directory of runs" in printed.err
    assert "No runs" not in printed.out


def test_a_listing_during_a_delete_shows_no_phantom_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another process deletes a run after the listing found its directory and before it was read."""
    root = tmp_path / "runs"
    kept = hand_made_run(root, "20260101-100000-abcdef", FINISHED)
    doomed = hand_made_run(root, "20260101-110000-abcdef", FINISHED)
    real = read_run

    def read_after_a_delete(path: Path) -> Any:
        if path == doomed and path.exists():
            command = [
                sys.executable,
                "-m",
                "prunetui",
                "runs",
                "--delete",
                str(path),
                "--yes",
                "--runs-dir",
                str(root),
            ]
            subprocess.run(command, cwd=REPO, env=environment(), check=True, capture_output=True, timeout=WAIT)
        return real(path)

    monkeypatch.setattr("prunetui.engine.storage.runs.read_run", read_after_a_delete)
    assert [row["name"] for row in runs_json(root, capsys)] == [kept.name]


def test_minus_zero_is_zero_in_words_and_in_a_point_s_directory(
    tiny_config: ExperimentConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert percent(-0.0, 0) == "0 %" and percent(-0.0) == "0.0 %"
    directory = tmp_path / "sweep"
    flags = ["--methods", "l1", "--sparsities", "-0.0", "--finetune-epochs", "0", "--out", str(directory)]
    assert main(["sweep", *tiny_flags(tiny_config), *flags]) == 0
    printed = capsys.readouterr().out
    assert "l1:layer:one-shot at 0 %" in printed and "-0 %" not in printed and "-0.0 %" not in printed
    assert [path.name for path in (directory / "runs").iterdir()] == ["l1-layer-one-shot-0-seed0"]


def test_summaries_and_runs_json_write_null_for_numbers_that_are_not_finite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "runs"
    # A summary from a worker with a loss that diverged, landing here; and one an older version wrote.
    landed = root / "20260101-120000-abcdef"
    landed.mkdir(parents=True)
    worker_summary = {**FINISHED, "test_loss": float("nan"), "compression": float("inf")}
    write_run_files(landed, {"config.toml": ExperimentConfig().to_toml().encode(),
                             "summary.json": json.dumps(worker_summary).encode()})  # fmt: skip
    hand_made_run(root, "20260101-100000-abcdef", '{"status": "finished", "accuracy": NaN, "sparsity": Infinity}')

    written = json.loads((landed / "summary.json").read_text(), parse_constant=lambda c: pytest.fail(c))
    assert (written["test_loss"], written["compression"]) == (None, None)
    rows = {row["name"]: (row["accuracy"], row["compression"], row["sparsity"]) for row in runs_json(root, capsys)}
    assert rows == {landed.name: (0.5, None, None), "20260101-100000-abcdef": (None, None, None)}


def test_a_status_prunetui_never_writes_is_unreadable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "runs"
    hand_made_run(root, "20260101-100000-abcdef", {**FINISHED, "status": "totally-fine"})
    hand_made_run(root, "20260101-110000-abcdef", {**FINISHED, "status": ["finished"]})
    assert {row["status"] for row in runs_json(root, capsys)} == {"unreadable"}


def test_export_of_a_directory_that_is_not_a_run_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "notes.txt").write_text("mine")
    (tmp_path / "runs").mkdir()
    monkeypatch.chdir(tmp_path / "runs")  # as `prunetui export ../x` from the runs root
    assert main(["export", "../x", "--runs-dir", str(tmp_path / "runs")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "../x is not a run" in error and "model.pt" not in error


def test_out_naming_the_runs_root_is_refused(
    tiny_config: ExperimentConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "runs"
    hand_made_run(root, "20260101-100000-abcdef", FINISHED)
    assert main(["run", *tiny_flags(tiny_config), "--runs-dir", str(root), "--out", str(root)]) == 2
    printed = capsys.readouterr()
    assert "is the runs root" in printed.err and printed.out == ""
    assert sorted(path.name for path in root.iterdir()) == ["20260101-100000-abcdef"]


def test_two_copies_of_one_seed_s_run_count_once_in_its_group(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, group = tmp_path / "runs", "seeds-20260101-100000-abcdef"
    for seed, accuracy in ((0, 0.5), (1, 0.7)):
        name = f"20260101-10000{seed}-abcdef"
        hand_made_run(root, name, {**FINISHED, "group": group, "accuracy": accuracy}, ExperimentConfig(seed=seed))
    shutil.copytree(root / "20260101-100000-abcdef", root / "20260101-100000-abcdef-copy")  # seed 0 again
    aggregate = next(row for row in runs_json(root, capsys) if row["status"] == "aggregate")
    assert (aggregate["n"], aggregate["accuracy"]) == (2, pytest.approx(0.6))


def test_seeds_beyond_the_largest_seed_name_seeds(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--seeds", "99999999999999999999"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("prunetui: error: invalid --seeds: 99999999999999999999")
