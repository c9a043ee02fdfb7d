"""Coverage and bias of the campaign estimators over many synthetic malls.

For each seed: generate Synthetic Mall A, estimate every arm's incremental return rate against
its holdout (Newcombe interval) and the before/after difference-in-differences (member-clustered
OLS), and check whether the 95 % intervals cover the planted truth in ``truth.json``.

Usage: python validation/coverage.py --seeds 100 --members 20000 [--jobs 2]
Writes validation/results/coverage_<seeds>x<members>.json and prints a summary table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def one_seed(seed: int, members: int, alpha: float) -> list[dict]:
    from analysis import campaigns as cp
    from analysis.dataset import load_dataset
    from analysis.synthetic import generate_mall

    tmp = Path(tempfile.mkdtemp(prefix=f"cov{seed}_"))
    try:
        d = generate_mall(tmp / "mall", n_members=members, seed=seed)
        truth = json.loads((d / "truth.json").read_text())
        o = cp.compute_campaign_outcomes(load_dataset(d))
        rows = []
        eff = cp.estimate_arm_effects(o, alpha=alpha).table("return_rate")
        for r in eff.itertuples():
            t = truth["campaigns"][r.campaign_id]["arms"][r.arm]["true_incremental_return_rate"]
            rows.append({"seed": seed, "estimator": "holdout difference (Newcombe)", "target": f"{r.campaign_id}/{r.arm}",
                         "truth": t, "estimate": r.estimate, "covered": r.ci_low <= t <= r.ci_high})
        did = cp.estimate_did(o, "W1-BEFORE", "W2-AFTER", "sms_daily", "call_wechat_ent", alpha=alpha)
        t = truth["difference_in_differences"]["true_value"]
        rows.append({"seed": seed, "estimator": "difference-in-differences (clustered OLS)", "target": "W2 effect - W1 effect",
                     "truth": t, "estimate": did.estimate, "covered": did.ci_low <= t <= did.ci_high})
        ba = o[o["arm"].isin(["sms_daily", "call_wechat_ent"]) & o["campaign_id"].isin(["W1-BEFORE", "W2-AFTER"])]
        rates = ba.groupby("campaign_id")["returned"].mean()
        rows.append({"seed": seed, "estimator": "naive before/after (no holdout)", "target": "W2 effect - W1 effect",
                     "truth": t, "estimate": rates["W2-AFTER"] - rates["W1-BEFORE"], "covered": np.nan})
        return rows
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=100)
    ap.add_argument("--members", type=int, default=20_000)
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    with ProcessPoolExecutor(args.jobs) as pool:
        parts = list(pool.map(one_seed, range(1, args.seeds + 1), [args.members] * args.seeds, [args.alpha] * args.seeds))
    df = pd.DataFrame([r for p in parts for r in p])
    df["error"] = df["estimate"] - df["truth"]
    summary = df.groupby(["estimator", "target"]).agg(
        seeds=("seed", "nunique"), mean_truth=("truth", "mean"), bias=("error", "mean"),
        rmse=("error", lambda e: float(np.sqrt((e**2).mean()))), coverage=("covered", "mean"),
    ).reset_index()
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    path = out / f"coverage_{args.seeds}x{args.members}.json"
    path.write_text(json.dumps({"args": vars(args), "summary": summary.to_dict(orient="records")}, indent=2) + "\n")
    pd.set_option("display.width", 200)
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__":
    main()
