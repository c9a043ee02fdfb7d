"""The runner: parameters checked before execution, success and failure paths, the index."""

import json
import re
import time

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from analysis.application import execution
from analysis.application.cache import NotebookRun, _write_history, longest_first
from analysis.application.parameters import check_parameters, discover_notebooks
from analysis.application.runner import ParameterError, run_months, run_reports
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


def test_a_fresh_folder_starts_the_notebooks_that_were_slow_on_this_machine_first(tmp_path, monkeypatch):
    """The parallel order comes from the folder's own history, else from the machine's (cache
    root), else the bundled reports' reference times, else the notebooks' own order; a read-only
    cache root only loses the fallback."""
    monkeypatch.setenv("MALLWAKE_CACHE_DIR", str(tmp_path / "cache"))
    bundled = [tmp_path / f"{n}.ipynb" for n in ("00_study_claims", "01_data_overview", "03_campaign_effects", "05_lifecycle")]
    assert [p.stem for p in longest_first(bundled, tmp_path / "fresh")] == [
        "05_lifecycle",
        "03_campaign_effects",
        "01_data_overview",
        "00_study_claims",
    ]  # nothing run on this machine: the reference times
    nbs = [tmp_path / f"{n}.ipynb" for n in ("00_a", "01_b", "02_c")]
    assert longest_first(nbs, tmp_path / "fresh") == nbs  # nothing known: as given

    def ran(times):
        return [NotebookRun(name, name, "ok", s) for name, s in times.items()] + [NotebookRun("00_a", "", "failed", 99.0)]

    _write_history(tmp_path / "first", ran({"01_b": 2.0, "02_c": 9.0}))
    assert [p.stem for p in longest_first(nbs, tmp_path / "fresh")] == ["02_c", "01_b", "00_a"]  # the machine's times
    _write_history(tmp_path / "second", ran({"01_b": 7.0, "02_c": 1.0}))
    assert [p.stem for p in longest_first(nbs, tmp_path / "first")] == ["02_c", "01_b", "00_a"]  # the folder's own
    assert [p.stem for p in longest_first(nbs, tmp_path / "other")] == ["01_b", "02_c", "00_a"]  # the machine's latest

    blocker = tmp_path / "file-not-folder"
    blocker.write_text("")
    monkeypatch.setenv("MALLWAKE_CACHE_DIR", str(blocker))
    _write_history(tmp_path / "third", ran({"00_a": 5.0}))  # does not raise
    assert [p.stem for p in longest_first(nbs, tmp_path / "third")] == ["00_a", "01_b", "02_c"]


def test_months_go_through_the_reports_pipeline(small_mall, tmp_path):
    """Months and reports share one pipeline: the same inputs key (so a month page built without
    code is rebuilt when ``show_code`` asks for it, as a report is), the same skip, the same
    leftover cleaning; a month outside the data is refused before anything is written."""
    monthly = _nb(
        tmp_path / "monthly.ipynb",
        "from analysis.presentation.report import record_metrics\nrecord_metrics(month=report_month, lang=lang)",
        params='data_dir: str = "../data/demo"\nas_of: str = ""\nreport_month: str = ""\nlang: str = "en"',
    )
    out = tmp_path / "r"

    def months(which, log=lambda *_: None, **kw):
        return run_months(small_mall, which, out_dir=out, notebook=monthly, log=log, **kw)

    built = months(["2024-02", "2024-03"], jobs=2)
    assert [r.label for r in built] == ["month-2024-02", "month-2024-03"] and all(r.ok for r in built)
    record = json.loads((out / "month-2024-03" / "run.json").read_text())
    assert record["kind"] == "monthly" and record["month"] == "2024-03" and record["notebooks"][0]["inputs_key"]
    assert json.loads((out / "month-2024-03" / "monthly.metrics.json").read_text()) == {"month": "2024-03", "lang": "en"}
    said = []
    assert months(["2024-02", "2024-03"], log=said.append) == []  # both up to date: nothing built
    assert sum("is up to date" in m for m in said) == 2
    assert [r.label for r in months(["2024-03"], show_code=True)] == ["month-2024-03"]  # another page: rebuilt
    assert "record_metrics" in (out / "month-2024-03" / "monthly.html").read_text(encoding="utf-8")
    (out / ".month-2024-02.partial").mkdir()  # a killed run's leftover: cleaned, as a report's
    assert months(["2024-02"]) == [] and not (out / ".month-2024-02.partial").exists()
    before = sorted(p.name for p in out.iterdir())
    with pytest.raises(ParameterError, match="end after the analysis date"):
        months(["2031-01"])
    with pytest.raises(ParameterError, match="no month given"):
        months([])
    assert sorted(p.name for p in out.iterdir()) == before


def test_parallel_notebooks_log_one_message_at_a_time(nb_dir, small_mall, tmp_path):
    """Two notebooks ending together give two whole lines: the runner calls ``log`` from one thread
    at a time (print writes the text and the newline apart: the lines ran together)."""
    _nb(nb_dir / "b_two.ipynb", "print('two')")
    inside, most, lines = [0], [0], []

    def log(message):
        inside[0] += 1
        most[0] = max(most[0], inside[0])
        time.sleep(0.02)  # wide enough for the other lane to come in, were it allowed
        lines.append(message)
        inside[0] -= 1

    assert run_reports(small_mall, out_dir=tmp_path / "r", notebooks_dir=nb_dir, jobs=2, log=log).ok
    assert most[0] == 1 and sum(m.strip().startswith("done") for m in lines) == 2
