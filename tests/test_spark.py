"""The feature layer runs unchanged on Apache Spark through Ibis's PySpark backend.

Needs ``pip install -e '.[spark]'`` and Java; skipped without them, except in CI, where
``MALLWAKE_REQUIRE_SPARK=1`` turns a missing Spark into a failure.
"""

import sys
from pathlib import Path

import pandas as pd
import pytest

from analysis.data.dataset import load_dataset, open_on_backend
from analysis.statistics.features import compute_member_features

sys.path.insert(0, str(Path(__file__).parent))
from sources_common import require_spark  # noqa: E402


@pytest.fixture(scope="module")
def spark():
    require_spark()
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("mallwake-test")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.mark.slow
def test_member_features_on_spark_equal_duckdb(spark, small_mall):
    import ibis

    on_spark = open_on_backend(ibis.pyspark.connect(spark), small_mall)
    on_duckdb = load_dataset(small_mall)
    assert on_spark.as_of == on_duckdb.as_of
    for as_of, window in ((None, 365), ("2024-06-30", 730)):
        a = compute_member_features(on_duckdb, as_of, window).sort_values("member_id").reset_index(drop=True)
        b = compute_member_features(on_spark, as_of, window).sort_values("member_id").reset_index(drop=True)
        assert len(a) > 1000 and a["frequency"].sum() > 0
        pd.testing.assert_frame_equal(a, b, check_dtype=False)


def test_open_on_backend_on_a_second_duckdb_equals_load_dataset(small_mall):
    import ibis

    a = compute_member_features(load_dataset(small_mall)).sort_values("member_id").reset_index(drop=True)
    b = (
        compute_member_features(open_on_backend(ibis.duckdb.connect(), small_mall))
        .sort_values("member_id")
        .reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
