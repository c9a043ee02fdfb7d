"""Campaign outcomes and effects: hand-worked cases and planted effects of synthetic Mall A."""

import json

import numpy as np
import pandas as pd
import pytest

from analysis.data.dataset import load_dataset
from analysis.presentation.phrases import phrase_text
from analysis.statistics import campaigns as cp


@pytest.fixture
def fixture_dir(tmp_path):
    """Campaign C1 starts 2023-06-01 with a 10-day window: [06-01, 06-11)."""
    d = tmp_path / "c"
    d.mkdir()
    ids = ["A", "B", "C", "D", "E", "F"]
    pd.DataFrame({"member_id": ids, "join_date": "2022-01-01", "tier": "gold"}).to_csv(d / "members.csv", index=False)
    pd.DataFrame(
        {
            "member_id": ["A", "A", "A", "B", "C", "D", "F"],
            "ts": [
                "2023-06-01 10:00",
                "2023-06-05 12:00",
                "2023-06-10 23:59:59",  # A: three purchases inside
                "2023-06-11 00:00:01",  # B: one day after the window closes
                "2023-05-31 20:00",  # C: the evening before the start
                "2023-06-03 11:00",  # D: inside
                "2023-01-01 10:00",
            ],  # F: long before
            "amount": [100, 50, 25, 999, 10, 40, 5],
        }
    ).to_csv(d / "transactions.csv", index=False)
    pd.DataFrame(
        {
            "member_id": ["C", "E", "B"],
            "ts": ["2023-06-02 09:00", "2023-06-20 09:00", "2023-06-09 18:00"],
            "source": ["parking", "wifi", "parking"],
        }
    ).to_csv(d / "visits.csv", index=False)
    pd.DataFrame({"campaign_id": ["C1"], "start_date": ["2023-06-01"], "response_days": [10]}).to_csv(
        d / "campaigns.csv", index=False
    )
    pd.DataFrame(
        {
            "campaign_id": "C1",
            "member_id": ids,
            "arm": ["call", "call", "call", "none", "none", "none"],
            "contact_cost": [1.0, 1.0, 1.0, 0, 0, 0],
            "gift_cost": [20.0, 0, 0, 0, 0, 0],
            "reached": [True, True, False, None, None, None],
            "redeemed": [True, False, False, None, None, None],
        }
    ).to_csv(d / "contacts.csv", index=False)
    return d


def test_hand_worked_outcomes(fixture_dir):
    data = load_dataset(fixture_dir, as_of="2023-12-31")
    o = cp.compute_campaign_outcomes(data).set_index("member_id")
    assert o.loc["A", "purchases"] == 3 and o.loc["A", "spend"] == 175
    assert o.loc["A", "days_to_return"] == pytest.approx(10 / 24)
    assert not o.loc["B", "purchased"] and o.loc["B", "visited"] and o.loc["B", "returned"]  # visit only
    assert o.loc["C", "returned"] and not o.loc["C", "purchased"] and o.loc["C", "spend"] == 0
    assert o.loc["D", "purchased"] and o.loc["D", "spend"] == 40
    assert not o.loc["E", "returned"] and not o.loc["F", "returned"]
    arms = cp.summarize_arms(data and o.reset_index(), control_arm="none").set_index("arm")
    assert arms.loc["call", "returned"] == 3 and arms.loc["none", "returned"] == 1
    assert arms.loc["call", "return_rate"] == pytest.approx(1.0)
    assert arms.loc["call", "cost"] == 23 and arms.loc["call", "cost_per_returned"] == pytest.approx(23 / 3)
    # incremental: (1 - 1/3) * 3 contacted = 2 extra returners, cost 23 -> 11.5 each
    assert arms.loc["call", "incremental_returned"] == pytest.approx(2.0)
    assert arms.loc["call", "cost_per_incremental_return"] == pytest.approx(11.5)
    eff = cp.estimate_arm_effects(o.reset_index(), control_arm="none").table("return_rate").iloc[0]
    assert eff["estimate"] == pytest.approx(2 / 3)
    assert eff["ci_low"] < 2 / 3 < eff["ci_high"]


