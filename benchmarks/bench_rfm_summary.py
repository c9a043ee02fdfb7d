"""Benchmark: the BG/NBD member summary (frequency, recency, T, monetary value) three ways.

On the same transactions: our feature layer (:func:`analysis.statistics.clv.compute_rfm_summary`, computed
in DuckDB through Ibis), a plain pandas group-by, and the reference function of the ``lifetimes``
package, ``lifetimes.utils.summary_data_from_transaction_data`` (if it installs:
``pip install lifetimes``). The engine is timed three ways: staging the directory (once per data
version, shared by every notebook), the summary on the staged copy (what the notebooks do), and
the summary read straight from the files. Each runs in its own process (its own peak memory); the script checks
that all three give the same numbers and reports the time ratios.

Usage: python benchmarks/bench_rfm_summary.py DATA_DIR
Writes benchmarks/results/rfm_summary_<data dir name>.json.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def _transactions(data_dir: str) -> tuple[pd.DataFrame, pd.Timestamp]:
    from analysis.data.dataset import load_dataset

    data = load_dataset(data_dir)
    return data.transactions.select("member_id", "ts", "amount").to_pandas(), pd.Timestamp(data.as_of)


def _pandas(tx: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame:
    tx = tx[tx["ts"] < end + pd.Timedelta(days=1)]
    days = tx.assign(day=tx["ts"].dt.normalize()).groupby(["member_id", "day"], as_index=False)["amount"].sum()
    days = days.sort_values(["member_id", "day"])
    first_rows = days.groupby("member_id").cumcount() == 0
    g = days.groupby("member_id")
    out = pd.DataFrame(
        {
            "first": g["day"].min(),
            "last": g["day"].max(),
            "n": g.size(),
            "repeat": days[~first_rows].groupby("member_id")["amount"].sum(),
        }
    ).fillna({"repeat": 0.0})
    res = pd.DataFrame(
        {
            "frequency": out["n"] - 1,
            "recency": (out["last"] - out["first"]).dt.days.astype(float),
            "T": (end - out["first"]).dt.days.astype(float),
        }
    )
    res["monetary_value"] = out["repeat"] / res["frequency"].where(res["frequency"] > 0)
    return res.reset_index().sort_values("member_id").reset_index(drop=True)


def _lifetimes(tx: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame:
    from lifetimes.utils import summary_data_from_transaction_data

    s = summary_data_from_transaction_data(
        tx, "member_id", "ts", monetary_value_col="amount", observation_period_end=end, freq="D"
    )
    s = s.reset_index()
    s["monetary_value"] = s["monetary_value"].where(s["frequency"] > 0)
    return s[["member_id", "frequency", "recency", "T", "monetary_value"]].sort_values("member_id").reset_index(drop=True)


def _worker(method: str, data_dir: str, out: str) -> None:
    if method == "engine":
        from analysis.data.dataset import load_dataset, stage_dataset, stage_path
        from analysis.data.validation import validate_data_dir
        from analysis.statistics.clv import compute_rfm_summary

        validate_data_dir(data_dir).raise_for_errors()  # validation is not timed (pandas and lifetimes get clean rows)
        staged = stage_path(data_dir)
        if staged and staged.is_file():
            staged.unlink()  # time the staging from scratch
        t = time.perf_counter()
        stage_dataset(data_dir)
        stage_seconds = time.perf_counter() - t
        t = time.perf_counter()
        res = compute_rfm_summary(load_dataset(data_dir, stage=False), unit_days=1.0)
        raw_seconds = time.perf_counter() - t
        data = load_dataset(data_dir)
        t = time.perf_counter()
        res = compute_rfm_summary(data, unit_days=1.0)
        seconds = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
        res.to_parquet(out)
        print(
            json.dumps(
                {
                    "method": method,
                    "seconds": seconds,
                    "peak_gb": peak,
                    "stage_seconds": stage_seconds,
                    "from_files_seconds": raw_seconds,
                }
            )
        )
        return
    else:
        tx, end = _transactions(data_dir)  # loading the raw rows is not timed: the comparison is the summary
        fn = _pandas if method == "pandas" else _lifetimes
        t = time.perf_counter()
        res = fn(tx, end)
        seconds = time.perf_counter() - t
    res.to_parquet(out)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(json.dumps({"method": method, "seconds": seconds, "peak_gb": peak}))


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--worker":
        _worker(sys.argv[2], sys.argv[3], sys.argv[4])
        return
    data_dir = sys.argv[1]
    tmp = HERE / "data"
    tmp.mkdir(exist_ok=True)
    results, frames = {}, {}
    for method in ("engine", "pandas", "lifetimes"):
        out = tmp / f"summary_{method}.parquet"
        proc = subprocess.run([sys.executable, __file__, "--worker", method, data_dir, str(out)], capture_output=True, text=True)
        if proc.returncode != 0:
            results[method] = {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
            continue
        results[method] = json.loads(proc.stdout.strip().splitlines()[-1])
        frames[method] = pd.read_parquet(out)
        out.unlink()
    ref = frames["engine"]
    same = {}
    for method, df in frames.items():
        if method == "engine":
            continue
        same[method] = bool(
            len(df) == len(ref)
            and (df["member_id"].astype(str).to_numpy() == ref["member_id"].astype(str).to_numpy()).all()
            and all(
                np.allclose(df[c].to_numpy(float), ref[c].to_numpy(float), equal_nan=True, atol=1e-6)
                for c in ("frequency", "recency", "T", "monetary_value")
            )
        )
    n_tx = (
        len(pd.read_parquet(Path(data_dir) / "transactions.parquet", columns=["amount"]))
        if (Path(data_dir) / "transactions.parquet").exists()
        else None
    )
    summary = {
        "data": Path(data_dir).name,
        "transactions": n_tx,
        "members_with_purchases": len(ref),
        "results": results,
        "identical_to_engine": same,
    }
    for method in ("pandas", "lifetimes"):
        if "seconds" in results.get(method, {}):
            eng = results["engine"]
            summary[f"{method}_over_engine"] = round(results[method]["seconds"] / eng["seconds"], 1)
            summary[f"{method}_over_engine_from_files"] = round(results[method]["seconds"] / eng["from_files_seconds"], 1)
            summary[f"{method}_over_engine_with_staging"] = round(
                results[method]["seconds"] / (eng["stage_seconds"] + eng["seconds"]), 1
            )
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / f"rfm_summary_{Path(data_dir).name}.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
