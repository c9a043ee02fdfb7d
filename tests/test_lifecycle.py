"""Lifecycle: stage rules by hand, panel vs pandas, BG/NBD on CDNOW and synthetic truth, survival."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from analysis.data.config import PROJECT_DIR
from analysis.data.dataset import load_dataset
from analysis.presentation.phrases import phrase_text
from analysis.statistics import clv
from analysis.statistics import lifecycle as lc
from analysis.statistics.synthetic import MEMBER_TYPES, generate_mall

CDNOW_SUMMARY = PROJECT_DIR / "tests" / "data" / "cdnow" / "cdnow_customers_summary.csv"


@pytest.fixture
def histories(tmp_path):
    d = tmp_path / "h"
    d.mkdir()
    pd.DataFrame({"member_id": ["X", "Y", "Z"], "join_date": ["2022-01-10", "2022-01-05", "2022-03-15"], "tier": "gold"}).to_csv(
        d / "members.csv", index=False
    )
    # X sleeps twice and is woken twice; Y buys monthly; Z never buys
    x = ["2022-01-15", "2022-09-01", "2023-06-01"]
    y = [f"2022-{m:02d}-10" for m in range(1, 13)]
    pd.DataFrame({"member_id": ["X"] * 3 + ["Y"] * 12, "ts": x + y, "amount": 10}).to_csv(d / "transactions.csv", index=False)
    pd.DataFrame(columns=["campaign_id", "start_date", "response_days"]).to_csv(d / "campaigns.csv", index=False)
    pd.DataFrame(columns=["campaign_id", "member_id", "arm"]).to_csv(d / "contacts.csv", index=False)
    return load_dataset(d, as_of="2023-12-31")


def test_stage_rules_on_hand_made_histories(histories):
    p = lc.build_stage_panel_expr(histories, end="2023-12-31").to_pandas()
    p["month"] = pd.to_datetime(p["month"]).dt.strftime("%Y-%m")
    st = p.pivot(index="month", columns="member_id", values="stage")
    # X: bought 01-15; end of Apr: 105 days -> cooling; end of Jul: 197 days -> sleeping
    assert st.loc["2022-01", "X"] == "new" and st.loc["2022-02", "X"] == "active"
    assert st.loc["2022-04", "X"] == "cooling" and st.loc["2022-07", "X"] == "sleeping"
    assert st.loc["2022-09", "X"] == "reactivated"  # woken once
    assert st.loc["2022-10", "X"] == "active"
    assert st.loc["2023-03", "X"] == "sleeping"  # 2022-09-01 + 180 days = 2023-02-28
    assert st.loc["2023-06", "X"] == "reactivated"  # woken twice
    # Z never bought: measured from joining on 2022-03-15
    assert st.loc["2022-03", "Z"] == "new" and st.loc["2022-06", "Z"] == "cooling" and st.loc["2022-09", "Z"] == "sleeping"
    assert st.loc["2023-03", "Z"] == "lost"  # 2022-03-15 + 365 days
    assert (st.loc["2022-02":"2022-12", "Y"] == "active").all()
    assert st.loc["2023-12", "Y"] == "lost"


def _pandas_stages(data, months, cooling=90, sleeping=180, lost=365):
    """Independent reference: a plain loop over members and month ends."""
    m = data.members.to_pandas()
    t = data.transactions.to_pandas()
    t["day"] = pd.to_datetime(t["ts"]).dt.normalize()
    rows = []
    for mem in m.itertuples():
        join = pd.Timestamp(mem.join_date)
        days = np.sort(t.loc[t["member_id"] == mem.member_id, "day"].unique())
        prev_base = None
        for month in months:
            end = month + pd.offsets.MonthEnd(0)
            if join > end:
                continue
            past = days[days <= end]
            last = pd.Timestamp(past[-1]) if len(past) else join
            gap = (end - last).days
            base = "active" if gap <= cooling else "cooling" if gap < sleeping else "sleeping" if gap < lost else "lost"
            bought = ((days >= month) & (days <= end)).any()
            stage = "new" if join >= month else "reactivated" if bought and prev_base in ("sleeping", "lost") else base
            rows.append((month, stage))
            prev_base = base
    return pd.Series([s for _, s in rows], index=[m for m, _ in rows]).groupby(level=0).value_counts().unstack(fill_value=0)


def test_panel_counts_equal_pandas_and_rows_sum_to_one(small_mall):
    data = load_dataset(small_mall)
    flows = lc.compute_stage_flows(data, start="2022-01-01")
    months = list(flows.counts.index)
    ref = _pandas_stages(data, months).reindex(columns=flows.counts.columns, fill_value=0)
    pd.testing.assert_frame_equal(flows.counts.astype(int), ref.astype(int), check_names=False, check_freq=False)
    assert np.allclose(flows.transition_matrix().sum(axis=1), 1.0)
    steady = flows.steady_state()
    assert steady.sum() == pytest.approx(1.0) and (steady >= -1e-9).all()


@pytest.mark.parametrize("tier", [None, "gold"])
def test_stage_flows_from_arrays_equal_the_panel_expression(small_mall, tier):
    """The dense-array flows and the window-function panel (used by the monthly report) agree."""
    import ibis

    _ = ibis._
    data = load_dataset(small_mall)
    flows = lc.compute_stage_flows(data, start="2022-06-01", tier=tier)
    p = lc.build_stage_panel_expr(data).filter(_.month >= ibis.literal(pd.Timestamp("2022-06-01").date()))
    if tier:
        p = p.filter(_.tier == tier)
    counts = p.group_by(["month", "stage"]).aggregate(members=_.count()).to_pandas()
    counts = counts.pivot_table(index="month", columns="stage", values="members", fill_value=0).reindex(
        columns=list(lc.STAGES), fill_value=0
    )
    assert (flows.counts.to_numpy() == counts.sort_index().to_numpy()).all()
    assert list(flows.counts.index.strftime("%Y-%m")) == list(pd.to_datetime(counts.sort_index().index).strftime("%Y-%m"))
    tr = (
        p.filter(_.prev_stage.notnull())
        .group_by(["month", _.prev_stage.name("from_stage"), _.stage.name("to_stage")])
        .aggregate(members=_.count())
        .to_pandas()
    )
    tr = tr.assign(month=pd.to_datetime(tr["month"]).dt.strftime("%Y-%m")).sort_values(["month", "from_stage", "to_stage"])
    mine = flows.transitions.assign(month=flows.transitions["month"].dt.strftime("%Y-%m"))
    assert mine.to_numpy().tolist() == tr[["month", "from_stage", "to_stage", "members"]].to_numpy().tolist()
    assert {"reactivated", "sleeping", "lost"} <= set(mine["to_stage"])  # the rules that need history are exercised


def test_bgnbd_reproduces_published_cdnow_estimates():
    s = pd.read_csv(CDNOW_SUMMARY)
    m = clv.fit_bgnbd(s["frequency"], s["recency"], s["T"])
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in published.items():
        assert m.params_[name] == pytest.approx(value, rel=0.01)
    assert m.log_likelihood_ == pytest.approx(-9582.4, abs=0.5)
    assert (m.bse_ > 0).all()
    # P(alive) of a member with no repeat purchase is 1 by construction
    assert m.p_alive(0, 0, 38.86) == pytest.approx(1.0)


def test_bgnbd_matches_lifetimes_where_it_installs():
    lifetimes = pytest.importorskip("lifetimes")
    s = pd.read_csv(CDNOW_SUMMARY)
    ref = lifetimes.BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
    ours = clv.fit_bgnbd(s["frequency"], s["recency"], s["T"])
    for name in ("r", "alpha", "a", "b"):
        assert ours.params_[name] == pytest.approx(ref.params_[name], rel=1e-3)
    np.testing.assert_allclose(
        ours.p_alive(s["frequency"], s["recency"], s["T"]),
        ref.conditional_probability_alive(s["frequency"], s["recency"], s["T"]),
        rtol=1e-3,
    )


def test_gamma_gamma_expected_spend_by_hand():
    m = clv.GammaGammaModel(pd.Series({"p": 6.0, "q": 4.0, "v": 15.0}), pd.Series(dtype=float), 0.0, 0, None)
    # (v + m x) p / (p x + q - 1) with x = 2, m = 30: (15 + 60) * 6 / 15 = 30
    assert m.expected_spend([2], [30.0])[0] == pytest.approx(30.0)
    assert m.expected_spend([0], [np.nan])[0] == pytest.approx(6 * 15 / 3)


@pytest.fixture(scope="module")
def mall(tmp_path_factory):
    d = generate_mall(tmp_path_factory.mktemp("life") / "mall", n_members=20_000, seed=21)
    return d, load_dataset(d)


def test_p_alive_recovers_planted_dropout(mall):
    d, data = mall
    s = clv.compute_rfm_summary(data)
    m = clv.fit_bgnbd(s["frequency"], s["recency"], s["T"])
    truth = pd.read_parquet(d / "truth_members.parquet").set_index("member_id")
    # ghosts keep coming but stop buying: alive, yet invisible to a purchase model
    keep = ~truth.reindex(s["member_id"])["ghost"].to_numpy()
    alive = truth.reindex(s["member_id"])["alive_at_end"].to_numpy()[keep]
    p = m.p_alive(s["frequency"], s["recency"], s["T"])[keep]
    assert roc_auc_score(alive, p) > 0.9
    # planted dropout is in continuous time (Pareto/NBD-like); BG/NBD lets members drop out only
    # right after a purchase, so it overstates the alive share somewhat (about 6 points here)
    assert p.mean() == pytest.approx(alive.mean(), abs=0.08)


def test_survival_band_covers_planted_dropout_curve(mall):
    d, data = mall
    truth = pd.read_parquet(d / "truth_members.parquet")
    members = pd.read_csv(d / "members.csv", usecols=["member_id", "join_date", "tier"])
    df = truth.merge(members, on="member_id")
    df = df[~df["duplicate_card"]]
    end = pd.Timestamp(json.loads((d / "truth.json").read_text())["end"])
    join = pd.to_datetime(df["join_date"])
    drop = join + pd.to_timedelta(df["lifetime_days"], unit="D")
    df = df.assign(
        event=(drop <= end).astype(int),
        duration=np.minimum((drop - join).dt.days, (end - join).dt.days).astype(float),
        early_spend=0.0,
        join_year="x",
    )
    df = df[df["duration"] > 0]
    # 12 pointwise checks: a 99.9 % band keeps the chance of any false alarm near 1 %
    res = lc.fit_survival(df, by="member_type", covariates=("member_type",), alpha=0.001)
    for mtype, spec in MEMBER_TYPES.items():
        c = res.curves[res.curves["group"] == mtype]
        for t in (180, 365, 730):
            row = c[c["time"] <= t].iloc[-1]
            planted = np.exp(-t / (spec["lifetime"] * 30.4375))
            assert row["ci_low"] <= planted <= row["ci_high"], (mtype, t, row.to_dict(), planted)


def test_sleep_risk_time_split_and_auc(mall):
    _, data = mall
    with pytest.raises(ValueError, match="leakage"):
        lc.fit_sleep_risk(data, "2024-05-01", "2024-06-01")
    model = lc.fit_sleep_risk(data, "2024-03-31", "2024-09-30")
    # the model ranks the test members at least as well as its best single feature does (either
    # direction), and clearly better than chance
    test = lc.sleep_risk_frame(data, pd.Timestamp("2024-09-30"), model.horizon_days, 180)
    single = max(max(a, 1 - a) for a in (roc_auc_score(test["asleep_later"], test[c]) for c in model.columns))
    assert model.auc >= single - 0.01 and model.auc > 0.6, (model.auc, single)
    assert np.allclose(model.calibration["predicted"], model.calibration["observed"], atol=0.15)


def test_risk_features_filtered_in_the_engine_equal_the_rule_on_all_members(small_mall):
    """Members who can fall asleep are picked in the engine; same members and values as the rule
    applied to every member's features in pandas."""
    from analysis.statistics.features import compute_member_features

    data = load_dataset(small_mall)
    date = pd.Timestamp(data.as_of) - pd.Timedelta(days=90)
    everyone = compute_member_features(data, date, 365, categories=False)
    ref = everyone[lc._can_fall_asleep(everyone, 90, 180)].reset_index(drop=True)
    mine = compute_member_features(data, date, 365, categories=False, last_purchase_between=lc._could_fall_asleep(date, 90, 180))
    assert len(ref) > 20
    pd.testing.assert_frame_equal(mine, ref)


