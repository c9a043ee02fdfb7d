"""The runner: parameters checked before execution, success and failure paths, the index."""

import json
import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from analysis.application import execution
from analysis.application.parameters import check_parameters, discover_notebooks
from analysis.application.runner import ParameterError, run_reports
from analysis.data.config import NOTEBOOKS_DIR


def _nb(path, body, params='data_dir: str = "../data/demo"\nas_of: str = ""\nn: int = 3'):
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        new_markdown_cell(f"# {path.stem} title"),
        new_code_cell(params, metadata={"tags": ["parameters"]}),
        new_markdown_cell("## Section one"),
        new_code_cell(body),
    ]
    nbformat.write(nb, path)
    return path


@pytest.fixture
def nb_dir(tmp_path):
    d = tmp_path / "notebooks"
    d.mkdir()
    _nb(
        d / "a_ok.ipynb",
        "from analysis.presentation.report import record_metrics\nrecord_metrics(answer=n * 14)\nprint('value', n)",
    )
    return d


def test_unknown_parameter_rejected(nb_dir):
    with pytest.raises(ParameterError, match="unknown parameter.*nope"):
        check_parameters(discover_notebooks(nb_dir), {"nope": "1"})


def test_wrong_type_rejected_before_execution(nb_dir):
    with pytest.raises(ParameterError, match="n='abc'.*int"):
        check_parameters(discover_notebooks(nb_dir), {"n": "abc"})
    assert check_parameters(discover_notebooks(nb_dir), {"n": "5"})[nb_dir / "a_ok.ipynb"] == {"n": 5}


def test_unknown_notebook_rejected(nb_dir):
    with pytest.raises(ParameterError, match="unknown notebook"):
        discover_notebooks(nb_dir, ["zzz"])


def test_success_then_failure_keeps_earlier_run(nb_dir, small_mall, tmp_path):
    out = tmp_path / "reports"
    ok = run_reports(small_mall, out_dir=out, notebooks_dir=nb_dir, label="first", params={"n": "3"}, log=lambda *_: None)
    assert ok.ok
    run_dir = out / "first"
    assert json.loads((run_dir / "a_ok.metrics.json").read_text()) == {"answer": 42}
    html = (run_dir / "a_ok.html").read_text(encoding="utf-8")
    assert "value 3" in html and "Provenance" in html and 'href="#Section-one"' in html
    from analysis.application.lockfile import lock_hash

    assert lock_hash() in html  # the locked environment the report was made in
    assert json.loads((run_dir / "run.json").read_text())["provenance"]["environment (uv.lock sha256)"] == lock_hash()
    assert "injected-parameters" not in html and "data_dir: str" not in html
    assert not re.search(r'(src|href)="https?://', html), "report must not fetch anything from the web"

    _nb(nb_dir / "b_fail.ipynb", "raise RuntimeError('boom in cell')")
    messages = []
    bad = run_reports(small_mall, out_dir=out, notebooks_dir=nb_dir, label="first", jobs=2, log=messages.append)
    assert bad.status == "failed"
    assert any("boom in cell" in m for m in messages)
    assert (out / "first-failed" / "b_fail.ipynb").exists()  # kept for debugging
    assert (out / "first" / "a_ok.html").exists()  # the earlier run is untouched
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "first-failed" in index and "failed" in index and "first/a_ok.html" in index
    assert 'href="first-failed/b_fail.ipynb"' in index and "boom in cell" in index  # the kept notebook and the error
    # provenance lists every parameter, the defaults included (n is given, as_of is the notebook's default)
    assert "n = 3" in html and "as_of = " in html


def test_show_code_keeps_code(nb_dir, small_mall, tmp_path):
    res = run_reports(small_mall, out_dir=tmp_path / "r", notebooks_dir=nb_dir, show_code=True, log=lambda *_: None)
    assert "record_metrics" in (res.out_dir / "a_ok.html").read_text(encoding="utf-8")


def test_cli_main_notebooks_declare_common_parameters():
    for nb in discover_notebooks(NOTEBOOKS_DIR):
        from analysis.application.parameters import declared_parameters

        decl = declared_parameters(nb)
        assert {"data_dir", "as_of"} <= set(decl), nb.name
        assert decl["data_dir"]["default"].strip("'\"") == "../data/demo"


def test_a_notebook_whose_inputs_did_not_change_is_not_executed_again(nb_dir, small_mall, tmp_path, monkeypatch):
    from analysis.application import cache

    out = tmp_path / "r"
    _nb(nb_dir / "b_two.ipynb", "from analysis.presentation.report import record_metrics\nrecord_metrics(b=n)")
    run = lambda log=lambda *_: None, **kw: run_reports(small_mall, out_dir=out, notebooks_dir=nb_dir, label="L", log=log, **kw)  # noqa: E731
    assert run().ok
    stamp = {p.name: p.stat().st_mtime_ns for p in (out / "L").glob("*.html")}
    said = []
    again = run(log=said.append)
    assert again.ok and {n.name for n in again.notebooks} == {"a_ok", "b_two"}
    assert any("up to date" in m for m in said) and not any("running" in m for m in said)
    assert {p.name: p.stat().st_mtime_ns for p in (out / "L").glob("*.html")} == stamp
    # one notebook edited: only it runs, the other report is kept as it was
    _nb(nb_dir / "b_two.ipynb", "from analysis.presentation.report import record_metrics\nrecord_metrics(b=n + 1)")
    third = run()
    assert [n.name for n in third.notebooks] == ["b_two"]
    assert (out / "L" / "a_ok.html").stat().st_mtime_ns == stamp["a_ok.html"]
    assert json.loads((out / "L" / "b_two.metrics.json").read_text()) == {"b": 4}
    assert {e["name"] for e in json.loads((out / "L" / "run.json").read_text())["notebooks"]} == {"a_ok", "b_two"}
    # a parameter, the code or --force: everything runs again
    assert {n.name for n in run(params={"n": "4"}).notebooks} == {"a_ok", "b_two"}
    monkeypatch.setattr(cache, "_ENV_KEY", ["another version of the package"])
    assert {n.name for n in run(params={"n": "4"}).notebooks} == {"a_ok", "b_two"}
    assert {n.name for n in run(params={"n": "4"}, force=True).notebooks} == {"a_ok", "b_two"}
    said.clear()
    run(params={"n": "4"}, log=said.append)
    assert any("up to date" in m for m in said)


def test_progress_within_a_notebook_names_the_cell(tmp_path):

    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        new_markdown_cell("# t"),
        new_code_cell("x: int = 1", metadata={"tags": ["parameters"]}),
        new_markdown_cell("text"),
        new_code_cell("y = x + 1"),
        new_code_cell("z = y * 2"),
    ]
    nbformat.write(nb, tmp_path / "p.ipynb")
    seen = []
    execution.execute_notebook(tmp_path / "p.ipynb", tmp_path / "out.ipynb", {"x": 2}, progress=lambda k, n: seen.append((k, n)))
    # three code cells plus the injected parameters cell; markdown cells are not counted
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    said = []
    report = execution.cell_progress("05_lifecycle", said.append, every=0.0)
    report(3, 31)
    assert said == ["  ...     05_lifecycle: cell 3 of 31"]
    quiet = execution.cell_progress("a", said.append, every=3600.0)
    quiet(1, 2)
    assert len(said) == 1  # a quick notebook says nothing between "running" and "done"
