"""The form's data set choice says what is available, through the pilot."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from textual.widgets import Input, Static

from prunetui.app.app import PruneApp
from prunetui.app.run_state import FINISHED
from prunetui.app.widgets.choice import Choice
from prunetui.engine import ExperimentConfig
from tests.idx import write_dataset
from tests.test_app import shown, wait_until


def dataset_labels(app: PruneApp) -> list[str]:
    return [label for label, _ in app.query_one("#setting-dataset", Choice).options]


async def test_the_dataset_choice_says_what_is_available(tmp_path: Path, mirror: None) -> None:
    write_dataset(tmp_path, "kmnist")
    app = PruneApp(ExperimentConfig(data_dir=str(tmp_path)))
    async with app.run_test(size=(140, 44)) as pilot:
        await wait_until(pilot, lambda: app.main_screen.form.online is not None)  # a mirror answers
        await pilot.pause()
        assert dataset_labels(app) == [
            "fashion-mnist-mini · embedded",
            "mnist · will download",
            "fashion-mnist · will download",
            "kmnist · on disk",
            "cifar10 · will download",
            "cifar100 · will download",
        ]
        assert app.query_one("#setting-dataset", Choice).value == "fashion-mnist-mini"  # the default
        app.query_one("#setting-dataset", Choice).value = "kmnist"
        app.query_one("#setting-data_dir", Input).value = str(tmp_path / "elsewhere")  # as if typed
        await pilot.pause()
        assert dataset_labels(app)[3] == "kmnist · will download"
        assert app.query_one("#setting-dataset", Choice).value == "kmnist"  # the choice stays


async def test_until_the_first_step_the_status_says_what_happens_and_no_speed(
    tiny_config: ExperimentConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prunetui.engine.core.data import loading

    held, release = threading.Event(), threading.Event()
    load_cached = loading.load_cached

    def slow_load(path: Path) -> object:  # holds the run while it loads its data
        held.set()
        release.wait(20)
        return load_cached(path)

    monkeypatch.setattr(loading, "load_cached", slow_load)
    app = PruneApp(tiny_config)
    async with app.run_test(size=(140, 44)) as pilot:
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: app.main_screen.run_state.activity == "loading mnist …")
        await pilot.pause(0.6)  # the panels repaint twice a second
        assert held.is_set()
        assert shown(app.query_one("#phase", Static)) == "loading mnist …"
        figures = shown(app.query_one("#figures", Static))
        assert "· – img/s ·" in figures and "0 img/s" not in figures
        assert (
            app.main_screen.run_state.log[0] == "importing torch …"
            and app.main_screen.run_state.log[-1] == "loading mnist …"
        )
        release.set()
        await wait_until(pilot, lambda: not app.main_screen.run_state.active)
        assert app.main_screen.run_state.outcome == FINISHED
        assert f"{app.main_screen.run_state.images_per_s:,.0f} img/s" in shown(app.query_one("#figures", Static))


async def test_a_first_start_with_nothing_set_up_trains_on_the_built_in_data_set() -> None:
    settings = {"train_subset": 2200, "batch_size": 64, "optimizer": "adam", "lr": 0.003}  # quick, but it learns
    app = PruneApp(ExperimentConfig(epochs=1, finetune_epochs=0, device="cpu", **settings))
    async with app.run_test(size=(140, 44)) as pilot:
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: not app.main_screen.run_state.active, timeout=60)
        state = app.main_screen.run_state
        assert state.outcome == FINISHED, state.error
        assert state.started is not None and state.started.config.dataset == "fashion-mnist-mini"
        sizes = (state.started.train_size, state.started.validation_size, state.started.test_size)
        assert sizes == (1980, 220, 2000)  # 10 % of the 2,200 held out for validation
        assert state.dense_accuracy is not None and state.dense_accuracy > 0.6  # chance: 0.1