def test_log_rank_and_proportional_hazards_in_words():
    rng = np.random.default_rng(5)
    n = 3000
    group = rng.choice(["a", "b"], n)
    # group b falls asleep fast early and slowly later: the hazards cross, PH does not hold
    early = rng.exponential(np.where(group == "b", 60, 300))
    late = 200 + rng.exponential(np.where(group == "b", 2000, 300))
    duration = np.where(group == "b", np.minimum(early, late) * (early < 120) + late * (early >= 120), early)
    df = pd.DataFrame(
        {"duration": np.minimum(duration, 900), "event": duration < 900, "group": group, "early_spend": 0.0, "join_year": "x"}
    )
    res = lc.fit_survival(df, by="group", covariates=("group",))
    assert phrase_text(res.logrank_sentence()).startswith("Log-rank test across groups: chi-square")
    assert res.ph_violations() == ["group_b"] and "time-varying" in phrase_text(res.ph_note())
    one = lc.fit_survival(df.assign(group="a"), by="group", covariates=("group",))
    assert phrase_text(one.logrank_sentence()) == "One group only: there are no groups to compare, so no log-rank test."
    assert one.ph_note() is None


def test_bgnbd_at_the_boundary_is_flagged_not_identified_and_gives_no_clv():
    """Nobody ever drops out (as on Online Retail): the dropout parameters run to the edge."""
    from analysis.data.errors import NotApplicable
    from analysis.presentation.phrases import phrase_text
    from analysis.statistics import clv

    rng = np.random.default_rng(1)
    n = 3000
    T = rng.uniform(20, 52, n)
    lam = rng.gamma(2.0, 0.1, n)
    times = [np.sort(rng.uniform(0, t, rng.poisson(rate * t))) for rate, t in zip(lam, T)]
    x = np.array([max(len(ts) - 1, 0) for ts in times], float)
    tx = np.array([ts[-1] - ts[0] if len(ts) > 1 else 0.0 for ts in times])
    age = np.array([t - ts[0] if len(ts) else t for ts, t in zip(times, T)])
    model = clv.fit_bgnbd(x, tx, age)
    assert model.converged and not model.identified
    assert any(note.code == "clv.edge" and note.values["names"].startswith("a") for note in model.notes)
    assert "at the edge of the range" in phrase_text(model.notes)
    summary = pd.DataFrame({"frequency": x, "recency": tx, "T": age, "monetary_value": np.where(x > 0, 50.0, np.nan)})
    gg = clv.fit_gamma_gamma(summary["frequency"], summary["monetary_value"] * rng.uniform(0.5, 1.5, n))
    with pytest.raises(NotApplicable) as err:
        clv.compute_clv(model, gg, summary)
    assert err.value.code in ("clv.dropout_unidentified", "clv.unidentified")
    assert "not identified" in phrase_text(err.value)


