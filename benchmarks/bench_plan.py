"""Benchmark: assigning 200,000 sleeping members to 3 arms within strata (analysis.statistics.plan).

Times the choice of the list (best arm per member and the order within a budget, from given
uplift scores of 3 treated arms: ``analysis.statistics.uplift.choose_list``), the blocked randomization, the
balance table (6 covariates), the sample-ratio test and the contact file's bytes, on a synthetic list (member id, tier, recency band, spend, frequency, age
band, gender); peak memory of the process. The list itself comes from the data (the refined
sleeping list); its cost is that of `build_sleeping_list`, measured in bench_run/bench_features.

Usage: python benchmarks/bench_plan.py [--members 200000] [--seed 1]
Writes benchmarks/results/plan_<members>.json and prints it.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.statistics.plan import assign_arms, balance_table, contacts_csv, srm_test
from analysis.statistics.uplift import choose_list

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    n = args.members
    members = pd.DataFrame(
        {
            "member_id": [f"MA{i:08d}" for i in rng.permutation(n)],
            "tier": rng.choice(["silver", "gold", "platinum"], n, p=[0.6, 0.3, 0.1]),
            "recency_band": rng.choice(["180-270 d", "270-365 d", "365-540 d", "540+ d"], n),
            "monetary": rng.gamma(2, 800, n),
            "frequency": rng.poisson(3, n),
            "age_band": rng.choice(["<25", "25-34", "35-44", "45-54", "55-64", "65+"], n),
            "gender": rng.choice(["F", "M"], n),
        }
    )
    shares = {"holdout": 0.1, "call_wechat_ent": 0.45, "sms_daily": 0.45}
    timing = {}
    scores = pd.DataFrame(
        {
            "member_id": members["member_id"],
            "call_wechat_ent": rng.beta(2, 18, n),
            "sms_daily": rng.beta(1, 25, n),
            "sms_ent": rng.beta(1.5, 22, n),
        }
    )
    t = time.perf_counter()
    choice = choose_list(
        scores, {"call_wechat_ent": 2.2, "sms_daily": 1.2, "sms_ent": 1.3}, margin_per_return=120.0, budget=0.5 * n * 1.5
    )
    timing["choose_list_seconds"] = round(time.perf_counter() - t, 2)
    timing["chosen"] = int(len(choice.chosen))
    t = time.perf_counter()
    assigned = assign_arms(members, shares, ["tier", "recency_band"], seed=7)
    timing["assign_seconds"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    balance = balance_table(assigned, ["monetary", "frequency", "tier", "recency_band", "age_band", "gender"], "holdout")
    timing["balance_seconds"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    srm = srm_test(assigned["arm"].value_counts().to_dict(), shares)
    timing["srm_seconds"] = round(time.perf_counter() - t, 3)
    contacts = assigned[["member_id", "arm"]].assign(campaign_id="W9")
    t = time.perf_counter()
    size = len(contacts_csv(contacts))
    timing["contact_file_seconds"] = round(time.perf_counter() - t, 2)
    out = {
        "members": n,
        "arms": 3,
        "strata": int(assigned["stratum"].nunique()),
        **timing,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "max_abs_smd": round(float(balance["smd"].abs().max()), 4),
        "srm_p": round(srm.p_value, 4),
        "contact_file_bytes": size,
    }
    (HERE / "results" / f"plan_{n}.json").write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
