"""Where tensors live: the one vocabulary of device names, and the one place a name becomes a torch device.

`--device` (a run's setting) takes `DEVICES`; `--devices` (the workers of a sweep or seed group) takes a list of
`parse_device` names, where cuda may carry an index. Torch is imported only to resolve a name, so the config (and
the app's form) can be read without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prunetui.engine.core.errors import ConfigError, DeviceError

if TYPE_CHECKING:
    import torch

KINDS = ("cpu", "cuda", "mps")  # the kinds of device torch trains on here
DEVICES = ("auto", *KINDS)  # --device: auto picks cuda, then mps, then cpu


def parse_device(text: str) -> tuple[str, str]:
    """A --devices entry: "cuda:1" -> ("cuda", "1"); "cpu" -> ("cpu", ""); ConfigError for anything else."""
    name, _, index = text.strip().partition(":")
    if name not in KINDS or (index and not (name == "cuda" and index.isdigit())):
        raise ConfigError(f"invalid --devices: {text.strip()!r} is not cpu, mps, cuda or cuda:N")
    return name, index


def resolve_device(name: str) -> torch.device:
    """The torch device for a --device name (or a --devices entry); DeviceError when it is not available here."""
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind, _ = parse_device(name)
    if kind == "cuda" and not torch.cuda.is_available():
        raise DeviceError("device cuda requested but CUDA is not available here; use --device cpu or auto")
    if kind == "mps" and not torch.backends.mps.is_available():
        raise DeviceError("device mps requested but MPS is not available here; use --device cpu or auto")
    return torch.device(name)
