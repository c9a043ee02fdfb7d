"""Every result class of the package follows one protocol (analysis.statistics.results), as lifelines' tests
run every fitter through one: standard columns, DataFrames from table/summary/conf_int, the
result's own alpha by default, HTML through the presentation layer with no object repr in it."""

import importlib
import pkgutil

import numpy as np
import pandas as pd
import pytest
from sitescan import raw_forms

import analysis
from analysis.application import monthly
from analysis.data.dataset import load_dataset
from analysis.presentation.display import result_html
from analysis.statistics import campaigns as cp
from analysis.statistics import claims, clv, lifecycle, plan, sleeping, timeseries, uplift
from analysis.statistics import segmentation as seg
from analysis.statistics.features import compute_member_features
from analysis.statistics.results import NON_STANDARD_COLUMNS, Result


def _all_result_classes() -> set[type]:
    for mod in pkgutil.walk_packages(analysis.__path__, "analysis."):
        if mod.name.rsplit(".", 1)[-1] not in ("cli", "__main__"):
            importlib.import_module(mod.name)
    found, todo = set(), [Result]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub.__module__.startswith("analysis.") and not sub.__name__.startswith("_"):
                found.add(sub)
            todo.append(sub)
    return found


def _uplift():
    rng = np.random.default_rng(0)
    n = 800
    x = rng.random(n)
    treated = rng.random(n) < 0.5
    ids = [f"M{i:04d}" for i in range(n)]
    outcomes = pd.DataFrame(
        {
            "campaign_id": "C",
            "member_id": ids,
            "arm": np.where(treated, "t", "holdout"),
            "returned": rng.random(n) < 0.05 + treated * 0.2 * (x > 0.5),
        }
    )
    return uplift.estimate_uplift(outcomes, pd.DataFrame({"member_id": ids, "x": x}), "C", "t", ["x"], n_boot=50)


@pytest.fixture(scope="module")
def results(small_mall) -> dict[type, Result]:
    data = load_dataset(small_mall)
    as_of = pd.Timestamp(data.as_of)
    o = cp.compute_campaign_outcomes(data)
    study = cp.compare_before_after(o, "W1-BEFORE", "W2-AFTER", "sms_daily", "call_wechat_ent", alpha=0.1)
    feats = cp.compute_precampaign_features(data, ["W2-AFTER"])
    summary = clv.compute_rfm_summary(data)
    repeat = summary[summary["frequency"] > 0]
    tts = lifecycle.compute_time_to_sleep(data, 180, early_days=90)
    features = seg.add_age_band(compute_member_features(data, as_of, 365))
    rfm = seg.compute_rfm_scores(features)
    before = compute_member_features(data, as_of - pd.Timedelta(days=91), 365, categories=False)
    weekly = timeseries.compute_weekly_reactivations(data, "gold", 180)
    start = data.campaigns.filter(data.campaigns.campaign_id == "W2-AFTER").start_date.to_pandas().iloc[0]
    month = monthly.parse_month(monthly.last_complete_month(data))
    kpis = monthly.compute_monthly_kpis(data, month - pd.DateOffset(months=12), month, 90, 180, 365)
    test_date = as_of - pd.Timedelta(days=90)
    made = [
        cp.estimate_arm_effects(o, alpha=0.1),
        study,
        study.did,
        cp.estimate_net_value(o, alpha=0.1),
        cp.estimate_adjusted_effect(o, feats, "W2-AFTER", "call_wechat_ent", ["recency_days", "frequency"], alpha=0.1),
        cp.estimate_factorial(o, "W3-FACTORIAL", ("daily", "entertainment"), ("sms", "call_wechat"), alpha=0.1),
        clv.fit_bgnbd(summary["frequency"], summary["recency"], summary["T"]),
        clv.fit_mbgnbd(summary["frequency"], summary["recency"], summary["T"]),
        clv.fit_pareto_nbd(summary["frequency"], summary["recency"], summary["T"]),
        clv.choose_repeat_model(data, as_of - pd.DateOffset(months=6)),
        clv.fit_gamma_gamma(repeat["frequency"], repeat["monetary_value"]),
        lifecycle.compute_stage_flows(data),
        lifecycle.fit_survival(tts, by="tier"),
        lifecycle.fit_sleep_risk(data, test_date - pd.Timedelta(days=180), test_date, 90, 180),
        seg.fit_clusters(features, k=3, n_boot=2),
        seg.compute_migration(seg.compute_rfm_scores(before), rfm, "a", "b"),
        sleeping.build_sleeping_list(data, as_of.date(), tier="gold"),
        timeseries.estimate_counterfactual(weekly, start, alpha=0.1),
        monthly.compare_month(kpis, month),
        data.validation,
        claims.claim_sleeping_list(sleeping.build_sleeping_list(data, as_of.date(), tier="gold")),
        plan.srm_test({"a": 1_040, "b": 960}, {"a": 0.5, "b": 0.5}),
        plan.make_plan(
            data,
            plan.PlanSpec(
                campaign_id="P1",
                start_date=str(as_of.date()),
                control_arm="holdout",
                seed=3,
                arms={"holdout": {"share": 0.5}, "x": {"share": 0.5, "channel": "sms"}},
            ),
        ),
        _uplift(),
        uplift.choose_list(
            pd.DataFrame({"member_id": ["a", "b"], "x": [0.2, 0.1], "y": [0.1, 0.3]}),
            {"x": 1.0, "y": 2.0},
            margin_per_return=50.0,
            budget=3.0,
        ),
    ]
    return {type(r): r for r in made}


def test_every_result_class_is_under_the_protocol_test(results):
    assert _all_result_classes() - set(results) == set(), "a result class without an instance in this test"


def test_results_follow_one_protocol(results):
    for cls, res in results.items():
        name = cls.__name__
        table = res.table()
        assert isinstance(table, pd.DataFrame) and len(table.columns), name
        assert not set(map(str, table.columns)) & set(NON_STANDARD_COLUMNS), (name, list(table.columns))
        if "estimate" in table.columns and "se" in table.columns or {"ci_low", "ci_high"} <= set(table.columns):
            ci = res.conf_int()
            assert isinstance(ci, pd.DataFrame) and {"ci_low", "ci_high"} <= set(ci.columns), name
        assert isinstance(res.summary(), pd.DataFrame), name
        page = result_html(res)
        assert "<table" in page and "object at 0x" not in page and "bound method" not in page, name
        assert raw_forms(page) == [], (name, raw_forms(page))


def test_intervals_default_to_the_results_own_alpha(results):
    checked = 0
    for res in results.values():
        alpha, cols = getattr(res, "alpha", None), set(res.table().columns)
        if alpha is None or alpha == 0.05 or not ({"ci_low", "ci_high"} <= cols or {"estimate", "se"} <= cols):
            continue
        default, at_own, at_5 = res.conf_int(), res.conf_int(alpha), res.conf_int(0.05)
        pd.testing.assert_frame_equal(default.reset_index(drop=True), at_own.reset_index(drop=True))
        width = lambda c: (c["ci_high"] - c["ci_low"]).to_numpy()  # noqa: E731
        assert (width(at_5) >= width(default) - 1e-12).all(), type(res).__name__  # 95 % is wider than 90 %
        checked += 1
    assert checked >= 4
