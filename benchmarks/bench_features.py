"""Benchmark: member features through Ibis/DuckDB vs the same computation in plain pandas.

Each measurement runs in its own process so its peak memory (max RSS) is its own. The engine is
timed on the staged copy (what the notebooks read) and straight from the files.
Usage: python benchmarks/bench_features.py DATA_DIR [DATA_DIR ...]
Prints one JSON line per data directory and engine.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

WINDOW = 365


def _ibis(data_dir: str) -> dict:
    from analysis.data.dataset import load_dataset
    from analysis.statistics.features import compute_member_features

    t0 = time.perf_counter()
    data = load_dataset(data_dir)  # validates and stages the first time (cached afterwards)
    t1 = time.perf_counter()
    f = compute_member_features(data, window_days=WINDOW)
    t2 = time.perf_counter()
    direct = compute_member_features(load_dataset(data_dir, stage=False), window_days=WINDOW)
    t3 = time.perf_counter()
    assert abs(float(direct["monetary"].sum()) - float(f["monetary"].sum())) <= 1e-9 * abs(float(f["monetary"].sum()))
    return {
        "rows": len(f),
        "load_validate_s": t1 - t0,
        "features_s": t2 - t1,
        "features_from_files_s": t3 - t2,
        "checksum": float(f["monetary"].sum()),
    }


def _pandas(data_dir: str) -> dict:
    import pandas as pd

    t0 = time.perf_counter()
    d = Path(data_dir)
    members = pd.read_csv(d / "members.csv", usecols=["member_id", "join_date", "tier"])
    tx = pd.read_parquet(d / "transactions.parquet", columns=["member_id", "ts", "amount"])
    t1 = time.perf_counter()
    as_of = tx["ts"].max().normalize()
    tx["member_id"] = tx["member_id"].astype(str)
    last = tx.groupby("member_id")["ts"].max()
    win = tx[tx["ts"] >= as_of + pd.Timedelta(days=1 - WINDOW)]
    agg = win.groupby("member_id").agg(frequency=("amount", "size"), monetary=("amount", "sum"))
    f = members.set_index("member_id").join(agg).join(last.rename("last"))
    f[["frequency", "monetary"]] = f[["frequency", "monetary"]].fillna(0)
    f["recency_days"] = (as_of - f["last"].dt.normalize().fillna(pd.to_datetime(f["join_date"]))).dt.days
    t2 = time.perf_counter()
    return {"rows": len(f), "load_validate_s": t1 - t0, "features_s": t2 - t1, "checksum": float(f["monetary"].sum())}


def main() -> None:
    if len(sys.argv) >= 3 and sys.argv[1] in ("--ibis", "--pandas"):
        res = (_ibis if sys.argv[1] == "--ibis" else _pandas)(sys.argv[2])
        res["peak_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
        print(json.dumps(res))
        return
    for data_dir in sys.argv[1:]:
        for engine in ("--ibis", "--pandas"):
            out = subprocess.run([sys.executable, __file__, engine, data_dir], capture_output=True, text=True, check=True)
            res = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                json.dumps(
                    {"data": Path(data_dir).name, "engine": engine[2:]}
                    | {k: round(v, 2) if isinstance(v, float) else v for k, v in res.items()}
                )
            )


if __name__ == "__main__":
    main()
