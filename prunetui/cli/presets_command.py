"""`prunetui presets`: the recipes from papers that `prunetui run --preset NAME` starts from."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table
from rich.text import Text

from prunetui.cli.options import fail
from prunetui.describe_paper import control_flags, preset_text
from prunetui.engine.core.errors import ConfigError
from prunetui.engine.core.presets import Preset, all_presets, load_preset


def add_presets_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "presets",
        help="recipes from papers, with the figures they report (prunetui run --preset NAME)",
        description="List the presets: recipes from papers (Han et al. 2015, Frankle & Carbin 2019, …) with the "
        "figures the paper reports. `prunetui run --preset NAME` starts from one; a --config file and the flags "
        "given override its settings. With NAME: that preset's citation, description and settings.",
    )
    parser.add_argument("name", nargs="?", metavar="NAME", help="show this preset in full")


def presets_command(args: argparse.Namespace, console: Console) -> int:
    try:
        if args.name:
            _show(load_preset(args.name), console)
        else:
            console.print(presets_table(all_presets(), console.width))
            console.print(
                "prunetui presets NAME shows one in full; prunetui run --preset NAME runs it", highlight=False
            )
    except ConfigError as error:
        return fail(str(error))
    return 0


def presets_table(presets: list[Preset], width: int) -> Table:
    """A line per preset where `width` holds the paper's figures whole; else two: the recipe, then the figures
    (cut, `…`: `prunetui presets NAME` gives them whole)."""
    rows = [(p.name, p.config.model, f"{p.config.criterion} {p.config.schedule}", preset_text(p)) for p in presets]
    names = ("preset", "model", "method", "the paper reports")
    widths = [max(len(text) for text in [name, *(row[index] for row in rows)]) for index, name in enumerate(names)]
    table = Table(title="Presets: recipes from papers", title_justify="left")
    if sum(widths) + 3 * len(names) + 1 <= width:  # a column's padding and border each, and the last border
        for name in names:
            table.add_column(name)
        for row in rows:
            table.add_row(*row)
        return table
    table.add_column(names[0], no_wrap=True, min_width=widths[0])
    room = width - widths[0] - 3 * 2 - 1
    table.add_column(f"model, method; {names[3]}", no_wrap=True, overflow="ellipsis", max_width=room)
    for name, model, method, paper in rows:
        table.add_row(name, Text.assemble(f"{model}, {method}\n", (paper, "dim")))
    return table


def _show(preset: Preset, console: Console) -> None:
    console.print(f"[b]{preset.name}[/b]: {preset.title}", highlight=False)
    lines = [preset.citation, "", preset.description, "", f"paper: {preset_text(preset)}"]
    if preset.control:
        lines.append(f"the paper's control: prunetui run --preset {preset.name} {control_flags(preset.control)}")
    for line in [*lines, "settings:"]:
        console.print(line, highlight=False, markup=False)
    console.print(preset.config.to_toml(), highlight=False, markup=False)
