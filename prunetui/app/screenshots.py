"""Regenerate the SVG screenshots in screenshots/ from the real app, driven by the pilot.

    .venv/bin/python -m prunetui.app.screenshots [--out screenshots] [--data-dir /tmp/prunetui-shots-data]

Runs real Fashion-MNIST (copied from /usr/share/datasets, or downloaded) on a subset, so it takes a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot

from prunetui.app.app import PruneApp
from prunetui.app.run_state import RunState
from prunetui.engine.config import ExperimentConfig

WIDE, SMALL = (160, 48), (80, 24)


async def wait_for(pilot: Pilot[None], condition: Callable[[RunState], bool], timeout: float = 300.0) -> None:
    app = pilot.app
    assert isinstance(app, PruneApp)
    deadline = time.monotonic() + timeout
    while not condition(app.run_state):
        if time.monotonic() > deadline:
            raise TimeoutError("the run took too long")
        await pilot.pause(0.05)
    await pilot.pause(0.3)  # let the panels catch up


async def idle(out: Path, config: ExperimentConfig) -> None:
    async with PruneApp().run_test(size=WIDE) as pilot:
        await pilot.pause(0.3)
        pilot.app.save_screenshot("idle-defaults.svg", str(out))
        await pilot.press("f1")
        await pilot.pause(0.3)
        pilot.app.save_screenshot("help.svg", str(out))
    async with PruneApp(config).run_test(size=SMALL) as pilot:
        await pilot.pause(0.3)
        pilot.app.save_screenshot("small-80x24-idle.svg", str(out))


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
        await wait_for(pilot, lambda s: len(s.prune_steps) == 2 and s.phase == "finetune" and s.batch > s.batches / 2)
        pilot.app.save_screenshot("mid-run.svg", str(out))
        await wait_for(pilot, lambda s: not s.active)
        pilot.app.save_screenshot("finished-iterative.svg", str(out))
    async with PruneApp(config).run_test(size=SMALL) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda s: len(s.prune_steps) == 1 and s.phase == "finetune")
        pilot.app.save_screenshot("small-80x24-running.svg", str(out))
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda s: not s.active)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    parser.add_argument("--data-dir", default="/tmp/prunetui-shots-data")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    config = ExperimentConfig(
        dataset="fashion-mnist",
        data_dir=args.data_dir,
        schedule="iterative",
        sparsity=0.97,
        rounds=3,
        epochs=2,
        finetune_epochs=1,
        batch_size=64,
        device="cpu",
        train_subset=6000,
    )
    for scene in (idle, validation_error, runs):
        asyncio.run(scene(args.out, config))
        print(f"{scene.__name__}: done")


if __name__ == "__main__":
    main()