def test_bgnbd_records_how_it_converged():
    from analysis.statistics import clv

    rng = np.random.default_rng(2)
    x = rng.poisson(2, 500).astype(float)
    tx = np.where(x > 0, rng.uniform(1, 30, 500), 0.0)
    T = tx + rng.uniform(1, 20, 500)
    model = clv.fit_bgnbd(x, tx, T)
    assert model.converged and model.optimizer in ("bfgs", "bfgs then nelder-mead")
    assert model.diagnostics()[0].code == "clv.fit" and "converged" in phrase_text(model.diagnostics())


def test_bgnbd_analytic_gradient_equals_the_numerical_one():
    from scipy.optimize import approx_fprime

    from analysis.statistics.clv import _BGNBDLikelihood

    rng = np.random.default_rng(7)
    x = rng.poisson(1.5, 3000).astype(float)
    T = rng.uniform(5, 80, 3000)
    tx = np.where(x > 0, rng.uniform(0, 1, 3000) * T, 0.0)
    model = _BGNBDLikelihood(x, tx, T)
    for params in ([0.5, 5.0, 0.8, 2.5], [2.0, 50.0, 2.0, 0.5], [0.3, 3.0, 1.2, 1.0]):
        p = np.log(params)
        numerical = approx_fprime(p, model.loglike, 1e-6)
        assert np.allclose(model.score(p), numerical, rtol=1e-4, atol=1e-3), params
        assert model.score_obs(p).shape == (3000, 4)


