"""Benchmark: staging a data directory into the cache's DuckDB file, alone (no validation beside it).

Usage: python benchmarks/bench_stage.py benchmarks/data/mall_1000000 [--repeats 3]
Each repeat stages into an empty cache in a fresh process and reports the wall time of
``stage_dataset`` and the seconds of each table's ``CREATE TABLE`` (from DuckDB's own timing of the
statements, by wrapping the connection's ``execute``). Writes
benchmarks/results/stage_<folder name>.json and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

_ONE = r"""
import json, re, sys, time
import duckdb
from analysis.data import dataset

steps = {}
real = duckdb.connect

class Timed:
    def __init__(self, con):
        self._con = con
    def execute(self, sql, *args):
        t = time.perf_counter()
        out = self._con.execute(sql, *args)
        m = re.match(r"\s*(?:CREATE TABLE|UPDATE) (\S+)", sql)
        if m:
            name = m.group(1).strip('"')
            steps[name] = round(steps.get(name, 0) + time.perf_counter() - t, 2)
        return out
    def __getattr__(self, name):
        return getattr(self._con, name)

duckdb.connect = lambda *a, **k: Timed(real(*a, **k))  # the stage's connection (dataset imports duckdb inside)
t = time.perf_counter()
path = dataset.stage_dataset(sys.argv[1])
print(json.dumps({"seconds": round(time.perf_counter() - t, 2), "steps": steps, "mb": round(path.stat().st_size / 1e6, 1)}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data", type=Path)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    runs = []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as cache:
            env = os.environ | {"MALLWAKE_CACHE_DIR": cache}
            out = subprocess.run(
                [sys.executable, "-c", _ONE, str(args.data)], check=True, capture_output=True, text=True, env=env
            )
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    result = {"data": str(args.data), "runs": runs, "median_seconds": sorted(r["seconds"] for r in runs)[len(runs) // 2]}
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / f"stage_{args.data.name}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
