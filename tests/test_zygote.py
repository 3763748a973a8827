"""The tests' zygote (`tests/zygote.py`): a command forked from it is a process of its own, as a subprocess is."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests import zygote

PROBE = [sys.executable, "-m", "tests.zygote_probe"]


def test_a_forked_command_has_its_own_streams_directory_environment_and_exit_status(tmp_path: Path) -> None:
    env = {**os.environ, "ZYGOTE_PROBE": "set", "TMPDIR": str(tmp_path)}
    done = zygote.run(
        [*PROBE, "3"], input="to stderr\n", capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120
    )
    assert (done.returncode, done.stderr) == (3, "to stderr\n")
    seen = json.loads(done.stdout)
    assert seen.pop("pid") not in (os.getpid(), zygote._zygote().process.pid)
    assert seen == {
        "own session": False,
        "directory": str(tmp_path),
        "variable": "set",
        "arguments": ["3"],
        "temporary": str(tmp_path),
        "first path": str(tmp_path),
    }


@pytest.mark.parametrize("name", ["TERM", "KILL"])
def test_a_forked_command_in_a_session_of_its_own_ends_by_a_signal_as_a_subprocess_does(name: str) -> None:
    process = zygote.Popen(
        [*PROBE, "0", name], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True, start_new_session=True,
    )  # fmt: skip
    assert process.stdout is not None
    seen = json.loads(process.stdout.readline())
    assert seen["pid"] == process.pid and seen["own session"]
    with pytest.raises(subprocess.TimeoutExpired):
        process.wait(timeout=0.2)  # it waits for its line
    assert process.poll() is None
    process.communicate("go\n", timeout=60)
    assert process.returncode == -signal.Signals[f"SIG{name}"]


def test_only_python_dash_m_goes_through_the_zygote() -> None:
    with pytest.raises(ValueError, match="python -m MODULE"):
        zygote.Popen([sys.executable, "-c", "pass"])
