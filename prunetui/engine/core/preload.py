"""torch.optim loaded ahead of the first training step, in a background thread. Plain Python until the thread runs.

torch.optim's first optimizer imports torch._dynamo (torch's compiler), which takes about as long as importing torch.
The app starts loading it after its first paint, while the user fills the form; a run starts it as it starts, and it
loads while the run reads its data and builds its network. Two threads importing the same modules in opposite orders
can deadlock (Python then fails one of the imports), and code that is not prunetui's may import torch's compiler
itself (torchvision does): every import of such code waits for the loading first (`before_foreign_code`).

Once loaded, what is alive (torch, its compiler, the app's modules: some 400,000 objects that live as long as the
process) leaves the garbage collector's sight (`gc.freeze`): each full collection walked them all, 0.1-0.2 s paid by
whichever thread allocated then, and when that was the app's UI thread it was a third of its time over a ten-second
run (measured on the project's shared 2-core machine).
"""

from __future__ import annotations

import contextlib
import gc
import threading

_started: threading.Thread | None = None
_lock = threading.Lock()


def load_torch_optim() -> threading.Thread:
    """The thread, started by the first call in a process, that imports torch and constructs a throwaway optimizer;
    join() it to wait for both. A daemon: a process may end (the app quit) while it loads."""
    global _started
    with _lock:
        if _started is None:
            _started = threading.Thread(target=_load, name="prunetui: loading torch.optim", daemon=True)
            _started.start()
        return _started


def _load() -> None:
    with contextlib.suppress(Exception):  # a torch that fails here fails the run where it builds its optimizer
        import torch

        torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    gc.freeze()


def before_foreign_code() -> None:
    """Wait for the loading, if one has started: called before importing code that is not prunetui's or torch's (the
    user's network or data set, torchvision)."""
    if _started is not None:
        _started.join()
