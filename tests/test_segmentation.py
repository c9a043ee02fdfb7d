"""Segmentation: hand-computed RFM, invariants, planted types, CDNOW end to end."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from analysis.application.runner import run_reports
from analysis.data.config import PROJECT_DIR
from analysis.data.dataset import load_dataset
from analysis.statistics import segmentation as seg
from analysis.statistics.cdnow import convert_cdnow
from analysis.statistics.features import compute_member_features
from analysis.statistics.synthetic import generate_mall

CDNOW = PROJECT_DIR / "tests" / "data" / "cdnow" / "CDNOW_sample.txt"


def test_score_quantiles_by_hand():
    values = pd.Series([0, 0, 0, 0, 5, 6, 7, 8, 9, 10])
    # share strictly below: 0 -> 0; 5 -> .4; 6 -> .5; 7 -> .6; 8 -> .7; 9 -> .8; 10 -> .9
    assert seg.score_quantiles(values).tolist() == [1, 1, 1, 1, 3, 3, 4, 4, 5, 5]
    # lower is better (recency): 10 days is the worst
    assert seg.score_quantiles(pd.Series([10, 1, 5, 5]), higher_is_better=False).tolist() == [1, 4, 2, 2]
    shuffled = values.sample(frac=1, random_state=1)
    assert seg.score_quantiles(shuffled).sort_index().tolist() == seg.score_quantiles(values).tolist()


def test_rfm_on_tiny_fixture(tiny_dir):
    data = load_dataset(tiny_dir, as_of="2023-12-31")
    f = compute_member_features(data, "2023-12-31", window_days=365).set_index("member_id")
    # A1: purchases 2023-02-01 (120.5) and 2023-05-01 (80); A2: 2023-03-03 (35); A3: 2023-04-04 (0)
    assert f.loc["A1", "frequency"] == 2 and f.loc["A1", "monetary"] == pytest.approx(200.5)
    assert f.loc["A1", "recency_days"] == (pd.Timestamp("2023-12-31") - pd.Timestamp("2023-05-01")).days
    assert f.loc["A1", "avg_ticket"] == pytest.approx(100.25)
    assert f.loc["A1", "visit_days_without_purchase"] == 1  # parked on 2023-06-01, no purchase that day
    r = seg.compute_rfm_scores(f.reset_index()).set_index("member_id")
    # recency: A1 244 d, A3 271 d, A2 303 d -> R 4, 2, 1 (strictly worse shares 2/3, 1/3, 0)
    assert r["r_score"].to_dict() == {"A1": 4, "A2": 1, "A3": 2}
    assert r["f_score"].to_dict() == {"A1": 4, "A2": 1, "A3": 1}
    assert r["m_score"].to_dict() == {"A1": 4, "A2": 2, "A3": 1}
    assert r["segment"].astype(str).to_dict() == {"A1": "Loyal", "A2": "Lost", "A3": "Hibernating"}


def test_features_without_visits_are_the_same_features_without_that_column(tiny_dir):
    """``visits=False`` (RFM scores, spend rules) leaves out the one column that reads the visits,
    every other column equal."""
    data = load_dataset(tiny_dir, as_of="2023-12-31")
    full = compute_member_features.uncached(data, "2023-12-31", window_days=365, categories=False)
    lean = compute_member_features.uncached(data, "2023-12-31", window_days=365, categories=False, visits=False)
    assert "visit_days_without_purchase" not in lean.columns and full["visit_days_without_purchase"].sum() > 0
    pd.testing.assert_frame_equal(full.drop(columns=["visit_days_without_purchase"]), lean)


def test_every_rf_pair_has_exactly_one_segment():
    r, f = np.meshgrid(range(1, 6), range(1, 6))
    segs = seg.assign_rfm_segments(pd.Series(r.ravel()), pd.Series(f.ravel()))
    assert pd.Series(segs).notna().all() and set(segs) == set(seg.SEGMENTS) - {seg.NO_PURCHASE}


def test_lorenz_and_gini_by_hand():
    assert seg.gini(pd.Series([1, 1, 1, 1])) == pytest.approx(0.0)
    assert seg.gini(pd.Series([0, 0, 0, 10])) == pytest.approx(0.75)
    lz = seg.compute_lorenz(pd.Series([0, 0, 0, 10]))
    assert lz["spend_share"].tolist() == [0, 0, 0, 0, 1]
    assert seg.top_shares(pd.Series([1] * 99 + [901]), tops=(0.01,))["spend_share"].iloc[0] == pytest.approx(0.901)


def test_tier_rules_by_hand():
    f = pd.DataFrame({"member_id": ["a", "b", "c"], "tier": ["gold", "normal", "silver"], "monetary": [1000.0, 2000.0, 1500.0]})
    rules = seg.evaluate_tier_rules(
        f, ("normal", "silver", "gold"), {"silver": 3000, "gold": 8000}, window_days=365, elapsed_days=73
    )
    r = rules.set_index("member_id")
    # a fifth of the year gone: paces 5,000 / 10,000 / 7,500
    assert r["qualifies_for"].to_dict() == {"a": "silver", "b": "gold", "c": "silver"}
    assert r.loc["a", "downgrade_warning"] and r.loc["a", "shortfall"] == pytest.approx(3000)
    assert r.loc["b", "upgrade_candidate"] and not r.loc["c", "upgrade_candidate"] and not r.loc["c", "downgrade_warning"]
    with pytest.raises(ValueError, match="unknown tiers"):
        seg.evaluate_tier_rules(f, ("normal", "gold"), {"diamond": 1})


@pytest.fixture(scope="module")
def mall(tmp_path_factory):
    d = generate_mall(tmp_path_factory.mktemp("seg") / "mall", n_members=20_000, seed=9)
    data = load_dataset(d)
    return d, data, compute_member_features(data, window_days=730)


def test_invariants_and_migration_rows(mall):
    _, data, f = mall
    r = seg.compute_rfm_scores(f)
    bought = r["frequency"] > 0
    assert r.loc[bought, ["r_score", "f_score", "m_score"]].isin(range(1, 6)).all().all()
    assert r.loc[~bought, ["r_score", "f_score", "m_score"]].isna().all().all()  # no purchase: no score
    assert r["segment"].notna().all() and len(r) == len(f)
    # scored among buyers, every low-R segment holds buyers (ranking non-buyers in emptied them)
    counts = r["segment"].value_counts()
    assert all(counts[s] > 0 for s in ("Lost", "Hibernating", "At risk", "Champions"))
    assert (r.loc[r["segment"] == "Lost", "frequency"] > 0).all()
    earlier = seg.compute_rfm_scores(compute_member_features(data, "2024-09-30", 730))
    mig = seg.compute_migration(earlier, r, "2024-09-30", "2024-12-31")
    rows = mig.shares.dropna(how="all")
    assert np.allclose(rows.sum(axis=1), 1.0)
    assert mig.counts.to_numpy().sum() == len(earlier)


def test_planted_member_types_are_recovered(mall):
    d, _, f = mall
    # stability is a mean over bootstrap refits: ten of them (two gave 0.53 and 0.99 on this mall,
    # a mean that says more about the draw than about the clusters)
    clusters = seg.fit_clusters(f, k=4, n_boot=10)
    truth = pd.read_parquet(d / "truth_members.parquet").set_index("member_id")["member_type"]
    ari = adjusted_rand_score(truth.reindex(clusters.members["member_id"]).to_numpy(), clusters.labels.to_numpy())
    assert ari >= 0.8
    assert clusters.mean_stability > 0.8


def test_tier_shares_match_truth(mall):
    d, data, f = mall
    truth = json.loads((d / "truth.json").read_text())["tiers"]["shares"]
    table = seg.compute_tier_summary(f, data.tiers).set_index("tier")
    for tier, share in truth.items():
        assert table.loc[tier, "member_share"] == pytest.approx(share, abs=1e-9)


def test_cdnow_features_match_independent_pandas(tmp_path):
    d = convert_cdnow(CDNOW, tmp_path / "cdnow")
    data = load_dataset(d, as_of="1998-06-30")
    ours = compute_member_features(data, "1998-06-30", window_days=365).set_index("member_id").sort_index()
    raw = pd.read_csv(CDNOW, sep=r"\s+", header=None, names=["cust", "sample", "date", "cds", "amount"], dtype={"cust": str})
    raw["member_id"] = "C" + raw["cust"].str.zfill(5)
    raw["ts"] = pd.to_datetime(raw["date"].astype(str), format="%Y%m%d")
    end = pd.Timestamp("1998-06-30")
    window = raw[raw["ts"] > end - pd.Timedelta(days=365)]
    ref = (
        pd.DataFrame(
            {
                "frequency": window.groupby("member_id").size(),
                "monetary": window.groupby("member_id")["amount"].sum(),
            }
        )
        .reindex(ours.index)
        .fillna(0)
    )
    ref["recency_days"] = (end - raw.groupby("member_id")["ts"].max()).dt.days
    assert len(ours) == 2357
    assert (ours["frequency"] == ref["frequency"]).all()
    assert np.allclose(ours["monetary"], ref["monetary"])
    assert (ours["recency_days"] == ref["recency_days"]).all()


@pytest.mark.slow
def test_cdnow_runs_through_the_segmentation_and_lifecycle_notebooks(tmp_path):
    # real data with one tier, no visits, no birth years, no campaigns
    d = convert_cdnow(CDNOW, tmp_path / "cdnow")
    res = run_reports(
        d,
        as_of="1998-06-30",
        out_dir=tmp_path / "r",
        only=["01_data_overview", "04_segmentation", "05_lifecycle"],
        params={"window_days": "365", "n_clusters": "3"},
        log=lambda *_: None,
    )
    assert res.ok, [n.error for n in res.notebooks]
    metrics = json.loads((res.out_dir / "04_segmentation.metrics.json").read_text())
    assert metrics["members"] == 2357 and metrics["n_clusters"] == 3
    assert not (res.out_dir / "member_segments.parquet").exists()  # raw ids stay out of the report site
    segments = pd.read_parquet(tmp_path / "exports" / res.label / "member_segments.parquet")
    assert len(segments) == 2357 and segments["segment"].notna().all()
    life = json.loads((res.out_dir / "05_lifecycle.metrics.json").read_text())
    assert life["logrank_p"] is None  # one tier: nothing to compare, not a crash
    assert 0.5 < life["sleep_risk_auc"] <= 1.0
    assert 0 < life["mean_p_alive"] < 1


def test_members_without_a_purchase_get_no_rfm_segment_and_ties_are_shown():
    f = pd.DataFrame(
        {
            "member_id": [f"m{i}" for i in range(10)],
            "recency_days": [5, 9, 20, 40, 60, 300, 400, 500, 700, 800],
            "frequency": [3, 1, 1, 1, 1, 1, 1, 0, 0, 0],
            "monetary": [90, 10, 10, 12, 15, 20, 8, 0, 0, 0],
        }
    )
    r = seg.compute_rfm_scores(f).set_index("member_id")
    assert (r.loc[["m7", "m8", "m9"], "segment"] == seg.NO_PURCHASE).all()
    assert (r.loc[[f"m{i}" for i in range(7)], "segment"] != seg.NO_PURCHASE).all()
    assert r.loc[["m7", "m8", "m9"], ["r_score", "f_score", "m_score"]].isna().all().all()
    # scored among the 7 buyers: R 300 d and 400 d are the two worst -> R1; the 5-day buyer -> R5
    assert r.loc[["m5", "m6", "m0"], "r_score"].tolist() == [1, 1, 5]
    assert r.loc[["m5", "m6"], "segment"].astype(str).tolist() == ["Lost", "Lost"]
    dist = seg.score_distribution(r.reset_index()).set_index("score")
    # F among buyers: the block of six ones all score 1 (rank 1); the three: 1 + floor(5 * 6 / 7) = 5
    assert dist.loc[["F1", "F2", "F3", "F4", "F5"], "members"].tolist() == [6, 0, 0, 0, 1]
    assert dist.loc["F1", "values"] == "1" and dist.loc["F3", "values"] == "–"
    assert dist["members"].groupby(dist.index.str[0]).sum().tolist() == [7, 7, 7]


def test_score_table_puts_the_value_ranges_side_by_side():
    f = pd.DataFrame(
        {
            "member_id": list("abcde"),
            "recency_days": [1, 2, 3, 4, 5],
            "frequency": [1, 1, 1, 2, 3],
            "monetary": [10.0, 20.0, 30.0, 40.0, 50.0],
        }
    )
    table = seg.score_table(seg.score_distribution(seg.compute_rfm_scores(f)))
    assert list(table.columns) == ["R", "F", "M"] and list(table.index) == ["1", "2", "3", "4", "5"]
    assert table.loc["1", "F"] == "1" and table.loc["2", "F"] == "–" and table.loc["5", "M"] == "50"


def test_rfm_inputs_alone_give_the_scores_and_segments_of_the_member_features(small_mall):
    """The RFM segment at a campaign's start, the segment migration and the tier rules read only the
    window's purchase days (:func:`compute_rfm_inputs`): the same members, tiers, purchases, spend,
    scores and segments as from every feature, on dates early, inside and at the end of the data,
    and for a short window (the year to date of the tier rules)."""
    from analysis.statistics.features import compute_rfm_inputs

    data = load_dataset(small_mall)
    end = pd.Timestamp(data.as_of)
    for as_of, window in ((end, 365), (end - pd.Timedelta(days=400), 365), (end - pd.Timedelta(days=900), 365), (end, 30)):
        features = compute_member_features(data, as_of=as_of, window_days=window, categories=False, visits=False)
        inputs = compute_rfm_inputs(data, as_of=as_of, window_days=window)
        # what the tier rules read: every member's tier, purchases and spend in the window
        pd.testing.assert_frame_equal(
            inputs[["member_id", "tier", "frequency", "monetary"]], features[["member_id", "tier", "frequency", "monetary"]]
        )
        full, light = seg.compute_rfm_scores(features), seg.compute_rfm_scores(inputs)
        assert list(light["member_id"]) == list(full["member_id"]) and len(full) > 100
        cols = ["r_score", "f_score", "m_score", "rfm_cell", "segment"]
        pd.testing.assert_frame_equal(light[cols], full[cols])
        bought = full["frequency"] > 0
        assert 0 < bought.sum() < len(full)
        for col in ("recency_days", "frequency", "monetary"):
            np.testing.assert_array_equal(light.loc[bought, col].to_numpy(float), full.loc[bought, col].to_numpy(float))
        assert light.loc[~bought, "recency_days"].isna().all()
