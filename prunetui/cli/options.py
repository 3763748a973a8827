"""Command-line flags made from the config schema, so every setting has a flag with its help text."""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import itertools
import re
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

from prunetui.engine.analyses.executor import Parallel, parse_jobs
from prunetui.engine.core.config import ExperimentConfig, flag_name, read_toml, setting_type
from prunetui.engine.core.data.specs import DatasetChoices
from prunetui.engine.core.presets import load_preset

RUN_HELP = "a run's name, the unique start of one, `last` (the newest run) or a path"


class ParagraphsFormatter(argparse.RawDescriptionHelpFormatter):
    """A description's paragraphs filled to the terminal's width, each block of lines keeping its indent (a list of
    fields indented under its line): argparse's raw text kept lines wider than 80 columns, which the terminal then
    broke mid-word; its default filler ran the paragraphs together."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        lines: list[str] = []
        for (margin, words), block in itertools.groupby(text.splitlines(), key=_margin_and_words):
            text = " ".join(line.strip() for line in block)
            fill = textwrap.TextWrapper(width, initial_indent=indent + margin, subsequent_indent=indent + margin)
            fill.break_on_hyphens = fill.break_long_words = False  # 'non-zero' and a path stay whole
            lines.append(fill.fill(text) if words else "")
        return "\n".join(lines)


def _margin_and_words(line: str) -> tuple[str, bool]:
    """Consecutive lines with the same margin and words are one block to fill; blank lines part them."""
    return line[: len(line) - len(line.lstrip())], bool(line.strip())


INVALID_CHOICE = re.compile(r"invalid choice: '(?P<given>[^']*)' \(choose from (?P<choices>[^)]*)\)")


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse prints usage plus the error; we print one line and the way to get help."""

    def error(self, message: str) -> NoReturn:
        if choice := INVALID_CHOICE.search(message):  # a mistyped command or value: the nearest one ('rnus')
            near = difflib.get_close_matches(choice["given"], choice["choices"].replace("'", "").split(", "), n=1)
            message += f"; did you mean {near[0]}?" if near else ""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def parse_args(self, args: Any = None, namespace: Any = None) -> argparse.Namespace:  # type: ignore[override]
        """An unknown flag is the subcommand's: its error names that command's help and the nearest flag it has
        (argparse leaves unknown flags to the top parser, which names its own help and suggests nothing)."""
        parsed, unknown = self.parse_known_args(args, namespace)
        if unknown:
            parser = self._command_parser(parsed)
            flag = next((word for word in unknown if word.startswith("-")), unknown[0])
            flags = [option for option in parser._option_string_actions if option.startswith("--")]
            near = difflib.get_close_matches(flag.split("=")[0], flags, n=1, cutoff=0.75)
            hint = f"; did you mean {near[0]}?" if near else ""
            parser.error(f"unrecognized argument{'s' if len(unknown) > 1 else ''}: {' '.join(unknown)}{hint}")
        return parsed

    def _command_parser(self, parsed: argparse.Namespace) -> argparse.ArgumentParser:
        """The parser of the subcommand given (`prunetui run`), or this one."""
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                command = getattr(parsed, action.dest, None)
                if command in action.choices:
                    return action.choices[command]  # type: ignore[no-any-return]
        return self


def add_config_options(
    parser: argparse.ArgumentParser,
    skip: tuple[str, ...] = (),
    *,
    choices: Mapping[str, tuple[str, ...]] | None = None,
    helps: Mapping[str, str] | None = None,
) -> None:
    """One flag per config field (but those in `skip`), defaulting to None so only flags given override --config.
    A command that takes fewer choices, or uses a setting otherwise, narrows them (`choices`) or words it (`helps`)."""
    parser.add_argument("--config", type=Path, metavar="FILE.toml", help="read settings from a TOML file first")
    group = parser.add_argument_group("experiment settings (defaults in brackets)")
    for field in ExperimentConfig.fields():
        if field.name in skip:
            continue
        allowed = (choices or {}).get(field.name, field.metadata["choices"]) or None
        if isinstance(allowed, DatasetChoices):  # open: argparse would list only the built-ins, the config says all
            allowed = None
        help_text = (helps or {}).get(field.name, field.metadata["help"])
        if "(default:" not in help_text:  # a default that the help explains needs no brackets
            help_text += f" [{_default_text(field)}]"
        if setting_type(field) is bool:
            group.add_argument(
                flag_name(field.name), action=argparse.BooleanOptionalAction, default=None, help=help_text
            )
        else:
            group.add_argument(
                flag_name(field.name),
                type=setting_type(field),
                choices=allowed,
                default=None,
                metavar=None if allowed else field.name.upper(),
                help=help_text,
            )


