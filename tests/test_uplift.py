"""Uplift (analysis.statistics.uplift): the Qini curve by hand, a planted heterogeneous effect found on data
the model did not see, and a homogeneous effect reported as no better than random targeting."""

import numpy as np
import pandas as pd
import pytest

from analysis.data.errors import NotApplicable
from analysis.presentation.phrases import phrase_text
from analysis.statistics.uplift import bootstrap_area, estimate_uplift, qini_area, qini_curve


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
    assert res.sentence()[1].code == "uplift.use_scores" and "better than random" in phrase_text(res.sentence())
    # the scores rank the planted high-uplift members first
    s = res.scores.merge(features, on="member_id")
    assert s.loc[s["x1"] > 0.6, "uplift"].mean() > s.loc[s["x1"] <= 0.6, "uplift"].mean() + 0.1


def test_a_homogeneous_effect_is_no_better_than_random_and_the_report_says_so():
    outcomes, features, *_ = _simulated(4_000, heterogeneous=False, seed=2)
    res = estimate_uplift(outcomes, features, "C", "t", ["x1", "x2", "tier"], n_boot=100)
    # nothing to find: the area's interval does not clear zero (cross-fitting on pure noise even leans
    # slightly negative), and the report sends the reader back to the simple rule
    assert res.ci_low <= 0 and res.area < 0.001
    assert not res.better_than_random and "no better than random" in phrase_text(res.sentence())


def test_too_few_members_is_not_applicable():
    outcomes, features, *_ = _simulated(300, heterogeneous=True, seed=3)
    with pytest.raises(NotApplicable) as err:
        estimate_uplift(outcomes, features, "C", "t", ["x1"])
    assert err.value.code == "uplift.small_arm" and err.value.values["needed"] == 200
    assert "at least 200 members in the arm and in the holdout" in phrase_text(err.value)


def test_every_campaign_with_a_holdout_gets_an_uplift_model_or_says_why_not():
    from analysis.statistics.uplift import estimate_uplift_by_campaign, summary_table

    big, big_features, *_ = _simulated(1_000, heterogeneous=True, seed=4)
    small, small_features, *_ = _simulated(150, heterogeneous=True, seed=5)
    small = small.assign(campaign_id="D", member_id="D" + small["member_id"])
    small_features = small_features.assign(campaign_id="D", member_id="D" + small_features["member_id"])
    outcomes = pd.concat([big, small], ignore_index=True)
    features = pd.concat([big_features, small_features], ignore_index=True)
    results, reasons = estimate_uplift_by_campaign(outcomes, features, "x1, x2,tier")
    assert [r.campaign_id for r in results] == ["C"] and results[0].arm == "any contact"
    assert results[0].features == ("x1", "x2", "tier")
    assert len(reasons) == 1 and reasons[0].code == "uplift.small_arm" and reasons[0].values["arm"] == "D / any contact"
    assert "D / any contact needs at least 200 members" in phrase_text(reasons[0])
    table = summary_table(results)
    assert list(table["campaign_id"]) == ["C"] and "gain_per_1000_listed" in table.columns


def test_rare_responders_on_one_side_are_folded_without_a_warning():
    import warnings

    from analysis.statistics.uplift import cross_fitted_uplift

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


# --- on the generated mall, whose true uplift per member and arm is known ----------------------

UPLIFT_FEATURES = "recency_days,frequency,monetary,tenure_days,tier,district"


@pytest.fixture(scope="module")
def study(study_mall):
    from analysis.data.dataset import load_dataset
    from analysis.statistics import campaigns as cp

    data = load_dataset(study_mall)
    outcomes = cp.compute_campaign_outcomes(data)
    truth = pd.read_parquet(study_mall / "truth_uplift.parquet")
    return outcomes, cp.compute_precampaign_features(data), truth, study_mall