def test_response_window_override(fixture_dir):
    data = load_dataset(fixture_dir, as_of="2023-12-31")
    o = cp.compute_campaign_outcomes(data, response_days=11).set_index("member_id")
    assert o.loc["B", "purchased"] and o.loc["A", "purchases"] == 3  # B's purchase on day 11 now counts
    short = cp.compute_campaign_outcomes(data, response_days=2).set_index("member_id")  # [06-01, 06-03)
    assert short.loc["A", "purchases"] == 1 and not short.loc["D", "purchased"]  # D bought on 06-03


def test_unknown_control_arm_is_a_clear_error(fixture_dir):
    o = cp.compute_campaign_outcomes(load_dataset(fixture_dir, as_of="2023-12-31"))
    with pytest.raises(ValueError, match="control arm 'holdout' not found in campaign C1; arms: \\['call', 'none'\\]"):
        cp.estimate_arm_effects(o, control_arm="holdout")


def test_three_arms_arbitrary_labels_many_contacts():
    rng = np.random.default_rng(0)
    n = 60_000
    arm = rng.choice(["控制组", "arm-α", "arm β"], n)
    p = np.select([arm == "arm-α", arm == "arm β"], [0.08, 0.12], 0.05)
    o = pd.DataFrame(
        {
            "campaign_id": "X",
            "member_id": np.arange(n).astype(str),
            "arm": arm,
            "returned": rng.random(n) < p,
            "spend": rng.gamma(1, 100, n),
            "cost": 1.0,
            "reached": True,
            "redeemed": False,
        }
    )
    o["purchased"] = o["returned"]
    eff = cp.estimate_arm_effects(o, control_arm="控制组").table("return_rate").set_index("arm")
    for a, truth in (("arm-α", 0.03), ("arm β", 0.07)):
        assert eff.loc[a, "ci_low"] < truth < eff.loc[a, "ci_high"]
    assert set(cp.summarize_arms(o, "控制组")["arm"]) == {"控制组", "arm-α", "arm β"}


def test_plan_next_wave_matches_textbook():
    # 5% vs 10%, alpha 0.05, power 0.8, equal arms. By hand: h = 2 asin(sqrt .10) - 2 asin(sqrt .05)
    # = 0.1924 and n = 2 (1.960 + 0.842)^2 / h^2 = 424 per arm (the pooled-variance formula gives 434).
    t = cp.plan_next_wave(0.05, [0.05], holdout_share=0.5).iloc[0]
    assert t["treated"] == 424 and t["holdout"] == 424


@pytest.fixture(scope="module")
def mall(study_mall):
    d = study_mall
    data = load_dataset(d)
    truth = json.loads((d / "truth.json").read_text())
    return data, truth, cp.compute_campaign_outcomes(data)


def test_holdout_estimates_cover_planted_effects(mall):
    _, truth, o = mall
    eff = cp.estimate_arm_effects(o, alpha=0.01).table("return_rate")
    misses = []
    for row in eff.itertuples():
        t = truth["campaigns"][row.campaign_id]["arms"][row.arm]["true_incremental_return_rate"]
        if not row.ci_low <= t <= row.ci_high:
            misses.append((row.campaign_id, row.arm, row.ci_low, t, row.ci_high))
    assert not misses


