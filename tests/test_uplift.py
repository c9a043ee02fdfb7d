"""Uplift (analysis.uplift): the Qini curve by hand, a planted heterogeneous effect found on data
the model did not see, and a homogeneous effect reported as no better than random targeting."""

import numpy as np
import pandas as pd
import pytest

from analysis.report import NotApplicable
from analysis.uplift import estimate_uplift, qini_area, qini_curve


def test_qini_curve_by_hand():
    # ranked: t1 (returned), c1 (returned), t2 (not), c2 (not)
    uplift = np.array([0.9, 0.5, 0.4, 0.1])
    treated = np.array([True, False, True, False])
    y = np.array([1, 1, 0, 0])
    q = qini_curve(uplift, treated, y, grid=np.array([0, 0.25, 0.5, 0.75, 1.0]))
    # top 1: 1 - 0 = 1; top 2: 1 - 1*1/1 = 0; top 3: 1 - 1*2/1 = -1; all: 1 - 1*2/2 = 0
    assert q.tolist() == [0, 1, 0, -1, 0]


def _simulated(n: int, heterogeneous: bool, seed: int):
    rng = np.random.default_rng(seed)
    x1, x2 = rng.random(n), rng.random(n)
    tier = rng.choice(["gold", "silver"], n)
    tau = np.where(x1 > 0.6, 0.20, 0.0) + np.where(tier == "gold", 0.05, 0.0) if heterogeneous else np.full(n, 0.06)
    treated = rng.random(n) < 0.5
    y = rng.random(n) < 0.05 + 0.05 * x2 + treated * tau
    members = [f"M{i:06d}" for i in range(n)]
    outcomes = pd.DataFrame({"campaign_id": "C", "member_id": members, "arm": np.where(treated, "t", "holdout"), "returned": y})
    features = pd.DataFrame({"campaign_id": "C", "member_id": members, "x1": x1, "x2": x2, "tier": tier})
    return outcomes, features, tau, treated, y


def test_a_planted_heterogeneous_effect_is_found_on_members_the_model_did_not_see():
    outcomes, features, tau, treated, y = _simulated(6_000, heterogeneous=True, seed=1)
    res = estimate_uplift(outcomes, features, "C", "t", ["x1", "x2", "tier"], n_boot=100)
    oracle = qini_area(tau, treated, y)  # ranking by the true uplift
    assert oracle > 0
    assert res.area >= 0.5 * oracle, (res.area, oracle)
    assert res.better_than_random and res.ci_low > 0
    assert "better than random" in res.sentence()
    # the scores rank the planted high-uplift members first
    s = res.scores.merge(features, on="member_id")
    assert s.loc[s["x1"] > 0.6, "uplift"].mean() > s.loc[s["x1"] <= 0.6, "uplift"].mean() + 0.1


def test_a_homogeneous_effect_is_no_better_than_random_and_the_report_says_so():
    outcomes, features, *_ = _simulated(4_000, heterogeneous=False, seed=2)
    res = estimate_uplift(outcomes, features, "C", "t", ["x1", "x2", "tier"], n_boot=100)
    # nothing to find: the area's interval does not clear zero (cross-fitting on pure noise even leans
    # slightly negative), and the report sends the reader back to the simple rule
    assert res.ci_low <= 0 and res.area < 0.001
    assert not res.better_than_random and "no better than random" in res.sentence()


def test_too_few_members_is_not_applicable():
    outcomes, features, *_ = _simulated(300, heterogeneous=True, seed=3)
    with pytest.raises(NotApplicable, match="at least 200 members"):
        estimate_uplift(outcomes, features, "C", "t", ["x1"])


def test_every_campaign_with_a_holdout_gets_an_uplift_model_or_says_why_not():
    from analysis.uplift import estimate_uplift_by_campaign, summary_table

    big, big_features, *_ = _simulated(1_000, heterogeneous=True, seed=4)
    small, small_features, *_ = _simulated(150, heterogeneous=True, seed=5)
    small = small.assign(campaign_id="D", member_id="D" + small["member_id"])
    small_features = small_features.assign(campaign_id="D", member_id="D" + small_features["member_id"])
    outcomes = pd.concat([big, small], ignore_index=True)
    features = pd.concat([big_features, small_features], ignore_index=True)
    results, reasons = estimate_uplift_by_campaign(outcomes, features, "x1, x2,tier")
    assert [r.campaign_id for r in results] == ["C"] and results[0].arm == "any contact"
    assert results[0].features == ("x1", "x2", "tier")
    assert len(reasons) == 1 and "D / any contact" in reasons[0] and "at least 200 members" in reasons[0]
    table = summary_table(results)
    assert list(table["campaign_id"]) == ["C"] and "gain per 1,000 listed" in table.columns


def test_rare_responders_on_one_side_are_folded_without_a_warning():
    import warnings

    from analysis.uplift import cross_fitted_uplift

    rng = np.random.default_rng(6)
    n = 600
    treated = rng.random(n) < 0.5
    y = np.zeros(n, dtype=int)
    y[np.flatnonzero(~treated)[:3]] = 1  # three responders in the holdout: fewer than the five folds
    y[np.flatnonzero(treated)[:40]] = 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = cross_fitted_uplift(pd.DataFrame({"x": rng.random(n)}), treated, y)
    assert np.isfinite(scores).all()
