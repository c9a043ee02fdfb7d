"""Kernels forked from a zygote that imported ahead (analysis.application.kernelfork): they behave as kernels
(imports done, environment and working directory of the launcher, interrupts), leave no process
behind, and a launcher without a zygote starts an ordinary kernel."""

import asyncio
import os
import signal
import time

import nbformat
import zmq
from jupyter_client.channels import AsyncZMQSocketChannel
from nbformat.v4 import new_code_cell, new_notebook

from analysis.application import kernelfork
from analysis.application.execution import _ForkKernelManager, _ReadyClient, execute_notebook


def _gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # a zombie child of ours counts as gone once reaped
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:
            pass
        time.sleep(0.05)
    return False


def _manager(launcher):
    return type("KM", (_ForkKernelManager,), {"launcher": launcher})


async def _run(kc, code: str, timeout: float = 30) -> str:
    """Execute ``code``; the text it printed."""
    msg_id = kc.execute(code)
    out = []
    while True:
        msg = await kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    reply = await kc.get_shell_msg(timeout=timeout)
    assert reply["content"]["status"] == "ok", reply["content"]
    return "".join(out)


def test_notebook_imports_reads_import_statements_of_code_cells(tmp_path):
    nb = new_notebook(
        cells=[
            new_code_cell(
                "%matplotlib inline\nimport numpy as np\nfrom analysis.statistics import clv\nfrom analysis.presentation import plots\nx = 1\nif x:\n    import json"
            ),
            new_code_cell("from os.path import join\n!ls"),
        ]
    )
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    assert kernelfork.notebook_imports([path]) == [
        "numpy",
        "analysis.statistics",
        "analysis.statistics.clv",
        "analysis.presentation",
        "analysis.presentation.plots",
        "os.path",
        "os.path.join",
    ]


async def _kernel_checks(km, cwd, zygote_pid: int) -> None:
    await km.start_kernel(cwd=str(cwd))
    kc = km.client()
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=60)
        out = await _run(
            kc, "import os, sys\nprint(os.getppid(), 'pandas' in sys.modules, os.environ.get('MALLWAKE_FORK_TEST'), os.getcwd())"
        )
        ppid, preloaded, env, folder = out.split()
        assert int(ppid) == zygote_pid and preloaded == "True" and env == "seen" and folder == str(cwd)
        kernel_pid = int(await _run(kc, "print(os.getpid())"))
        # an interrupt reaches the forked kernel through its launcher
        msg_id = kc.execute("import time; time.sleep(60)")
        await asyncio.sleep(1.0)
        await km.interrupt_kernel()
        while True:
            msg = await kc.get_shell_msg(timeout=20)
            if msg["parent_header"].get("msg_id") == msg_id:
                break
        assert msg["content"]["ename"] == "KeyboardInterrupt"
        # a launcher killed outright takes its kernel with it
        os.kill(km.provisioner.process.pid, signal.SIGKILL)
        assert _gone(kernel_pid)
    finally:
        kc.stop_channels()
        await km.cleanup_resources()


def test_forked_kernel_has_the_imports_the_environment_and_the_folder_of_its_launcher(tmp_path, monkeypatch):
    with kernelfork.zygote(["pandas", "analysis.presentation.report"]) as launcher:
        assert launcher is not None
        zygote_pid = int(launcher[-2])
        monkeypatch.setenv("MALLWAKE_FORK_TEST", "seen")  # set after the zygote started: must still reach the kernel
        asyncio.run(_kernel_checks(_manager(launcher)(), tmp_path, zygote_pid))
    assert _gone(zygote_pid)


def test_a_notebook_runs_through_the_zygote_and_without_one(tmp_path):
    nb = new_notebook(
        cells=[new_code_cell("import os\nimport pandas as pd\nprint(pd.DataFrame({'a': [1, 2]}).a.sum(), os.getppid())")]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    with kernelfork.zygote(kernelfork.notebook_imports([path])) as launcher:
        execute_notebook(path, tmp_path / "out.ipynb", {}, launcher=launcher)
        total, ppid = nbformat.read(tmp_path / "out.ipynb", as_version=4).cells[0].outputs[0]["text"].split()
        assert total == "3" and int(ppid) == int(launcher[-2])
    # the zygote has gone: the launcher starts an ordinary kernel (slower, same result)
    execute_notebook(path, tmp_path / "out2.ipynb", {}, launcher=launcher)
    total, ppid = nbformat.read(tmp_path / "out2.ipynb", as_version=4).cells[0].outputs[0]["text"].split()
    assert total == "3" and int(ppid) != int(launcher[-2])


def test_the_launcher_refuses_unknown_commands(capsys):
    assert kernelfork.main(["bogus"]) == 2
    assert "usage" in capsys.readouterr().err


def test_a_ready_kernel_is_not_waited_on_for_silence_and_its_first_output_arrives(tmp_path, monkeypatch):
    """The client proves the shell and IOPub channels (as jupyter_client does) but then only reads
    what IOPub already holds (timeout 0), instead of waiting until it has been quiet for 0.2 s."""
    timeouts: list = []
    original = AsyncZMQSocketChannel.get_msg

    async def get_msg(self, timeout=None):
        if self.socket.socket_type == zmq.SUB:
            timeouts.append(timeout)
        return await original(self, timeout)

    monkeypatch.setattr(AsyncZMQSocketChannel, "get_msg", get_msg)

    async def check(km):
        await km.start_kernel(cwd=str(tmp_path))
        kc = km.client()
        assert isinstance(kc, _ReadyClient)
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=60)
            ready = list(timeouts)
            assert ready and ready[-1] == 0 and 0.2 in ready  # one proof that IOPub is connected, then no wait
            assert (await _run(kc, "print('first output')")).strip() == "first output"
        finally:
            kc.stop_channels()
            await km.shutdown_kernel()

    with kernelfork.zygote(["pandas"]) as launcher:
        asyncio.run(check(_manager(launcher)()))
