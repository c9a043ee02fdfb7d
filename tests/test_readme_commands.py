"""README commands, run as written from the project folder (relative paths, parallel kernels)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.data.config import PROJECT_DIR

MALLWAKE = str(Path(sys.executable).parent / "mallwake")


@pytest.mark.slow
def test_teaching_track_commands_with_relative_paths(small_mall, tmp_path):
    """`mallwake run --notebooks notebooks/teaching` (and the answer key): papermill changes the
    process's working directory while a kernel runs, which broke relative paths under --jobs 2."""
    out = tmp_path / "reports"
    for extra in ([], ["-p", "show_solutions=true", "--label", "teaching-key"]):
        res = subprocess.run(
            [
                MALLWAKE,
                "run",
                "--data",
                str(small_mall),
                "--notebooks",
                "notebooks/teaching",
                "--out",
                str(out),
                "--jobs",
                "2",
                *extra,
            ],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
        )
        assert res.returncode == 0, res.stderr[-2000:]
    assert len(list((out / "teaching-key").glob("t*.html"))) == 3
    assert len(list(out.glob("*-teaching/t*.html"))) == 3
    # the students' copies, as the README writes them (relative folder)
    res = subprocess.run([MALLWAKE, "handout", "handout"], cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    copies = sorted(p.name for p in (tmp_path / "handout").glob("*.ipynb"))
    assert copies == ["t1_rfm_by_hand.ipynb", "t2_survival_and_lifecycle.ipynb", "t3_naive_vs_holdout.ipynb"]
    assert all('"solution"' not in (tmp_path / "handout" / c).read_text() for c in copies)
    # a student hands one back; the teacher scores it, as the README writes it
    (tmp_path / "submissions" / "ann").mkdir(parents=True)
    shutil.copy(tmp_path / "handout" / copies[0], tmp_path / "submissions" / "ann" / copies[0])
    res = subprocess.run(
        [MALLWAKE, "grade", "submissions/", "--out", "scores/", "--data", "handout/data"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    scores = (tmp_path / "scores" / "scores.csv").read_text(encoding="utf-8-sig")
    assert "ann,t1_rfm_by_hand" in scores and "open" in scores


def test_relative_paths_survive_a_kernel_changing_the_working_directory(small_mall, tmp_path, monkeypatch):
    """Deterministic version of the race: every execution first moves the process elsewhere."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from analysis.application import runner

    work = tmp_path / "work"
    (work / "nbs").mkdir(parents=True)
    for name in ("a", "b", "c"):
        nb = new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [
            new_code_cell('data_dir: str = ""\nas_of: str = ""', metadata={"tags": ["parameters"]}),
            new_code_cell("from analysis.presentation.report import record_metrics\nrecord_metrics(ok=1)"),
        ]
        nbformat.write(nb, work / "nbs" / f"{name}.ipynb")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    real = runner.execute_notebook

    def moving(nb, out_nb, params, progress=None, launcher=None):
        import os

        os.chdir(elsewhere)  # what papermill does while a kernel runs
        return real(nb, out_nb, params, progress, launcher)

    monkeypatch.setattr(runner, "execute_notebook", moving)
    monkeypatch.chdir(work)
    res = runner.run_reports(
        small_mall, out_dir=Path("reports"), notebooks_dir=Path("nbs"), label="rel", jobs=1, log=lambda *_: None
    )
    assert res.ok, [n.error for n in res.notebooks]
    assert sorted(p.name for p in (work / "reports" / "rel").glob("*.html")) == ["a.html", "b.html", "c.html"]


def test_plan_command_as_the_readme_writes_it(small_mall, tmp_path, monkeypatch):
    """`mallwake plan examples/next_wave.yaml` from the project folder, on a generated mall."""
    import json
    import subprocess
    import sys

    from analysis.data.config import PROJECT_DIR

    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    assert ".venv/bin/mallwake plan examples/next_wave.yaml" in readme
    out = tmp_path / "exports"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "analysis.application.cli",
            "plan",
            "examples/next_wave.yaml",
            "--data",
            str(small_mall),
            "--exports",
            str(out),
        ],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    folder = out / "plans" / "W4-NEXT"
    record = json.loads((folder / "preregistration.json").read_text())
    assert record["allocation"] == {"holdout": 0.2, "call_wechat_ent": 0.4, "sms_daily": 0.4}
    assert (folder / "contacts.csv").is_file() and (folder / "balance.csv").is_file()


def test_translation_check_command_as_the_readme_writes_it():
    """`python -m analysis.presentation.catalogs missing zh` runs as written and lists nothing: every text is translated."""
    res = subprocess.run(
        [sys.executable, "-m", "analysis.presentation.catalogs", "missing", "zh"], cwd=PROJECT_DIR, capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"


@pytest.mark.slow
def test_next_wave_list_command_as_the_readme_writes_it(study_mall, tmp_path):
    """`mallwake run --only 03_campaign_effects -p margin_rate=0.3 -p budget=5000`: the list a
    budget buys, ranked by margin net of cost, within the budget, in the run's exports folder."""
    import json

    import pandas as pd

    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    command = ".venv/bin/mallwake run --only 03_campaign_effects -p margin_rate=0.3 -p budget=5000"
    assert command in readme
    out = tmp_path / "reports"
    res = subprocess.run(
        [MALLWAKE, *command.split()[1:], "--data", str(study_mall), "--out", str(out), "--label", "w"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    chosen = pd.read_csv(tmp_path / "exports" / "w" / "next_wave_list.csv")
    assert 0 < len(chosen) and chosen["expected_cost"].sum() <= 5000
    metrics = json.loads((out / "w" / "03_campaign_effects.metrics.json").read_text())
    assert metrics["next_wave"]["ranked_by"] == "margin"  # a code: the same in every language
    assert metrics["next_wave"]["members"] == len(chosen)