def test_did_recovers_planted_change_and_naive_shows_the_bias(mall):
    _, truth, o = mall
    study = cp.compare_before_after(o, "W1-BEFORE", "W2-AFTER", "sms_daily", "call_wechat_ent", alpha=0.01)
    assert study.did.ci_low <= truth["difference_in_differences"]["true_value"] <= study.did.ci_high
    # the naive comparison is off by the holdouts' difference, which estimates the planted bias
    bias = study.naive_difference - study.causal_difference
    planted = truth["naive_before_after"]["bias_from_season_and_list"]
    assert planted < -0.01
    # the bias is the difference of the two holdouts' return rates: the planted value lies in its 99 % interval
    from statsmodels.stats.proportion import confint_proportions_2indep

    held = {cid: o[(o["campaign_id"] == cid) & (o["arm"] == "holdout")]["returned"] for cid in ("W1-BEFORE", "W2-AFTER")}
    assert bias == pytest.approx(held["W2-AFTER"].mean() - held["W1-BEFORE"].mean())
    low, high = confint_proportions_2indep(
        int(held["W2-AFTER"].sum()),
        len(held["W2-AFTER"]),
        int(held["W1-BEFORE"].sum()),
        len(held["W1-BEFORE"]),
        method="newcomb",
        compare="diff",
        alpha=0.01,
    )
    assert low <= planted <= high
    assert study.naive_difference < truth["naive_before_after"]["true_difference_in_incremental_effect"]


def test_factorial_recovers_gift_and_channel_effects(mall):
    _, truth, o = mall
    f = cp.estimate_factorial(o, "W3-FACTORIAL", ("daily", "entertainment"), ("sms", "call_wechat"), alpha=0.01)
    ci = f.conf_int(alpha=0.01).set_index(pd.Index(f.CONTRASTS))
    assert [e.code for e in f.effects["effect"]] == ["factorial.gift", "factorial.channel", "factorial.interaction"]
    planted = truth["factorial"]
    assert ci.loc["gift", "ci_low"] <= planted["gift_effect_entertainment_vs_daily"] <= ci.loc["gift", "ci_high"]
    assert ci.loc["channel", "ci_low"] <= planted["channel_effect_call_wechat_vs_sms"] <= ci.loc["channel", "ci_high"]
    assert f.effects["estimate"].iloc[0] > 0


def test_regression_adjustment_works_with_attributes_only(mall):
    data, truth, o = mall
    feats = cp.compute_precampaign_features(data, ["W2-AFTER"])
    full = cp.estimate_adjusted_effect(o, feats, "W2-AFTER", "call_wechat_ent", ["recency_days", "frequency", "monetary", "tier"])
    attrs = cp.estimate_adjusted_effect(o, feats, "W2-AFTER", "call_wechat_ent", ["district", "gender"])
    t = truth["campaigns"]["W2-AFTER"]["arms"]["call_wechat_ent"]["true_incremental_return_rate"]
    for res in (full, attrs):
        lo, hi = res.conf_int(0.01).iloc[0]
        assert lo <= t <= hi
    assert "phone" not in feats.columns and "plate" not in feats.columns


def test_precampaign_features_come_in_a_fixed_order_with_sums_rounded(mall):
    """The same numbers on every run: an engine returns rows in any order and adds doubles in any
    order, and a regression on reordered rows (or on a sum differing in its last bit) differs in
    its last digits; the demo's adjusted effects did between two identical runs."""
    data, _truth, _o = mall
    feats = cp.compute_precampaign_features(data)
    keys = list(zip(feats["campaign_id"], feats["member_id"]))
    assert keys == sorted(keys) and feats.index.equals(pd.RangeIndex(len(feats)))
    assert feats["monetary"].equals(feats["monetary"].round(6))


def test_segment_at_start_by_hand(fixture_dir):
    # As of 2023-05-31 (day before C1): C bought that evening, F bought on 2023-01-01, A, B, D, E
    # never bought (no purchase: no score, no RFM segment). Scored among the two buyers: F's older
    # purchase ranks first -> R1, C's rank 2 of 2 -> 1 + floor(5 * 1 / 2) = R3; one purchase each,
    # a tie -> F1 for both. R3 F1 is "Slipping", R1 F1 is "Lost".
    seg = cp.segment_at_start(load_dataset(fixture_dir), "C1").set_index("member_id")["rfm_segment"]
    none = "No purchase in window"
    assert seg.to_dict() == {"A": none, "B": none, "C": "Slipping", "D": none, "E": none, "F": "Lost"}


