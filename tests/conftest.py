from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from prunetui.engine import ExperimentConfig
from tests.idx import write_dataset

# The CLIs the tests start as subprocesses would each spin one OpenMP thread per core on cores the test workers
# already fill: with one thread, the subprocess-heavy files took 73 s instead of 91 s on 2 cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True, scope="session")
def signals_as_from_a_terminal() -> Iterator[None]:
    """Ctrl+C handled and SIGHUP not ignored in the test process, and so in the commands it starts, whatever started
    the suite: a shell's background job (`pytest &`) comes with Ctrl+C ignored, `nohup pytest` with SIGHUP, and a
    command keeps a signal ignored that it started with ignored (as `nohup` needs). Put back after."""
    wanted = {signal.SIGINT: signal.default_int_handler, signal.SIGHUP: signal.SIG_DFL}
    before = {signum: signal.signal(signum, handler) for signum, handler in wanted.items()}
    yield
    for signum, handler in before.items():
        signal.signal(signum, signal.SIG_DFL if handler is None else handler)  # None: not set by Python


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root holding tiny generated mnist, fashion-mnist and kmnist IDX files."""
    root = tmp_path_factory.mktemp("data")
    for name in ("mnist", "fashion-mnist", "kmnist"):
        write_dataset(root, name)
    return root


@pytest.fixture(scope="session")
def tiny_mnist_64(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny mnist with 64 test images, not 256: for the ResNets, whose evaluations on 256 (0.33 s each for a
    resnet20 on 2 cores) were most of what their tests took."""
    root = tmp_path_factory.mktemp("data-64")
    write_dataset(root, "mnist", n_test=64)
    return root


@pytest.fixture
def tiny_config(tiny_data: Path) -> ExperimentConfig:
    from tests.engine_helpers import tiny_settings  # here: the engine's helpers import torch (see one_torch_thread)

    return tiny_settings(tiny_data)


@pytest.fixture
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich wraps at the console's width: wide enough, a message or a table row stays on one line."""
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture(autouse=True)
def no_system_data_or_download(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never read /usr/share/datasets, the user's caches, runs or settings, or the network."""
    monkeypatch.setattr("prunetui.engine.core.data.sources.SYSTEM_DATA_DIR", tmp_path / "no-system-data")
    monkeypatch.setenv("PRUNETUI_DATA", str(tmp_path / "no-user-cache"))
    monkeypatch.setenv("PRUNETUI_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("PRUNETUI_CONFIG_DIR", str(tmp_path / "config"))  # the app's remembered settings
    monkeypatch.setenv("PRUNETUI_CACHE", str(tmp_path / "cache"))  # decoded data sets
    # FashionMNIST and KMNIST have mirrors of their own, not inherited from MNIST.
    for name in ("MNIST", "FashionMNIST", "KMNIST"):
        monkeypatch.setattr(f"torchvision.datasets.{name}.mirrors", ["http://127.0.0.1:9/"])
    monkeypatch.setattr("prunetui.engine.core.data.sources.MIRROR_HOSTS", (("127.0.0.1", 9),))  # offline


@pytest.fixture
def mirror(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A host that accepts connections, as torchvision's mirrors do online (nothing is downloaded from it)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        monkeypatch.setattr("prunetui.engine.core.data.sources.MIRROR_HOSTS", (server.getsockname()[:2],))
        yield


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread() -> None:
    """Tiny models gain nothing from a second thread, and OpenMP threads that spin on a busy machine (another
    test run, CI neighbours) made engine tests up to 20x slower. Imported here, not at the top: the app's
    tests check that the first screen paints before torch is imported (in a subprocess)."""
    import torch

    torch.set_num_threads(1)
