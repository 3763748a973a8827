"""The app's waits: time to first paint against a minimal Textual app, and quitting while a run goes.

    PYTHONPATH=$PWD python tests/benchmarks/bench_app_startup.py [--repeats 5] [--data-dir /tmp/prunetui-bench-data]

First paint: a fresh process, from before it starts to the app's Ready event (its first frame), headless at
80x24, for a minimal Textual app (a header, a text, a button, a footer) and for prunetui, taking turns so that
background load hits both alike. Goal: prunetui / minimal ≤ 1.5. Run it from the checkout to time: the probes
(`python -c`) import prunetui from the current directory, whatever PYTHONPATH says. The probes keep Python's
bytecode caches as any install has them (pip compiles them; Textual's come so), also where
PYTHONDONTWRITEBYTECODE is set: otherwise prunetui alone would be compiled from source at every start.

Quit while running: a fresh process opens prunetui on real Fashion-MNIST (copied from /usr/share/datasets),
starts a run, and a second into training asks to quit and answers yes; measured from the answer to the
process's exit. Goal: ≤ 2 s, with the run saved as `stopped`. Medians over `--repeats` fresh processes each.
Not a pytest test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PAINT_PROBE = """
import time
{app}

class Probe(App):
    def on_ready(self):
        print(time.time(), flush=True)
        self.exit()

Probe().run(headless=True, size=(80, 24))
"""
MINIMAL_PROBE = PAINT_PROBE.format(
    app="""
from textual.app import App as Base
from textual.widgets import Button, Footer, Header, Static

class App(Base):
    def compose(self):
        yield Header()
        yield Static("a minimal Textual app")
        yield Button("OK")
        yield Footer()
"""
)
PRUNETUI_PROBE = PAINT_PROBE.format(app="from prunetui.app.app import PruneApp as App")

QUIT_PROBE = """
import sys, time
import prunetui.app.app
from prunetui.app import run_app
from prunetui.app.app import PruneApp
from prunetui.app.screens.confirm_quit import ConfirmQuitScreen
from prunetui.engine import ExperimentConfig

class Probe(PruneApp):
    def on_ready(self):  # runs before PruneApp.on_ready, which builds the run's panels: start after it
        self.call_later(self.main_screen.action_start)
        self.set_interval(0.05, self._poll)
        self._training_since = None

    async def _poll(self):
        if self._training_since is None and self.main_screen.run_state.train_loss.xs:
            self._training_since = time.monotonic()
        if self._training_since is not None and time.monotonic() - self._training_since > 1.0:
            self._training_since = float("inf")
            await self.run_action("quit")
        if isinstance(self.screen, ConfirmQuitScreen) and self.screen.query("#yes"):
            print(time.time(), flush=True)
            self.screen.action_answer(True)  # what pressing y does

prunetui.app.app.PruneApp = Probe  # run_app opens the probe, headless (TEXTUAL_DRIVER), and ends as it would
run_app(ExperimentConfig(dataset="fashion-mnist", data_dir=sys.argv[1], device="cpu", epochs=5))
"""


HEADLESS_DRIVER = "textual.drivers.headless_driver:HeadlessDriver"


def timed(probe: str, *args: str, runs: str = "") -> float:
    """Seconds from starting the probe in a fresh process to its print (first paint), or from its print to its
    exit (quit). Runs and remembered settings go to temporary directories, never the user's."""
    with tempfile.TemporaryDirectory(prefix="prunetui-bench-config-") as config_dir:
        env = {**os.environ, "PRUNETUI_CONFIG_DIR": config_dir, "PRUNETUI_RUNS": runs or config_dir}
        env["TEXTUAL_DRIVER"] = HEADLESS_DRIVER  # for run_app, which opens the app as a user's terminal would
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # see the module's docstring
        started = time.time()
        result = subprocess.run(
            [sys.executable, "-c", probe, *args], capture_output=True, text=True, env=env, check=False, timeout=300
        )
        ended = time.time()
    if result.returncode != 0 or not result.stdout.strip():
        sys.exit(f"probe failed:\n{result.stderr[-2000:]}")
    printed = float(result.stdout.split()[-1])
    return printed - started if probe != QUIT_PROBE else ended - printed


def first_paints(repeats: int) -> tuple[float, float]:
    minimal: list[float] = []
    prunetui: list[float] = []
    for probe in (MINIMAL_PROBE, PRUNETUI_PROBE):  # not timed: writes the bytecode caches a first start writes
        timed(probe)
    for repeat in range(repeats):
        order = ((MINIMAL_PROBE, minimal), (PRUNETUI_PROBE, prunetui))
        for probe, times in order if repeat % 2 == 0 else order[::-1]:
            times.append(timed(probe))
    return statistics.median(minimal), statistics.median(prunetui)


def quit_while_running(repeats: int, data_dir: str) -> tuple[float, list[str]]:
    seconds, statuses = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="prunetui-bench-runs-") as runs:
            seconds.append(timed(QUIT_PROBE, data_dir, runs=runs))
            summaries = list(Path(runs).glob("*/summary.json"))
            statuses += [json.loads(path.read_text())["status"] for path in summaries] or ["no run saved"]
    return statistics.median(seconds), statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--data-dir", default="/tmp/prunetui-bench-data", help="filled from /usr/share/datasets")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, medians of {args.repeats} fresh processes each")
    minimal, prunetui = first_paints(args.repeats)
    print(
        f"first paint at 80×24: minimal Textual app {minimal:.2f} s, prunetui {prunetui:.2f} s, "
        f"ratio {prunetui / minimal:.2f} (goal ≤ 1.5)"
    )
    seconds, statuses = quit_while_running(args.repeats, args.data_dir)
    print(f"quit while a run goes, from answering yes to exit: {seconds:.2f} s (goal ≤ 2 s); runs saved as {statuses}")


if __name__ == "__main__":
    main()
