"""The lab is the runner (issue 30): a notebook executed where it lies, with its own defaults and
no parameters (as JupyterLab's Run All does), gives the same numbers as ``mallwake run`` on the
same data: the data folder's ``mallwake.yaml`` applies to both."""

from __future__ import annotations

import json
import shutil

import nbformat
import papermill as pm
import pytest

from analysis.application.runner import run_reports
from analysis.data.config import NOTEBOOKS_DIR
from analysis.presentation.report import collect_metrics


@pytest.mark.slow
@pytest.mark.parametrize("notebook", ["03_campaign_effects", "teaching/t2_survival_and_lifecycle"])
def test_a_notebook_run_where_it_lies_equals_the_runners_report(notebook, small_mall, tmp_path):
    # the repository's layout: notebooks/ beside data/demo (the notebooks' own default data_dir)
    shutil.copytree(small_mall, tmp_path / "data" / "demo")
    shutil.copytree(NOTEBOOKS_DIR, tmp_path / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    source = tmp_path / "notebooks" / f"{notebook}.ipynb"
    executed = tmp_path / "lab.ipynb"
    pm.execute_notebook(str(source), str(executed), cwd=str(source.parent), kernel_name="python3", progress_bar=False)
    lab = collect_metrics(nbformat.read(executed, as_version=4))
    folder, stem = (NOTEBOOKS_DIR / notebook).parent, (NOTEBOOKS_DIR / notebook).name
    res = run_reports(
        tmp_path / "data" / "demo",
        out_dir=tmp_path / "reports",
        notebooks_dir=folder,
        only=[stem],
        label="run",
        log=lambda *_: None,
    )
    assert res.ok, [n.error for n in res.notebooks]
    ran = json.loads((tmp_path / "reports" / "run" / f"{stem}.metrics.json").read_text(encoding="utf-8"))
    assert lab and lab == ran
    out = "".join(o.get("text", "") for c in nbformat.read(executed, as_version=4).cells for o in c.get("outputs", []))
    assert "from the data folder's mallwake.yaml, as mallwake run:" in out  # the lab says where its settings came from


def test_settings_applied_is_the_runners_alone(small_mall, tmp_path, capsys):
    from analysis.application import cli

    rc = cli.main(
        [
            "run",
            "--data",
            str(small_mall),
            "--out",
            str(tmp_path / "r"),
            "--only",
            "03_campaign_effects",
            "-p",
            "settings_applied=true",
        ]
    )
    assert rc == 2 and "set by the runner" in capsys.readouterr().err


def test_recording_metrics_prints_nothing_in_the_lab():
    """The hidden record_metrics cell printed a long raw dictionary as the cell's value in the lab."""
    from analysis.presentation.report import record_metrics

    assert record_metrics(value=1) is None
