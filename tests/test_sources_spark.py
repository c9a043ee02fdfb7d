"""The toolkit on a real Spark cluster (the same data as files, as Parquet files of a lake).

A standalone master and two workers run as separate JVM processes on loopback
(:mod:`sparkcluster`); each notebook's kernel is a driver that connects to the master, and the
executors on the workers read the Parquet files. Needs pyspark and Java; skipped without them,
except where ``MALLWAKE_REQUIRE_SPARK=1`` (CI) makes that a failure. Apart from
``test_sources.py`` so the two engines run on two workers of the test run.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

import duckdb
import pytest

from analysis.application import cli
from analysis.application.runner import run_reports
from analysis.data.config import NOTEBOOKS_DIR, PROJECT_DIR
from analysis.data.contract import present_files
from analysis.data.validation import relation_sql

sys.path.insert(0, str(Path(__file__).parent))
from sources_common import _diff, require_spark, settings_beside  # noqa: E402
from sparkcluster import spark_cluster  # noqa: E402

README_MASTER, README_LAKE = "spark://127.0.0.1:7077", "/lake/crm"


def _readme_block(start: str) -> str:
    text = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    i = text.index(start)
    return text[i : text.index("```", i)]


@pytest.fixture(scope="module")
def files_metrics(small_mall, tmp_path_factory) -> dict[str, dict]:
    """The six reports' metrics from the same data as files."""
    out = tmp_path_factory.mktemp("files") / "reports"
    res = run_reports(small_mall, out_dir=out, label="main", jobs=2, log=lambda *_: None)
    assert res.ok
    return {p.name: json.loads(p.read_text()) for p in (out / "main").glob("*.metrics.json")}


@pytest.fixture(scope="module")
def spark_master(tmp_path_factory):
    require_spark()
    with spark_cluster(tmp_path_factory.mktemp("spark")) as master:
        yield master


@pytest.fixture(scope="module")
def spark_source(small_mall, spark_master, tmp_path_factory) -> Path:
    """The small mall as Parquet files of a lake, and the README's lake/cluster.yaml as written,
    its master and paths pointed at the test's cluster and lake."""
    folder = tmp_path_factory.mktemp("lake")
    for name, path in present_files(small_mall).items():
        duckdb.execute(f"COPY (SELECT * FROM {relation_sql(path)}) TO '{folder / f'{name}.parquet'}' (FORMAT parquet)")
    text = _readme_block("# lake/cluster.yaml")
    assert README_MASTER in text and README_LAKE in text
    f = folder / "cluster.yaml"
    f.write_text(text.replace(README_MASTER, spark_master).replace(README_LAKE, str(folder)), encoding="utf-8")
    settings_beside(folder, small_mall)
    return f


@pytest.mark.slow
def test_every_command_on_a_spark_cluster_equals_the_same_data_as_files(
    spark_source, spark_master, files_metrics, small_mall, tmp_path, capsys
):
    # validate, as the README writes it
    assert cli.main(["validate", str(spark_source)]) == 0
    assert "valid" in capsys.readouterr().out
    # the six reports: every metric equals the files' run (the teaching notebooks run on files and
    # on PostgreSQL; on the cluster they would add three applications and no engine code)
    out = tmp_path / "reports"
    res = run_reports(spark_source, out_dir=out, label="main", jobs=2, log=lambda *_: None)
    assert res.ok, [(n.name, n.error) for n in res.notebooks if n.status != "ok"]
    reports = {p.stem for p in NOTEBOOKS_DIR.glob("*.ipynb")}
    for name in reports:
        ran = json.loads((out / "main" / f"{name}.metrics.json").read_text())
        assert not _diff(files_metrics[f"{name}.metrics.json"], ran), (
            name,
            _diff(files_metrics[f"{name}.metrics.json"], ran)[:5],
        )
    run = json.loads((out / "main" / "run.json").read_text())
    assert run["provenance"]["data source"] == "cluster.yaml" and len(run["fingerprint"]) == 64
    # the monthly report of the last complete month, as the README writes it, equals the files' month
    for name, data in (("cluster", spark_source), ("files", small_mall)):
        assert cli.main(["run", "--data", str(data), "--month", "latest", "--out", str(tmp_path / f"m-{name}")]) == 0
    [month_cluster] = (tmp_path / "m-cluster").glob("month-*/monthly_report.metrics.json")
    month_files = tmp_path / "m-files" / month_cluster.parent.name / month_cluster.name
    assert not _diff(json.loads(month_files.read_text()), json.loads(month_cluster.read_text()))
    # the plan of the next wave, as the README writes it
    plans = {}
    for name, data in (("cluster", spark_source), ("files", small_mall)):
        exports = tmp_path / f"exports-{name}"
        assert (
            cli.main(["plan", str(PROJECT_DIR / "examples" / "next_wave.yaml"), "--data", str(data), "--exports", str(exports)])
            == 0
        )
        plans[name] = (exports / "plans" / "W4-NEXT" / "contacts.csv").read_bytes()
    assert plans["cluster"] == plans["files"]
    # the work ran on the cluster: every notebook's session was an application of the master
    ui = spark_master  # spark://127.0.0.1:port; the master's status page lists the finished applications
    state = _master_state(ui)
    assert len(state["completedapps"]) + len(state["activeapps"]) >= 7, state.get("completedapps")
    assert len([w for w in state["workers"] if w["state"] == "ALIVE"]) == 2


def _master_state(master: str) -> dict:
    from sparkcluster import ui_port

    return json.loads(urllib.request.urlopen(f"http://127.0.0.1:{ui_port(master)}/json/", timeout=10).read())
