"""Benchmark: what RFM scores and the tier rules read, from every member feature or from the window alone.

Times, on the staged copy of DATA_DIR (nothing memoized), ``compute_member_features`` as the RFM
segment at a campaign's start, the migration, the tier rules and the monthly report called it
(``categories=False, visits=False``), and ``compute_rfm_inputs`` (the window's purchase days only),
at the data's last day and a year before, each the median of ``--repeat`` calls.
Usage: python benchmarks/bench_rfm_inputs.py DATA_DIR [--repeat 3]
Writes benchmarks/results/rfm_inputs_<data dir name>.json and prints it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def bench(data_dir: Path, repeat: int) -> dict:
    import pandas as pd

    from analysis.data.dataset import load_dataset
    from analysis.statistics import memo
    from analysis.statistics.features import compute_member_features, compute_rfm_inputs

    memo.use(None)  # every call computed
    data = load_dataset(data_dir)
    out: dict = {"data": data_dir.name, "repeat": repeat}
    for label, as_of in (
        ("last day", pd.Timestamp(data.as_of)),
        ("a year before", pd.Timestamp(data.as_of) - pd.DateOffset(years=1)),
    ):
        row = {}
        for name, call in (
            ("member features (visits=False)", lambda d: compute_member_features(data, d, 365, categories=False, visits=False)),
            ("rfm inputs", lambda d: compute_rfm_inputs(data, d, 365)),
        ):
            times = []
            for _ in range(repeat):
                t = time.perf_counter()
                call(as_of)
                times.append(time.perf_counter() - t)
            row[name] = round(statistics.median(times), 2)
        out[f"{label} ({as_of.date()})"] = row
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    result = bench(args.data, args.repeat)
    path = HERE / "results" / f"rfm_inputs_{args.data.name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