def test_rank_targets_advice_and_cost():
    het = {
        "tier": pd.DataFrame(
            {
                "tier": ["gold", "silver", "normal"],
                "n_treated": [500, 400, 300],
                "n_control": [100, 80, 60],
                "estimate": [0.10, 0.02, -0.05],
                "ci_low": [0.06, -0.01, -0.08],
                "ci_high": [0.14, 0.05, -0.02],
                "p_value": [1e-6, 0.2, 0.001],
                "p_holm": [3e-6, 0.2, 0.002],
            }
        )
    }
    t = cp.rank_targets(het, cost_per_contact=5.0)
    assert list(t["level"]) == ["gold", "silver", "normal"]
    assert list(t["advice"]) == ["target", "no evidence", "skip"]
    assert t.loc[0, "cost_per_incremental_return"] == pytest.approx(50.0)
    assert t.loc[1, "cost_per_incremental_return"] == pytest.approx(250.0)
    assert np.isnan(t.loc[2, "cost_per_incremental_return"])


def test_the_shortlist_keeps_every_decision_and_the_cheapest_undecided():
    targets = pd.DataFrame(
        {
            "advice": ["target", "no evidence", "no evidence", "no evidence", "skip"],
            "cost_per_incremental_return": [10.0, 20.0, 30.0, 40.0, np.nan],
        }
    )
    shown, left_out = cp.shortlist(targets, without_evidence=2)
    assert list(shown["advice"]) == ["target", "no evidence", "no evidence", "skip"] and left_out == 1
    assert list(shown["cost_per_incremental_return"][:3]) == [10.0, 20.0, 30.0]


def test_unrecorded_costs_stay_unknown(fixture_dir):
    contacts = pd.read_csv(fixture_dir / "contacts.csv")
    contacts.drop(columns=["contact_cost", "gift_cost"]).to_csv(fixture_dir / "contacts.csv", index=False)
    data = load_dataset(fixture_dir, as_of="2023-12-31")
    arms = cp.summarize_arms(cp.compute_campaign_outcomes(data), control_arm="none").set_index("arm")
    assert arms["cost"].isna().all() and arms["cost_per_incremental_return"].isna().all()
    assert arms.loc["call", "incremental_returned"] == pytest.approx(2.0)  # the effect is still known


def test_one_unrecorded_cost_makes_the_arm_cost_unknown(fixture_dir):
    contacts = pd.read_csv(fixture_dir / "contacts.csv")
    contacts.loc[1, "gift_cost"] = None
    contacts.to_csv(fixture_dir / "contacts.csv", index=False)
    data = load_dataset(fixture_dir, as_of="2023-12-31")
    arms = cp.summarize_arms(cp.compute_campaign_outcomes(data), control_arm="none").set_index("arm")
    assert np.isnan(arms.loc["call", "cost"]) and arms.loc["none", "cost"] == 0


def test_recency_bands_are_labelled_as_they_hold():
    f = pd.DataFrame({"recency_days": [0, 150, 270, 271, 365, 366, 540, 541, 900], "age": 40})
    banded = cp.add_bands(f)
    assert list(banded["recency_band"].astype(str)) == [
        "0-270 d",
        "0-270 d",
        "0-270 d",
        "271-365 d",
        "271-365 d",
        "366-540 d",
        "366-540 d",
        "541+ d",
        "541+ d",
    ]
    assert cp.band_labels((10, 20)) == ["0-10 d", "11-20 d", "21+ d"]


def test_one_definition_of_age_bands_across_reports():
    from analysis.data.config import AGE_BAND_LABELS
    from analysis.statistics.segmentation import add_age_band

    ages = pd.DataFrame({"age": [20, 25, 34, 35, 64, 65, 80], "recency_days": 1})
    assert list(add_age_band(ages)["age_band"].astype(str)) == list(cp.add_bands(ages)["age_band"].astype(str))
    assert set(cp.add_bands(ages)["age_band"].astype(str)) <= set(AGE_BAND_LABELS)


