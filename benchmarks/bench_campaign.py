"""Benchmark: a three-arm campaign with arbitrary labels on 60,000+ contacted members.

Takes a generated mall, adds campaign ``BIG`` (three arms, one a no-contact control, labels with
spaces and non-ASCII) over ``--contacts`` random members in a copy of the data directory, then
times each step: load and validate, outcomes in the engine, arm summary, effects with intervals,
regression adjustment. Usage:

    python benchmarks/bench_campaign.py benchmarks/data/mall_1000000 --contacts 100000

Prints one JSON line; results go to benchmarks/results/campaign_<contacts>.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data_dir")
    ap.add_argument("--contacts", type=int, default=60_000)
    args = ap.parse_args()
    from analysis.data.dataset import load_dataset
    from analysis.statistics import campaigns as cp

    src = Path(args.data_dir)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / src.name
        d.mkdir()
        for f in src.iterdir():
            if f.name not in ("campaigns.csv", "contacts.csv") and f.is_file():
                (d / f.name).symlink_to(f.resolve())
        members = pd.read_csv(src / "members.csv", usecols=["member_id"], dtype=str)["member_id"]
        rng = np.random.default_rng(1)
        chosen = rng.choice(members.to_numpy(), size=args.contacts, replace=False)
        arms = rng.choice(["对照 holdout", "arm A: call+WeChat", "arm-B sms"], size=args.contacts, p=[0.2, 0.4, 0.4])
        camp = pd.read_csv(src / "campaigns.csv", dtype=str)
        camp = pd.concat([camp, pd.DataFrame({"campaign_id": ["BIG"], "start_date": ["2024-06-01"], "response_days": ["30"]})])
        camp.to_csv(d / "campaigns.csv", index=False)
        cont = pd.read_csv(src / "contacts.csv", dtype=str)
        big = pd.DataFrame(
            {"campaign_id": "BIG", "member_id": chosen, "arm": arms, "contact_cost": np.where(arms == "对照 holdout", 0.0, 2.0)}
        )
        pd.concat([cont, big]).to_csv(d / "contacts.csv", index=False)

        t = {}
        t0 = time.perf_counter()
        data = load_dataset(d)
        t["load_and_validate_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        outcomes = cp.compute_campaign_outcomes(data, ["BIG"])
        t["outcomes_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        arms_table = cp.summarize_arms(outcomes, "对照 holdout")
        t["summary_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        effects = cp.estimate_arm_effects(outcomes, "对照 holdout")
        t["effects_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        feats = cp.compute_precampaign_features(data, ["BIG"])
        adj = cp.estimate_adjusted_effect(
            outcomes,
            feats,
            "BIG",
            "arm A: call+WeChat",
            ["recency_days", "frequency", "monetary", "tenure_days", "tier"],
            control_arm="对照 holdout",
        )
        t["precampaign_features_and_adjustment_s"] = time.perf_counter() - t0
    res = {
        "data": src.name,
        "contacts": len(outcomes),
        "arms": sorted(arms_table["arm"]),
        **{k: round(v, 2) for k, v in t.items()},
        "analysis_s_without_loading": round(sum(v for k, v in t.items() if k != "load_and_validate_s"), 2),
        "effect_arm_A": round(float(effects.table("return_rate").set_index("arm").loc["arm A: call+WeChat", "estimate"]), 4),
        "adjusted_arm_A": round(float(adj.estimate), 4),
    }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / f"campaign_{args.contacts}.json").write_text(json.dumps(res, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(res, ensure_ascii=False))


if __name__ == "__main__":
    main()
