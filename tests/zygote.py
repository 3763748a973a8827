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
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
STARTED_WITH = dict(os.environ)  # the zygote's environment: this process's before any test changed it
REAP_EVERY = 0.02  # seconds between the zygote's looks for children that ended
REAP_WAIT = 10.0  # seconds a wait for a child waits for the zygote to reap it (a garbage-collected Popen's too)
# A process started with these ignored keeps them so (a shell's background job ignores SIGINT and SIGQUIT, nohup
# SIGHUP, and prunetui leaves a signal ignored that it started with ignored); Python handles SIGINT otherwise. The
# zygote's child takes them from the test process as it is at the call, as a subprocess would.
INHERITED_IGNORED = ("SIGINT", "SIGQUIT", "SIGHUP", "SIGTERM")
UNSUPPORTED = ("executable", "preexec_fn", "shell", "pass_fds", "user", "group", "extra_groups", "umask")


class Popen(subprocess.Popen):  # type: ignore[type-arg]
    """subprocess.Popen for `[sys.executable, "-m", MODULE, ARGS…]`, started by this process's zygote;
    `controlling_terminal=True` (with `start_new_session`) makes the terminal on its stdin its controlling one."""

    def __init__(self, args: list[str], *, controlling_terminal: bool = False, **options: Any) -> None:
        if list(args[:2]) != [sys.executable, "-m"] or len(args) < 3:
            raise ValueError(f"the zygote runs `python -m MODULE ARGS…` only, not {args!r}")
        if given := [name for name in UNSUPPORTED if options.get(name)]:
            raise ValueError(f"the zygote does not take {', '.join(given)}")
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
        request = {
            "module": args[2],
            "args": [str(arg) for arg in args[3:]],
            "cwd": os.path.abspath(cwd if cwd is not None else os.curdir),
            "env": dict(env if env is not None else os.environ),
            "session": self._session,
            "ignored": [name for name in INHERITED_IGNORED if signal.getsignal(signal.Signals[name]) == signal.SIG_IGN],
        }
        stdio = [fd if fd != -1 else n for n, fd in enumerate([p2cread, c2pwrite, errwrite])]  # -1: this one's
        try:
            self._zygote, self.pid = _zygote().launch(request, stdio)
            self._child_created = True
        finally:
            self._close_pipe_fds(p2cread, p2cwrite, c2pread, c2pwrite, errread, errwrite)

    def _internal_poll(self, _deadstate: int | None = None, **_: Any) -> int | None:
        if self.returncode is None and self._waitpid_lock.acquire(False):
            try:
                if self.returncode is None and select.select([self._zygote], [], [], 0)[0]:
                    self._ended()
            except EOFError:
                if _deadstate is None:
                    raise
                self.returncode = _deadstate  # as subprocess does for a child it cannot wait for
            finally:
                self._waitpid_lock.release()
        return self.returncode

    def _wait(self, timeout: float | None) -> int:
        with self._waitpid_lock:
            if self.returncode is None:
                if not select.select([self._zygote], [], [], None if timeout is None else max(timeout, 0.0))[0]:
                    raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
                self._ended()
        assert self.returncode is not None
        return self.returncode

    def _ended(self) -> None:
        """Read the exit status, then have the zygote reap the child and wait until it has: until then it stays a
        zombie, as a subprocess does until it is waited for, so its pid is not given to another."""
        self.returncode = int(_line(self._zygote))
        self._zygote.shutdown(socket.SHUT_WR)  # the zygote reaps the child, then closes its end
        self._zygote.settimeout(REAP_WAIT)
        with contextlib.suppress(OSError):  # a zygote gone, or busy past the wait: it reaps the child later
            self._zygote.recv(1)
        self._zygote.close()


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
    if input is not None:
        if "stdin" in options:
            raise ValueError("stdin and input arguments may not both be used.")
        options["stdin"] = subprocess.PIPE
    if capture_output:
        options["stdout"] = options["stderr"] = subprocess.PIPE
    with Popen(args, **options) as process:
        try:
            out, err = process.communicate(input, timeout=timeout)
        except BaseException:  # as subprocess.run: whatever stopped the wait, the child goes
            process.kill()
            process.wait()
            raise
    if check and process.returncode:
        raise subprocess.CalledProcessError(process.returncode, args, out, err)
    return subprocess.CompletedProcess(args, process.returncode, out, err)


