"""Saving a pruned model for real: masks folded in (prune.remove), and its size told honestly.

Unstructured zeros make a file smaller only when stored sparsely or compressed; a dense PyTorch
model with zeros in it is as large, and as slow, as before.
"""

from __future__ import annotations

import gzip
import io
import pickle
import re
import shutil
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from prunetui.engine.core.errors import PrunetuiError
from prunetui.engine.core.events import Exported
from prunetui.engine.core.files import write_atomic, write_atomic_with
from prunetui.engine.core.models import LENET_INPUT, MODELS, build_model
from prunetui.engine.core.networks.checks import build_checked
from prunetui.engine.core.networks.registry import resolve
from prunetui.engine.core.networks.spec import InputShape
from prunetui.engine.pruning.structural import StructuralError, replay

BYTES_PER_VALUE = 4  # float32
BYTES_PER_INDEX = 4  # CSR with 32-bit column indices and row pointers
CHUNK_BYTES = 1 << 20  # what export_in_place reads of a file at once
GZIP_LEVEL = 6  # what `gzip FILE` gives; level 9 took 15 times as long (0.4 s for a LeNet-300-100) for 8 % less


def permanent_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's state with masks applied and removed (as `prune.remove` would), on the CPU; the live model is
    left as it is. Built from the state dict, not a copy of the module: a run stopped mid-batch holds masked
    weights that are not graph leaves, and those cannot be deep-copied."""
    masks = {
        name.removesuffix("_mask"): mask.cpu() for name, mask in model.state_dict().items() if name.endswith("_mask")
    }
    return {name: tensor * masks[name] if name in masks else tensor for name, tensor in unpruned_state(model).items()}


# A checkpoint is plain data that torch.load(weights_only=True) reads without running code: the network's spec
# ("model": a built-in name, torchvision:NAME or module:factory; "model_args"; "input": [channels, size, classes];
# "output_layer"), the LeNets' size arguments ("shape") and, for data other than 1x28x28 images of 10 classes, their
# "input"; the state dict, and for a network other than the LeNets:
# "pruned_channels", the structural pruning history of a full-size masked model (what `export` compacts by), or
# "compact_history", the history replayed on a freshly built network to give the compact model's shapes. Beside them,
# for whoever uses the model and not read to load it, "data": its "classes" by label, and the "mean" and "std" per
# channel (of pixels 0-1) its input is standardised by.
Network = Mapping[str, Any]


def export_model(model: nn.Module, model_name: str, path: str | Path, network: Network | None = None) -> Exported:
    """Save the permanent pruned model to `path` (atomically) and return its sizes."""
    return save_sized(permanent_state(model), model_name, path, network=network)


def export_in_place(model: nn.Module, model_name: str, path: str | Path, network: Network | None = None) -> Exported:
    """`export_model` for a model that will not train again, when memory has run out: no copy of its weights.
    The masks are folded into the weights in place (`weight_orig *= weight_mask`: the effective weights do not
    change), the file is written from the tensors themselves as torch.save goes, and its gzipped size is counted
    reading it back in chunks."""
    with torch.no_grad():
        state = model.state_dict()
        for name, mask in state.items():
            if name.endswith("_mask"):
                state[name.removesuffix("_mask") + "_orig"].mul_(mask)
        weights = {name.removesuffix("_orig"): tensor for name, tensor in state.items() if not name.endswith("_mask")}
    document = {**(network or {}), "model": model_name, "shape": {}, "state_dict": weights}
    write_atomic_with(path, lambda file: torch.save(document, file))
    return Exported(
        str(path),
        dense_bytes=sum(tensor.numel() * BYTES_PER_VALUE for tensor in weights.values()),
        sparse_bytes=sum(_csr_bytes(tensor) for tensor in weights.values()),
        gzip_bytes=_gzip_size(Path(path)),
    )


def _gzip_size(path: Path) -> int:
    """The size `gzip.compress` would give the file, without the file or its compressed copy in memory."""
    counted = _Counter()
    with path.open("rb") as source, gzip.GzipFile(fileobj=counted, mode="wb", compresslevel=GZIP_LEVEL, mtime=0) as out:
        shutil.copyfileobj(source, out, CHUNK_BYTES)
    return counted.size


class _Counter(io.RawIOBase):
    """A binary sink that keeps only the number of bytes written to it."""

    size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.size += len(data)
        return len(data)


def unpruned_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The weights behind the masks (`weight_orig`), on the CPU: right after the first prune, the dense model."""
    return {
        name.removesuffix("_orig"): tensor.detach().cpu().clone()
        for name, tensor in model.state_dict().items()
        if not name.endswith("_mask")
    }


def save_state(
    state: dict[str, torch.Tensor],
    model_name: str,
    path: str | Path,
    shape: dict[str, tuple[int, ...]] | None = None,
    network: Network | None = None,
) -> None:
    """Save a plain state dict (atomically) for `load_model`; `shape` holds a LeNet's size arguments, if any;
    `network` the rest of the spec of a network other than the LeNets (see `Network`)."""
    write_atomic(path, _checkpoint(state, model_name, shape, network))