def test_cox_leaves_out_a_level_with_no_event_and_prints_nothing():
    """A tier where nobody fell asleep has no finite hazard ratio (monotone likelihood): it is left
    out and named, the fit converges, and no warning reaches the report."""

    rng = np.random.default_rng(3)
    n = 600
    tier = rng.choice(["gold", "silver", "platinum"], size=n, p=[0.45, 0.45, 0.10])
    rate = np.where(tier == "gold", 1 / 300, 1 / 500)
    t = rng.exponential(1 / rate)
    event = ((t < 400) & (tier != "platinum")).astype(int)
    tts = pd.DataFrame({"tier": tier, "duration": np.minimum(t, 400.0), "event": event, "early_spend": 0.0})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = lc.fit_survival(tts, by="tier", covariates=("tier",))
    assert res.dropped == ("tier_platinum",)
    assert res.converged
    assert list(res.hazard_ratios["covariate"]) == ["tier_silver"]
    assert 0.4 < float(res.hazard_ratios["hazard_ratio"].iloc[0]) < 0.9  # planted 300/500 = 0.6
    assert res.fit_note()[0].values["covariates"] == ("tier_platinum",)
    assert "Tier: Platinum" in phrase_text(res.fit_note())  # in words, not the model's column name


@pytest.mark.parametrize("tier", [None, "gold"])
def test_stage_flows_in_the_engine_equal_the_dense_arrays(small_mall, tier):
    """The engine-neutral path (window functions in the engine, only month x stage counts back),
    the default on a database or Spark, gives the same flows as the dense arrays of the local DuckDB."""
    data = load_dataset(small_mall)
    dense = lc.compute_stage_flows(data, tier=tier, dense=True)
    engine = lc.compute_stage_flows(data, tier=tier, dense=False)
    pd.testing.assert_frame_equal(dense.counts, engine.counts, check_freq=False)
    pd.testing.assert_frame_equal(dense.transitions, engine.transitions, check_dtype=False)
    assert {"reactivated", "sleeping"} <= set(engine.transitions["to_stage"])


# --- the proportional-hazards check: the standard test, equal to lifelines' -----------------


@pytest.mark.parametrize("transform", ["rank", "identity", "log", "km"])
def test_ph_test_equals_lifelines_proportional_hazard_test(transform):
    """Reference values from lifelines 0.30.3 (tests/data/reference/make_ph_reference.py): x2's
    effect fades with time and is flagged; x1's is constant and is not."""
    import json
    from pathlib import Path

    from statsmodels.duration.hazard_regression import PHReg

    from analysis.statistics.lifecycle.survival import ph_test

    ref_dir = Path(__file__).parent / "data" / "reference"
    df = pd.read_csv(ref_dir / "ph_data.csv")
    ref = json.loads((ref_dir / "ph_lifelines.json").read_text())
    cox = PHReg(df["duration"].to_numpy(), df[["x1", "x2"]].to_numpy(), status=df["event"].to_numpy(), ties="efron").fit()
    assert cox.params == pytest.approx([ref["params"]["x1"], ref["params"]["x2"]], rel=1e-4)
    got = ph_test(cox, df["duration"], df["event"], ["x1", "x2"], transform=transform).set_index("covariate")
    for name in ("x1", "x2"):
        assert got.loc[name, "test_statistic"] == pytest.approx(ref[transform][name]["test_statistic"], rel=1e-3)
        assert got.loc[name, "p_value"] == pytest.approx(ref[transform][name]["p_value"], rel=1e-2)
    assert got.loc["x2", "p_value"] < 0.001 < got.loc["x1", "p_value"]