class _Zygote:
    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="zygote-", dir="/tmp"))  # short: a socket path has 108 bytes
        command = [sys.executable, "-m", "tests.zygote", str(self.directory / "socket")]
        self.process = subprocess.Popen(
            command, cwd=REPO, env=STARTED_WITH, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        atexit.register(self.close)
        assert self.process.stdout is not None
        if self.process.stdout.readline() != "ready\n":
            raise RuntimeError(f"the tests' zygote did not start (exit status {self.process.wait()})")

    def launch(self, request: dict[str, Any], stdio: list[int]) -> tuple[socket.socket, int]:
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            connection.connect(str(self.directory / "socket"))
            payload = json.dumps(request).encode()
            socket.send_fds(connection, [b"%d\n" % len(payload) + payload], stdio)
            return connection, int(_line(connection))
        except BaseException:
            connection.close()
            raise

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


_started: list[_Zygote] = []
_lock = threading.Lock()


def _zygote() -> _Zygote:
    with _lock:
        if not _started or _started[0].process.poll() is not None:
            _started[:] = [_Zygote()]
        return _started[0]


def _line(connection: socket.socket) -> str:
    """One line of the zygote's replies (a byte at a time: the next line, the exit status, is for later)."""
    data = b""
    while not data.endswith(b"\n"):
        byte = connection.recv(1)
        if not byte:
            raise EOFError("the tests' zygote went away")
        data += byte
    return data.decode()


@dataclass
class _Child:
    connection: socket.socket
    told: bool = False  # its exit status was sent


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
    children: dict[int, _Child] = {}
    while True:
        told = [child.connection for child in children.values() if child.told]  # readable once their client closed
        running = any(not child.told for child in children.values())
        readable = select.select([listener, sys.stdin, *told], [], [], REAP_EVERY if running else None)[0]
        if sys.stdin in readable and not os.read(sys.stdin.fileno(), 1024):
            os._exit(0)  # the test process has gone; torch's teardown would only cost time
        if listener in readable:
            connection = listener.accept()[0]
            try:
                request, fds = _request(connection)
            except (OSError, ValueError):  # a client gone before its request was whole
                connection.close()
            else:
                pid = os.fork()
                if pid == 0:
                    listener.close()
                    for other in [connection, *(child.connection for child in children.values())]:
                        other.close()
                    _child(request, fds, torch)
                for fd in fds:
                    os.close(fd)
                children[pid] = _Child(connection)
                with contextlib.suppress(OSError):  # its client has gone: the child runs on, reaped once it ends
                    connection.sendall(b"%d\n" % pid)
        for pid, child in list(children.items()):
            if not child.told:
                ended = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)  # stays a zombie
                if ended is not None:
                    code = ended.si_status if ended.si_code == os.CLD_EXITED else -ended.si_status
                    with contextlib.suppress(OSError):
                        child.connection.sendall(b"%d\n" % code)
                    child.told = True
            elif child.connection in readable:
                os.waitpid(pid, 0)
                child.connection.close()
                del children[pid]


def _request(connection: socket.socket) -> tuple[dict[str, Any], list[int]]:
    message, fds, _, _ = socket.recv_fds(connection, 1 << 16, 3)
    size, _, payload = message.partition(b"\n")
    while len(payload) < int(size):
        chunk = connection.recv(1 << 16)
        if not chunk:
            raise OSError("the request was cut short")
        payload += chunk
    return json.loads(payload), fds


def _child(request: dict[str, Any], fds: list[int], torch: Any) -> None:
    """Become `python -m MODULE ARGS…` as the request describes it, run it, and end as the interpreter ends: an
    uncaught exception printed by sys.excepthook, threads joined, exit handlers run, the streams flushed (120 if
    stdout cannot be), and an uncaught Ctrl+C ending the process by SIGINT."""
    import runpy
    import signal
    import traceback

    code, interrupted = 1, False
    try:
        _become(request, fds, torch)
        try:
            runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as exit:
            code = _exit_code(exit.code)
        except BaseException as error:
            sys.excepthook(type(error), error, error.__traceback__)
            interrupted = isinstance(error, KeyboardInterrupt)
        threading._shutdown()  # type: ignore[attr-defined]
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            if stream is not None and not stream.closed:
                try:
                    stream.flush()
                except OSError:
                    print(f"Exception ignored in: {stream!r}", file=sys.__stderr__)
                    traceback.print_exc(file=sys.__stderr__)
                    code = 120
        if interrupted:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
    except BaseException:
        traceback.print_exc()  # in becoming the command (a directory that is not there, say)
    finally:
        os._exit(code)


def _become(request: dict[str, Any], fds: list[int], torch: Any) -> None:
    for name in INHERITED_IGNORED:
        number = signal.Signals[name]
        default = signal.default_int_handler if number == signal.SIGINT else signal.SIG_DFL
        signal.signal(number, signal.SIG_IGN if name in request["ignored"] else default)
    if request["session"]:
        os.setsid()
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in set(fds) - {0, 1, 2}:
        os.close(fd)
    if request["session"] == "terminal":
        import fcntl
        import termios

        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    sys.stdout.reconfigure(line_buffering=os.isatty(1))  # as Python sets it at start for what fd 1 now is
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    tempfile.tempdir = None  # found again from TMPDIR
    sys.path[0] = request["cwd"]
    paths = [entry for entry in request["env"].get("PYTHONPATH", "").split(os.pathsep) if entry]
    sys.path[1:1] = [entry for entry in paths if entry not in sys.path]
    threads = request["env"].get("OMP_NUM_THREADS", "")
    if threads.isdigit() and int(threads) > 0:  # read by OpenMP when torch loaded, in the zygote
        torch.set_num_threads(int(threads))
    sys.argv = [request["module"], *request["args"]]


def _exit_code(code: object) -> int:
    """The exit status of SystemExit(code), as the interpreter makes it."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


if __name__ == "__main__":
    _serve(sys.argv[1])
