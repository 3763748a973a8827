"""The manual's option reference, written from the same sources as `--help`: the config schema's fields (help,
choices, interval, default) and the subcommands' argparse parsers. The manual's build hook (docs/hooks.py) calls
`options_page`, so the page is made at each build and cannot drift from the code."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from prunetui.cli.main import build_parser
from prunetui.engine.core.config import ExperimentConfig, flag_name, setting_type, toml_key

INTRO = """\
# Option reference

Generated from the settings schema (`prunetui/engine/core/config.py`) and the command-line parsers
(`prunetui/cli`) each time the manual is built: the same source as `prunetui COMMAND --help`, the TOML file of
`--config` and the app's form.

"""


def options_page() -> str:
    """The whole page, in Markdown."""
    return INTRO + settings_section() + "\n" + commands_section(build_parser())


def settings_section() -> str:
    """One row per experiment setting: flag, TOML key, default, allowed values, help."""
    rows = [
        "## Experiment settings {#settings}",
        "",
        "Each setting is a flag of `prunetui run` (and, unless noted below, of `sweep` and `sensitivity`), a key of",
        "the TOML file given with `--config FILE.toml`, and a field of the app's form. Flags given on the command",
        "line go over the file, which goes over a `--preset`, which goes over the defaults.",
        "",
        "| flag | TOML key | default | allowed | meaning |",
        "|---|---|---|---|---|",
    ]
    for field in ExperimentConfig.fields():
        rows.append(
            f"| `{flag_name(field.name)}` | `{toml_key(field.name)}` | {_default(field)} | {_allowed(field)} "
            f"| {_cell(field.metadata['help'])} |"
        )
    return "\n".join(rows) + "\n"


def commands_section(parser: argparse.ArgumentParser) -> str:
    """Each subcommand's description and its own flags (the experiment settings above are listed once)."""
    settings = {field.name for field in ExperimentConfig.fields()}
    parts = ["## Commands {#commands}", ""]
    parts += _flag_table(parser, settings, "prunetui", "app")
    for name, command in _subcommands(parser).items():
        parts += _flag_table(command, settings, f"prunetui {name}", name)
        skipped = [flag_name(f.name) for f in ExperimentConfig.fields() if f.name not in _dests(command)]
        if len(skipped) < len(settings) and skipped:  # a command with some experiment settings, not all
            parts += [f"Takes the [experiment settings](#settings) but {', '.join(f'`{s}`' for s in skipped)}.", ""]
        elif not skipped:
            parts += ["Takes every [experiment setting](#settings).", ""]
    return "\n".join(parts)


def _flag_table(parser: argparse.ArgumentParser, settings: set[str], title: str, anchor: str) -> list[str]:
    lines = [f"### `{title}` {{#{anchor}}}", ""]
    if parser.description:
        lines += [_cell(parser.description), ""]
    own = [
        action
        for action in parser._actions  # argparse keeps no public list of a parser's arguments
        if action.dest not in settings and not isinstance(action, argparse._HelpAction | argparse._SubParsersAction)
    ]
    if own:
        lines += ["| flag | meaning |", "|---|---|"]
        lines += [f"| `{_usage(action)}` | {_cell(action.help or '')} |" for action in own]
        lines.append("")
    return lines


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _dests(parser: argparse.ArgumentParser) -> set[str]:
    return {action.dest for action in parser._actions}


def _usage(action: argparse.Action) -> str:
    """The flag as typed, with its value: `--jobs N`, `RUN`, `--ray [ADDRESS]`."""
    if not action.option_strings:
        return str(action.metavar or action.dest)
    flag = max(action.option_strings, key=len)
    if action.nargs == 0:
        return flag
    metavar = action.metavar or action.dest.upper()
    if action.nargs == "?":
        return f"{flag} [{metavar}]"
    if action.nargs in ("+", "*"):
        return f"{flag} {metavar}…"
    return f"{flag} {metavar}"


def _default(field: dataclasses.Field[Any]) -> str:
    value = field.default
    if isinstance(value, bool):
        return "off"
    if value == "":
        return f"empty ({field.metadata['empty']})" if field.metadata["empty"] else "empty"
    return f"`{value}`"


def _allowed(field: dataclasses.Field[Any]) -> str:
    if field.metadata["choices"]:
        return ", ".join(f"`{choice}`" for choice in field.metadata["choices"])
    if field.metadata["interval"]:
        return str(field.metadata["interval"])
    if setting_type(field) is bool:
        flag = flag_name(field.name)
        return f"`{flag}` / `--no-{flag[2:]}`; `true` / `false` in TOML"
    return "text"


def _cell(text: str) -> str:
    """Help text as Markdown, on one line and safe in a table cell: outside `code` spans, the characters Markdown
    would read as markup (`<name>` as HTML, `*_std … *_std` as emphasis) are escaped."""
    pieces = " ".join(text.split()).split("`")
    for i in range(0, len(pieces), 2):  # the even pieces are outside code spans
        pieces[i] = pieces[i].replace("<", "&lt;").replace("*", "\\*")
    return "`".join(pieces).replace("|", "\\|")


if __name__ == "__main__":  # the page without MkDocs: python -m prunetui.cli.reference > options.md
    print(options_page(), end="")