def save_sized(
    state: dict[str, torch.Tensor],
    model_name: str,
    path: str | Path,
    shape: dict[str, tuple[int, ...]] | None = None,
    network: Network | None = None,
) -> Exported:
    """`save_state`, and the file's sizes. Apart: gzipping the file costs 35 times what saving it does (1.5 s for a
    torchvision resnet18's 45 MB on the project's 2-core machine), and nobody reads the sizes of a dense.pt."""
    payload = _checkpoint(state, model_name, shape, network)
    write_atomic(path, payload)
    return _sizes(path, state, payload)


def _checkpoint(
    state: dict[str, torch.Tensor], model_name: str, shape: dict[str, tuple[int, ...]] | None, network: Network | None
) -> bytes:
    buffer = io.BytesIO()
    torch.save({**(network or {}), "model": model_name, "shape": shape or {}, "state_dict": state}, buffer)
    return buffer.getvalue()


def saved_sizes(path: str | Path) -> Exported:
    """The sizes of a model file saved by `save_state`, as `save_sized` reports them."""
    state = dict(load_model(path).state_dict())
    return _sizes(path, state, Path(path).read_bytes())


def _sizes(path: str | Path, state: dict[str, torch.Tensor], payload: bytes) -> Exported:
    return Exported(
        str(path),
        dense_bytes=sum(tensor.numel() * BYTES_PER_VALUE for tensor in state.values()),
        sparse_bytes=sum(_csr_bytes(tensor) for tensor in state.values()),
        gzip_bytes=len(gzip.compress(payload, compresslevel=GZIP_LEVEL, mtime=0)),
    )


def load_model(path: str | Path) -> nn.Module:
    """Load a checkpoint saved by `save_state` (model.pt, dense.pt, model-compact.pt): the one loader of the engine.

    weights_only=True never runs code from the file; a damaged or hostile file is a PrunetuiError of one line.
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():  # torch warns about foreign pickles on stderr before refusing them
            warnings.simplefilter("ignore")
            saved = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise PrunetuiError(f"model file not found: {path}") from None
    except OSError as error:  # a directory, no permission: the file is not the problem
        raise PrunetuiError(f"cannot read {path}: {error.strerror or error}") from None
    except Exception as error:  # torch.load raises EOFError, RuntimeError, UnpicklingError… for damaged files
        raise PrunetuiError(f"{path} is not a prunetui checkpoint ({_unreadable(path, error)})") from None
    if not (
        isinstance(saved, dict)
        and isinstance(saved.get("model"), str)
        and (saved["model"] in MODELS or isinstance(saved.get("input"), list))
        and isinstance(saved.get("shape"), dict)
        and isinstance(saved.get("state_dict"), dict)
    ):
        raise PrunetuiError(
            f"{path} is not a prunetui checkpoint (it holds no weights of a known model: {', '.join(MODELS)})"
        )
    try:
        model = (
            build_model(saved["model"], input_shape=lenet_input(saved), **saved["shape"])
            if saved["model"] in MODELS
            else _rebuild(path, saved)
        )
        model.load_state_dict(saved["state_dict"])
    except (TypeError, ValueError, RuntimeError) as error:  # sizes or weights that do not fit the model
        raise PrunetuiError(f"{path} is not a prunetui checkpoint ({str(error).strip().splitlines()[0]})") from None
    return model.eval()


def lenet_input(saved: Network) -> InputShape:
    """The data a LeNet checkpoint was trained on: its "input" where the run's images were not 1x28x28 of 10
    classes (`experiment.checkpoint_fields`), else those."""
    return InputShape(*saved["input"]) if "input" in saved else LENET_INPUT


def saved_network(path: str | Path) -> dict[str, Any]:
    """The checkpoint's spec and pruning history, without its weights (see `Network`)."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    return {key: value for key, value in saved.items() if key != "state_dict"}


def _rebuild(path: Path, saved: dict[str, Any]) -> nn.Module:
    """A network other than the LeNets, built from its spec (its code imported: a module that moved is one line),
    and cut to the compact model's shapes by the history it was compacted with."""
    try:
        spec = resolve(saved["model"], saved.get("model_args") or {}, saved.get("output_layer") or None)
        shape = InputShape(*saved["input"])
        model = build_checked(spec, shape)
        history = saved.get("compact_history")
        if history:
            replay(model, spec.example_input(shape), [(name, bool(out), tuple(idx)) for name, out, idx in history])
    except (PrunetuiError, StructuralError) as error:
        raise PrunetuiError(f"{path} holds {saved['model']}, which cannot be rebuilt: {error}") from None
    return model


def _unreadable(path: Path, error: Exception) -> str:
    """Why torch could not load `path`, in a few words."""
    if path.stat().st_size == 0:
        return "the file is empty"
    if isinstance(error, pickle.UnpicklingError):
        blocked = re.search(r"GLOBAL (\S+)", str(error))
        return f"it asks to run {blocked.group(1)}; refused, nothing was run" if blocked else "not a PyTorch file"
    if isinstance(error, RuntimeError) and "zip archive" in str(error):
        return "truncated or damaged"
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__


def _csr_bytes(tensor: torch.Tensor) -> int:
    if tensor.dim() < 2:
        return tensor.numel() * BYTES_PER_VALUE
    rows = tensor.shape[0]
    nonzero = int(tensor.count_nonzero())
    return nonzero * (BYTES_PER_VALUE + BYTES_PER_INDEX) + (rows + 1) * BYTES_PER_INDEX