def test_the_generator_plants_uplift_driven_by_recency_tier_and_district(study):
    outcomes, features, truth, _ = study
    t = truth[(truth["campaign_id"] == "W3-FACTORIAL") & (truth["arm"] == "call_wechat_ent")].merge(
        features[features["campaign_id"] == "W3-FACTORIAL"], on="member_id"
    )
    assert t["true_uplift"].groupby(t["district"].isin(["Xuhui", "Minhang"])).mean().pipe(lambda m: m[True] > 2 * m[False])
    assert t.groupby("tier")["true_uplift"].mean().pipe(lambda m: m["platinum"] > m["gold"] > m["silver"])
    assert np.corrcoef(t["recency_days"], t["true_uplift"])[0, 1] < -0.1
    # the arm's planted average effect (truth.json) is the mean of its members' true uplift
    import json

    planted = json.loads((study[3] / "truth.json").read_text())["campaigns"]["W3-FACTORIAL"]["arms"]
    assert np.isclose(planted["call_wechat_ent"]["true_incremental_return_rate"], t["true_uplift"].mean())


@pytest.mark.parametrize("campaign", ["W2-AFTER", "W3-FACTORIAL"])
def test_the_uplift_model_earns_at_least_half_the_oracles_qini_and_beats_random(study, campaign):
    """Qini of the cross-fitted model against the oracle's (members ranked by their true uplift),
    both on the observed outcomes of the same members."""
    from analysis.statistics.uplift import ANY_CONTACT, estimate_uplift

    outcomes, features, truth, _ = study
    contacted = outcomes.assign(arm=outcomes["arm"].where(outcomes["arm"] == "holdout", ANY_CONTACT))
    fit = estimate_uplift(contacted, features, campaign, ANY_CONTACT, UPLIFT_FEATURES.split(","), n_boot=100)
    oracle = truth[truth["campaign_id"] == campaign].groupby("member_id")["true_uplift"].mean().rename("oracle")
    s = fit.scores.merge(oracle.reset_index(), on="member_id")
    oracle_area = qini_area(s["oracle"], s["treated"], s["returned"])
    assert oracle_area > 0
    assert fit.area >= 0.5 * oracle_area, (fit.area, oracle_area)
    assert fit.ci_low > 0 and fit.better_than_random


def test_a_targeted_next_wave_brings_more_returns_than_a_random_list_of_the_same_cost(study):
    """The plan's list (best arm per member, ranked by expected returns per unit of cost, within a
    budget) against random lists with random arms of the same cost: true incremental returns from
    the planted truth, the difference with a 95 % interval over the random draws."""
    from analysis.statistics.uplift import plan_next_list

    outcomes, features, truth, _ = study
    wave = outcomes[outcomes["campaign_id"] == "W3-FACTORIAL"]
    cost = {a: g["cost"].mean() for a, g in wave[wave["arm"] != "holdout"].groupby("arm")}
    budget = 0.3 * wave["member_id"].nunique() * np.mean(list(cost.values()))
    choice = plan_next_list(outcomes, features, "W3-FACTORIAL", UPLIFT_FEATURES, budget=budget)
    chosen = choice.chosen
    assert chosen["cost"].sum() <= budget and len(chosen) > 0
    true = truth[truth["campaign_id"] == "W3-FACTORIAL"].set_index(["member_id", "arm"])["true_uplift"]
    targeted = float(true.loc[list(zip(chosen["member_id"], chosen["arm"]))].sum())
    rng = np.random.default_rng(0)
    members, arms = wave["member_id"].unique(), sorted(cost)
    draws = []
    for _ in range(300):
        order, arm = rng.permutation(members), rng.choice(arms, len(members))
        k = int(np.searchsorted(np.cumsum([cost[a] for a in arm]), budget, side="right"))
        draws.append(float(true.loc[list(zip(order[:k], arm[:k]))].sum()))
    low, high = np.quantile(targeted - np.array(draws), [0.025, 0.975])
    assert low > 0, (targeted, np.mean(draws))
    assert targeted > 1.5 * np.mean(draws)


