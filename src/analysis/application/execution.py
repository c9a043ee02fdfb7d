"""Executing one notebook: papermill with the mallwake engine (progress per cell), kernels on Unix
sockets, started ahead by the zygote when there is one (:mod:`analysis.application.kernelfork`)."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from queue import Empty

import nbformat
import papermill as pm
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from papermill.engines import NBClientEngine, papermill_engines
from traitlets import CaselessStrEnum, default

from analysis.application.pairs import clean_notebook
from analysis.data.storage import (
    is_disk_full,
)

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class _ReadyClient(AsyncKernelClient):
    """jupyter_client's client, without the 0.2 s of IOPub silence it waits for once the kernel is ready.

    ``wait_for_ready`` proves both channels as jupyter_client does (a ``kernel_info_reply`` on the
    shell channel, then any message on IOPub: ipykernel's welcome or the request's status), then
    reads what IOPub already holds instead of waiting until it has been quiet for 0.2 s (a fixed
    cost per notebook). Leftovers are harmless: nbclient takes only the messages whose parent is the
    cell it executes.
    """

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            self.kernel_info()
            try:
                msg = await self.shell_channel.get_msg(timeout=1)
            except Empty:
                msg = None
            if msg is not None and msg["msg_type"] == "kernel_info_reply":
                try:
                    await self.iopub_channel.get_msg(timeout=0.2)  # IOPub connected? if not, ask again
                except Empty:
                    pass
                else:
                    self._handle_kernel_info_reply(msg)
                    break
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")
        while True:  # what has already arrived, without waiting for more
            try:
                await self.iopub_channel.get_msg(timeout=0)
            except Empty:
                break

    _async_wait_for_ready = wait_for_ready


class _IPCKernelManager(AsyncKernelManager):
    """Kernels talk over Unix sockets named after their own connection file, not TCP ports:
    TCP port picking races when several kernels start at once (``ZMQError: Address already in use``).
    Its client is :class:`_ReadyClient`; a kernel's end is polled every 20 ms, not 100 ms."""

    transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

    @default("client_factory")
    def _client_factory_default(self) -> type:
        return _ReadyClient

    async def _async_finish_shutdown(
        self, waittime: float | None = None, pollinterval: float = 0.1, restart: bool = False
    ) -> None:
        await super()._async_finish_shutdown(waittime, min(pollinterval, 0.02), restart)

    def _ip_default(self) -> str:
        # a private folder per kernel: socket names cannot collide (a shared "kernel-ipc" prefix would)
        self._ipc_dir = tempfile.mkdtemp(prefix="mallwake-k")
        return os.path.join(self._ipc_dir, "k")

    async def _async_interrupt_kernel(self) -> None:
        # jupyter_client interrupts before every shutdown; after the last cell nothing is running,
        # and the kernel would only print "KeyboardInterrupt caught in kernel" into the run's log
        if not self.shutting_down:
            await super()._async_interrupt_kernel()

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart)
        if not restart and getattr(self, "_ipc_dir", None):
            shutil.rmtree(self._ipc_dir, ignore_errors=True)


class _ForkKernelManager(_IPCKernelManager):
    """A kernel forked from the run's zygote (:mod:`analysis.application.kernelfork`): ``launcher`` is the
    command that replaces ``python -m ipykernel_launcher`` (set on a subclass per run)."""

    launcher: list[str] = []

    def format_kernel_cmd(self, extra_arguments=None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments)
        if self.launcher and cmd[1:3] == ["-m", "ipykernel_launcher"]:
            return [*self.launcher, *cmd[3:]]
        return cmd


def _kernel_manager(launcher: list[str] | None) -> type[AsyncKernelManager]:
    if not launcher:
        return _IPCKernelManager
    return type("_RunKernelManager", (_ForkKernelManager,), {"launcher": list(launcher)})


class _ProgressEngine(NBClientEngine):
    """papermill's nbclient engine that reports each code cell as it starts (``progress(k, n)``:
    cell k of the notebook's n code cells)."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, progress=None, **kwargs):
        if progress is not None:
            code = [i for i, c in enumerate(nb_man.nb.cells) if c.cell_type == "code"]
            position = {cell_index: k for k, cell_index in enumerate(code, start=1)}
            start = nb_man.cell_start

            def cell_start(cell, cell_index=None, **kw):
                if cell_index in position:
                    progress(position[cell_index], len(code))
                return start(cell, cell_index, **kw)

            nb_man.cell_start = cell_start
        return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)


#: A kernel that fails to start (for any reason) is started again this many times.
KERNEL_START_TRIES = 3


#: Seconds between two progress lines of one notebook ("cell k of n"): quick notebooks say nothing.
PROGRESS_EVERY = 5.0


def cell_progress(name: str, log, every: float = PROGRESS_EVERY):
    """A ``progress(k, n)`` callback that logs ``name: cell k of n`` at most every ``every`` seconds."""
    last = [time.perf_counter()]

    def progress(k: int, n: int) -> None:
        now = time.perf_counter()
        if now - last[0] >= every:
            last[0] = now
            log(f"  ...     {name}: cell {k} of {n}")

    return progress


def execute_notebook(nb: Path, out_nb: Path, params: dict, progress=None, launcher: list[str] | None = None) -> None:
    """Execute ``nb`` with papermill into ``out_nb`` (working directory: the notebook's folder);
    ``progress(k, n)`` is called as code cell k of n starts; ``launcher`` forks the kernel from a
    zygote (:func:`analysis.application.kernelfork.zygote`)."""
    papermill_engines.register("mallwake", _ProgressEngine)  # here, not at import (idempotent: a dict entry)
    for attempt in range(1, KERNEL_START_TRIES + 1):
        try:
            pm.execute_notebook(
                clean_notebook(nb),  # outputs saved in the lab are not executed or kept
                str(out_nb),
                parameters=params,
                kernel_name="python3",
                cwd=str(Path(nb).resolve().parent),
                progress_bar=False,
                log_output=False,
                request_save_on_cell_execute=False,
                kernel_manager_class=_kernel_manager(launcher),
                engine_name="mallwake",
                progress=progress,
            )
            return
        except (pm.PapermillExecutionError, KeyboardInterrupt):
            raise
        except Exception as err:
            started = out_nb.exists() and any(
                c.get("execution_count") for c in nbformat.read(out_nb, as_version=4).cells if c.cell_type == "code"
            )
            if started or attempt == KERNEL_START_TRIES or is_disk_full(err):
                raise
            time.sleep(0.5 * attempt)