def test_the_cox_fit_does_not_depend_on_the_order_rows_arrive_in(small_mall):
    """An engine returns rows in no fixed order: a sample drawn before ordering them gave three Cox
    tables on three runs of the same data. Ordered by member first, the same seed gives the same fit."""
    tts = lc.compute_time_to_sleep(load_dataset(small_mall), 180, early_days=90)
    a = lc.fit_survival(tts, by="tier", max_fit=600)
    b = lc.fit_survival(tts.sample(frac=1, random_state=1), by="tier", max_fit=600)
    pd.testing.assert_frame_equal(a.hazard_ratios, b.hazard_ratios)
    pd.testing.assert_frame_equal(a.ph_check, b.ph_check)


def test_bgnbd_says_the_dropout_is_not_identified_where_almost_nobody_drops_out():
    """A retailer where nobody drops out: the likelihood is flat in (a, b), so P(alive) would be
    whatever the optimizer's start made it; the fit says so and CLV is not shown."""
    from analysis.data.errors import NotApplicable
    from analysis.presentation.phrases import phrase_text

    rng = np.random.default_rng(8)
    n = 3_000
    lam = rng.gamma(2.0, 1 / 8.0, n)  # purchases per week, nobody drops out
    T = rng.uniform(30, 52, n)
    times = [np.sort(rng.uniform(0, t, rng.poisson(rate * t))) for rate, t in zip(lam, T)]
    x = np.array([len(v) for v in times], dtype=float)
    tx = np.array([v[-1] if len(v) else 0.0 for v in times])
    fit = clv.fit_bgnbd(x, tx, T)
    assert not fit.identified and {"a", "b"} & set(fit.unidentified()), (fit.params_, fit.bse_, fit.notes)
    summary = pd.DataFrame({"member_id": range(n), "frequency": x, "recency": tx, "T": T, "monetary_value": 50.0})
    gg = clv.fit_gamma_gamma(np.maximum(x, 1), rng.gamma(5, 10, n))
    with pytest.raises(NotApplicable) as err:
        clv.compute_clv(fit, gg, summary)
    assert err.value.code == "clv.dropout_unidentified" and err.value.values["model"] == "BG/NBD"
    assert phrase_text(err.value).startswith("the dropout parameters of BG/NBD (a, b) are not identified")


# --- the alternatives: MBG/NBD and Pareto/NBD, and the choice among them --------------------


def test_pareto_nbd_reproduces_published_cdnow_estimates():
    """Fader, Hardie & Lee (2005): Pareto/NBD on the CDNOW sample, r 0.55, alpha 10.58, s 0.61,
    beta 11.67, LL -9595.0."""
    s = pd.read_csv(CDNOW_SUMMARY)
    m = clv.fit_pareto_nbd(s["frequency"], s["recency"], s["T"])
    for name, value in {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}.items():
        assert m.params_[name] == pytest.approx(value, rel=0.01)
    assert m.log_likelihood_ == pytest.approx(-9595.0, abs=0.5) and m.identified


@pytest.mark.parametrize("name", ["MBG/NBD", "Pareto/NBD"])
def test_mbgnbd_and_pareto_nbd_equal_lifetimes(name):
    """Reference values from lifetimes 0.11.3 (tests/data/reference/make_clv_reference.py)."""
    ref = json.loads((PROJECT_DIR / "tests" / "data" / "reference" / "clv_lifetimes.json").read_text())
    s = pd.read_csv(CDNOW_SUMMARY)
    m = clv.REPEAT_MODELS[name](s["frequency"], s["recency"], s["T"])
    for k, v in ref[name]["params"].items():
        assert m.params_[k] == pytest.approx(v, rel=2e-3), k
    h = ref["histories"]
    assert m.p_alive(h["frequency"], h["recency"], h["T"]) == pytest.approx(ref[name]["p_alive"], rel=2e-3)
    assert m.expected_purchases(ref["t"], h["frequency"], h["recency"], h["T"]) == pytest.approx(
        ref[name]["expected_purchases"], rel=2e-3
    )


def test_mbgnbd_and_pareto_nbd_match_lifetimes_where_it_installs():
    lifetimes = pytest.importorskip("lifetimes")
    s = pd.read_csv(CDNOW_SUMMARY)
    for ours, theirs in ((clv.fit_mbgnbd, lifetimes.ModifiedBetaGeoFitter), (clv.fit_pareto_nbd, lifetimes.ParetoNBDFitter)):
        m = ours(s["frequency"], s["recency"], s["T"])
        t = theirs().fit(s["frequency"], s["recency"], s["T"])
        for k, v in t.params_.items():
            assert m.params_[k] == pytest.approx(v, rel=2e-3)