def test_choose_list_by_hand():
    """Three members, two arms: the best arm per member, the order, the budget, and unknowns kept unknown."""
    from analysis.statistics.uplift import RANKINGS, choose_list

    uplift = pd.DataFrame({"member_id": ["a", "b", "c"], "cheap": [0.10, 0.02, 0.05], "dear": [0.30, 0.03, 0.06]})
    # margin 100 per return: a dear 30-5=25 (cheap 10-1=9), b cheap 2-1=1 (dear 3-5=-2), c cheap 5-1=4 (dear 6-5=1)
    got = choose_list(uplift, {"cheap": 1.0, "dear": 5.0}, margin_per_return=100.0, budget=6.5)
    assert got.ranked_by == RANKINGS[0]
    assert list(got.members["member_id"]) == ["a", "c", "b"] and list(got.members["arm"]) == ["dear", "cheap", "cheap"]
    assert list(got.chosen["member_id"]) == ["a", "c"]  # 5 + 1 = 6 within 6.5; b would make 7
    assert got.to_metrics() == {"campaign": None, "ranked_by": "margin", "members": 2, "expected_incremental_returns": 0.35}
    assert got.curve["expected_incremental_margin"].iloc[-1] == pytest.approx((0.30 + 0.05 + 0.02) * 100 - 7.0)
    # costs known, margin unknown: returns per unit of cost (a cheap 0.10, c cheap 0.05, b cheap 0.02)
    # only members whose extra spend covers the cost at a 100 % margin: 30 per return, a 3 > 1, c 1.5 > 1, b 0.6 < 1
    got = choose_list(uplift, {"cheap": 1.0, "dear": 5.0}, spend_per_return=30.0)
    assert got.ranked_by == RANKINGS[1] and list(got.members["arm"]) == ["cheap"] * 3
    assert got.curve["expected_incremental_margin"].isna().all() and got.margin_per_return is None
    assert list(got.chosen["member_id"]) == ["a", "c"]
    # nobody came back: nothing is known to cover a cost, so nobody is listed (and the page says why)
    got = choose_list(uplift, {"cheap": 1.0, "dear": 5.0})
    assert len(got.chosen) == 0 and got.why_empty().code == "uplift.empty.nobody_came"
    assert "The list is empty" in phrase_text(got.sentence())
    # costs unknown: by returns; the cost stays unknown, never zero
    got = choose_list(uplift, {"cheap": float("nan"), "dear": 5.0})
    assert got.ranked_by == RANKINGS[2] and list(got.members["arm"]) == ["dear", "dear", "dear"]
    assert got.curve["cost"].isna().all()
    # a budget in money cannot be spent on unknown costs: not applied, and the sentence says so
    got = choose_list(uplift, {"cheap": float("nan"), "dear": 5.0}, budget=1.0)
    assert len(got.chosen) == 3 and "budget is not applied" in phrase_text(got.sentence())


def test_a_promotion_that_loses_money_on_everyone_gives_an_empty_list():
    """The promotion test: 10 a purchase, 0.15 a send, +0.95 points: 0.095 of extra spend per send."""
    from analysis.statistics.uplift import choose_list

    uplift = pd.DataFrame({"member_id": [f"m{i}" for i in range(100)], "promo": 0.0095})
    for margin in (None, 0.3, 1.0):
        got = choose_list(
            uplift, {"promo": 0.15}, margin_per_return=None if margin is None else margin * 10.0, spend_per_return=10.0
        )
        assert len(got.chosen) == 0, margin
        said = phrase_text(got.sentence())
        assert "The list is empty" in said and "lose money" in said
    # the same promotion at a send cost of 0.05 pays at a 100 % margin, and only members it pays for are listed
    assert len(choose_list(uplift, {"promo": 0.05}, spend_per_return=10.0).chosen) == 100


# --- ties: the model cannot order members it scores the same --------------------------------


def _sklift_area(scores, treated, y) -> float:
    """scikit-uplift's Qini area (the curve's area minus the random line's), unnormalized."""
    from sklearn.metrics import auc
    from sklift.metrics import qini_curve as sk_curve

    x, q = sk_curve(np.asarray(y), np.asarray(scores, dtype=float), np.asarray(treated, dtype=int))
    return float(auc(x, q) - auc([0, x[-1]], [0, q[-1]]))


