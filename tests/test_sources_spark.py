"""Every notebook on a real Spark cluster (the same data as files, as Parquet files of a lake).

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

from analysis import cli
from analysis.config import PROJECT_DIR
from analysis.contract import present_files
from analysis.validation import relation_sql

sys.path.insert(0, str(Path(__file__).parent))
from sources_common import assert_same_metrics, files_metrics, require_spark, run_all, settings_beside  # noqa: E402,F401
from sparkcluster import spark_cluster  # noqa: E402

README_MASTER, README_LAKE = "spark://127.0.0.1:7077", "/lake/crm"


def _readme_block(start: str) -> str:
    text = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    i = text.index(start)
    return text[i : text.index("```", i)]


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
    # the six reports, the teaching notebooks and a month: every metric equals the files' run
    out = tmp_path / "reports"
    metrics = run_all(spark_source, out)
    assert_same_metrics(files_metrics, metrics)
    run = json.loads((out / "main" / "run.json").read_text())
    assert run["provenance"]["data source"] == "cluster.yaml" and len(run["fingerprint"]) == 64
    # the monthly report of the last complete month and the plan of the next wave, as the README writes them
    assert cli.main(["run", "--data", str(spark_source), "--month", "latest", "--out", str(tmp_path / "m")]) == 0
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
    assert len(state["completedapps"]) + len(state["activeapps"]) >= 10, state.get("completedapps")
    assert len([w for w in state["workers"] if w["state"] == "ALIVE"]) == 2


def _master_state(master: str) -> dict:
    from sparkcluster import ui_port

    return json.loads(urllib.request.urlopen(f"http://127.0.0.1:{ui_port(master)}/json/", timeout=10).read())