def config_from_args(args: argparse.Namespace, base: ExperimentConfig | None = None) -> ExperimentConfig:
    """`settings_from_args`' config, after a note for each setting given that has no effect in it."""
    config, given = settings_from_args(args, base)
    note_unused(given, [config])
    return config


def settings_from_args(
    args: argparse.Namespace, base: ExperimentConfig | None = None
) -> tuple[ExperimentConfig, list[str]]:
    """`base` (default: the --preset's settings if one is named, else the defaults), the --config file's settings
    over it, then the flags given on the command line; validated. With the names of the settings the user gave
    (in the file or as flags), not those from defaults or the preset."""
    preset = getattr(args, "preset", None)  # commands without --preset have none
    base = base or (load_preset(preset).config if preset else ExperimentConfig())
    in_file = read_toml(args.config) if args.config else {}
    base = ExperimentConfig.from_mapping(in_file, base)
    given = {
        f.name: getattr(args, f.name) for f in ExperimentConfig.fields() if getattr(args, f.name, None) is not None
    }
    # A file's key at its default value is not counted as given: a run's own config.toml holds every key.
    defaults = ExperimentConfig()
    set_in_file = {
        name
        for name in (key.replace("-", "_") for key in in_file)
        if getattr(base, name, None) != getattr(defaults, name, None)
    }
    named = set_in_file | given.keys()
    return dataclasses.replace(base, **given).validate(), [f.name for f in ExperimentConfig.fields() if f.name in named]


def note_unused(given: list[str], configs: list[ExperimentConfig]) -> None:
    """One stderr line for each setting in `given` that has no effect in any of `configs` (why, from the first)."""
    for name in given:
        reasons = [config.not_applicable(name) for config in configs]
        if reasons and all(reasons):
            print(f"note: {flag_name(name)} has no effect: {reasons[0]}", file=sys.stderr)


def fail(message: str, code: int = 2) -> int:
    """Print a one-line error the way argparse does and return `code` (by default the usage-error exit code)."""
    print(f"prunetui: error: {message}", file=sys.stderr)
    return code


def _default_text(field: dataclasses.Field[Any]) -> str:
    value = field.default
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value) if value != "" else "none"


def add_preset_option(parser: argparse.ArgumentParser, then: str) -> None:
    """--preset, read by `settings_from_args`; `then` says what else the command does with it."""
    parser.add_argument(
        "--preset", metavar="NAME", help=f"start from a recipe from a paper (see prunetui presets); {then}"
    )


def add_runs_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runs-dir",
        type=Path,
        metavar="DIR",
        help="the runs root (default: $PRUNETUI_RUNS, else a per-user data directory)",
    )


def add_seeds_option(parser: argparse.ArgumentParser, what: str) -> None:
    """--seeds, read with `seed_stats.parse_seeds`."""
    parser.add_argument(
        "--seeds",
        metavar="SEEDS",
        help=f"repeat {what} once per seed, e.g. 0,1,2 or 0-4, and report mean ± standard deviation (n); "
        "instead of --seed",
    )


def add_parallel_options(parser: argparse.ArgumentParser, what: str) -> None:
    """--jobs, --threads, --devices and --ray: how the command's `what` (points, seeds) run as executor jobs."""
    parallel = parser.add_argument_group(f"running {what} at once")
    parallel.add_argument(
        "--jobs",
        metavar="N",
        help=f"{what} at once, in worker processes; auto: one per core (or GPU) [1, or one per device]",
    )
    parallel.add_argument(
        "--threads", type=int, default=0, metavar="N", help="CPU threads per job [0: the cores shared among jobs]"
    )
    parallel.add_argument("--devices", default="", metavar="LIST", help="devices the jobs take in turn: cuda:0,cuda:1")
    parallel.add_argument(
        "--ray", nargs="?", const="", metavar="ADDRESS", help=f"run {what} as Ray tasks: a local instance, or a cluster"
    )


def parallel_from_args(args: argparse.Namespace) -> Parallel:
    """The Parallel of `add_parallel_options`' flags, validated (ConfigError)."""
    devices = tuple(device.strip() for device in args.devices.split(",") if device.strip())
    jobs = parse_jobs(args.jobs, devices) if args.jobs else max(1, len(devices))
    return Parallel(jobs, args.threads, devices, args.ray).validate()
