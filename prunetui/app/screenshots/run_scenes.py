"""The main screen: the first run's screen, help, a validation error, an iterative run mid-way and finished,
80x24 idle and running, and a terminal too small."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot

from prunetui.app.app import PruneApp
from prunetui.app.run_state import RunState
from prunetui.app.screenshots.pilot import SMALL, WIDE, until
from prunetui.engine.core.config import ExperimentConfig


async def wait_for(pilot: Pilot[None], condition: Callable[[RunState], bool]) -> None:
    app = pilot.app
    assert isinstance(app, PruneApp)
    await until(pilot, lambda: condition(app.main_screen.run_state))


async def idle(out: Path, config: ExperimentConfig) -> None:
    async with PruneApp().run_test(size=WIDE) as pilot:  # nothing remembered yet: the defaults
        await pilot.pause(0.3)
        pilot.app.save_screenshot("idle-defaults.svg", str(out))
        await pilot.press("f1")
        await pilot.pause(0.3)
        pilot.app.save_screenshot("help.svg", str(out))
    async with PruneApp().run_test(size=SMALL) as pilot:
        await pilot.pause(0.3)
        pilot.app.save_screenshot("first-run-80x24.svg", str(out))
    async with PruneApp(config).run_test(size=SMALL) as pilot:
        await pilot.pause(0.3)
        pilot.app.save_screenshot("small-80x24-idle.svg", str(out))
    async with PruneApp(config).run_test(size=(60, 20)) as pilot:
        await pilot.pause(0.3)
        pilot.app.save_screenshot("too-small.svg", str(out))


async def validation_error(out: Path, config: ExperimentConfig) -> None:
    async with PruneApp(config.replace(scope="global")).run_test(size=WIDE, notifications=True) as pilot:
        await pilot.pause()
        pilot.app.query_one("#setting-criterion").focus()
        await pilot.press("enter", "end", "enter")  # ln-structured, which global scope does not go with
        pilot.app.query_one("#setting-sparsity").focus()
        await pilot.press("end", "ctrl+u", *"1.2")
        await pilot.press("ctrl+r")
        await pilot.pause(0.5)
        pilot.app.save_screenshot("validation-error.svg", str(out))


async def runs(out: Path, config: ExperimentConfig) -> None:
    async with PruneApp(config).run_test(size=WIDE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+r")
        # The second round's fine-tuning, while the run goes (on a busy machine the state may skip its middle).
        await wait_for(pilot, lambda s: len(s.prune_steps) >= 2 and s.phase == "finetune" and s.active)
        pilot.app.save_screenshot("mid-run.svg", str(out))
        await wait_for(pilot, lambda s: not s.active)
        pilot.app.save_screenshot("finished-iterative.svg", str(out))
    async with PruneApp(config).run_test(size=SMALL) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+r")
        # Any round's fine-tuning: the state arrives twice a second, and one epoch of it may fit between two.
        await wait_for(pilot, lambda s: len(s.prune_steps) >= 1 and s.phase == "finetune")
        pilot.app.save_screenshot("small-80x24-running.svg", str(out))
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda s: not s.active)
