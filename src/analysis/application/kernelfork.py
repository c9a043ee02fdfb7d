"""Kernels started ahead: one process imports what the notebooks import, then forks a kernel per notebook.

Starting a Python kernel and importing pandas, matplotlib, statsmodels and the ``analysis`` package
costs 2-3 s of CPU per notebook, about half of a warm demo run (benchmarks/RESULTS.md). A run
starts one *zygote* (``python -m analysis.application.kernelfork serve SOCKET MODULE...``) while it validates the
data; the zygote imports the modules once and waits on a Unix socket. Each kernel is then started
by a tiny launcher (``python -m analysis.application.kernelfork launch SOCKET -- -f CONNECTION_FILE``) that
jupyter_client runs in place of ``ipykernel_launcher``: the launcher hands its working directory,
environment and standard streams to the zygote, which forks; the child becomes an ordinary
IPython kernel (``IPKernelApp``) with the imports already done. The launcher stands in for the
kernel towards jupyter_client: it forwards interrupt and termination signals to the child and
exits with the child's exit status; if the launcher is killed, the zygote kills the child.

Forking only happens in the zygote's main thread, and the zygote only imports modules (no
kernel, no ZeroMQ context, no database connection, no thread pool of its own), so the child starts
from a quiet state. When the zygote is not reachable the launcher becomes a normal kernel
(``ipykernel_launcher``): the run is slower, never different.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from contextlib import contextmanager
from pathlib import Path

_HEADER = struct.Struct("!I")
#: always imported ahead: the kernel itself, matplotlib's inline backend and the local data engine
KERNEL_MODULES = (
    "IPython",
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "matplotlib_inline.backend_inline",
    "ibis.backends.duckdb",  # the engine every report reads its data through (ibis loads it on first use: 0.35 s)
)
#: seconds a launcher waits for the zygote to finish its imports before it starts a kernel itself
READY_WAIT = 60.0
#: signals the launcher passes on to the kernel it stands for
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


def _send(sock: socket.socket, obj, fds: list[int] | None = None) -> None:
    data = json.dumps(obj).encode()
    if fds:
        socket.send_fds(sock, [_HEADER.pack(len(data)) + data], fds)
    else:
        sock.sendall(_HEADER.pack(len(data)) + data)


def _recv_exact(sock: socket.socket, n: int, fds: list[int] | None = None) -> bytes:
    buf = b""
    while len(buf) < n:
        if fds is not None and not buf:
            chunk, got, _flags, _addr = socket.recv_fds(sock, n, 8)
            fds.extend(got)
        else:
            chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed")
        buf += chunk
    return buf


def _recv(sock: socket.socket, fds: list[int] | None = None):
    head = _recv_exact(sock, _HEADER.size, fds)
    (size,) = _HEADER.unpack(head[: _HEADER.size])
    rest = head[_HEADER.size :]
    return json.loads(rest + _recv_exact(sock, size - len(rest)))


def preload(modules: list[str]) -> list[str]:
    """Import ``modules`` (dotted names); return those that failed (their kernels import them again)."""
    failed = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a module that fails here fails visibly in its notebook
            failed.append(name)
    return failed


def notebook_imports(notebooks) -> list[str]:
    """The modules imported by the code cells of ``notebooks`` (``.ipynb``), in first-seen order.

    ``from a import b`` gives ``a`` and ``a.b`` (``b`` may be a submodule); cells that are not
    Python (magics, shell lines) are read without those lines.
    """
    seen: dict[str, None] = {}
    for path in notebooks:
        try:
            cells = json.loads(Path(path).read_text(encoding="utf-8"))["cells"]
        except (OSError, ValueError, KeyError):
            continue
        for cell in cells:
            if cell.get("cell_type") != "code":
                continue
            src = "".join(cell.get("source", ""))
            lines = [ln for ln in src.splitlines() if not ln.lstrip().startswith(("%", "!"))]
            try:
                tree = ast.parse("\n".join(lines))
            except SyntaxError:
                continue
            for node in tree.body:
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names = [node.module] + [f"{node.module}.{a.name}" for a in node.names if a.name != "*"]
                else:
                    continue
                for name in names:
                    seen.setdefault(name, None)
    return list(seen)


def _child(conn: socket.socket, listener: socket.socket, request: dict, fds: list[int]) -> None:
    """In the forked child: become the kernel described by ``request`` (never returns)."""
    code = 1
    try:
        listener.close()
        conn.close()
        for target, fd in zip((0, 1, 2), fds):
            os.dup2(fd, target)
        for fd in fds:
            os.close(fd)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        if sys.path and sys.path[0] == request.get("zygote_cwd"):
            sys.path[0] = request["cwd"]
        sys.argv = ["ipykernel_launcher", *request["argv"]]
        from ipykernel.kernelapp import IPKernelApp

        # the zygote is the parent to watch (ipykernel read JPY_PARENT_PID when the zygote imported it)
        app = IPKernelApp.instance(parent_handle=os.getppid())
        app.initialize(request["argv"])
        if "analysis" in sys.modules:  # imported before a shell existed: register its display hooks now
            from analysis.presentation.display import register_kernel_formatters

            register_kernel_formatters()
        app.start()
        code = 0
    except SystemExit as err:
        code = err.code if isinstance(err.code, int) else 1
    except BaseException:  # noqa: BLE001 - report and leave with a failure status
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _watch(conn: socket.socket, pid: int) -> None:
    """In the zygote: report the child's exit status to its launcher; kill the child if the launcher goes."""
    gone = threading.Event()

    def launcher_gone() -> None:
        try:
            while conn.recv(64):
                pass
        except OSError:
            pass
        if not gone.is_set():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    threading.Thread(target=launcher_gone, daemon=True).start()
    _pid, status = os.waitpid(pid, 0)
    gone.set()
    try:
        _send(conn, {"status": os.waitstatus_to_exitcode(status)})
    except OSError:
        pass
    conn.close()


