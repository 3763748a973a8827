"""`prunetui data SPEC`: what prunetui finds for a data set, before a run trains on it."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from prunetui.cli.options import fail
from prunetui.engine.core.data.facts import PATHS
from prunetui.engine.core.errors import BadDataError, ConfigError, PrunetuiError

SHOWN_CLASSES = 20  # more are counted, not listed


def add_data_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "data",
        help="what prunetui finds for a data set: images, classes, size, channels, where from, whether it fits",
        description="Load a data set as `prunetui run --dataset SPEC` would and say what it is: its images, classes "
        "(by name), size and channels, where it is read from, and whether it fits in the training device's memory "
        "as prunetui holds it (float32 for the IDX sets, uint8 for the others; at most a quarter of the free "
        "memory). SPEC is a built-in (fashion-mnist-mini, mnist, fashion-mnist, kmnist, cifar10, cifar100), "
        "imagefolder:PATH, package.module:factory or path/to/file.py:factory.",
    )
    parser.add_argument("spec", metavar="SPEC", help="the data set, as --dataset takes it")
    parser.add_argument(
        "--data-dir", metavar="DIR", help="data set root (default: $PRUNETUI_DATA, else a per-user cache)"
    )
    parser.add_argument("--image-size", type=int, default=0, metavar="N", help="imagefolder: resize to N x N")
    parser.add_argument("--device", default="auto", help="the training device whose memory counts [auto]")
    parser.add_argument("--no-download", action="store_true", help="only what is on disk")


def data_command(args: argparse.Namespace, console: Console) -> int:
    from prunetui.engine.core.data.summary import summary_loading  # torch, only now
    from prunetui.engine.core.device import resolve_device

    try:
        steps = summary_loading(
            args.spec,
            Path(args.data_dir) if args.data_dir else None,
            resolve_device(args.device),
            image_size=args.image_size,
            download=not args.no_download,
        )
        while True:
            try:
                console.print(next(steps).message, style="dim", highlight=False, markup=False)
            except StopIteration as done:
                summary = done.value
                break
    except PrunetuiError as error:  # a spec or data that is there but wrong is the user's input (2); missing, 1
        return fail(str(error), code=2 if isinstance(error, BadDataError | ConfigError) else 1)
    classes = list(summary.class_names[:SHOWN_CLASSES])
    if len(summary.class_names) > SHOWN_CLASSES:
        classes.append(f"… and {len(summary.class_names) - SHOWN_CLASSES} more")
    s = summary.shape
    if summary.fits is None:
        fits = f"free memory of {summary.device} unknown"
    else:
        verdict = "fits in memory" if summary.fits else "does NOT fit in memory (over a quarter of it)"
        fits = f"{verdict} on {summary.device} ({_size(summary.free_bytes or 0)} free)"
    lines = [
        f"data set: {summary.spec}",
        f"images:   {summary.images:,} ({summary.train:,} training, {summary.test:,} test)",
        f"classes:  {len(summary.class_names)}: {', '.join(classes)}",
        f"size:     {s.size}×{s.size}, {s.channels} channel{'s' if s.channels != 1 else ''}",
        f"reads:    {summary.source}",
        f"scaling:  standardised by {summary.normalisation or 'nothing'} (per channel, of pixels 0-1)",
        f"path:     {PATHS.get(summary.path, summary.path)}",
        f"memory:   {_size(summary.held_bytes)} as {'uint8' if summary.value_bytes == 1 else 'float32'}; {fits}",
    ]
    for line in lines:
        console.print(line, highlight=False, markup=False)
    return 0


def _size(n: float) -> str:
    """1,234 bytes, 12.3 KiB, 4.5 MiB, 1.2 GiB."""
    if n < 1024:
        return f"{int(n):,} bytes"
    for unit in ("KiB", "MiB"):
        n /= 1024
        if n < 1024:
            return f"{n:,.1f} {unit}"
    return f"{n / 1024:,.1f} GiB"
