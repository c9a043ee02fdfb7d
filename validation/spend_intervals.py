"""Side study: do other intervals fix the undercoverage of the spend effect? (issue 13)

For seeds 101..100+N of Synthetic Mall A (20,000 members), every treated arm's incremental spend
per contacted member against the planted ``true_incremental_spend_per_contacted``, with three
95 % intervals: bootstrap percentile, bootstrap BCa (scipy, 1,999 resamples) and Welch's t.

Usage: python validation/spend_intervals.py 60   (prints coverage by arm and overall)
"""
import json
import shutil
import sys
import tempfile

import numpy as np
import pandas as pd
from pathlib import Path
from concurrent.futures import ProcessPoolExecutor
def one(seed):
    from scipy import stats
    from analysis.statistics import campaigns as cp
    from analysis.data.dataset import load_dataset
    from analysis.statistics.synthetic import generate_mall
    tmp = Path(tempfile.mkdtemp())
    try:
        d = generate_mall(tmp / "m", n_members=20000, seed=seed)
        truth = json.loads((d / "truth.json").read_text())
        o = cp.compute_campaign_outcomes(load_dataset(d))
        rows = []
        for (cid, arm), g in o.groupby(["campaign_id", "arm"]):
            if arm == "holdout": continue
            t = truth["campaigns"][cid]["arms"][arm]["true_incremental_spend_per_contacted"]
            c = o[(o.campaign_id == cid) & (o.arm == "holdout")]["spend"].to_numpy()
            x = g["spend"].to_numpy()
            res = {}
            for method in ("percentile", "BCa"):
                ci = stats.bootstrap((x, c), lambda a, b, axis=-1: a.mean(axis=axis) - b.mean(axis=axis), method=method,
                                     n_resamples=1999, vectorized=True, random_state=seed).confidence_interval
                res[method] = ci.low <= t <= ci.high
            se = np.sqrt(x.var(ddof=1) / len(x) + c.var(ddof=1) / len(c)); est = x.mean() - c.mean()
            # Welch-t
            df = (x.var(ddof=1)/len(x) + c.var(ddof=1)/len(c))**2 / ((x.var(ddof=1)/len(x))**2/(len(x)-1) + (c.var(ddof=1)/len(c))**2/(len(c)-1))
            q = stats.t.ppf(0.975, df)
            res["welch"] = est - q*se <= t <= est + q*se
            rows.append({"seed": seed, "target": f"{cid}/{arm}", **res})
        return rows
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
with ProcessPoolExecutor(2) as p:
    parts = list(p.map(one, range(101, 101 + int(sys.argv[1]))))
df = pd.DataFrame([r for x in parts for r in x])
print(df.groupby("target")[["percentile", "BCa", "welch"]].mean().round(2)); print(df[["percentile", "BCa", "welch"]].mean().round(3))
