"""`export --onnx`: the exported model as ONNX, for runtimes other than PyTorch, checked with onnxruntime.

torch.onnx.export is torch's dynamo-based exporter (its default since torch 2.9), which writes the graph with
onnxscript; onnxruntime then runs the file on the check batch, and its outputs must equal PyTorch's. All three come
with the optional extra `prunetui[onnx]` and are imported only here, when a user asks for ONNX.

    missing = onnx_missing()                                   # None, or what to install
    report = write_onnx(model, images, run_dir / "model-compact.onnx")
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from prunetui.engine.core.errors import PrunetuiError
from prunetui.engine.core.files import write_atomic

EXTRA = "pip install 'prunetui[onnx]'"
EQUAL_OUTPUTS = 1e-4  # onnxruntime's outputs may differ from PyTorch's by this much at most
ONNX_SUFFIX = ".onnx"


@dataclass(frozen=True, slots=True)
class OnnxReport:
    path: str
    bytes: int
    batch: int  # images the file was checked on, with onnxruntime on the CPU
    max_difference: float  # the largest absolute difference of its outputs from PyTorch's


def onnx_missing() -> str | None:
    """None when ONNX export can run; else one line naming what to install."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401  # the dynamo-based exporter writes its graph with it
    except ImportError as error:
        return f"ONNX export needs {error.name or 'onnx'}: {EXTRA}"
    return None


def write_onnx(model: nn.Module, images: Tensor, path: str | Path) -> OnnxReport:
    """Write `model` (in eval mode, on the CPU) as ONNX to `path`, atomically and in one file, with the batch size
    left free; run it with onnxruntime on `images` and compare with PyTorch's outputs. A PrunetuiError of one line
    if torch cannot export the graph or the outputs differ by more than EQUAL_OUTPUTS (the file is not kept)."""
    import onnxruntime

    model = model.cpu().eval()
    images = images.cpu()
    batch = torch.export.Dim("batch", min=1)
    chatter = io.StringIO()  # the exporter reports its steps on stdout: the CLI prints its own summary instead
    try:
        with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter):
            program = torch.onnx.export(
                model,
                (images[:2],),
                input_names=["images"],
                output_names=["logits"],
                dynamic_shapes=({0: batch},),
                dynamo=True,
                external_data=False,
            )
    except Exception as error:  # torch.export and the ONNX translation raise many kinds
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise PrunetuiError(f"torch.onnx.export could not export this model: {first}") from error
    assert program is not None  # with no file given, the exporter returns the program
    payload = program.model_proto.SerializeToString()
    session = onnxruntime.InferenceSession(payload, providers=["CPUExecutionProvider"])
    (outputs,) = session.run(None, {session.get_inputs()[0].name: images.numpy()})
    with torch.no_grad():
        expected = model(images)
    difference = float((torch.from_numpy(outputs) - expected).abs().max())
    if difference > EQUAL_OUTPUTS:
        raise PrunetuiError(
            f"the ONNX model computes something else than PyTorch's (outputs differ by {difference:.3g}, more than "
            f"{EQUAL_OUTPUTS:g}); {Path(path).name} not written"
        )
    write_atomic(path, payload)
    return OnnxReport(str(path), len(payload), len(images), difference)