def test_the_repeat_model_is_chosen_among_identified_models_by_the_holdout(small_mall):
    data = load_dataset(small_mall)
    choice = clv.choose_repeat_model(data, pd.Timestamp(data.as_of) - pd.DateOffset(months=6))
    t = choice.table().set_index("model")
    assert list(t.index) == ["BG/NBD", "MBG/NBD", "Pareto/NBD"]
    best = t[t["identified"]]["holdout_mae"].idxmin()
    assert choice.chosen == best and choice.metrics()["chosen"] == best
    # the holdout error by hand for the chosen model
    cal_end = pd.Timestamp(choice.calibration_end)
    cal = clv.compute_rfm_summary(data, calibration_end=cal_end)
    m = clv.REPEAT_MODELS[best](cal["frequency"], cal["recency"], cal["T"])
    tx = pd.read_parquet(small_mall / "transactions.parquet")
    tx = tx[
        (tx["ts"] > cal_end + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1))
        & (tx["ts"] < pd.Timestamp(data.as_of) + pd.Timedelta(days=1))
    ]
    tx = tx[~tx.get("is_return", pd.Series(False, index=tx.index)).fillna(False).astype(bool)] if "is_return" in tx else tx
    actual = tx.assign(day=tx["ts"].dt.normalize()).drop_duplicates(["member_id", "day"]).groupby("member_id").size()
    horizon = (pd.Timestamp(data.as_of) - cal_end).days / 7.0
    pred = m.expected_purchases(horizon, cal["frequency"], cal["recency"], cal["T"])
    mae = np.mean(np.abs(pred - cal["member_id"].map(actual).fillna(0).to_numpy()))
    assert t.loc[best, "holdout_mae"] == pytest.approx(mae, rel=1e-2)


def test_the_repeat_models_are_compared_fitted_on_the_same_sample_and_judged_on_every_member(small_mall, monkeypatch):
    """Beyond MAX_FIT members, BG/NBD too is fitted on the seeded sample the other two are fitted on
    (10.7 s of BG/NBD starts on a million members' calibration), and every model's holdout error is
    still measured on every member; the calibration check fits the same way."""
    data = load_dataset(small_mall)
    cal_end = pd.Timestamp(data.as_of) - pd.DateOffset(months=6)
    monkeypatch.setattr(clv, "MAX_FIT", 600)
    choice = clv.choose_repeat_model(data, cal_end)
    cal, _ = clv.calibration_split(data, cal_end)
    assert len(cal) > 600 and {m.n_obs for m in choice.models.values()} == {600}
    assert set(choice.table()["members"]) == {len(cal)}
    rows = clv._sample_rows(len(cal))
    sample = cal.iloc[rows]
    by_hand = clv.fit_bgnbd(sample["frequency"], sample["recency"], sample["T"])
    np.testing.assert_allclose(choice.models["BG/NBD"].params_, by_hand.params_, rtol=1e-12)
    _table, refit = clv.calibration_holdout(data, cal_end, model="BG/NBD")
    np.testing.assert_allclose(refit.params_, by_hand.params_, rtol=1e-12)
    # the report says so, in both languages
    from analysis.presentation.context import Context
    from analysis.presentation.phrases import phrase_text

    en = phrase_text(choice.sentence())
    assert f"seeded sample of 600 of the {len(cal):,} members" in en and choice.chosen in en
    assert f"{len(cal):,} 位会员中按固定种子抽取的同一组 600 位会员" in phrase_text(choice.sentence(), Context(lang="zh"))
    monkeypatch.setattr(clv, "MAX_FIT", 20_000)  # every member fitted: the sentence names no sample
    whole = phrase_text(clv.choose_repeat_model(data, cal_end).sentence())
    assert "sample" not in whole and "predicts them best" in whole


@pytest.mark.slow  # three repeat-purchase models fitted on the small mall: 47 s, kept out of the edit loop
def test_the_calibration_check_reuses_the_model_choices_fit(small_mall, monkeypatch):
    """The lifecycle report fitted the chosen model on the calibration period twice (the choice, then
    the calibration check: 18.7 s of Pareto/NBD on the demo); the check now takes the choice's fit,
    and gives the same table as fitting again."""
    data = load_dataset(small_mall)
    cal_end = pd.Timestamp(data.as_of) - pd.DateOffset(months=6)
    choice = clv.choose_repeat_model(data, cal_end)
    name = choice.chosen or "BG/NBD"
    refit, refit_model = clv.calibration_holdout(data, cal_end, model=name)
    calls = []
    real = dict(clv.REPEAT_MODELS)
    monkeypatch.setattr(clv, "REPEAT_MODELS", {k: (lambda *a, _f=f: calls.append(1) or _f(*a)) for k, f in real.items()})
    reused, reused_model = clv.calibration_holdout(data, cal_end, model=name, choice=choice)
    assert calls == [] and reused_model is choice.models[name]
    pd.testing.assert_frame_equal(reused, refit)
    # another calibration period is fitted anew
    clv.calibration_holdout(data, cal_end - pd.DateOffset(months=1), model=name, choice=choice)
    assert calls == [1]


