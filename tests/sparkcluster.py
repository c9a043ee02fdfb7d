"""A real Spark standalone cluster for the tests: one master and two workers, each its own JVM
process started with the installed pyspark's own launcher (``bin/spark-class``), on loopback.

``with spark_cluster(tmp) as master:`` yields ``spark://127.0.0.1:<port>`` once both workers
have registered; the processes are stopped at the end (also when the test fails).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def _free_ports(n: int) -> list[int]:
    """``n`` distinct free ports (all held open while picking, so none is picked twice)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


_UI_PORTS: dict[str, int] = {}


def ui_port(master: str) -> int:
    """The web UI port of a master started here (its JSON status is at ``/json/``)."""
    return _UI_PORTS[master]


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


@contextlib.contextmanager
def spark_cluster(folder: Path, workers: int = 2, cores: int = 1, memory: str = "1g"):
    home = spark_home()
    env = os.environ | {
        "SPARK_HOME": str(home),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOG_DIR": str(folder / "logs"),
        "SPARK_WORKER_DIR": str(folder / "work"),
        "PYSPARK_PYTHON": sys.executable,  # executors that run Python use the tests' interpreter
        "SPARK_NO_DAEMONIZE": "1",
    }
    klass = [str(home / "bin" / "spark-class")]
    port, ui, *worker_ui = _free_ports(2 + workers)
    master = f"spark://127.0.0.1:{port}"
    logs = folder / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    procs = [
        subprocess.Popen(
            [
                *klass,
                "org.apache.spark.deploy.master.Master",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--webui-port",
                str(ui),
            ],
            env=env,
            stdout=open(logs / "master.log", "w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    ]
    try:
        for i in range(workers):
            procs.append(
                subprocess.Popen(
                    [
                        *klass,
                        "org.apache.spark.deploy.worker.Worker",
                        "--host",
                        "127.0.0.1",
                        "--cores",
                        str(cores),
                        "--memory",
                        memory,
                        "--webui-port",
                        str(worker_ui[i]),
                        "--work-dir",
                        str(folder / f"work{i}"),
                        master,
                    ],
                    env=env,
                    stdout=open(logs / f"worker{i}.log", "w"),
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        deadline, alive = time.monotonic() + 120, 0
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in procs):
                raise RuntimeError(f"a Spark process ended; see {logs}")
            try:
                state = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{ui}/json/", timeout=5).read())
                alive = sum(w.get("state") == "ALIVE" for w in state.get("workers", []))
                if alive == workers:
                    break
            except (OSError, ValueError):  # not up yet (or not the master's page yet)
                pass
            time.sleep(1)
        else:
            raise RuntimeError(f"{alive} of {workers} Spark workers registered in 120 s; see {logs}")
        _UI_PORTS[master] = ui
        yield master
    finally:
        for p in reversed(procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, 15)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, 9)
