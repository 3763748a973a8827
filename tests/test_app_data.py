"""The form's data set choice says what is available, through the pilot."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from textual.widgets import Input, Static

from prunetui.app.app import PruneApp
from prunetui.app.run_state import FINISHED
from prunetui.engine import ExperimentConfig
from tests.idx import write_dataset
from tests.owndata import write_imagefolder
from tests.test_app import shown, wait_until


def note(app: PruneApp) -> Static:
    return app.query_one("#note-dataset", Static)


async def test_the_dataset_field_says_what_is_available(tmp_path: Path, mirror: None) -> None:
    write_dataset(tmp_path, "kmnist")
    app = PruneApp(ExperimentConfig(data_dir=str(tmp_path)))
    async with app.run_test(size=(140, 44)) as pilot:
        await wait_until(pilot, lambda: app.main_screen.form.online is not None)  # a mirror answers
        field = app.query_one("#setting-dataset", Input)
        field.focus()
        await pilot.pause()
        assert shown(app.query_one("#setting-help", Static)) == (  # whole, in the four lines of a wide screen
            "dataset: fashion-mnist-mini (embedded); mnist, fashion-mnist, cifar10, cifar100 (will download); kmnist "
            "(on disk); or imagefolder:PATH, file.py:factory"
        )
        assert field.value == "fashion-mnist-mini"  # the default
        await pilot.press("ctrl+u", "k")
        await pilot.press("right")  # takes the suggested rest of a built-in's name
        assert field.value == "kmnist"
        await wait_until(pilot, lambda: "classes" in shown(note(app)), timeout=60)  # read once it stays a moment
        assert shown(note(app)) == (
            "on disk · 768 images (512 train, 256 test), 1×28×28, 10 classes: o, ki, su, tsu, … and 6 more; in "
            f"memory; from {tmp_path / 'KMNIST' / 'raw'}"
        )
        app.query_one("#setting-data_dir", Input).value = str(tmp_path / "elsewhere")  # as if typed
        await pilot.pause()
        assert shown(note(app)) == "will download" and field.value == "kmnist"  # the choice stays


async def test_an_image_folder_typed_into_the_form_says_what_it_is_and_trains(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_imagefolder(tmp_path / "pets")
    monkeypatch.chdir(tmp_path)  # a path typed as users do, relative: a key press costs the test a screen update
    config = ExperimentConfig(epochs=1, finetune_epochs=0, batch_size=4, device="cpu", validation_split=0)
    app = PruneApp(config)
    async with app.run_test(size=(80, 24)) as pilot:
        app.query_one("#setting-dataset", Input).focus()
        await pilot.pause()  # focused before the keys come
        await pilot.press("ctrl+u", *"imagefolder:pets")
        await wait_until(pilot, lambda: "classes" in shown(note(app)) or note(app).has_class("-error"), timeout=60)
        assert shown(note(app)) == (
            "18 images (12 train, 6 test), 3×16×16, 3 classes: cat, dog, eel; in memory; from pets"
        )
        assert app.main_screen.form.problems == {}
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: not app.main_screen.run_state.active, timeout=60)
        state = app.main_screen.run_state
        assert state.outcome == FINISHED, state.error
        log = state.log
        assert "imagefolder:pets: 12 training and 6 test images from pets" in log
        assert "3×16×16 images, 3 classes: cat, dog, eel; held in memory (whole tensors, sliced per batch)" in log
        (standardised,) = [line for line in log if line.startswith("standardised per channel by mean ")]
        assert standardised.endswith(" (pixels 0-1); augmentation none")
        assert state.summary is not None and state.summary.per_class_accuracy is not None
        per_class = ", ".join(f"{name} {a * 100:.1f} %" for name, a in state.summary.per_class_accuracy)
        assert log[-1] == f"accuracy per class: {per_class}" and per_class.startswith("cat ")


async def test_a_bad_spec_or_bad_data_is_one_message_under_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_imagefolder(tmp_path / "pets")
    monkeypatch.chdir(tmp_path)  # paths typed as users do, relative: a key press costs the test a screen update
    broken = tmp_path / "pets" / "train" / "dog" / "9.png"
    broken.write_bytes(b"not a png")
    app = PruneApp(ExperimentConfig(device="cpu"))
    async with app.run_test(size=(80, 24)) as pilot:
        app.query_one("#setting-dataset", Input).focus()
        await pilot.pause()  # focused before the keys come
        await pilot.press("ctrl+u", *"cifar1")
        await pilot.pause()
        assert shown(note(app)).startswith("'cifar1' names no data set: a built-in (")
        assert app.main_screen.form.problems.keys() == {"dataset"}
        await pilot.press("ctrl+u", *"imagefolder:pets")
        await wait_until(pilot, lambda: note(app).has_class("-error"), timeout=60)
        message = shown(note(app))
        assert (
            message.startswith("imagefolder: pets/train/dog/9.png cannot be read as an image") and "\n" not in message
        )
        status = app.query_one("#form-status", Static)
        assert shown(status) == "cannot start as is: the data set cannot be read"  # not 'ready to start'
        broken.unlink()  # fixed: leaving the field reads it again
        await pilot.press("tab")
        await wait_until(pilot, lambda: "3 classes" in shown(note(app)), timeout=60)
        await pilot.press("shift+tab")
        await pilot.press("ctrl+u", *"none.py:make")
        await wait_until(pilot, lambda: note(app).has_class("-error"), timeout=60)
        message = shown(note(app))
        assert message.startswith("--dataset none.py:make: ") and "Traceback" not in message


async def test_until_the_first_step_the_status_says_what_happens_and_no_speed(
    tiny_config: ExperimentConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prunetui.engine.core.data import loading

    held, release = threading.Event(), threading.Event()
    load_cached = loading.load_cached

    def slow_load(path: Path, *keys: tuple[str, ...]) -> object:  # holds the run while it loads its data
        held.set()
        release.wait(20)
        return load_cached(path, *keys)

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
