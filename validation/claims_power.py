"""Simulation: how often the claims page says "supported" for the gift and channel claims.

With the factorial wave's effects planted at zero (``study="null"``) "supported" should appear in
about 5 % of seeds or fewer (each claim's interval must exclude zero in the claimed direction:
a one-sided 2.5 % error, two-sided test at 5 %); with the demo's design (``study="full"``), in at
least 80 % (its design power, in truth.json, is about 99 %). Each seed generates a full 50,000-member
mall, so this takes about 8 s per seed and design.

Usage: python validation/claims_power.py [SEEDS] [--jobs 2]
Writes validation/results/claims_power.json and prints the table recorded in validation/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))


def one(args: tuple[str, int]) -> dict:
    from analysis.statistics import campaigns, claims
    from analysis.data.dataset import load_dataset
    from analysis.statistics.synthetic import generate_mall

    study, seed = args
    with tempfile.TemporaryDirectory() as tmp:
        d = generate_mall(Path(tmp) / "m", seed=seed, study=study)
        truth = json.loads((d / "truth.json").read_text())["factorial"]
        out = campaigns.compute_campaign_outcomes(load_dataset(d))
        gift = claims.claim_gift(out, "W3-FACTORIAL")
        channel = claims.claim_channel(out, "W3-FACTORIAL", n_boot=1000, seed=seed)
    return {"study": study, "seed": seed, "gift_verdict": gift.verdict, "gift_estimate": gift.estimate,
            "gift_covers_truth": gift.ci_low <= truth["gift_effect_entertainment_vs_daily"] <= gift.ci_high,
            "channel_verdict": channel.verdict, "channel_estimate": channel.estimate,
            "channel_rate_supported": channel.ci_low > 0,
            "channel_covers_truth": channel.ci_low <= truth["channel_effect_call_wechat_vs_sms"] <= channel.ci_high}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("seeds", type=int, nargs="?", default=40)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    started = time.perf_counter()
    tasks = [(study, 1000 + s) for study in ("null", "full") for s in range(args.seeds)]
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(one, tasks))
    summary = {}
    for study in ("null", "full"):
        r = [x for x in rows if x["study"] == study]
        summary[study] = {
            "seeds": len(r),
            "gift_supported": sum(x["gift_verdict"] == "supported" for x in r) / len(r),
            "gift_contradicted": sum(x["gift_verdict"] == "contradicted" for x in r) / len(r),
            "gift_interval_covers_truth": sum(x["gift_covers_truth"] for x in r) / len(r),
            "channel_claim_supported": sum(x["channel_verdict"] == "supported" for x in r) / len(r),
            "channel_effect_part_supported": sum(x["channel_rate_supported"] for x in r) / len(r),
            "channel_interval_covers_truth": sum(x["channel_covers_truth"] for x in r) / len(r),
        }
    result = {"command": f"python validation/claims_power.py {args.seeds} --jobs {args.jobs}",
              "seconds": round(time.perf_counter() - started, 1), "summary": summary, "runs": rows}
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "claims_power.json").write_text(json.dumps(result, indent=2, default=float) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()
