"""Benchmark: writing a member list to Excel with openpyxl vs XlsxWriter (the choice in analysis.application.exports).

Usage: python benchmarks/bench_excel.py [--rows 20000] [--repeat 3]
Writes benchmarks/results/excel.json and prints it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    n = args.rows
    frame = pd.DataFrame(
        {
            "member_id": [f"MA{i:08d}" for i in range(n)],
            "to_contact": rng.random(n) < 0.8,
            "reason": "asleep: no purchase for 180+ days, still reachable",
            "days_since_purchase": rng.integers(180, 900, n),
            "tier": rng.choice(["silver", "gold", "platinum"], n),
            "opt_out": rng.random(n) < 0.05,
            "last_purchase": (pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D")).date,
            "reachable_by_sms": rng.random(n) < 0.9,
            "reachable_by_wechat": rng.random(n) < 0.6,
        }
    )
    result = {"rows": n, "columns": frame.shape[1]}
    with tempfile.TemporaryDirectory() as tmp:
        for engine in ("openpyxl", "xlsxwriter"):
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                frame.to_excel(Path(tmp) / f"{engine}.xlsx", index=False, engine=engine)
                times.append(time.perf_counter() - t)
            result[engine] = {
                "median_seconds": round(statistics.median(times), 2),
                "bytes": (Path(tmp) / f"{engine}.xlsx").stat().st_size,
            }
        t = time.perf_counter()
        frame.to_csv(Path(tmp) / "list.csv", index=False, encoding="utf-8-sig")
        result["csv_seconds"] = round(time.perf_counter() - t, 3)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "excel.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
