"""The form's data set choice says what is available, through the pilot."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import OptionList, Select

from prunetui.app.app import PruneApp
from prunetui.engine import ExperimentConfig
from tests.idx import write_dataset


def dataset_labels(app: PruneApp) -> list[str]:
    options = app.query_one("#setting-dataset", Select).query_one(OptionList)
    return [str(options.get_option_at_index(index).prompt) for index in range(options.option_count)]


async def test_the_dataset_choice_says_what_is_available(tmp_path: Path) -> None:
    write_dataset(tmp_path, "kmnist")
    app = PruneApp(ExperimentConfig(data_dir=str(tmp_path)))
    async with app.run_test(size=(140, 44)) as pilot:
        await pilot.pause()
        assert dataset_labels(app) == [
            "fashion-mnist-mini · embedded",
            "mnist · will download",
            "fashion-mnist · will download",
            "kmnist · on disk",
        ]
        assert app.query_one("#setting-dataset", Select).value == "fashion-mnist-mini"  # the default
