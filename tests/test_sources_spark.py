"""Every notebook on a local Spark session (the same data as files, as Parquet files of a lake).

Needs pyspark and Java; skipped without them, except where ``MALLWAKE_REQUIRE_SPARK=1`` (CI)
makes that a failure. Apart from ``test_sources.py`` so the two engines run on two workers.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb
import pytest

from analysis.contract import present_files
from analysis.validation import relation_sql

sys.path.insert(0, str(Path(__file__).parent))
from sources_common import assert_same_metrics, files_metrics, require_spark, run_all, settings_beside  # noqa: E402,F401


@pytest.fixture(scope="module")
def spark_source(small_mall, tmp_path_factory) -> Path:
    """The small mall as Parquet files of a lake, read by a local Spark session."""
    require_spark()
    folder = tmp_path_factory.mktemp("lake")
    lines = ["engine: pyspark", "spark: {master: 'local[1]', conf: {spark.sql.shuffle.partitions: '2'}}", "tables:"]
    for name, path in present_files(small_mall).items():
        target = folder / f"{name}.parquet"
        duckdb.execute(f"COPY (SELECT * FROM {relation_sql(path)}) TO '{target}' (FORMAT parquet)")
        lines.append(f"  {name}: {{parquet: {target}}}")
    f = folder / "lake.yaml"
    f.write_text("\n".join(lines) + "\n")
    settings_beside(folder, small_mall)
    return f


@pytest.mark.slow
def test_every_notebook_on_spark_equals_the_same_data_as_files(spark_source, files_metrics, tmp_path):
    out = tmp_path / "reports"
    metrics = run_all(spark_source, out)
    assert_same_metrics(files_metrics, metrics)
    run = json.loads((out / "main" / "run.json").read_text())
    assert run["provenance"]["data source"] == "lake.yaml" and len(run["fingerprint"]) == 64
