"""Coverage and bias of the campaign estimators over many synthetic malls.

For each seed: generate Synthetic Mall A, estimate every arm's incremental return rate against
its holdout (Newcombe interval), the same with Lin's regression adjustment (HC2 interval, the
notebook's default covariates), the incremental spend per contacted member (HC2 interval), and the
before/after difference-in-differences (member-clustered OLS), and check whether the 95 % intervals cover the planted truth in ``truth.json``. A fit that
fails is recorded as failed (with its error), not counted as a miss.

Usage: python validation/coverage.py --seeds 100 --members 20000 [--seed-offset 0] [--jobs 2]
Seeds are ``seed_offset + 1 .. seed_offset + seeds``: a new offset is an independent replicate.
Writes validation/results/coverage_<seeds>x<members>[_from<offset>].json with the summary and
every seed's estimates, and prints the summary table.
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
    from analysis.statistics import campaigns as cp
    from analysis.data.dataset import load_dataset
    from analysis.statistics.synthetic import generate_mall

    tmp = Path(tempfile.mkdtemp(prefix=f"cov{seed}_"))
    try:
        d = generate_mall(tmp / "mall", n_members=members, seed=seed)
        truth = json.loads((d / "truth.json").read_text())
        data = load_dataset(d)
        o = cp.compute_campaign_outcomes(data)
        rows = []

        def add(estimator, target, truth_value, fit):
            """One row per estimate; ``fit()`` returns (estimate, ci_low, ci_high) or raises."""
            try:
                est, lo, hi = fit()
                rows.append({"seed": seed, "estimator": estimator, "target": target, "truth": truth_value, "estimate": est,
                             "ci_low": lo, "ci_high": hi, "covered": lo <= truth_value <= hi if lo == lo else np.nan,
                             "failed": None})
            except Exception as err:  # noqa: BLE001 - a failed fit is a result of the study, reported as such
                rows.append({"seed": seed, "estimator": estimator, "target": target, "truth": truth_value, "estimate": np.nan,
                             "ci_low": np.nan, "ci_high": np.nan, "covered": np.nan, "failed": f"{type(err).__name__}: {err}"})

        eff = cp.estimate_arm_effects(o, alpha=alpha).table("return_rate")
        features = cp.compute_precampaign_features(data)
        covariates = ["recency_days", "frequency", "monetary", "tenure_days", "tier"]
        for r in eff.itertuples():
            t = truth["campaigns"][r.campaign_id]["arms"][r.arm]["true_incremental_return_rate"]
            add("holdout difference (Newcombe)", f"{r.campaign_id}/{r.arm}", t, lambda r=r: (r.estimate, r.ci_low, r.ci_high))

            def adjusted(r=r):
                res = cp.estimate_adjusted_effect(o, features, r.campaign_id, r.arm, covariates, alpha=alpha)
                return (res.estimate, *res.conf_int().iloc[0])

            add("regression-adjusted (Lin, HC2)", f"{r.campaign_id}/{r.arm}", t, adjusted)
        spend = cp.estimate_arm_effects(o, alpha=alpha).table("spend_per_contacted")
        for r in spend.itertuples():
            t = truth["campaigns"][r.campaign_id]["arms"][r.arm]["true_incremental_spend_per_contacted"]
            add("spend per contacted (HC2)", f"{r.campaign_id}/{r.arm}", t, lambda r=r: (r.estimate, r.ci_low, r.ci_high))
        t = truth["difference_in_differences"]["true_value"]

        def did():
            res = cp.estimate_did(o, "W1-BEFORE", "W2-AFTER", "sms_daily", "call_wechat_ent", alpha=alpha)
            return res.estimate, res.ci_low, res.ci_high

        add("difference-in-differences (clustered OLS)", "W2 effect - W1 effect", t, did)
        ba = o[o["arm"].isin(["sms_daily", "call_wechat_ent"]) & o["campaign_id"].isin(["W1-BEFORE", "W2-AFTER"])]
        rates = ba.groupby("campaign_id")["returned"].mean()
        add("naive before/after (no holdout)", "W2 effect - W1 effect", t,
            lambda: (rates["W2-AFTER"] - rates["W1-BEFORE"], np.nan, np.nan))
        return rows
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=100)
    ap.add_argument("--members", type=int, default=20_000)
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed-offset", type=int, default=0, help="seeds offset+1..offset+seeds (a new offset: a new replicate)")
    args = ap.parse_args()
    seeds = range(args.seed_offset + 1, args.seed_offset + args.seeds + 1)
    with ProcessPoolExecutor(args.jobs) as pool:
        parts = list(pool.map(one_seed, seeds, [args.members] * args.seeds, [args.alpha] * args.seeds))
    df = pd.DataFrame([r for p in parts for r in p])
    df["error"] = df["estimate"] - df["truth"]
    summary = df.groupby(["estimator", "target"]).agg(
        seeds=("seed", "nunique"), failed=("failed", lambda f: int(f.notna().sum())), mean_truth=("truth", "mean"),
        bias=("error", "mean"), rmse=("error", lambda e: float(np.sqrt((e**2).mean()))),
        coverage=("covered", lambda c: float(pd.to_numeric(c, errors="coerce").mean())),
    ).reset_index()
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    suffix = f"_from{args.seed_offset + 1}" if args.seed_offset else ""
    path = out / f"coverage_{args.seeds}x{args.members}{suffix}.json"
    path.write_text(json.dumps({"args": vars(args), "summary": summary.to_dict(orient="records"),
                                "per_seed": df.drop(columns="error").to_dict(orient="records")},
                               indent=1, default=lambda v: None if v != v else v) + "\n")
    pd.set_option("display.width", 200)
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__":
    main()
