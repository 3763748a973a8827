"""Presets and data offline: a data set not on this machine is said before Start (form and CLI) with where
prunetui looked, the built-in data set is offered, "will download" only where a mirror answers, and --data-dir
takes the folder of the files as well as torchvision's layout."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import Input, OptionList, Static

from prunetui.app.app import PruneApp
from prunetui.app.screens.confirm import ConfirmScreen
from prunetui.cli.data_check import data_set_here
from prunetui.cli.main import main
from prunetui.engine import ExperimentConfig
from prunetui.engine.core.data import availability, load_dataset
from prunetui.engine.core.errors import DataError
from tests.idx import write_dataset
from tests.test_app import shown, wait_until


def test_data_dir_takes_the_folder_of_the_files_and_torchvisions_layout(tmp_path: Path) -> None:
    flat = write_dataset(tmp_path / "torchvision", "kmnist")  # <root>/KMNIST/raw/…; that folder is a flat one
    for root in (tmp_path / "torchvision", flat):
        assert availability(root, download=False)["kmnist"] == "on disk"
        data = load_dataset("kmnist", root, "cpu", download=False)
        assert len(data.train) == 512 and data.source == str(flat)


def test_the_data_set_not_found_error_describes_both_layouts(tmp_path: Path) -> None:
    with pytest.raises(DataError) as raised:
        load_dataset("mnist", tmp_path, "cpu", download=False)
    message = str(raised.value)
    assert f"either in {tmp_path / 'MNIST' / 'raw'} (torchvision's layout" in message
    assert f"or in the data directory {tmp_path} itself" in message


def test_offline_the_cli_says_before_the_start_where_it_looked_and_names_the_built_in_data_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", "--preset", "han2015-lenet300", "--data-dir", str(tmp_path), "--runs-dir", str(tmp_path)])
    error = capsys.readouterr().err
    assert code == 2 and "importing torch" not in error
    assert "mnist is not on this machine and cannot be downloaded now (offline?); looked in " in error
    assert f"{tmp_path / 'MNIST' / 'raw'}, {tmp_path}, " in error
    assert error.strip().endswith("add --dataset fashion-mnist-mini")
    assert not list(tmp_path.iterdir())  # no run directory was made


async def dataset_help(pilot: object, app: PruneApp) -> str:
    """The help line of the focused data set field: the built-ins by availability."""
    app.query_one("#setting-dataset", Input).focus()
    await pilot.pause()  # type: ignore[attr-defined]
    return " ".join(shown(app.query_one("#setting-help", Static)).split())


async def test_offline_the_form_says_not_on_this_machine_and_where_it_looked(tmp_path: Path) -> None:
    app = PruneApp(ExperimentConfig(dataset="mnist", data_dir=str(tmp_path)))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.main_screen.form.online is not None)
        await pilot.pause()
        built_ins = await dataset_help(pilot, app)
        assert "; mnist, fashion-mnist, kmnist, cifar10, cifar100 (not on this machine)" in built_ins
        note = shown(app.query_one("#note-dataset", Static))
        assert note.startswith("mnist is not on this machine") and str(tmp_path / "MNIST" / "raw") in note
        status = shown(app.query_one("#form-status", Static))  # never "ready to start"
        assert status == "cannot start as is: no mnist here; fashion-mnist-mini is built in"

        await pilot.press("ctrl+r")  # no download tried: the built-in data set is offered
        await pilot.pause()
        offer = app.screen
        assert isinstance(offer, ConfirmScreen) and not app.main_screen.run_state.active
        question = shown(offer.query_one(".dialog-question", Static))
        assert question.startswith("mnist is not on this machine") and "the built-in fashion-mnist-mini" in question
        await pilot.press("y")
        await pilot.pause()
        assert app.main_screen.form.read()[0].dataset == "fashion-mnist-mini"
        assert shown(app.query_one("#form-status", Static)) == "ready to start"


async def test_online_the_form_says_will_download(tmp_path: Path, mirror: None) -> None:
    app = PruneApp(ExperimentConfig(dataset="mnist", data_dir=str(tmp_path)))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.main_screen.form.online is not None)
        await pilot.pause()
        assert "; mnist, fashion-mnist, kmnist, cifar10, cifar100 (will download)" in await dataset_help(pilot, app)
        note = app.query_one("#note-dataset", Static)
        assert shown(note) == "will download" and note.has_class("-info")  # no error: the run will fetch it


async def choose_preset(pilot: object, app: PruneApp, name: str) -> None:
    await pilot.press("f9")  # type: ignore[attr-defined]
    await pilot.pause()  # type: ignore[attr-defined]
    options = app.screen.query_one(OptionList)
    names = [options.get_option_at_index(i).id for i in range(options.option_count)]
    await pilot.press(*["down"] * names.index(name), "enter")  # type: ignore[attr-defined]
    await pilot.pause()  # type: ignore[attr-defined]


async def test_offline_a_preset_offers_the_built_in_data_set(tmp_path: Path) -> None:
    app = PruneApp(ExperimentConfig(data_dir=str(tmp_path), device="cpu"))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.main_screen.form.online is not None)
        await choose_preset(pilot, app, "han2015-lenet300")
        offer = app.screen
        assert isinstance(offer, ConfirmScreen)
        question = shown(offer.query_one(".dialog-question", Static))
        assert question.startswith("Preset han2015-lenet300: mnist is not on this machine")
        assert "Run it on the built-in fashion-mnist-mini instead?" in question
        await pilot.press("y")
        await pilot.pause()
        config, problems = app.main_screen.form.read()
        assert (config.dataset, config.model, problems) == ("fashion-mnist-mini", "lenet300", {})
        assert app.main_screen._preset is not None and app.main_screen._preset.name == "han2015-lenet300"
        [note] = [n for n in app._notifications if n.title == "Built-in data set"]
        assert note.message == f"{app.main_screen._preset.title} on fashion-mnist-mini: ctrl+r starts it"


async def test_offline_a_preset_whose_network_cannot_take_the_built_in_images_is_offered_nothing(
    tmp_path: Path,
) -> None:
    app = PruneApp(ExperimentConfig(data_dir=str(tmp_path), device="cpu"))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.main_screen.form.online is not None)
        await choose_preset(pilot, app, "li2017-vgg16")
        assert app.screen is app.main_screen  # no offer that would only end in vgg16-bn's refusal of 28x28
        [note] = [n for n in app._notifications if n.title == "Preset li2017-vgg16"]
        assert note.message.startswith("cifar10 is not on this machine")
        assert note.message.endswith(
            "the built-in fashion-mnist-mini cannot stand in: its images are 28×28, and vgg16-bn takes 32×32 and larger"
        )
        assert app.main_screen.form.read()[0].dataset == "cifar10"


async def test_a_preset_whose_data_set_is_here_asks_nothing(tiny_data: Path) -> None:
    app = PruneApp(ExperimentConfig(data_dir=str(tiny_data), device="cpu"))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.main_screen.form.online is not None)
        await choose_preset(pilot, app, "han2015-lenet300")
        assert app.screen is app.main_screen
        assert app.main_screen.form.read()[0].dataset == "mnist"


def test_offline_a_sweep_stops_before_its_start_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["sweep", "--preset", "lth-lenet300", "--data-dir", str(tmp_path), "--runs-dir", str(tmp_path)])
    assert code == 2 and "mnist is not on this machine" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_the_cli_offers_no_built_in_data_set_to_a_network_that_cannot_take_its_images(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    console = Console(file=io.StringIO(), force_terminal=True, width=200)
    config = ExperimentConfig(model="vgg16-bn", dataset="cifar10", data_dir=str(tmp_path))
    kept, error = data_set_here(config, console)
    assert console.file.getvalue() == "" and kept == config  # type: ignore[attr-defined]  # nothing asked
    assert error is not None and error.startswith("cifar10 is not on this machine")
    assert error.endswith(
        "fashion-mnist-mini cannot stand in: its images are 28×28, and vgg16-bn takes 32×32 and larger"
    )
    resnet = config.replace(model="resnet56")  # takes 28x28: offered, as the named flag without a terminal
    monkeypatch.setattr("sys.stdin", io.StringIO())
    assert data_set_here(resnet, console)[1].endswith("add --dataset fashion-mnist-mini")  # type: ignore[union-attr]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("answer", "dataset"), [("y\n", "fashion-mnist-mini"), ("n\n", None)])
def test_at_a_terminal_the_cli_offers_the_built_in_data_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answer: str, dataset: str | None
) -> None:
    monkeypatch.setattr("sys.stdin", Terminal(answer))
    console = Console(file=io.StringIO(), force_terminal=True, width=200)
    config, error = data_set_here(ExperimentConfig(dataset="mnist", data_dir=str(tmp_path)), console)
    asked = console.file.getvalue()  # type: ignore[attr-defined]
    assert "mnist is not on this machine" in asked and "Run on the built-in fashion-mnist-mini instead?" in asked
    if dataset:
        assert (config.dataset, error) == (dataset, None)
    else:
        assert config.dataset == "mnist" and error == "mnist is not on this machine"
