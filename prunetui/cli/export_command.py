"""`prunetui export RUN`: the run's model sizes told honestly, and for ln-structured runs a smaller, faster model."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from prunetui.cli.options import fail
from prunetui.describe import compression_text, cost_text, kept_word, kib, storage_note
from prunetui.engine.core.errors import PrunetuiError
from prunetui.engine.core.events import Exported
from prunetui.engine.storage.runs import resolve_run, runs_root

if TYPE_CHECKING:
    from prunetui.engine.storage.compact import ExportReport


def export_command(args: argparse.Namespace, console: Console) -> int:
    try:
        run_dir = resolve_run(args.run, runs_root(args.runs_dir))
        from prunetui.engine.storage.compact import export_run  # imports torch
        from prunetui.engine.storage.onnx_export import onnx_missing

        missing = onnx_missing() if args.onnx else None
        if missing:
            return fail(missing)
        with console.status("loading the model, checking and timing …"):
            report = export_run(run_dir, onnx=args.onnx)
    except PrunetuiError as error:
        return fail(str(error))
    _print_report(report, run_dir, console)
    if report.onnx is not None:
        onnx = report.onnx
        console.print(
            f"ONNX: {onnx.path} ({kib(onnx.bytes)}); onnxruntime's outputs on {onnx.batch} random inputs differ "
            f"from PyTorch's by {onnx.max_difference:.2g} at most",
            highlight=False,
        )
    return 0


def _print_report(report: ExportReport, run_dir: Path, console: Console) -> None:
    saved, small = report.saved, report.compact
    console.print(f"[bold]{report.run}[/]: {report.model}, {report.method} · in {run_dir}")
    sizes = Table(title="Model file sizes", title_justify="left")
    for column in ("model", "parameters", "dense", "sparse (CSR)", "gzipped"):
        sizes.add_column(column, justify="left" if column == "model" else "right")
    parameters = f"{report.parameters:,} ({report.nonzero:,} {kept_word(report.structured)})"
    sizes.add_row(f"{Path(saved.path).name} (masks made permanent)", parameters, *_sizes(saved))
    kept = compression_text(report.counted)
    cost = cost_text(report.dense_cost, report.cost)
    if small is None:
        console.print(sizes)
        console.print(kept)
        if cost:
            console.print(cost, highlight=False)
        console.print(storage_note(report.structured, report.sparsity, saved))
        return
    sizes.add_row(f"{Path(small.saved.path).name} (smaller network)", f"{small.parameters:,}", *_sizes(small.saved))
    console.print(sizes)
    console.print(f"{kept}, as the smaller network keeps them")
    widths = ", ".join(f"{width.name} {width.kept}/{width.total}" for width in small.widths)
    console.print(f"kept filters / neurons: {widths}")
    verdict = "identical" if small.same_predictions else "[red]DIFFERENT[/]"
    console.print(
        f"predictions on {small.timing.batch} random inputs: {verdict} to the masked model "
        f"(largest logit difference {small.max_logit_difference:.2g})"
    )
    if cost:
        console.print(cost, highlight=False)
    if small.latencies:  # measured at batch 1 and a large batch, the models taking turns
        for latency in small.latencies:
            dense_ms, compact_ms = latency.milliseconds
            console.print(
                f"latency, batch of {latency.batch} on {latency.device}: dense {dense_ms:.2f} ms, compact "
                f"{compact_ms:.2f} ms → [bold]{latency.speedup():.2f}×[/] as fast (median)"
            )
        return
    timing = small.timing
    console.print(
        f"inference, batch of {timing.batch} on the CPU: dense {timing.dense_ms:.2f} ms, smaller "
        f"{timing.compact_ms:.2f} ms → [bold]{timing.speedup:.2f}×[/] as fast"
    )


def _sizes(saved: Exported) -> tuple[str, str, str]:
    return kib(saved.dense_bytes), kib(saved.sparse_bytes), kib(saved.gzip_bytes)
