"""Argument parsing and dispatch. Torch is imported only by the subcommands that need it."""

from __future__ import annotations

import argparse
import atexit
import os
import sys
import threading
import traceback
from pathlib import Path
from typing import NoReturn

from prunetui import __version__
from prunetui.cli.data_command import add_data_parser, data_command
from prunetui.cli.export_command import export_command
from prunetui.cli.options import (
    RUN_HELP,
    OneLineErrorParser,
    ParagraphsFormatter,
    add_config_options,
    add_parallel_options,
    add_preset_option,
    add_runs_dir_option,
    add_seeds_option,
    fail,
)
from prunetui.cli.output import make_console
from prunetui.cli.presets_command import add_presets_parser, presets_command
from prunetui.cli.run_command import run_command
from prunetui.cli.runs_command import add_runs_parser, runs_command
from prunetui.cli.seed_group import seeds_command
from prunetui.cli.sensitivity_command import add_sensitivity_parser, sensitivity_command
from prunetui.cli.sweep_command import add_sweep_parser, sweep_command
from prunetui.engine.core.config import ExperimentConfig
from prunetui.engine.core.errors import ConfigError

DESCRIPTION = """\
Run neural-network pruning experiments with PyTorch and watch them happen.

With no command, opens the app (a terminal UI). `prunetui run` runs one experiment headless.
The default data set, fashion-mnist-mini, is built in. The others are looked for in --data-dir,
$PRUNETUI_DATA or a per-user cache, then in /usr/share/datasets/<name> (Debian's dataset-* packages),
then downloaded.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(prog="prunetui", description=DESCRIPTION, formatter_class=ParagraphsFormatter)
    parser.add_argument("--version", action="version", version=f"prunetui {__version__}")
    parser.add_argument("--config", type=Path, metavar="FILE.toml", help="open the app with settings from a TOML file")
    add_runs_dir_option(parser)  # the app's
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineErrorParser)

    run = commands.add_parser(
        "run",
        help="run one experiment headless: train, prune, fine-tune, report",
        description="Train, prune and fine-tune one model headless, with progress and a per-layer table at the end. "
        "Settings come from the defaults, then --preset, then the --config file, then the flags given, each over "
        "the one before. Ctrl+C, SIGTERM or SIGHUP (a dropped SSH session) stops "
        "between batches and keeps the results.",
    )
    add_preset_option(run, "at the end, the paper's figures are shown beside this run's")
    run.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="save config, history CSV, summary JSON and the model exactly here (default: a new run directory "
        "under the runs root); a directory that holds a run already is refused",
    )
    run.add_argument(
        "--overwrite", action="store_true", help="let --out replace the run it holds (never one still running)"
    )
    add_runs_dir_option(run)
    add_seeds_option(run, "the experiment")
    add_parallel_options(run, "seeds")
    add_config_options(run)

    add_runs_parser(commands)
    add_sweep_parser(commands)
    add_sensitivity_parser(commands)
    add_presets_parser(commands)
    add_data_parser(commands)

    export = commands.add_parser(
        "export",
        help="a run's model sizes told honestly; for ln-structured runs a smaller, faster network",
        description="Report the sizes of a run's exported model (masks made permanent with prune.remove): dense, "
        "sparse CSR and gzipped. For an ln-structured run, also cut the zeroed filters and neurons out into a "
        "smaller LeNet (saved beside the model), check it predicts the same, and time both. Unstructured masks "
        "alone do not speed up dense PyTorch inference.",
    )
    export.add_argument("run", metavar="RUN", help=RUN_HELP)
    export.add_argument(
        "--onnx",
        action="store_true",
        help="also write the smaller network (else the model) as ONNX beside it, checked with onnxruntime "
        "(needs pip install 'prunetui[onnx]')",
    )
    add_runs_dir_option(export)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        return _dispatch(argv)
    except Exception as error:
        problem = broken_torch(error)
        if problem is None:
            raise
        return fail(problem, code=1)


def command() -> NoReturn:
    """The `prunetui` command and `python -m prunetui`: `main`, then `exit_process`."""
    exit_process(main())


def exit_process(code: int) -> NoReturn:
    """End the `prunetui` command with `code`; once torch is imported, without the interpreter's teardown of its
    modules, as the app does: about 0.2 s of CPU and up to 0.4 s of wall at the end of every command that ran
    something, with nothing left to save. What a normal exit does first is done: threading's exit hooks (which stop
    idle `concurrent.futures` pools) and the other threads awaited, exit handlers run (multiprocessing's removes
    its temporary directories, logging's flushes), output flushed."""
    if "torch" not in sys.modules:
        raise SystemExit(code)
    threading._shutdown()  # type: ignore[attr-defined]  # as the interpreter's exit: its hooks, then the threads
    atexit._run_exitfuncs()
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):  # its reader gone, or closed: as the interpreter's exit says then
        code = 120
    os._exit(code)


def broken_torch(error: BaseException) -> str | None:
    """One line for an error raised while importing torch (missing, or a broken install: a library that will not
    load, a version mismatch), or None for any other error."""
    if isinstance(error, ModuleNotFoundError) and (error.name or "").partition(".")[0] == "torch":
        return "cannot import torch: it is not installed (pip install torch)"
    frames = traceback.extract_tb(error.__traceback__)
    if not any(frame.name == "<module>" and Path(frame.filename).parts[-2:] == ("torch", "__init__.py")
               for frame in frames):  # fmt: skip
        return None
    text = str(error).strip()
    what = f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__
    return f"cannot import torch ({what}); reinstall it: pip install --force-reinstall torch"


def _dispatch(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    console = make_console()
    commands = {
        "run": run_command,
        "runs": runs_command,
        "export": export_command,
        "sweep": sweep_command,
        "sensitivity": sensitivity_command,
        "presets": presets_command,
        "data": data_command,
    }
    if args.command == "run" and args.seeds is not None:
        return seeds_command(args, console)
    if args.command in commands:
        return commands[args.command](args, console)
    return _open_app(args)


def _open_app(args: argparse.Namespace) -> int:
    try:
        config = ExperimentConfig.load(args.config) if args.config else None
    except ConfigError as error:
        return fail(str(error))
    from prunetui.app import run_app  # Textual only when the app is wanted

    return run_app(config, args.runs_dir) or 0
