"""The app's preset picker (F9): it fills the form, a run from it is recorded with the preset, and the log puts the
paper's figures beside the run's."""

from __future__ import annotations

import json

from textual.pilot import Pilot
from textual.widgets import Input, OptionList, Static
from textual.widgets._footer import FooterKey

from prunetui.app.app import PruneApp
from prunetui.app.screens.presets import PresetScreen
from prunetui.engine import ExperimentConfig
from prunetui.engine.core.presets import load_preset
from prunetui.engine.storage.runs import list_runs
from tests.test_app import SIZE, shown, wait_until


async def presets_opened(pilot: Pilot[None]) -> list[str]:
    """F9 pressed: the preset list's names, in order, with the first one highlighted."""
    await pilot.pause()
    await pilot.press("f9")
    await pilot.pause()
    assert isinstance(pilot.app.screen, PresetScreen)
    options = pilot.app.screen.query_one(OptionList)
    return [str(options.get_option_at_index(i).id) for i in range(options.option_count)]


async def test_a_preset_fills_the_form_and_its_run_is_set_beside_the_paper(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config)
    async with app.run_test(size=SIZE) as pilot:
        names = await presets_opened(pilot)
        await pilot.press(*["down"] * names.index("han2015-lenet300"))
        await pilot.pause()
        assert "Han et al. 2015" in shown(app.screen.query_one("#preset-about", Static))
        await pilot.press("enter")
        await pilot.pause()

        preset = load_preset("han2015-lenet300")
        config, problems = app.main_screen.form.read()
        # The preset's recipe, but the data directory and device stay what the form had.
        assert config == preset.config.replace(data_dir=tiny_config.data_dir, device="cpu") and problems == {}
        for name, value in {"epochs": "1", "finetune-epochs": "1", "rounds": "1", "lr": "0.003"}.items():
            app.query_one(f"#setting-{name.replace('-', '_')}", Input).value = value
        await pilot.pause()
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: not app.main_screen.run_state.active)
        await pilot.pause()

        log = app.main_screen.run_state.log
        assert "paper: LeNet-300-100 on MNIST: error 1.64 % → 1.59 %" in log[-4]
        assert log[-3].startswith("this run: lenet300 on mnist: error") and "kept fc1 8 %" in log[-3]
        assert log[-2].startswith("this run, counting all parameters (biases too): 266,610 → ")  # the paper's: weights
        assert log[-1].startswith("changed from the preset: rounds 1 (preset 3), epochs 1 (preset 10)")
        (run,) = list_runs(app.runs_dir)
        summary = json.loads((run.path / "summary.json").read_text())
        assert summary["preset"]["name"] == "han2015-lenet300"

        await pilot.press("f7")  # the defaults are no preset's: the next run records none
        await pilot.pause()
        assert app.main_screen._preset is None


async def test_the_preset_dialog_fits_80x24_with_its_hint_and_scrolls_to_the_papers_figures(
    tiny_config: ExperimentConfig,
) -> None:
    app = PruneApp(tiny_config)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "Presets" in {key.description for key in app.query(FooterKey)}  # F9 is in the footer at 80 columns
        await pilot.press("f9")
        await pilot.pause()
        options = app.screen.query_one(OptionList)
        names = [options.get_option_at_index(i).id for i in range(options.option_count)]
        await pilot.press(*["down"] * names.index("han2015-lenet300"))  # a recipe for MNIST, which is on disk here
        await pilot.pause()
        dialog = app.screen.query_one(".dialog")
        hint, about = app.screen.query_one(".dialog-hint"), app.screen.query_one("#preset-about-scroll")
        assert dialog.region.bottom <= 24 and dialog.content_region.contains_region(hint.region)
        assert about.max_scroll_y > 0 and about.scroll_y == 0  # the description does not fit: it scrolls
        await pilot.press("tab", "end")
        await pilot.pause(0.2)
        assert about.scroll_y == about.max_scroll_y
        assert "paper:" in shown(app.screen.query_one("#preset-about", Static))
        await pilot.press("enter")  # from the description too
        await pilot.pause()
        assert app.screen is app.main_screen and app.main_screen._preset is not None
