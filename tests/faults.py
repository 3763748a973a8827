"""Faults injected into one phase of a `prunetui run`: a hook wraps a function that phase calls and acts there.

Phases, in run order: loading (the data set), training (mid-epoch, before any prune), prune (masks attached,
not yet reported), rewind (weights reset, not yet reported), fine-tune (mid-epoch, after the first prune) and
saving (model.pt's temporary file just created). Outside that suite, starting: the run directory claimed, nothing
written into it yet. Actions: Ctrl+C (the CLI's stop request), an exception, SIGKILL, and SIGSTOP (the process
frozen there, for a second process to look at it). The hooks are monkeypatches, so production code carries
none; `tests/fault_driver.py` arms them in a subprocess.
"""

from __future__ import annotations

import importlib
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from prunetui.engine.core.files import TEMPORARY_SUFFIX

PHASES = ("loading", "training", "prune", "rewind", "fine-tune", "saving")
# Two rounds, each rewound and fine-tuned: every phase happens. 256 of the tiny images, 10 % of them held out for
# validation: 4 batches an epoch.
FAULT_FLAGS = [
    "--schedule", "iterative", "--rounds", "2", "--rewind", "--epochs", "1", "--finetune-epochs", "1",
    "--sparsity", "0.75", "--train-subset", "256",
]  # fmt: skip
MID_EPOCH_STEP = 3  # the optimizer step after which a training or fine-tune fault strikes


def ctrl_c() -> None:
    os.kill(os.getpid(), signal.SIGINT)


def raise_fault() -> None:
    raise RuntimeError("injected fault")


def sigkill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def sigstop() -> None:
    os.kill(os.getpid(), signal.SIGSTOP)


ACTIONS: dict[str, Callable[[], None]] = {
    "ctrl+c": ctrl_c, "exception": raise_fault, "sigkill": sigkill, "sigstop": sigstop,
}  # fmt: skip


def arm(monkeypatch: pytest.MonkeyPatch, phase: str, action: Callable[[], None]) -> None:
    """Make `action` happen once, in `phase`, in the next run of this process."""
    fired = False

    def once() -> None:
        nonlocal fired
        if not fired:
            fired = True
            action()

    if phase == "starting":  # the first file the recorder writes: config.toml
        _wrap(monkeypatch, "prunetui.engine.storage.recording.write_atomic", before=once)
    elif phase == "loading":
        _wrap(monkeypatch, "prunetui.engine.core.experiment.run_data_loading", before=once)
    elif phase in ("prune", "rewind"):
        hooked = "prune_to" if phase == "prune" else "rewind"
        _wrap(monkeypatch, f"prunetui.engine.core.experiment.{hooked}", after=once)
    elif phase in ("training", "fine-tune"):
        _arm_optimizer(monkeypatch, 1 if phase == "training" else 2, once)
    else:
        _arm_model_file(monkeypatch, once)


def temporaries(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.glob(f".*{TEMPORARY_SUFFIX}"))


def _wrap(
    monkeypatch: pytest.MonkeyPatch,
    target: str,
    before: Callable[[], None] | None = None,
    after: Callable[[], None] | None = None,
) -> None:
    module, name = target.rsplit(".", 1)
    real = getattr(importlib.import_module(module), name)

    def hooked(*args: Any, **kwargs: Any) -> Any:
        if before:
            before()
        result = real(*args, **kwargs)
        if after:
            after()
        return result

    monkeypatch.setattr(target, hooked)


def _arm_optimizer(monkeypatch: pytest.MonkeyPatch, which: int, action: Callable[[], None]) -> None:
    """Act after step MID_EPOCH_STEP of the `which`-th optimizer: the first trains, the second fine-tunes round 1."""
    import prunetui.engine.core.experiment as experiment

    real_make = experiment.make_optimizer
    made = 0

    def make(*args: Any, **kwargs: Any) -> Any:
        nonlocal made
        optimizer = real_make(*args, **kwargs)
        made += 1
        if made == which:
            steps = 0

            def after_step(*hook_args: Any) -> None:  # torch's step hook: the optimizer, its args and kwargs
                nonlocal steps
                steps += 1
                if steps == MID_EPOCH_STEP:
                    action()

            optimizer.register_step_post_hook(after_step)
        return optimizer

    monkeypatch.setattr(experiment, "make_optimizer", make)


def _arm_model_file(monkeypatch: pytest.MonkeyPatch, action: Callable[[], None]) -> None:
    """Act once model.pt's temporary file exists, before anything is written to it."""
    import prunetui.engine.core.files as files

    def opening(path: Path, mode: str) -> Any:
        file = open(path, mode)  # noqa: SIM115 - handed to write_atomic's `with`
        if Path(path).name.startswith(".model.pt."):
            try:
                action()
            except BaseException:
                file.close()
                raise
        return file

    monkeypatch.setattr(files, "open", opening, raising=False)
