"""Should the uplift model come from a library? mallwake's cross-fitted T-learner against
scikit-uplift's ``TwoModels`` with the same gradient-boosting models and folds, on the crossed wave
of a generated mall (true uplift known): Qini area (ours) and Qini AUC (scikit-uplift's own
metric, an independent computation), correlation with the planted uplift, time.

scikit-uplift is not a dependency; install it beside the project for this comparison:
    pip install --no-deps --target /tmp/sklift scikit-uplift
Usage: python benchmarks/compare_sklift.py MALL_DIR [--sklift /tmp/sklift]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mall")
    ap.add_argument("--sklift", default="/tmp/sklift")
    ap.add_argument("--campaign", default="W3-FACTORIAL")
    args = ap.parse_args()
    sys.path.insert(0, args.sklift)
    from sklearn.model_selection import StratifiedKFold
    from sklift.metrics import qini_auc_score
    from sklift.models import TwoModels
    from threadpoolctl import threadpool_limits

    from analysis.data.dataset import load_dataset
    from analysis.statistics import campaigns as cp
    from analysis.statistics import uplift as up

    data = load_dataset(args.mall)
    cols = "recency_days,frequency,monetary,tenure_days,tier,district".split(",")
    o = cp.compute_campaign_outcomes(data)
    f = cp.compute_precampaign_features(data)
    o, f = o[o.campaign_id == args.campaign], f[f.campaign_id == args.campaign]
    d = (
        o[["member_id", "arm", "returned"]]
        .merge(f[["member_id", *cols]], on="member_id")
        .sort_values("member_id")
        .reset_index(drop=True)
    )
    x = up._design(d[cols]).to_numpy()
    t = (d["arm"] != "holdout").to_numpy().astype(int)
    y = d["returned"].astype(int).to_numpy()
    truth = pd.read_parquet(f"{args.mall}/truth_uplift.parquet")
    oracle = d["member_id"].map(truth[truth.campaign_id == args.campaign].groupby("member_id")["true_uplift"].mean()).to_numpy()
    started = time.perf_counter()
    ours = up.cross_fitted_uplift(d[cols], t.astype(bool), y)
    t_ours = time.perf_counter() - started
    theirs = np.full(len(y), np.nan)
    started = time.perf_counter()
    with threadpool_limits(1, "openmp"):
        for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(x, t * 2 + y):
            model = TwoModels(estimator_trmnt=up._model(0), estimator_ctrl=up._model(0), method="vanilla")
            model.fit(x[train], y[train], t[train])
            theirs[test] = model.predict(x[test])
    t_theirs = time.perf_counter() - started
    for name, s, sec in (
        ("mallwake T-learner", ours, t_ours),
        ("scikit-uplift TwoModels", theirs, t_theirs),
        ("oracle (true uplift)", oracle, 0),
    ):
        print(
            f"{name}: Qini area {up.qini_area(s, t, y) * 1000:.2f} per 1,000; Qini AUC {qini_auc_score(y, s, t):.4f}; "
            f"correlation with the truth {np.corrcoef(s, oracle)[0, 1]:.3f}; {sec:.2f} s"
        )


if __name__ == "__main__":
    main()
