"""The app, and `prunetui run`, in a real terminal (a pseudo-terminal it controls) whose SSH session drops (the
terminal closes: the kernel sends SIGHUP) or that is sent SIGTERM mid-training: the run stops and saves itself
as stopped, with its model, and the process ends."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import signal
import struct
import sys
import termios
import time
from pathlib import Path

import pytest

from prunetui.engine import ExperimentConfig
from prunetui.engine.storage.export import load_model
from tests import zygote

REPO = Path(__file__).resolve().parent.parent


def drain(master: int, seconds: float) -> bytes:
    """What the app drew in the next `seconds` (it must be read, or the app blocks on a full terminal)."""
    got = b""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([master], [], [], left)
        if ready:
            try:
                got += os.read(master, 65536)
            except OSError:  # the app has gone
                break
    return got


@pytest.mark.parametrize("how", ["terminal closed", "SIGTERM"])
def test_the_app_saves_its_run_when_its_terminal_goes(how: str, tiny_config: ExperimentConfig, tmp_path: Path) -> None:
    settings = tmp_path / "long.toml"
    settings.write_text(tiny_config.replace(epochs=500).to_toml())  # still training when the terminal goes
    root = tmp_path / "runs"
    master, child_end = pty.openpty()
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 44, 140, 0, 0))
    sized = {key: value for key, value in os.environ.items() if key not in ("COLUMNS", "LINES")}  # xdist sets 80x24
    env = {**sized, "PYTHONPATH": str(REPO), "TERM": "xterm-256color"}
    app = zygote.Popen(
        [sys.executable, "-m", "prunetui", "--config", str(settings), "--runs-dir", str(root)],
        stdin=child_end, stdout=child_end, stderr=child_end, cwd=REPO, env=env,
        start_new_session=True, controlling_terminal=True,
    )  # fmt: skip
    os.close(child_end)
    try:
        deadline, drawn = time.monotonic() + 120, b""
        while b"ready: set up an experiment" not in drawn:  # painted (a focused field's cursor blinks on after)
            assert time.monotonic() < deadline and app.poll() is None, f"the app did not start: {drawn[-2000:]!r}"
            drawn += drain(master, 0.2)
        while b"Sparsity per layer" not in drawn:  # the rest of the form and the run's panels: after the first frame
            assert time.monotonic() < deadline and app.poll() is None, f"the app did not finish: {drawn[-2000:]!r}"
            drawn += drain(master, 0.1)
        os.write(master, b"\x12")  # ctrl+r: start
        while not list(root.glob("*/history.csv")):  # the first epoch has ended: it trains
            assert time.monotonic() < deadline and app.poll() is None, f"the run never got going: {drawn[-2000:]!r}"
            drawn += drain(master, 0.1)
        if how == "SIGTERM":
            app.send_signal(signal.SIGTERM)
            drain(master, 0.0)
        else:
            os.close(master)  # the SSH session drops: the kernel hangs up the terminal, SIGHUP
        deadline = time.monotonic() + 90
        while app.poll() is None:
            assert time.monotonic() < deadline, "the app did not end"
            if how == "SIGTERM":
                drain(master, 0.1)
            else:
                time.sleep(0.05)
    finally:
        if app.poll() is None:
            app.kill()
        if how == "SIGTERM":
            os.close(master)
    assert app.returncode == 128 + (signal.SIGTERM if how == "SIGTERM" else signal.SIGHUP)
    (run,) = [path for path in root.iterdir() if path.is_dir()]
    summary = json.loads((run / "summary.json").read_text())
    assert (summary["status"], summary["complete"]) == ("stopped", False)
    assert sum(p.numel() for p in load_model(run / "model.pt").parameters()) == summary["total_parameters"]


def test_a_cli_run_saves_itself_when_its_terminal_closes(tiny_config: ExperimentConfig, tmp_path: Path) -> None:
    """`prunetui run` over SSH, the session drops: SIGHUP, then every write to the terminal fails (EIO)."""
    settings = tmp_path / "long.toml"
    settings.write_text(tiny_config.replace(epochs=500).to_toml())
    out = tmp_path / "run"
    master, child_end = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(REPO), "TERM": "xterm-256color"}
    run = zygote.Popen(
        [sys.executable, "-m", "prunetui", "run", "--config", str(settings), "--out", str(out)],
        stdin=child_end, stdout=child_end, stderr=child_end, cwd=REPO, env=env,
        start_new_session=True, controlling_terminal=True,
    )  # fmt: skip
    os.close(child_end)
    try:
        deadline, drawn = time.monotonic() + 120, b""
        while not (out / "history.csv").is_file():
            assert time.monotonic() < deadline and run.poll() is None, f"the run never got going: {drawn[-2000:]!r}"
            drawn += drain(master, 0.1)
        os.close(master)
        run.wait(timeout=90)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 130
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["status"], summary["complete"]) == ("stopped", False)
    assert sum(p.numel() for p in load_model(out / "model.pt").parameters()) == summary["total_parameters"]
