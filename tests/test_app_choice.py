"""The form's Choice control, through the pilot: keys as with a Select, its list built only when first opened."""

from __future__ import annotations

from textual.app import App, ComposeResult

from prunetui.app.app import PruneApp
from prunetui.app.widgets.choice import Choice, ChoiceList
from prunetui.engine import ExperimentConfig

SIZE = (140, 44)


async def test_a_choice_steps_opens_its_list_and_picks_by_keyboard(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not app.query(ChoiceList)  # no list is built before one opens: the first frame stays light
        choice = app.query_one("#setting-criterion", Choice)
        values = [value for _, value in choice.options]
        assert choice.value == values[0] and len(values) > 2
        choice.focus()
        await pilot.press("right")
        assert choice.value == values[1]
        await pilot.press("left", "left")  # wraps around to the last
        assert choice.value == values[-1]
        assert app.main_screen.form.read()[0].criterion == values[-1]

        await pilot.press("enter")
        choices = choice.query_one(ChoiceList)
        assert choice.has_class("-open") and choices.has_focus and choices.highlighted == len(values) - 1
        await pilot.press("escape")  # closes, nothing changed
        assert not choice.has_class("-open") and choice.has_focus and choice.value == values[-1]

        await pilot.press("space", "home", "down", "enter")
        assert choice.value == values[1] and choice.has_focus and not choice.has_class("-open")


async def test_a_label_too_long_for_the_choice_is_cut_with_its_arrow_kept() -> None:
    long = "a label far longer than the twenty columns the choice has"

    class Narrow(App[None]):
        def compose(self) -> ComposeResult:
            choice = Choice([(long, "long"), ("short", "short")], "long", id="narrow")
            choice.styles.width = 20
            yield choice

    app = Narrow()
    async with app.run_test(size=(40, 5)) as pilot:
        await pilot.pause()
        choice = app.query_one("#narrow", Choice)
        shown = choice.render().plain
        assert len(shown) == choice.content_size.width < len(long) + 2
        assert shown.endswith("… ▼") and long.startswith(shown.removesuffix("… ▼"))


async def test_a_click_opens_the_list_and_a_click_on_an_option_picks_it(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        choice = app.query_one("#setting-criterion", Choice)
        assert await pilot.click(choice)
        choices = choice.query_one(ChoiceList)
        assert choice.has_class("-open") and choices.has_focus
        last = len(choice.options) - 1
        assert await pilot.click(choices, offset=(3, 1 + last))  # inside the list's border, on the last option
        await pilot.pause()
        assert choice.value == choice.options[last][1] and not choice.has_class("-open")
