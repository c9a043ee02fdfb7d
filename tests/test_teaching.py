"""Teaching track: the self-checks tell right from wrong, and the notebooks run under the runner."""

import ast
import json

import numpy as np
import pandas as pd
import pytest

from analysis.application.runner import run_reports
from analysis.data.config import TEACHING_DIR
from analysis.data.dataset import load_dataset
from analysis.presentation import teaching
from analysis.statistics.features import compute_member_features

TINY = pd.DataFrame({"days": [30, 60, 60, 90, 120, 150, 200, 250], "asleep": [1, 0, 1, 1, 0, 1, 0, 1]})


def test_km_check_by_hand():
    # 7/8 at day 30; 6/7 at day 60 (the member censored at 60 is still at risk); 4/5 at day 90: 0.6
    assert teaching.check_km_by_hand(0.6, TINY["days"], TINY["asleep"], 100).ok
    wrong = teaching.check_km_by_hand(5 / 8, TINY["days"], TINY["asleep"], 100)  # censored dropped from the denominator
    assert wrong.status == "wrong" and "censored" in wrong.message
    assert teaching.check_km_by_hand(None, TINY["days"], TINY["asleep"], 100).status == "open"


def test_score_check_catches_the_tie_rule(small_mall):
    f = compute_member_features(load_dataset(small_mall))
    right = (1 + np.floor(5 * (f["frequency"].rank(method="min") - 1) / len(f))).clip(1, 5).astype(int)
    first = (1 + np.floor(5 * (f["frequency"].rank(method="first") - 1) / len(f))).clip(1, 5).astype(int)
    assert teaching.check_rfm_scores(right, f, "frequency", True).ok
    assert teaching.check_rfm_scores(first, f, "frequency", True).status == "wrong"


def test_rfm_table_check_catches_an_off_by_one_window(small_mall):
    data = load_dataset(small_mall)
    as_of = pd.Timestamp(data.as_of)
    tx = data.transactions.to_pandas()
    end = as_of.normalize() + pd.Timedelta(days=1)

    def table(start):
        w = tx[(tx["ts"] >= start) & (tx["ts"] < end)]
        r = w.groupby("member_id").agg(last=("ts", "max"), frequency=("ts", "size"), monetary=("amount", "sum")).reset_index()
        r["recency_days"] = (as_of.normalize() - r["last"].dt.normalize()).dt.days
        return r

    assert teaching.check_rfm_table(table(end - pd.Timedelta(days=365)), data, as_of, 365).ok
    assert teaching.check_rfm_table(table(end - pd.Timedelta(days=300)), data, as_of, 365).status == "wrong"


@pytest.mark.slow
@pytest.mark.parametrize("solutions", [True, False])
def test_teaching_notebooks_run_under_the_runner(small_mall, tmp_path, solutions):
    res = run_reports(
        small_mall,
        out_dir=tmp_path / "r",
        notebooks_dir=TEACHING_DIR,
        jobs=2,
        params={"show_solutions": solutions},
        log=lambda *_: None,
    )
    assert res.ok, [n.error for n in res.notebooks]
    assert res.label.endswith("-teaching") and len(res.notebooks) == 3
    for nb in res.notebooks:
        m = json.loads((res.out_dir / f"{nb.name}.metrics.json").read_text())
        assert m["exercises"] >= 2
        if solutions:
            assert m["right"] == m["exercises"], m["checks"]
        else:
            assert set(m["checks"].values()) == {"open"}, m["checks"]
        page = (res.out_dir / f"{nb.name}.html").read_text(encoding="utf-8")
        assert "# your answer" in page  # the exercise code is shown: the code is the exercise
        assert ('"n">show_solutions</span>' in page) == solutions  # the answers' code only in the answer key
        assert "bound method" not in page and '"nn">seaborn<' not in page  # no raw reprs, set-up code hidden


def test_handout_strips_every_solution_and_still_runs_clean(tmp_path):
    import nbformat

    from analysis.application.handout import strip_solutions, write_handout

    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("x = None  # your answer", metadata={"tags": ["exercise"]}),
            nbformat.v4.new_code_cell("if show_solutions:\n    x = 1", metadata={"tags": ["solution"]}),
            nbformat.v4.new_code_cell("checks.append(x)"),
        ]
    )
    assert [c.source for c in strip_solutions(nb).cells] == ["x = None  # your answer", "checks.append(x)"]
    written = write_handout(TEACHING_DIR, tmp_path)
    assert len(written) == 3
    for p in written:
        text = p.read_text(encoding="utf-8")
        assert "if show_solutions" not in text and "# your answer" in text
        assert '"jupytext"' not in text  # a plain notebook, not one side of a pair
        for cell in json.loads(text)["cells"]:
            if cell["cell_type"] == "code":
                code = "".join(cell["source"])
                ast.parse("\n".join(ln for ln in code.splitlines() if not ln.startswith("%")))  # still valid Python


def _outputs(path) -> str:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            for kind in ("text/plain", "text/markdown", "text/html"):
                parts.append(str(out.get("data", {}).get(kind, "")))
    return "\n".join(parts)


@pytest.mark.slow
def test_a_handout_runs_where_it_is_written_and_prints_no_answer(small_mall, tmp_path):
    """The handout carries its data and runs from its own folder, outside the repository; a
    student's copy run top to bottom shows no toolkit result (they print the answers)."""
    import papermill as pm

    from analysis.application import cli

    class_dir = tmp_path / "class"
    assert cli.main(["handout", str(class_dir), "--data", str(small_mall)]) == 0
    assert (class_dir / "data" / "members.csv").exists()
    moved = tmp_path / "elsewhere" / "course"  # the folder copied to a student's machine
    moved.parent.mkdir()
    class_dir.rename(moved)
    for name in ("t1_rfm_by_hand", "t2_survival_and_lifecycle", "t3_naive_vs_holdout"):
        out = tmp_path / f"{name}.out.ipynb"
        pm.execute_notebook(str(moved / f"{name}.ipynb"), str(out), cwd=str(moved), kernel_name="python3", progress_bar=False)
        text = _outputs(out)
        assert "Traceback" not in text and "does not exist" not in text, name
        if name != "t1_rfm_by_hand":
            assert "The toolkit's results appear here once every exercise above is answered right." in text, name
    t3 = _outputs(tmp_path / "t3_naive_vs_holdout.out.ipynb")
    assert "difference-in-differences" not in t3.lower()
    # the teacher's key shows them
    key = tmp_path / "key.ipynb"
    pm.execute_notebook(
        str(TEACHING_DIR / "t3_naive_vs_holdout.ipynb"),
        str(key),
        cwd=str(TEACHING_DIR),
        kernel_name="python3",
        parameters={"data_dir": str(small_mall), "show_solutions": True},
        progress_bar=False,
    )
    shown = _outputs(key)
    assert "difference-in-differences" in shown.lower() and "truth" in shown.lower()  # the comparison with the truth is shown
