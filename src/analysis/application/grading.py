"""Collecting a class's work: every submitted notebook executed safely, its self-checks scored.

``mallwake grade SUBMISSIONS --out DIR [--data FOLDER] [--timeout SECONDS]`` takes a folder of
the notebooks students handed in (``SUBMISSIONS/<student>/<notebook>.ipynb``, or
``SUBMISSIONS/<student>.ipynb``), executes each one in a folder of its own with the class's data,
and writes ``DIR/scores.csv`` and ``DIR/scores.html``: one row per student, notebook and exercise,
with the self-check's verdict (right, wrong, open). The part of nbgrader a CRM course needs:

* each notebook runs with a time limit per cell (an endless loop is stopped, not waited for), and
  without network where the machine allows it (the kernel in its own network namespace,
  ``unshare -rn``; the page says when it could not);
* a notebook that fails is a row saying where it failed, not a crash of the command;
* the parameters the grader sets win over what a student wrote (``data_dir``; ``show_solutions``
  is false), and the student's files are only read.
"""

from __future__ import annotations

import html
import shutil
import subprocess
import tempfile
from pathlib import Path

import nbformat
import pandas as pd

from analysis.application.execution import _IPCKernelManager
from analysis.data.params import ParameterError
from analysis.data.storage import atomic_write, atomic_write_text, check_folder, mark_folder
from analysis.presentation.report import collect_metrics

#: Seconds one cell of a submitted notebook may run.
CELL_TIMEOUT = 120
COLUMNS = ("student", "notebook", "exercise", "status", "message")


def network_isolation() -> list[str]:
    """The command prefix that runs a kernel without network (``unshare -rn``), or ``[]`` where
    the machine does not allow it."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return []
    try:
        ok = subprocess.run([unshare, "-rn", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [unshare, "-rn"] if ok else []


def _kernel_manager(prefix: list[str]):
    class _IsolatedKernelManager(_IPCKernelManager):
        def format_kernel_cmd(self, extra_arguments=None) -> list[str]:
            return [*prefix, *super().format_kernel_cmd(extra_arguments)]

    return _IsolatedKernelManager


def submissions(folder: Path) -> list[tuple[str, Path]]:
    """``(student, notebook)`` for every notebook under ``folder`` (checkpoints left out)."""
    found = []
    for path in sorted(Path(folder).rglob("*.ipynb")):
        rel = path.relative_to(folder)
        if ".ipynb_checkpoints" in rel.parts or path.is_symlink():
            continue
        found.append((rel.parts[0] if len(rel.parts) > 1 else path.stem, path))
    return found


def grade_one(student: str, notebook: Path, data_dir: Path, timeout: int, prefix: list[str]) -> list[dict]:
    """The rows of one submission: its exercises' verdicts, or one row saying why it failed."""
    import papermill as pm

    name = notebook.stem
    with tempfile.TemporaryDirectory(prefix="mallwake-grade-") as work:
        src, out = Path(work) / notebook.name, Path(work) / f"executed-{notebook.name}"
        shutil.copyfile(notebook, src)  # the student's file is only read
        try:
            pm.execute_notebook(
                str(src),
                str(out),
                parameters={"data_dir": str(Path(data_dir).resolve()), "show_solutions": False},
                kernel_name="python3",
                cwd=work,
                progress_bar=False,
                log_output=False,
                execution_timeout=timeout,
                kernel_manager_class=_kernel_manager(prefix),
            )
        except Exception as err:  # any failure of a student's notebook is a row, not a crash
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            if isinstance(err, pm.PapermillExecutionError):
                first = f"cell {err.exec_count}: {err.ename}: {err.evalue}"
            if "timed out" in str(err).lower() or type(err).__name__ in ("CellTimeoutError", "TimeoutError"):
                first = f"a cell ran longer than {timeout} s and was stopped"
            return [{"student": student, "notebook": name, "exercise": "", "status": "failed", "message": first[:300]}]
        checks = collect_metrics(nbformat.read(out, as_version=4)).get("checks") or {}
    if not checks:
        return [{"student": student, "notebook": name, "exercise": "", "status": "no self-checks", "message": ""}]
    return [
        {"student": student, "notebook": name, "exercise": str(ex), "status": str(status), "message": ""}
        for ex, status in checks.items()
    ]


def grade(folder: Path, out_dir: Path, data_dir: Path, timeout: int = CELL_TIMEOUT) -> pd.DataFrame:
    """Execute and score every submission under ``folder``; write ``scores.csv`` and ``scores.html``
    into ``out_dir`` (new, empty or mallwake's) and return the table."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ParameterError(f"{folder}: the submissions folder does not exist")
    found = submissions(folder)
    if not found:
        raise ParameterError(f"{folder}: no notebooks (.ipynb) to grade")
    check_folder(out_dir, "--out")
    prefix = network_isolation()
    rows = []
    for student, path in found:
        rows += grade_one(student, path, data_dir, timeout, prefix)
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    mark_folder(out_dir)
    atomic_write(Path(out_dir) / "scores.csv", lambda tmp: table.to_csv(tmp, index=False, encoding="utf-8-sig"))
    atomic_write_text(Path(out_dir) / "scores.html", scores_page(table, isolated=bool(prefix)))
    return table


def scores_page(table: pd.DataFrame, isolated: bool) -> str:
    """The score table as a small self-contained page (every value escaped)."""
    per_student = (
        table.assign(right=table["status"].eq("right")).groupby("student")["right"].sum().astype(int).rename("right answers")
    )
    cells = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in table.itertuples(index=False)
    )
    totals = "".join(f"<tr><td>{html.escape(str(s))}</td><td>{n}</td></tr>" for s, n in per_student.items())
    note = (
        "Each notebook ran without network."
        if isolated
        else "This machine could not run the notebooks without network (no unshare): they ran with it."
    )
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>mallwake: scores</title>
<style>body {{ font-family: system-ui, sans-serif; max-width: 1000px; margin: 1em auto; padding: 0 1em; }}
table {{ border-collapse: collapse; }} td, th {{ border-bottom: 1px solid #ddd; padding: 0.3em 0.6em; text-align: left; }}
.mw-scroll {{ overflow-x: auto; }}</style></head><body>
<h1>Scores</h1><p>{html.escape(note)} Statuses: right, wrong, open (not answered), failed (the notebook stopped).</p>
<h2>Right answers per student</h2><div class="mw-scroll"><table><tr><th>student</th><th>right answers</th></tr>{totals}</table></div>
<h2>Every exercise</h2><div class="mw-scroll"><table><tr>{head}</tr>{cells}</table></div>
</body></html>
"""