def test_pareto_nbd_likelihood_on_distinct_pairs_equals_the_likelihood_per_member():
    """2F1 is evaluated once per distinct (x, t_x) and (x, T): the same numbers, bit for bit, on
    both sides of alpha = beta and for heavy buyers (Euler's transformation)."""
    rng = np.random.default_rng(3)
    x = rng.integers(0, 40, 3000).astype(float)
    T = rng.integers(1, 150, 3000).astype(float)
    tx = np.where(x > 0, np.floor(rng.uniform(0, 1, 3000) * T), 0.0)
    pairs = clv._distinct_pairs(x, tx, T)
    assert len(pairs[0][0]) < len(x) and len(pairs[1][0]) < len(x)  # fewer evaluations
    for params in ((0.5, 10.0, 0.5, 12.0), (2.0, 30.0, 1.5, 4.0), (0.8, 2.0, 30.0, 3000.0)):
        log_params = np.log(params)
        assert np.array_equal(clv._pareto_loglike(log_params, x, tx, T, pairs), clv._pareto_loglike(log_params, x, tx, T))


def test_pareto_nbd_predictions_reuse_the_members_likelihood_and_equal_it_computed_anew():
    """A CLV over a horizon asks for the same members' Pareto/NBD likelihood once per month: it is
    computed once (per parameters and members) and the predictions equal those computed member by
    member, bit for bit; other members, or the same members' values changed in place, are not mixed up."""
    rng = np.random.default_rng(5)
    x = rng.integers(0, 30, 2000).astype(float)
    T = rng.integers(5, 120, 2000).astype(float)
    tx = np.where(x > 0, np.floor(rng.uniform(0, 1, 2000) * T), 0.0)
    params = pd.Series({"r": 0.6, "alpha": 9.0, "s": 0.7, "beta": 14.0})
    m = clv.ParetoNBDModel(params_=params, bse_=params * 0.1, log_likelihood_=-1.0, n_obs=len(x), result=None)
    r, alpha, s, beta = m.params_.to_numpy()
    clv._LOG_A0.clear()
    calls = []
    real = clv._pareto_log_a0
    try:
        clv._pareto_log_a0 = lambda *a, **k: calls.append(1) or real(*a, **k)
        months = [m.expected_purchases(t, x, tx, T) for t in range(1, 13)]
        alive = m.p_alive(x, tx, T)
        assert len(calls) == 2  # once at the likelihood's parameters, once at p_alive's
    finally:
        clv._pareto_log_a0 = real
    ll = clv._pareto_loglike(np.log(m.params_.to_numpy()), x, tx, T)  # no cache, member by member
    assert np.array_equal(m._loglike(x, tx, T), ll)
    log_a0 = real(r, alpha, s, beta, x, tx, T)
    expected_alive = 1.0 / (
        1.0 + np.exp(np.log(s) - np.log(r + s + x) + (r + x) * np.log(alpha + T) + s * np.log(beta + T) + log_a0)
    )
    assert np.array_equal(alive, expected_alive)
    assert all(np.all(np.isfinite(v)) for v in months) and np.all(np.diff(np.array(months), axis=0) >= 0)
    other = x[::-1].copy()
    assert np.array_equal(m._loglike(other, tx[::-1].copy(), T[::-1].copy()), ll[::-1])  # other members: computed
    x[0] += 1  # the same array changed in place: its content is the key, not its identity
    assert np.array_equal(m._loglike(x, tx, T), clv._pareto_loglike(np.log(m.params_.to_numpy()), x, tx, T))


def _pareto_members_without_dropout_heterogeneity(n: int = 4000, seed: int = 7):
    """Pareto/NBD purchases (gamma-distributed rates) with one exponential lifetime rate for every
    member: the likelihood rises toward s, beta -> infinity together (no gamma heterogeneity)."""
    rng = np.random.default_rng(seed)
    T = rng.uniform(20, 100, n).round()
    end = np.minimum(rng.exponential(1 / 0.01, n), T)
    x = rng.poisson(rng.gamma(1.5, 1 / 4.0, n) * end).astype(float)
    tx = np.array([np.floor(rng.uniform(0, e, k).max()) if k else 0.0 for k, e in zip(x.astype(int), end)])
    return x, tx, T


def _ridge_model():
    """A likelihood that rises without end along its second parameter (softplus), flat in neither: BFGS
    walks out along it, the way the Pareto/NBD's s and beta grow together without dropout heterogeneity.
    ``type(model).calls`` counts its evaluations."""
    from statsmodels.base.model import GenericLikelihoodModel

    class Ridge(GenericLikelihoodModel):
        calls = 0

        def loglike(self, params):
            type(self).calls += 1
            return -((params[0] - 0.5) ** 2) + np.logaddexp(0.0, params[1])

    return Ridge(np.zeros(3), exog=np.ones((3, 2)))


