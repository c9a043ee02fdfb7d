"""`make lab` starts JupyterLab as written in the README (also as root) and serves the notebooks,
the percent-format sources opening as notebooks (Jupytext)."""

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from analysis.data.config import PROJECT_DIR


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_lab_serves_the_notebooks_and_their_sources(small_mall, tmp_path):
    port, token = _free_port(), "mallwake-test-token"
    args = f"--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port={port} --IdentityProvider.token={token}"
    env = os.environ | {"JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"), "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg")}
    # DEMO points at the test's small mall, so nothing is generated into the project
    extras = os.environ.get("MALLWAKE_EXTRAS", "test")  # the install `make test` made: lab must not change it
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "lab", f"EXTRAS={extras}", f"DEMO={small_mall}", f"LAB_ARGS={args}"],
        cwd=PROJECT_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}/api"
    try:
        deadline, status = time.monotonic() + 90, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status = _get(f"{base}/status?token={token}")
                break
            except OSError:
                time.sleep(0.5)
        assert status is not None, (proc.poll(), proc.stdout.read() if proc.poll() is not None else "")
        listing = {c["name"] for c in _get(f"{base}/contents?token={token}")["content"]}
        assert {"04_segmentation.ipynb", "04_segmentation.py", "teaching"} <= listing
        as_nb = _get(f"{base}/contents/04_segmentation.py?type=notebook&content=1&token={token}")
        assert as_nb["type"] == "notebook"
        cells = as_nb["content"]["cells"]
        assert any("parameters" in c["metadata"].get("tags", []) for c in cells)
        ipynb = _get(f"{base}/contents/04_segmentation.ipynb?content=1&token={token}")
        assert [c["source"] for c in ipynb["content"]["cells"]] == [c["source"] for c in cells]
        # a double-clicked .py opens as a notebook: Jupytext's viewer is the lab's default for Python files
        lab = base.removesuffix("/api") + "/lab/api/settings/@jupyterlab/docmanager-extension:plugin"
        plugin = _get(f"{lab}?token={token}")
        viewers = plugin["settings"].get("defaultViewers") or plugin["schema"]["properties"]["defaultViewers"]["default"]
        assert viewers.get("python") == "Jupytext Notebook", viewers
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
