"""`python -m MODULE ARGS…` for the tests, forked from a process that imported torch already.

A test that runs `python -m prunetui …` (or one of the tests' drivers) in a subprocess pays for a fresh interpreter's
`import torch` and, at its first optimizer, torch's compiler (`torch._dynamo`, which torch.optim imports): about
4.4 s of CPU before the command does anything, on the project's 2-core machine, and the suite starts dozens. One
zygote per test process imports them once and forks a child per command; `Popen` and `run` here are
subprocess's, for commands of that form. The child is a process of its own as a subprocess is (its pid, stdin,
stdout and stderr, directory, environment, session, signals, exit status), runs the module as `python -m` does
and ends as the interpreter does (threads joined, exit handlers run, streams flushed). What a fork cannot show,
what a fresh interpreter imports and how long it takes, is tested with real subprocesses (`test_cli.py`,
`test_engine_imports.py`, the benchmarks).

    python -m tests.zygote SOCKET    # the zygote itself; its stdin closing (the test process gone) ends it
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
STARTED_WITH = dict(os.environ)  # the zygote's environment: this process's before any test changed it
REAP_EVERY = 0.02  # seconds between the zygote's checks for children that ended


class Popen(subprocess.Popen):  # type: ignore[type-arg]
    """subprocess.Popen for `[sys.executable, "-m", MODULE, ARGS…]`, started by this process's zygote;
    `controlling_terminal=True` (with `start_new_session`) makes the terminal on its stdin its controlling one."""

    def __init__(self, args: list[str], *, controlling_terminal: bool = False, **options: Any) -> None:
        if list(args[:2]) != [sys.executable, "-m"] or options.get("shell") or options.get("preexec_fn"):
            raise ValueError(f"the zygote runs `python -m MODULE ARGS…` only, not {args!r}")
        self._session = "terminal" if controlling_terminal else bool(options.get("start_new_session"))
        super().__init__(args, **options)

    def _execute_child(
        self,
        args: list[str],
        executable: Any,
        preexec_fn: Any,
        close_fds: Any,
        pass_fds: Any,
        cwd: Any,
        env: Any,
        startupinfo: Any,
        creationflags: Any,
        shell: Any,
        p2cread: int,
        p2cwrite: int,
        c2pread: int,
        c2pwrite: int,
        errread: int,
        errwrite: int,
        *_: Any,
    ) -> None:
        stdio = [p2cread, c2pwrite, errwrite]
        request = {
            "module": args[2],
            "args": [str(arg) for arg in args[3:]],
            "cwd": os.fspath(cwd) if cwd is not None else os.getcwd(),
            "env": dict(env if env is not None else os.environ),
            "session": self._session,
        }
        try:
            self._zygote, self.pid = _zygote().launch(request, [fd if fd != -1 else n for n, fd in enumerate(stdio)])
            self._child_created = True
        finally:
            self._close_pipe_fds(p2cread, p2cwrite, c2pread, c2pwrite, errread, errwrite)

    def _internal_poll(self, _deadstate: int | None = None, **_: Any) -> int | None:
        if self.returncode is None and select.select([self._zygote], [], [], 0)[0]:
            self._handle_exitstatus(int(_line(self._zygote)))
        return self.returncode

    def _wait(self, timeout: float | None) -> int:
        if self.returncode is None:
            if not select.select([self._zygote], [], [], timeout)[0]:
                raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
            self._handle_exitstatus(int(_line(self._zygote)))
        assert self.returncode is not None
        return self.returncode


def run(
    args: list[str],
    *,
    input: Any = None,
    timeout: float | None = None,
    check: bool = False,
    capture_output: bool = False,
    **options: Any,
) -> subprocess.CompletedProcess[Any]:
    """subprocess.run through the zygote."""
    if capture_output:
        options["stdout"] = options["stderr"] = subprocess.PIPE
    with Popen(args, stdin=subprocess.PIPE if input is not None else options.pop("stdin", None), **options) as process:
        try:
            out, err = process.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
    if check and process.returncode:
        raise subprocess.CalledProcessError(process.returncode, args, out, err)
    return subprocess.CompletedProcess(args, process.returncode, out, err)


class _Zygote:
    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="zygote-", dir="/tmp")) / "socket"  # short: 108 bytes at most
        command = [sys.executable, "-m", "tests.zygote", str(self.path)]
        self.process = subprocess.Popen(
            command, cwd=REPO, env=STARTED_WITH, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline() != "ready\n":
            raise RuntimeError(f"the tests' zygote did not start (exit status {self.process.wait()})")
        atexit.register(self.process.kill)

    def launch(self, request: dict[str, Any], stdio: list[int]) -> tuple[socket.socket, int]:
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.connect(str(self.path))
        socket.send_fds(connection, [json.dumps(request).encode()], stdio)
        connection.shutdown(socket.SHUT_WR)
        return connection, int(_line(connection))


_started: list[_Zygote] = []
_lock = threading.Lock()


def _zygote() -> _Zygote:
    with _lock:
        if not _started or _started[0].process.poll() is not None:
            _started[:] = [_Zygote()]
        return _started[0]


def _line(connection: socket.socket) -> str:
    data = b""
    while not data.endswith(b"\n"):
        chunk = connection.recv(64)
        if not chunk:
            raise EOFError("the tests' zygote went away")
        data += chunk
    return data.decode()


def _serve(path: str) -> None:
    """Import what the commands import first, then fork a child per request until stdin closes."""
    import numpy  # noqa: F401
    import pytest  # noqa: F401
    import torch
    import torch._dynamo

    import prunetui.cli.main
    import prunetui.engine  # noqa: F401

    assert threading.active_count() == 1, "a fork copies only the thread that forks: the zygote must have one"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    print("ready", flush=True)
    children: dict[int, socket.socket] = {}
    while True:
        readable = select.select([listener, sys.stdin], [], [], REAP_EVERY if children else None)[0]
        if sys.stdin in readable and not os.read(sys.stdin.fileno(), 1024):
            os._exit(0)  # the test process has gone; torch's teardown would only cost time
        if listener in readable:
            connection = listener.accept()[0]
            message, fds, _, _ = socket.recv_fds(connection, 1 << 16, 3)
            while chunk := connection.recv(1 << 16):
                message += chunk
            pid = os.fork()
            if pid == 0:
                listener.close()
                for other in [connection, *children.values()]:
                    other.close()
                _child(json.loads(message), fds, torch)
            for fd in fds:
                os.close(fd)
            connection.sendall(f"{pid}\n".encode())
            children[pid] = connection
        while children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            connection = children.pop(pid)
            with contextlib.suppress(OSError):  # nobody waits for it any more
                connection.sendall(f"{status}\n".encode())
            connection.close()


def _child(request: dict[str, Any], fds: list[int], torch: Any) -> None:
    """Become `python -m MODULE ARGS…` as the request describes it, run it, and end as the interpreter ends."""
    import atexit
    import runpy
    import signal
    import traceback

    if request["session"]:
        os.setsid()
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    if request["session"] == "terminal":
        import fcntl
        import termios

        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    for fd in set(fds) - {0, 1, 2}:
        os.close(fd)
    sys.stdout.reconfigure(line_buffering=os.isatty(1))  # as Python sets it at start for what fd 1 now is
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    tempfile.tempdir = None  # found again from TMPDIR
    sys.path[0] = request["cwd"]
    paths = [entry for entry in request["env"].get("PYTHONPATH", "").split(os.pathsep) if entry]
    sys.path[1:1] = [entry for entry in paths if entry not in sys.path]
    if "OMP_NUM_THREADS" in request["env"]:  # read by OpenMP when torch loaded, in the zygote
        torch.set_num_threads(int(request["env"]["OMP_NUM_THREADS"]))
    sys.argv = [request["module"], *request["args"]]
    code: Any = 0
    try:
        runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
    except SystemExit as exit:
        code = exit.code
    except KeyboardInterrupt:
        sys.stdout.flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # as Python ends on an uncaught Ctrl+C
        os.kill(os.getpid(), signal.SIGINT)
    except BaseException:
        traceback.print_exc()
        code = 1
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code or 0)


if __name__ == "__main__":
    _serve(sys.argv[1])
