"""One device vocabulary (`--device`, `--devices`) and one resolver, which imports torch only when it resolves."""

from __future__ import annotations

import pytest
import torch

from prunetui.engine import ExperimentConfig
from prunetui.engine.core.device import DEVICES, KINDS, parse_device, resolve_device
from prunetui.engine.core.errors import ConfigError, DeviceError
from tests.engine_helpers import printed_by


def test_the_device_setting_and_the_workers_devices_share_one_vocabulary() -> None:
    device = next(f for f in ExperimentConfig.fields() if f.name == "device")
    assert tuple(device.metadata["choices"]) == DEVICES == ("auto", *KINDS)
    assert [parse_device(kind) for kind in KINDS] == [(kind, "") for kind in KINDS]
    assert parse_device(" cuda:1 ") == ("cuda", "1")
    for bad in ("auto", "cpu:0", "cuda:x", "tpu"):  # auto is the setting's; a worker is given a device
        with pytest.raises(ConfigError, match=f"invalid --devices: '{bad}' is not cpu, mps, cuda or cuda:N"):
            parse_device(bad)


def test_a_name_resolves_to_the_torch_device_or_says_why_not() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert resolve_device("auto") == torch.device(expected)
    if not torch.cuda.is_available():
        for name in ("cuda", "cuda:1"):
            with pytest.raises(DeviceError, match="device cuda requested but CUDA is not available here"):
                resolve_device(name)
    else:
        assert resolve_device("cuda:0") == torch.device("cuda:0")
    if not torch.backends.mps.is_available():
        with pytest.raises(DeviceError, match="device mps requested but MPS is not available here"):
            resolve_device("mps")
    with pytest.raises(ConfigError):
        resolve_device("tpu")


def test_the_vocabulary_loads_without_torch_and_the_resolver_brings_it() -> None:
    code = (
        "import sys\n"
        "from prunetui.engine.core.device import DEVICES, resolve_device\n"
        "before = 'torch' in sys.modules\n"
        "print(before, resolve_device('cpu'), 'torch' in sys.modules)\n"
    )
    assert printed_by(code) == ["False", "cpu", "True"]
