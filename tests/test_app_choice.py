"""The form's Choice control, through the pilot: keys as with a Select, its list built only when first opened."""

from __future__ import annotations

import pytest
from rich.color import Color as RichColor
from rich.segment import Segment
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


def contrast(segment: Segment) -> float:
    """WCAG's contrast ratio of a cell's text and background colours: 4.5 is its minimum for body text."""

    def luminance(color: RichColor | None) -> float:
        assert color is not None and color.triplet is not None  # a true-colour theme: no terminal default
        channels = [value / 255 for value in color.triplet]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    assert segment.style is not None
    lighter, darker = sorted((luminance(segment.style.color), luminance(segment.style.bgcolor)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


@pytest.mark.parametrize("theme", ["textual-light", "textual-dark"])
async def test_a_choice_and_its_open_list_read_on_a_light_and_a_dark_theme(
    tiny_config: ExperimentConfig, theme: str
) -> None:
    app = PruneApp(tiny_config)
    async with app.run_test(size=(80, 24)) as pilot:
        app.theme = theme
        choice = app.query_one("#setting-criterion", Choice)
        choice.focus()
        await pilot.pause()
        lines = [choice.render_line(0)]
        await pilot.press("enter", "down")  # the list open, its second option highlighted
        await pilot.pause()
        choices = choice.query_one(ChoiceList)
        lines += [choices.render_line(y) for y in range(len(choice.options))]
        texts = [[segment for segment in line if segment.text.strip()] for line in lines]
        assert [" ".join(s.text.strip() for s in text) for text in texts][1:] == [label for label, _ in choice.options]
        assert min(contrast(segment) for text in texts for segment in text) >= 4.5
        highlighted = texts[2][0].style
        assert highlighted is not None and highlighted.bgcolor != texts[1][0].style.bgcolor  # told apart


async def test_a_choice_too_long_for_the_open_list_is_cut_never_wrapped(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config)
    async with app.run_test(size=(80, 24)) as pilot:
        choice = app.query_one("#setting-criterion", Choice)
        long = "a criterion from a file of yours with a name longer than the list is wide"
        choice.set_options([*choice.options, (long, "long")])
        choice.focus()
        await pilot.press("enter")
        await pilot.pause()
        choices = choice.query_one(ChoiceList)
        assert choices.size.width < len(long) and choices.size.height == len(choice.options)  # one line each
        last = choices.render_line(len(choice.options) - 1).text.strip()
        assert last.endswith("…") and long.startswith(last[:-1])
