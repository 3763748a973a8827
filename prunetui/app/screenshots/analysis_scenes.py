"""Screenshots of the Runs, Sweep, Sensitivity and Weights screens, for `python -m prunetui.app.screenshots`.

Saves a few real runs into a runs root of their own first (`analyses`, in the script's fresh folder), so the pictures
show only what this script made.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input, Select

from prunetui.app.app import PruneApp
from prunetui.app.screens.analysis import AnalysisScreen
from prunetui.app.screens.runs import RunsScreen
from prunetui.app.screens.weights import WeightsScreen
from prunetui.app.screenshots.pilot import SMALL, WIDE, until
from prunetui.engine.core.config import ExperimentConfig
from prunetui.engine.storage.runs import DENSE_MODEL_FILE, claim_new_run_dir, runs_root


def record_runs(config: ExperimentConfig) -> list[Path]:
    """The given run and three one-shot variants, saved under the runs root; the given one first."""
    from prunetui.engine.core.experiment import Experiment
    from prunetui.engine.storage.recording import record_claimed

    variants = [
        config,
        config.replace(schedule="one-shot", scope="global", sparsity=0.9),
        config.replace(schedule="one-shot", criterion="random", sparsity=0.9),
        config.replace(schedule="one-shot", criterion="ln-structured", sparsity=0.5),
    ]
    directories = []
    for variant in variants:
        lock = claim_new_run_dir(runs_root(), variant)
        for _ in record_claimed(Experiment(variant), lock):
            pass
        directories.append(lock.directory)
    return directories


async def analyses(out: Path, config: ExperimentConfig) -> None:
    """In a runs root of its own, named relative to the folder the script works in (`__main__`)."""
    os.environ["PRUNETUI_RUNS"] = "analyses"  # a folder of the script's own: the titles name it so
    runs = record_runs(config)
    for size, suffix in ((WIDE, ""), (SMALL, "-80x24")):
        async with PruneApp(config).run_test(size=size) as pilot:
            await runs_screen(pilot, out, suffix)
            await sweep_screen(pilot, out, suffix)
            await sensitivity_screen(pilot, out, suffix, runs[0])
            await weights_screen(pilot, out, suffix, runs[1])


async def runs_screen(pilot: Pilot[None], out: Path, suffix: str) -> None:
    await pilot.press("f3")
    await pilot.pause(0.3)
    assert isinstance(pilot.app.screen, RunsScreen)
    await pilot.press("space", "down", "space", "down", "space")
    await pilot.pause(0.3)
    pilot.app.save_screenshot(f"runs{suffix}.svg", str(out))
    await pilot.press("escape")


async def sweep_screen(pilot: Pilot[None], out: Path, suffix: str) -> None:
    """Runs the default sweep the first time; the second time it resumes with every point done."""
    await analysis_screen(pilot, "f4", f"sweep{suffix}.svg", out)


async def sensitivity_screen(pilot: Pilot[None], out: Path, suffix: str, run: Path) -> None:
    def from_run(screen: AnalysisScreen) -> None:
        screen.query_one("#sensitivity-source", Select).value = str(run / DENSE_MODEL_FILE)
        screen.query_one("#sensitivity-amounts", Input).focus()

    await analysis_screen(pilot, "f5", f"sensitivity{suffix}.svg", out, from_run)


async def analysis_screen(
    pilot: Pilot[None], key: str, name: str, out: Path, set_up: Callable[[AnalysisScreen], None] | None = None
) -> None:
    """Open the screen, set it up, run its analysis to the end and take the picture."""
    await pilot.press(key)
    await pilot.pause(0.3)
    screen = pilot.app.screen
    assert isinstance(screen, AnalysisScreen)
    if set_up is not None:
        set_up(screen)
    await pilot.pause(0.3)
    pilot.app.save_screenshot(name.replace(".svg", "-before-start.svg"), str(out))  # what Start will do
    await pilot.press("ctrl+r")
    await until(pilot, lambda: not screen.running)
    pilot.app.save_screenshot(name, str(out))
    await pilot.press("escape")


async def weights_screen(pilot: Pilot[None], out: Path, suffix: str, run: Path) -> None:
    """The global-scope run: its threshold leaves every layer a different share of weights."""
    await pilot.press("f6")
    screen = pilot.app.screen
    assert isinstance(screen, WeightsScreen)
    await until(pilot, lambda: bool(screen.by_layer))
    screen.query_one("#weights-run", Select).value = str(run)
    await until(pilot, lambda: screen.query_one("#weights-run", Select).value == str(run) and bool(screen.by_layer))
    pilot.app.save_screenshot(f"weights-conv1{suffix}.svg", str(out))
    screen.query_one("#weights-layer", Select).value = "fc1"
    await pilot.pause(0.3)
    pilot.app.save_screenshot(f"weights-fc1{suffix}.svg", str(out))
    await pilot.press("escape")