def test_qini_ties_are_the_average_over_the_orders_of_the_tied_members():
    # two tied pairs: {t returned, c not} at 0.9 and {c returned, t not} at 0.1
    scores = np.array([0.9, 0.9, 0.1, 0.1])
    treated = np.array([True, False, False, True])
    y = np.array([1, 0, 1, 0])
    q = qini_curve(scores, treated, y, grid=np.array([0, 0.25, 0.5, 0.75, 1.0]))
    # at 2 members: 1 - 0*1/1 = 1; at 4: 1 - 1*2/2 = 0; the tie in between is the straight line
    assert q.tolist() == [0, 0.5, 1.0, 0.5, 0.0]
    # the same whatever the order of the rows
    perm = np.array([1, 0, 3, 2])
    assert qini_area(scores[perm], treated[perm], y[perm]) == qini_area(scores, treated, y)


@pytest.mark.parametrize("shape", ["untied", "three distinct scores", "62 distinct scores", "constant"])
def test_qini_area_equals_scikit_uplift(shape):
    pytest.importorskip("sklift")
    rng = np.random.default_rng(5)
    n = 3_000
    treated = rng.random(n) < 0.5
    y = (rng.random(n) < 0.1 + 0.04 * treated).astype(int)
    scores = {
        "untied": rng.normal(size=n),
        "three distinct scores": rng.choice([-0.01, 0.0, 0.02], n),
        "62 distinct scores": np.round(rng.normal(size=n), 1).clip(-3.05, 3.05),
        "constant": np.zeros(n),
    }[shape]
    # treated rows first: with ties broken by row order, this alone would make a model look good
    order = np.argsort(~treated, kind="stable")
    scores, treated, y = scores[order], treated[order], y[order]
    assert qini_area(scores, treated, y) * n**2 == pytest.approx(_sklift_area(scores, treated, y), rel=1e-9, abs=1e-9)
    if shape == "constant":
        assert qini_area(scores, treated, y) == 0


def test_constant_features_give_an_interval_that_holds_its_estimate_and_no_better_than_random():
    # the uplift features do not vary at all: every fold predicts one number, so scores are tied in
    # five groups; the treated rows come first in the data, as a careless export would have them
    rng = np.random.default_rng(11)
    n = 4_000
    treated = np.sort(rng.random(n) < 0.5)[::-1]
    members = [f"M{i:06d}" for i in range(n)]
    y = rng.random(n) < 0.08 + 0.03 * treated
    outcomes = pd.DataFrame({"campaign_id": "C", "member_id": members, "arm": np.where(treated, "t", "holdout"), "returned": y})
    features = pd.DataFrame({"campaign_id": "C", "member_id": members, "x1": 1.0, "tier": "gold"})
    res = estimate_uplift(outcomes, features, "C", "t", ["x1", "tier"], n_boot=100)
    assert res.scores["uplift"].nunique() <= 5
    assert res.ci_low <= res.area <= res.ci_high, (res.area, res.ci_low, res.ci_high)
    assert not res.better_than_random and "no better than random" in phrase_text(res.sentence())
    m = res.metrics()
    assert set(m) >= {"estimate", "ci_low", "ci_high", "scores_used"} and m["scores_used"] is False


@pytest.mark.parametrize("n, ties", [(3000, False), (3000, True), (40, True), (9, False)])
def test_bootstrap_interval_is_the_qini_area_of_each_resample_bit_for_bit(n, ties):
    """The interval weighs members in one score order instead of sorting each replicate: the same
    replicates (the same draws) and the same areas as resampling the rows, to the last bit."""
    rng = np.random.default_rng(n)
    s = rng.normal(size=n).round(1 if ties else 12)
    t = rng.random(n) < 0.6
    y = (rng.random(n) < 0.1 + 0.1 * t).astype(int)
    draw = np.random.default_rng(4)
    ti, ci = np.flatnonzero(t), np.flatnonzero(~t)
    areas = []
    for _ in range(50):
        idx = np.concatenate([draw.choice(ti, len(ti)), draw.choice(ci, len(ci))])
        areas.append(qini_area(s[idx], t[idx], y[idx]))
    assert bootstrap_area(s, t, y, n_boot=50, seed=4) == tuple(float(v) for v in np.quantile(areas, [0.025, 0.975]))