def test_rank_targets_corrects_across_the_whole_table_and_lists_same_members_once():
    from statsmodels.stats.multitest import multipletests

    cols = ["n_treated", "n_control", "estimate", "ci_low", "ci_high", "p_value"]
    het = {
        "recency_band": pd.DataFrame(
            [["0-270 d", 300, 70, 0.06, 0.01, 0.11, 0.012], ["541+ d", 200, 50, 0.08, 0.02, 0.14, 0.02]],
            columns=["recency_band", *cols],
        ),
        "rfm_segment": pd.DataFrame(
            [["Lost", 200, 50, 0.08, 0.02, 0.14, 0.02], ["Loyal", 100, 30, 0.05, -0.02, 0.12, 0.3]],
            columns=["rfm_segment", *cols],
        ),
    }
    t = cp.rank_targets(het, cost_per_contact=1.0).set_index("level")
    assert len(t) == 3 and "541+ d (= rfm_segment Lost)" in t.index  # the same 200 + 50 members, once
    expected = multipletests([0.012, 0.02, 0.3], method="holm")[1]  # one family: the whole table
    assert list(t.loc[["0-270 d", "541+ d (= rfm_segment Lost)", "Loyal"], "p_holm"]) == pytest.approx(list(expected))
    # within each variable alone, 0.012 and 0.02 would pass at 0.05 after Holm on 2; over 3 they do too, Loyal not
    assert list(t.loc[["0-270 d", "Loyal"], "advice"]) == ["target", "no evidence"]


def test_a_campaign_whose_window_has_not_closed_is_interim(fixture_dir):
    # C1's 10-day window runs to 06-11; the data end on 06-05
    tx = pd.read_csv(fixture_dir / "transactions.csv")
    tx[pd.to_datetime(tx["ts"], format="ISO8601") < "2023-06-06"].to_csv(fixture_dir / "transactions.csv", index=False)
    visits = pd.read_csv(fixture_dir / "visits.csv")
    visits[pd.to_datetime(visits["ts"], format="ISO8601") < "2023-06-06"].to_csv(fixture_dir / "visits.csv", index=False)
    data = load_dataset(fixture_dir, as_of="2023-06-05")
    o = cp.compute_campaign_outcomes(data)
    assert o["window_open"].all()
    note = phrase_text(cp.open_windows(o))
    assert "C1 (window ends 2023-06-11)" in note and "interim" in note
    closed = cp.compute_campaign_outcomes(load_dataset(fixture_dir, as_of="2023-06-30"))
    assert not closed["window_open"].any() and cp.open_windows(closed) is None


def test_heterogeneity_of_every_treated_arm_in_one_call(mall):
    data, _, o = mall
    feats = cp.compute_precampaign_features(data)
    treated = [("W2-AFTER", "call_wechat_ent"), ("W3-FACTORIAL", "sms_daily")]
    tables, missing = cp.estimate_heterogeneity_by_arm(o, feats, data, treated, ["tier", "rfm_segment", "no_such"])
    assert missing == ["no_such"]
    assert set(tables) == {(cp.arm_label(c, a), v) for c, a in treated for v in ("tier", "rfm_segment")}
    # the same numbers as the one-arm, one-variable function on the same bands
    banded = cp.add_bands(feats)
    one = cp.estimate_heterogeneity(o, banded, "W2-AFTER", "call_wechat_ent", "tier")
    pd.testing.assert_frame_equal(tables[("W2-AFTER / call_wechat_ent", "tier")], one)
    seg_tab = tables[("W3-FACTORIAL / sms_daily", "rfm_segment")]
    assert len(seg_tab) and seg_tab["n_treated"].sum() <= (o[(o.campaign_id == "W3-FACTORIAL") & (o.arm == "sms_daily")]).shape[0]


