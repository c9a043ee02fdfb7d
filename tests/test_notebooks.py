"""Every notebook runs under plain papermill on a small mall, and is stored thin and clean."""

import json
import re
import shutil
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from analysis.application.pairs import clean_notebook, pair_problem, text_source
from analysis.data.config import NOTEBOOKS_DIR
from analysis.presentation.report import collect_metrics

NOTEBOOKS = sorted(p for p in NOTEBOOKS_DIR.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.relative_to(NOTEBOOKS_DIR).with_suffix("").as_posix())
def test_stored_without_outputs_and_thin(path):
    nb = nbformat.read(path, as_version=4)
    assert [c for c in nb.cells if c.cell_type == "code" and (c.outputs or c.execution_count)] == []
    assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not re.search(r"^\s*(def|class) ", cell.source, re.M), "logic belongs in src/analysis"
            assert "to_csv(" not in cell.source and "open(" not in cell.source, "notebooks do not write files"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.relative_to(NOTEBOOKS_DIR).with_suffix("").as_posix())
def test_each_notebook_is_a_pair_in_sync_with_its_text_source(path):
    source = text_source(path)
    assert source.exists(), f"{path.name} has no percent-format source {source.name}"
    assert source.read_text().startswith("# %%"), "percent format, no header"
    assert pair_problem(path) is None


def test_an_out_of_sync_pair_is_refused_before_anything_runs(tmp_path, capsys):
    import shutil

    from analysis.application.cli import main

    for suffix in (".ipynb", ".py"):
        shutil.copy(NOTEBOOKS_DIR / f"01_data_overview{suffix}", tmp_path / f"01_data_overview{suffix}")
    py = tmp_path / "01_data_overview.py"
    py.write_text(py.read_text() + "\n# %%\nprint('added in a text editor')\n")
    cells = len(nbformat.read(tmp_path / "01_data_overview.ipynb", as_version=4).cells)
    assert f"differ at cell {cells + 1}" in pair_problem(tmp_path / "01_data_overview.ipynb")  # the cell added at the end
    assert main(["run", "--data", str(tmp_path / "no-data"), "--notebooks", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "jupytext --to ipynb --update" in err and "01_data_overview" in err
    assert not (tmp_path / "r").exists()
    # the command the message suggests, run as written (jupytext from the environment), brings the pair in sync
    import shlex
    import subprocess
    import sys

    suggested = re.search(r"run `(jupytext [^`]+\.py)` after editing the \.py", err).group(1)
    cmd = shlex.split(suggested)
    subprocess.run([str(Path(sys.executable).parent / cmd[0]), *cmd[1:]], check=True, capture_output=True)
    assert pair_problem(tmp_path / "01_data_overview.ipynb") is None
    assert "added in a text editor" in (tmp_path / "01_data_overview.ipynb").read_text()
    # an .ipynb saved with outputs (Run All, then save, in the lab) is in sync: outputs are not source
    for suffix in (".ipynb", ".py"):
        shutil.copy(NOTEBOOKS_DIR / f"01_data_overview{suffix}", tmp_path / f"01_data_overview{suffix}")
    nb = nbformat.read(tmp_path / "01_data_overview.ipynb", as_version=4)
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="x")]
    nb.cells[1].execution_count = 3
    nbformat.write(nb, tmp_path / "01_data_overview.ipynb")
    assert pair_problem(tmp_path / "01_data_overview.ipynb") is None
    assert all(
        not c.get("outputs") and c.get("execution_count") is None
        for c in clean_notebook(tmp_path / "01_data_overview.ipynb").cells
        if c.cell_type == "code"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.relative_to(NOTEBOOKS_DIR).with_suffix("").as_posix())
def test_every_parameter_line_is_understood_by_papermill(path):
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assigned = [
        ln.split(":")[0].split("=")[0].strip() for ln in cell.source.splitlines() if ln.strip() and not ln.startswith("#")
    ]
    assert sorted(pm.inspect_notebook(str(path))) == sorted(assigned)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.relative_to(NOTEBOOKS_DIR).with_suffix("").as_posix())
def test_executes_under_papermill(path, small_mall, tmp_path):
    out = tmp_path / path.name
    pm.execute_notebook(
        str(path),
        str(out),
        parameters={"data_dir": str(small_mall)},
        cwd=str(path.parent),
        kernel_name="python3",
        progress_bar=False,
    )
    metrics = collect_metrics(nbformat.read(out, as_version=4))
    assert metrics, "each notebook publishes its headline figures"
    json.dumps(metrics)


@pytest.mark.slow
def test_a_notebook_saved_with_outputs_in_the_lab_still_runs_clean(small_mall, tmp_path):
    """Run All, then save, in the lab: ``mallwake run`` executes a clean copy (the stale output
    appears nowhere) instead of refusing the notebook."""
    from analysis.application.cli import main

    folder = tmp_path / "nbs"
    folder.mkdir()
    for suffix in (".ipynb", ".py"):
        shutil.copy(NOTEBOOKS_DIR / f"02_sleeping_members{suffix}", folder / f"02_sleeping_members{suffix}")
    nb = nbformat.read(folder / "02_sleeping_members.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [nbformat.v4.new_output("stream", text="STALE-OUTPUT-FROM-THE-LAB")], 7
    nbformat.write(nb, folder / "02_sleeping_members.ipynb")
    out = tmp_path / "r"
    assert main(["run", "--data", str(small_mall), "--notebooks", str(folder), "--out", str(out), "--label", "lab"]) == 0
    page = (out / "lab" / "02_sleeping_members.html").read_text(encoding="utf-8")
    executed = (out / "lab" / "02_sleeping_members.ipynb").read_text(encoding="utf-8")
    assert "STALE-OUTPUT-FROM-THE-LAB" not in page and "STALE-OUTPUT-FROM-THE-LAB" not in executed
