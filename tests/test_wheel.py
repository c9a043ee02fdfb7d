"""The built wheel is a whole product: installed into a fresh virtual environment (no source
checkout), it carries its notebooks and templates, and ``mallwake demo-data`` and
``mallwake run`` work from any folder."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UV = ROOT / ".tools" / "bin" / "uv"


@pytest.mark.slow
def test_the_wheel_installs_and_runs_without_the_source_checkout(tmp_path):
    if not UV.exists():
        if os.environ.get("CI"):
            pytest.fail("make installs uv into .tools/: it must be there in CI")
        pytest.skip("uv is not in .tools/ (make setup installs it)")
    env = {**os.environ, "UV_LINK_MODE": "hardlink"}
    env.pop("VIRTUAL_ENV", None)
    run = lambda *cmd, **kw: subprocess.run(cmd, check=True, capture_output=True, text=True, env=env, timeout=900, **kw)  # noqa: E731
    run(str(UV), "build", "--wheel", "-o", str(tmp_path / "dist"), cwd=ROOT)
    [wheel] = list((tmp_path / "dist").glob("mallwake-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    notebooks = {
        p.relative_to(ROOT / "notebooks").as_posix()
        for p in (ROOT / "notebooks").rglob("*.ipynb")
        if ".ipynb_checkpoints" not in p.parts
    }
    assert {f"analysis/notebooks/{n}" for n in notebooks} <= names, "every notebook is in the wheel"
    assert {f"analysis/notebooks/{n[:-6]}.py" for n in notebooks} <= names, "with its Jupytext pair"
    assert "analysis/templates/mallwake/index.html.j2" in names and "analysis/locales/zh/messages.yaml" in names
    # a fresh environment with the locked versions, the wheel installed (no editable source)
    constraints = tmp_path / "constraints.txt"
    run(str(UV), "export", "--frozen", "--no-hashes", "--no-emit-project", "-o", str(constraints), cwd=ROOT)
    venv = tmp_path / "venv"
    run(str(UV), "venv", "-q", str(venv), "--python", f"{sys.version_info.major}.{sys.version_info.minor}")
    run(str(UV), "pip", "install", "-q", "--python", str(venv / "bin" / "python"), "-c", str(constraints), str(wheel))
    where = run(
        str(venv / "bin" / "python"),
        "-c",
        "import analysis.data.config as c; print(c.SOURCE_CHECKOUT, c.NOTEBOOKS_DIR)",
        cwd=tmp_path,
    ).stdout.split()
    assert where[0] == "False" and where[1].startswith(str(venv)), where
    work = tmp_path / "work"
    work.mkdir()
    mallwake = str(venv / "bin" / "mallwake")
    run(mallwake, "demo-data", "--members", "1500", "--out", "data/demo", cwd=work)
    done = run(mallwake, "run", "--only", "02_sleeping_members", "--jobs", "1", cwd=work)
    assert "ok" in done.stderr + done.stdout
    page = work / "reports" / "demo-latest" / "02_sleeping_members.html"
    assert page.exists() and "sleeping" in page.read_text(encoding="utf-8").lower()
    assert (work / "reports" / "index.html").exists()
