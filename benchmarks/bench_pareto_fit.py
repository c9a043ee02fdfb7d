"""Benchmark: one Pareto/NBD fit on the demo's calibration period (issue 29), counting likelihood calls.

Usage: .venv/bin/python benchmarks/bench_pareto_fit.py (after `make report`: data/demo exists)
"""

import os
import time

import pandas as pd

from analysis.data.dataset import load_dataset
from analysis.statistics import clv

os.environ.setdefault("MALLWAKE_FIT_CACHE", "0")  # time the fits, not a read of the fit cache

data = load_dataset("data/demo")
end = pd.Timestamp(data.as_of) - pd.DateOffset(months=6)
cal, horizon = clv.calibration_split(data, end, None, 7.0)
calls = {"n": 0}
orig = clv._pareto_log_a0


def counting(*a, **k):
    calls["n"] += 1
    return orig(*a, **k)


clv._pareto_log_a0 = counting
t = time.time()
m = clv.fit_pareto_nbd(cal["frequency"], cal["recency"], cal["T"])
print(
    "pareto fit",
    round(time.time() - t, 2),
    "s; log A0 evaluations",
    calls["n"],
    "params",
    dict(m.params_.round(6)),
    "ll",
    round(m.log_likelihood_, 4),
    m.converged,
    m.optimizer,
)
