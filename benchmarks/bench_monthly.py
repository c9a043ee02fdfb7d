"""Benchmark: one monthly report, and a 12-month backfill, on a data directory (default: the demo).

Each build runs in a fresh output directory through the command line, timed from outside.
Usage: python benchmarks/bench_monthly.py [--data data/demo] [--months 2024-01..2024-12] [--jobs 2]
Writes benchmarks/results/monthly_<data dir name>.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


def _run(args: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run([str(BIN / "mallwake"), "run", *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(HERE.parent / "data" / "demo"))
    ap.add_argument("--month", default="2024-11")
    ap.add_argument("--months", default="2024-01..2024-12")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    out = Path(tempfile.mkdtemp())
    try:
        one = _run(["--data", args.data, "--month", args.month, "--out", str(out / "one")])
        run = json.loads((out / "one" / f"month-{args.month}" / "run.json").read_text())
        backfill = _run(["--data", args.data, "--months", args.months, "--jobs", str(args.jobs), "--out", str(out / "fill")])
        built = sorted(p.name for p in (out / "fill").glob("month-*"))
        again = _run(["--data", args.data, "--months", args.months, "--out", str(out / "fill")])
    finally:
        shutil.rmtree(out, ignore_errors=True)
    res = {
        "data": Path(args.data).name,
        "one_month": args.month,
        "one_month_s": round(one, 1),
        "one_month_notebook_s": round(run["notebooks"][0]["seconds"], 1),
        "one_month_timing": run["notebooks"][0]["timing"],
        "backfill": args.months,
        "backfill_months_built": len(built),
        "backfill_jobs": args.jobs,
        "backfill_s": round(backfill, 1),
        "backfill_rerun_all_skipped_s": round(again, 1),
    }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / f"monthly_{res['data']}.json").write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res))


if __name__ == "__main__":
    main()