def test_holm_equals_statsmodels_and_a_hand_worked_case():
    from statsmodels.stats.multitest import multipletests

    # m = 3, sorted 0.01, 0.03, 0.04: 0.01 * 3 = 0.03; 0.03 * 2 = 0.06; 0.04 * 1 = 0.04 -> raised to 0.06 (monotone)
    assert cp.holm([0.04, 0.01, 0.03]).tolist() == pytest.approx([0.06, 0.03, 0.06])
    rng = np.random.default_rng(3)
    for m in (1, 2, 7, 40):
        p = rng.uniform(0, 0.2, m)
        p[: m // 3] = p[0]  # ties
        assert cp.holm(p) == pytest.approx(multipletests(p, method="holm")[1])


def test_factorial_effects_equal_the_logit_delta_method_and_a_boundary_cell_is_said():
    import warnings

    import statsmodels.formula.api as smf

    from analysis.statistics.clv import ConvergenceWarning

    rng = np.random.default_rng(5)
    n = 6000
    g, c = rng.integers(0, 2, n), rng.integers(0, 2, n)
    y = rng.random(n) < 0.05 + 0.03 * g + 0.02 * c + 0.01 * g * c
    out = pd.DataFrame(
        {
            "campaign_id": "F",
            "arm": [f"a{i}{j}" for i, j in zip(g, c)],
            "member_id": range(n),
            "returned": y,
            "gift": np.where(g, "ent", "daily"),
            "channel": np.where(c, "call", "sms"),
        }
    )
    res = cp.estimate_factorial(out, "F", ("daily", "ent"), ("sms", "call"))
    # the logit's coefficients through the delta method (numerical Jacobian), independently
    df = out.assign(g=g.astype(float), c=c.astype(float), y=y.astype(float))
    fit = smf.logit("y ~ g * c", data=df).fit(disp=False)
    b, cov = fit.params.to_numpy(), fit.cov_params().to_numpy()
    sc = df["c"].mean()

    def gift(beta):
        pr = lambda gg, cc: 1 / (1 + np.exp(-(beta[0] + beta[1] * gg + beta[2] * cc + beta[3] * gg * cc)))  # noqa: E731
        return (1 - sc) * (pr(1, 0) - pr(0, 0)) + sc * (pr(1, 1) - pr(0, 1))

    jac = np.array([(gift(b + 1e-6 * np.eye(4)[i]) - gift(b - 1e-6 * np.eye(4)[i])) / 2e-6 for i in range(4)])
    assert res.effects["estimate"].iloc[0] == pytest.approx(gift(b), abs=1e-9)
    assert res.effects["se"].iloc[0] == pytest.approx(np.sqrt(jac @ cov @ jac), rel=1e-4)
    # a cell without a return: finite effects and a warning in words
    zero = out.copy()
    zero.loc[(g == 0) & (c == 1), "returned"] = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res0 = cp.estimate_factorial(zero, "F", ("daily", "ent"), ("sms", "call"))
    assert np.isfinite(res0.effects[["estimate", "se"]].to_numpy()).all()
    assert any(issubclass(w.category, ConvergenceWarning) and "daily x call" in str(w.message) for w in caught)


# --- the money: net incremental value, and one rule for "worth targeting" -------------------


def _promotion_test(n: int = 20_000, seed: int = 3, send_cost: float = 0.15) -> pd.DataFrame:
    """A promotion test shaped like the public one: 10 a purchase, +0.95 points of purchases."""
    rng = np.random.default_rng(seed)
    promo = np.r_[np.ones(n, bool), np.zeros(n, bool)]
    bought = rng.random(2 * n) < 0.01 + 0.0095 * promo
    return pd.DataFrame(
        {
            "campaign_id": "PROMO",
            "member_id": [f"m{i:06d}" for i in range(2 * n)],
            "arm": np.where(promo, "promo", "holdout"),
            "returned": bought,
            "purchased": bought,
            "spend": 10.0 * bought,
            "cost": np.where(promo, send_cost, np.nan),
        }
    )


def test_a_promotion_that_loses_money_says_so_at_any_margin():
    o = _promotion_test()
    for margin in (None, 0.3, 1.0):
        net = cp.estimate_net_value(o, "holdout", margin)
        [row] = net.table().itertuples()
        t, c = o[o["arm"] == "promo"], o[o["arm"] == "holdout"]
        m = 1.0 if margin is None else margin
        # independent: the difference of mean values (margin x spend - cost; the holdout costs nothing), Welch's standard error
        vt, vc = m * t["spend"] - t["cost"], m * c["spend"]
        est = vt.mean() - vc.mean()
        se = np.sqrt(vt.var(ddof=1) / len(vt) + vc.var(ddof=1) / len(vc))
        assert row.estimate == pytest.approx(est, abs=1e-12)
        assert (row.ci_low, row.ci_high) == pytest.approx((est - 1.959964 * se, est + 1.959964 * se), rel=1e-5)
        assert row.total == pytest.approx(est * len(t)) and row.verdict == cp.LOSES
        entry = net.metrics()["PROMO"]["promo"]
        assert set(entry["net_incremental_value_per_contacted"]) == {"estimate", "ci_low", "ci_high"}
        assert entry["verdict"] == "loses money" and entry["best_case"] is (margin is None)
    first = cp.estimate_net_value(o, "holdout").sentences()[0]
    assert first.code == "value.best.loses" and first.values["arm"] == "PROMO / promo"
    assert "loses money even if all of its extra spend were profit" in phrase_text(first)
    # the same promotion at a send cost of 0.01 covers its cost at a 100 % margin
    cheap = cp.estimate_net_value(_promotion_test(send_cost=0.01), "holdout")
    assert cheap.table()["verdict"].tolist() == [cp.PAYS]
    # unknown costs stay unknown
    unknown = cp.estimate_net_value(_promotion_test().assign(cost=np.nan), "holdout")
    assert unknown.table()["verdict"].tolist() == [cp.COST_UNKNOWN]
    assert unknown.metrics()["PROMO"]["promo"]["net_incremental_value_total"] is None


def test_a_subgroup_that_responds_but_does_not_pay_is_not_worth_targeting():
    het = {
        "tier": pd.DataFrame(
            {
                "tier": ["gold", "silver"],
                "n_treated": [5000, 5000],
                "n_control": [5000, 5000],
                "estimate": [0.05, 0.30],
                "ci_low": [0.04, 0.28],
                "ci_high": [0.06, 0.32],
                "p_value": [1e-9, 1e-12],
            }
        )
    }
    # 10 a return, 1 a contact: gold brings 0.5 per contact (loses), silver 3 (pays)
    t = cp.rank_targets(het, cost_per_contact=1.0, value_per_return=10.0).set_index("level")
    assert t.loc["silver", "advice"] == "target" and t.loc["gold", "advice"] == cp.COSTS_MORE
    assert t.loc["gold", "net_per_contacted"] == pytest.approx(0.05 * 10 - 1)
    # without a value per return the money cannot decide: both respond
    assert set(cp.rank_targets(het, cost_per_contact=1.0)["advice"]) == {"target"}


def test_the_headline_is_the_named_arm_else_the_primary_else_the_largest_effect_of_the_latest_campaign():
    rng = np.random.default_rng(4)
    rows = []
    for cid, start, rates in (
        ("A", "2024-01-01", {"holdout": 0.1, "x": 0.3}),
        ("B", "2024-06-01", {"holdout": 0.1, "a": 0.12, "b": 0.25}),
    ):
        for arm, rate in rates.items():
            for i in range(400):
                rows.append(
                    {
                        "campaign_id": cid,
                        "start_date": pd.Timestamp(start),
                        "arm": arm,
                        "member_id": f"{cid}{arm}{i}",
                        "returned": rng.random() < rate,
                        "purchased": False,
                        "spend": 0.0,
                    }
                )
    eff = cp.estimate_arm_effects(pd.DataFrame(rows))
    assert cp.main_effect(eff)["arm"] == "B / b"  # not "B / a", the first arm listed
    assert cp.main_effect(eff, "A", "x")["arm"] == "A / x"
    assert cp.main_effect(eff, primary=pd.DataFrame({"campaign_id": ["B"], "arm": ["a"]}))["arm"] == "B / a"
