"""Benchmark: lifecycle panel construction and model fits, step by step, on one data directory.

Steps: stage panel and flows (engine), cohort retention (engine), time to sleep (engine) and the
survival fits (Kaplan-Meier, log-rank, Cox), the BG/NBD summary (engine) and the BG/NBD and
Gamma-Gamma fits, CLV, the MBG/NBD and Pareto/NBD fits and the choice among the three on a
six-month holdout, and the sleep-risk model (features at two dates in the engine, logistic fit).
Usage: python benchmarks/bench_lifecycle.py DATA_DIR [DATA_DIR ...]
Each directory runs in its own process (its own peak memory); results go to
benchmarks/results/lifecycle_<data dir name>.json.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

os.environ.setdefault("MALLWAKE_FIT_CACHE", "0")  # time the fits, not a read of the fit cache

HERE = Path(__file__).resolve().parent


def _worker(data_dir: str) -> dict:
    from analysis.data.dataset import load_dataset, stage_dataset, stage_path
    from analysis.data.validation import validate_data_dir
    from analysis.statistics import clv, lifecycle

    validate_data_dir(data_dir).raise_for_errors()  # cached after the first time; not a lifecycle step
    fresh = not (stage_path(data_dir) and stage_path(data_dir).is_file())
    t = time.perf_counter()
    stage_dataset(data_dir)  # once per data version, shared by every notebook (reported apart from the steps)
    stage_s = round(time.perf_counter() - t, 2)
    data = load_dataset(data_dir)
    as_of = pd.Timestamp(data.as_of)
    steps: dict[str, float] = {}

    def timed(name, fn):
        t = time.perf_counter()
        out = fn()
        steps[name] = round(time.perf_counter() - t, 2)
        return out

    flows = timed("stage_panel_and_flows", lambda: lifecycle.compute_stage_flows(data))
    timed("cohort_retention", lambda: lifecycle.compute_cohort_retention(data))
    tts = timed("time_to_sleep", lambda: lifecycle.compute_time_to_sleep(data))
    timed("survival_fits", lambda: lifecycle.fit_survival(tts))
    summary = timed("bgnbd_summary", lambda: clv.compute_rfm_summary(data))
    bg = timed("bgnbd_fit", lambda: clv.fit_bgnbd(summary["frequency"], summary["recency"], summary["T"]))
    gg = timed("gamma_gamma_fit", lambda: clv.fit_gamma_gamma(summary["frequency"], summary["monetary_value"]))
    timed("clv", lambda: clv.compute_clv(bg, gg, summary))
    timed("mbgnbd_fit", lambda: clv.fit_mbgnbd(summary["frequency"], summary["recency"], summary["T"]))
    timed("pareto_nbd_fit", lambda: clv.fit_pareto_nbd(summary["frequency"], summary["recency"], summary["T"]))
    timed("repeat_model_choice", lambda: clv.choose_repeat_model(data, as_of - pd.DateOffset(months=6)))
    test_date = as_of - pd.Timedelta(days=90)
    timed("sleep_risk_fit", lambda: lifecycle.fit_sleep_risk(data, test_date - pd.Timedelta(days=180), test_date))
    return {
        "data": Path(data_dir).name,
        "members": int(data.members.count().to_pandas()),
        "transactions": int(data.transactions.count().to_pandas()),
        "panel_months": len(flows.counts),
        "bgnbd_members": len(summary),
        "stage_s": stage_s,
        "staged_fresh": fresh,
        "steps_s": steps,
        "total_s": round(sum(steps.values()), 1),
        "peak_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2),
    }


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        print(json.dumps(_worker(sys.argv[2])))
        return
    (HERE / "results").mkdir(exist_ok=True)
    for d in sys.argv[1:]:
        out = subprocess.run([sys.executable, __file__, "--worker", d], check=True, capture_output=True, text=True).stdout
        res = json.loads(out.strip().splitlines()[-1])
        (HERE / "results" / f"lifecycle_{res['data']}.json").write_text(json.dumps(res, indent=2) + "\n")
        print(json.dumps(res))


if __name__ == "__main__":
    main()