def _exit_with_parent(parent: int, every: float = 0.5) -> None:
    """In the zygote: leave when the run that started it is gone (its kernels then leave too,
    each watching the zygote as its parent)."""
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(0)


def serve(path: str, modules: list[str]) -> None:
    """Import ``modules``, then fork a kernel for each launcher that connects to the socket ``path``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C of the run is for the runner; it stops us
    # what ipykernel would set before the notebook imports matplotlib (read once, at its import)
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    failed = preload([*KERNEL_MODULES, *modules])
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path + ".tmp")
    os.rename(path + ".tmp", path)  # the socket appears only when the imports are done
    listener.listen(16)
    print(json.dumps({"ready": path, "failed": failed}), flush=True)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    zygote_cwd = os.getcwd()
    while True:
        conn, _ = listener.accept()
        fds: list[int] = []
        try:
            request = _recv(conn, fds)
        except (EOFError, OSError, ValueError):
            conn.close()
            for fd in fds:
                os.close(fd)
            continue
        request["zygote_cwd"] = zygote_cwd
        pid = os.fork()
        if pid == 0:
            _child(conn, listener, request, fds)
        for fd in fds:
            os.close(fd)
        try:
            _send(conn, {"pid": pid})
        except OSError:
            os.kill(pid, signal.SIGKILL)
        threading.Thread(target=_watch, args=(conn, pid), daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def launch(path: str, zygote_pid: int, argv: list[str]) -> int:
    """Stand in for a kernel forked by the zygote at ``path``; without a zygote, be the kernel."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    deadline = time.monotonic() + READY_WAIT
    while not os.path.exists(path) and _alive(zygote_pid) and time.monotonic() < deadline:
        time.sleep(0.02)  # the zygote is still importing: waiting is faster than importing again
    try:
        conn.connect(path)
        _send(conn, {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}, fds=[0, 1, 2])
        pid = _recv(conn)["pid"]
    except (OSError, EOFError, ValueError, KeyError):
        conn.close()
        os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", *argv])

    def forward(signum, _frame):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for sig in FORWARDED:
        signal.signal(sig, forward)
    try:
        status = _recv(conn)["status"]
    except (OSError, EOFError, ValueError, KeyError):
        status = 1
    return status if status >= 0 else 128 - status


def limit_threads(jobs: int) -> None:
    """Share the cores between parallel kernels (BLAS/OpenMP pools otherwise oversubscribe).

    Kernels (and the zygote, before it imports numpy) inherit this process's environment; values
    the user has set are kept.
    """
    per_kernel = str(max(1, (os.cpu_count() or 1) // jobs))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, per_kernel)


@contextmanager
def zygote(modules: list[str]):
    """Start a zygote that imports ``modules`` (in the background); yield the launcher's command
    prefix (``[python, -m, analysis.application.kernelfork, launch, SOCKET, PID, --]``), or ``None`` where
    this system cannot fork kernels. The zygote and its socket are gone on exit."""
    if not hasattr(os, "fork") or not hasattr(socket, "send_fds"):
        yield None
        return
    folder = tempfile.mkdtemp(prefix="mallwake-z")
    path = os.path.join(folder, "s")
    if len(path.encode()) > 100:  # Unix socket names are short (108 bytes)
        shutil.rmtree(folder, ignore_errors=True)
        yield None
        return
    proc = subprocess.Popen(
        [sys.executable, "-m", "analysis.application.kernelfork", "serve", path, *modules],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield [sys.executable, "-m", "analysis.application.kernelfork", "launch", path, str(proc.pid), "--"]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) >= 2 and argv[0] == "serve":
        serve(argv[1], argv[2:])
        return 0
    if len(argv) >= 4 and argv[0] == "launch" and argv[3] == "--":
        return launch(argv[1], int(argv[2]), argv[4:])
    print(
        "usage: python -m analysis.application.kernelfork serve SOCKET [MODULE ...] | launch SOCKET PID -- KERNEL_ARGS",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main())
