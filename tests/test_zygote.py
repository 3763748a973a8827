"""The tests' zygote (`tests/zygote.py`): a command forked from it is a process of its own, and ends, as the same
command in a subprocess does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests import zygote

PROBE = [sys.executable, "-m", "tests.zygote_probe"]
REPO = Path(__file__).resolve().parent.parent


def seen(done: subprocess.CompletedProcess[str]) -> tuple[int, dict[str, Any], list[str]]:
    """Exit status, what the probe saw but its pid, and the lines of stderr but a traceback's inner lines."""
    found = json.loads(done.stdout)
    found.pop("pid")
    errors = [line for line in done.stderr.splitlines() if not line.startswith(" ")]
    return done.returncode, found, errors


@pytest.mark.parametrize("ending", [["3"], ["0", "TERM"], ["0", "KILL"], ["0", "INT"]], ids=" ".join)
def test_a_forked_command_runs_and_ends_as_the_same_command_in_a_subprocess(ending: list[str], tmp_path: Path) -> None:
    """Its directory, environment, arguments, temporary directory, streams, threads and exit handlers, and its
    exit status: a code, a signal, or an uncaught Ctrl+C (the traceback, then the handlers, then SIGINT)."""
    env = {**os.environ, "ZYGOTE_PROBE": "set", "TMPDIR": str(tmp_path), "PYTHONPATH": str(REPO)}
    options: dict[str, Any] = {"input": "a line\n", "capture_output": True, "text": True, "cwd": tmp_path, "env": env}
    forked = seen(zygote.run([*PROBE, *ending], timeout=120, **options))
    assert forked == seen(subprocess.run([*PROBE, *ending], timeout=120, **options))
    code, found, errors = forked
    assert found["directory"] == found["temporary"] == found["first path"] == str(tmp_path)
    assert errors[0] == "a line"
    if ending[1:] not in (["TERM"], ["KILL"]):  # killed, nothing more of it runs
        assert errors[-2:] == ["thread ran", "exit handler ran"]
    if ending[1:] == ["INT"]:
        assert found["SIGINT"] == "handled"
        assert code == -signal.SIGINT and "KeyboardInterrupt" in errors


def test_a_forked_command_ignores_sigint_as_a_subprocess_does_when_this_process_ignores_it(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    options: dict[str, Any] = {"input": "a line\n", "capture_output": True, "text": True, "cwd": tmp_path, "env": env}
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        ignoring = [
            seen(launch([*PROBE, "0", "INT"], timeout=120, **options)) for launch in (zygote.run, subprocess.run)
        ]
    finally:
        signal.signal(signal.SIGINT, before)
    assert ignoring[0] == ignoring[1]
    code, found, errors = ignoring[0]
    assert found["SIGINT"] == "ignored" and code == 0 and "KeyboardInterrupt" not in errors  # the Ctrl+C was lost
    handled = seen(zygote.run([*PROBE, "0", "INT"], timeout=120, **options))  # the zygote kept no state of it
    assert handled[1]["SIGINT"] == "handled" and handled[0] == -signal.SIGINT


def test_a_forked_command_in_a_session_of_its_own_is_waited_for_as_a_subprocess_is() -> None:
    process = zygote.Popen(
        [*PROBE, "0", "TERM"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True, start_new_session=True,
    )  # fmt: skip
    assert process.stdout is not None
    found = json.loads(process.stdout.readline())
    assert found["pid"] == process.pid and found["own session"]
    with pytest.raises(subprocess.TimeoutExpired):
        process.wait(timeout=0.2)  # it waits for its line
    assert process.poll() is None
    process.communicate("go\n", timeout=60)
    assert process.returncode == -signal.SIGTERM
    assert Path(f"/proc/{process.pid}").exists() is False  # reaped once waited for, not before


def test_only_python_dash_m_goes_through_the_zygote() -> None:
    with pytest.raises(ValueError, match="python -m MODULE"):
        zygote.Popen([sys.executable, "-c", "pass"])
    with pytest.raises(ValueError, match="does not take pass_fds"):
        zygote.Popen([*PROBE, "0"], pass_fds=(5,))