def test_a_fit_running_to_the_edge_stops_there_and_is_not_identified():
    """A BFGS path that stays beyond the edge (|log parameter| > 9) for two iterates is ended
    there, without Nelder-Mead after it: not converged (warned), not identified, at the edge; walking on
    costs hundreds of likelihoods more and ends nowhere finite."""
    model = _ridge_model()
    with pytest.warns(clv.ConvergenceWarning, match="did not converge \\(bfgs, stopped at the edge\\)"):
        res, _bse, converged, how, identified, notes = clv._best_fit(model, [np.array([1.0, 1.0])], ["a", "b"], stop_at_edge=True)
    assert how == "bfgs, stopped at the edge" and not converged and not identified
    assert notes[0].code == "clv.edge" and 9 < res.params[1] < 50 and abs(res.params[0] - 0.5) < 3
    from analysis.data.errors import NotApplicable

    stopped = type(model).calls
    walked = _ridge_model()
    with pytest.raises(NotApplicable), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clv._best_fit(walked, [np.array([1.0, 1.0])], ["a", "b"], stop_at_edge=False)
    assert stopped < 100 < 3 * stopped < type(walked).calls


def test_pareto_nbd_without_dropout_heterogeneity_is_at_the_edge_and_not_identified():
    """Members whose lifetimes share one rate: the Pareto/NBD's s and beta run off together. Wherever
    the optimizer ends (stopped at the edge, or converged out there), the fit is not identified, at the
    edge, and the purchase rates are still found."""
    x, tx, T = _pareto_members_without_dropout_heterogeneity()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = clv.fit_pareto_nbd(x, tx, T)
    assert not fit.identified and [n.code for n in fit.notes][0] == "clv.edge" and fit.params_["beta"] > np.exp(9)
    np.testing.assert_allclose(fit.params_[["r", "alpha"]], [1.5, 4.0], rtol=0.1)
    warned = any(issubclass(w.category, clv.ConvergenceWarning) for w in caught)
    assert warned == (not fit.converged)


def test_an_interior_fit_is_not_stopped_by_the_edge_rule():
    """A path that crosses the edge once and comes back is not ended: the CDNOW-like demo fit
    converges inside (and one iterate beyond the edge is tolerated)."""
    stop = clv._EdgeStop()
    stop(np.array([0.1, 9.5, 0.2, 1.0]))
    stop(np.array([0.1, 8.5, 0.2, 1.0]))  # back inside: the count starts again
    stop(np.array([0.1, 9.5, 0.2, 1.0]))
    assert not stop.stopped
    with pytest.raises(StopIteration):
        stop(np.array([0.1, 9.6, 0.2, -1.0]))
    assert stop.stopped


def test_gamma_gamma_analytic_gradient_equals_the_numerical_one():
    """The Gamma-Gamma fit's gradient (digamma terms per distinct frequency) is the likelihood's: a
    central difference agrees to 1e-7 at several points, far from and near the optimum."""
    from statsmodels.tools.numdiff import approx_fprime

    rng = np.random.default_rng(1)
    x = rng.integers(1, 30, 4000).astype(float)
    m = rng.gamma(3.0, 40.0, 4000)
    model = clv._GammaGammaLikelihood(x, m)
    for point in ((2.0, 3.0, 50.0), (0.5, 8.0, 300.0), (6.0, 1.5, 10.0)):
        params = np.log(point)
        numerical = approx_fprime(params, model.loglike, centered=True)
        np.testing.assert_allclose(model.score(params), numerical, rtol=1e-7, atol=1e-4)
    fit = clv.fit_gamma_gamma(x, m)
    assert fit.converged and np.abs(model.score(np.log(fit.params_.to_numpy()))).max() < 1e-2


def test_gamma_gamma_reproduces_published_cdnow_estimates():
    """Gamma-Gamma on the CDNOW sample's 946 members with a repeat purchase in the 39-week calibration
    (their mean repeat-purchase value, purchases of one day summed): p = 6.25, q = 3.74, v = 15.44
    (Fader & Hardie, "The Gamma-Gamma model of monetary value", 2013, and the lifetimes documentation)."""
    t = pd.read_csv(
        CDNOW_SUMMARY.parent / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["customer", "id", "date", "cds", "amount"],
        dtype={"date": str},
    )
    t["date"] = pd.to_datetime(t["date"])
    day = t[t["date"] <= "1997-09-30"].groupby(["id", "date"], as_index=False)["amount"].sum()
    repeat = day[day["date"] > day.groupby("id")["date"].transform("min")]
    g = repeat.groupby("id")["amount"].agg(["size", "mean"])
    assert len(g) == 946
    fit = clv.fit_gamma_gamma(g["size"], g["mean"])
    assert fit.converged and fit.identified
    for name, value in {"p": 6.25, "q": 3.74, "v": 15.44}.items():
        assert fit.params_[name] == pytest.approx(value, abs=0.01)
