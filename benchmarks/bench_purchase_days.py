"""Benchmark: the stage's purchase days with returns, two steps against the portable expression.

Usage: python benchmarks/bench_purchase_days.py benchmarks/data/mall_1000000 [--every 50]
Builds a DuckDB file of the folder's transactions in which every ``--every``-th row (by txn_id)
becomes a return of half its amount a day later, then times ``dataset._stage_purchase_days`` (the
stage's way) and :func:`dataset.purchase_days_expr` compiled to SQL, both within the stage's memory
limit (``dataset.STAGE_MEMORY``) and the expression again within 12 GB if it fails there; compares
the two tables. Writes benchmarks/results/purchase_days_<folder name>.json and prints it.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import duckdb

from analysis.data import dataset

HERE = Path(__file__).resolve().parent


def _timed(con, build) -> float | str:
    con.execute("DROP TABLE IF EXISTS purchase_days")
    t = time.perf_counter()
    try:
        build()
    except duckdb.OutOfMemoryException as err:
        return f"out of memory ({str(err).splitlines()[0][:80]})"
    return round(time.perf_counter() - t, 2)


def bench(data: Path, every: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect(str(Path(tmp) / "t.duckdb"))
        con.execute(f"SET temp_directory = '{tmp}/spill'")
        src = dataset.relation_sql(data / "transactions.parquet")
        con.execute(
            f"CREATE TABLE transactions AS SELECT CAST(member_id AS VARCHAR) AS member_id, "
            f"CASE WHEN txn_id % {every} = 0 THEN ts + INTERVAL 1 DAY ELSE ts END AS ts, "
            f"CASE WHEN txn_id % {every} = 0 THEN -round(amount / 2, 2) ELSE amount END AS amount, "
            f"txn_id % {every} = 0 AS is_return FROM {src}"
        )
        rows, returns = con.execute("SELECT count(*), sum(is_return::INT) FROM transactions").fetchone()
        expression = f"CREATE TABLE purchase_days AS SELECT * FROM ({dataset._purchase_days_sql()}) ORDER BY day"
        out = {"transactions": rows, "returns": returns, "memory_limit": dataset.STAGE_MEMORY}
        con.execute(f"SET memory_limit = '{dataset.STAGE_MEMORY}'")
        out["two_steps_seconds"] = _timed(con, lambda: dataset._stage_purchase_days(con.execute))
        con.execute("CREATE TABLE two_steps AS SELECT * FROM purchase_days")
        out["expression_seconds"] = _timed(con, lambda: con.execute(expression))
        if isinstance(out["expression_seconds"], str):
            con.execute("SET memory_limit = '12GB'")
            out["expression_seconds_within_12GB"] = _timed(con, lambda: con.execute(expression))
        n, worst, only = con.execute(
            "SELECT count(*), max(abs(a.spend - b.spend)), count(*) FILTER (WHERE a.member_id IS NULL OR b.member_id IS NULL) "
            "FROM two_steps AS a FULL JOIN purchase_days AS b USING (member_id, day)"
        ).fetchone()
        out |= {"purchase_days": n, "largest_spend_difference": worst, "rows_in_one_only": only}
        con.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data", type=Path)
    ap.add_argument("--every", type=int, default=50)
    args = ap.parse_args()
    result = {"data": str(args.data), **bench(args.data, args.every)}
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / f"purchase_days_{args.data.name}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
