"""The campaign loop's plan: sample-ratio check, blocked randomization, balance, power, the
pre-registration record and the `mallwake plan` command."""

import hashlib
import json
import stat

import numpy as np
import pandas as pd
import pytest
from sitescan import tables
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

from analysis.application import cli
from analysis.data.dataset import load_dataset
from analysis.presentation.phrases import phrase_text
from analysis.statistics.plan import (
    SMD_LIMIT,
    allocation_power,
    assign_arms,
    balance_table,
    check_against_plan,
    contacts_csv,
    list_size_needed,
    make_plan,
    read_plan,
    srm_test,
)

PLAN = """campaign_id: W4-NEXT
start_date: 2024-12-20
tier: gold
strata: [tier, recency_band]
min_detectable_lift: 0.05
seed: 7
arms:
  holdout: {share: 0.2, control: true}
  call_wechat_ent: {share: 0.4, channel: call_wechat, gift: entertainment, contact_cost: 0.04, gift_cost: 25}
  sms_daily: {share: 0.4, channel: sms, gift: daily, contact_cost: 0.30}
"""


def test_srm_flags_a_52_48_split_on_20000_members_and_passes_a_fair_one():
    skewed = srm_test({"a": 10_400, "b": 9_600}, {"a": 0.5, "b": 0.5})
    assert skewed.chi2 == pytest.approx(32.0)  # (400^2 / 10,000) * 2, by hand
    assert skewed.flagged and skewed.p_value < 1e-6 and "mismatch" in phrase_text(skewed.sentence())
    assert "p < 0.001" in phrase_text(skewed.sentence())
    fair = srm_test({"a": 10_000, "b": 10_000}, {"a": 0.5, "b": 0.5})
    assert not fair.flagged and fair.p_value == pytest.approx(1.0)
    assert fair.sentence().code == "plan.srm_ok" and "p = 1.000" in phrase_text(fair.sentence())
    assert not srm_test({"a": 10_050, "b": 9_950}, {"a": 0.5, "b": 0.5}).flagged  # p = 0.48
    # a fair split by a random draw is flagged about once in a thousand: 200 draws, none or one or two
    rng = np.random.default_rng(3)
    flags = sum(
        srm_test({"a": int(k), "b": 20_000 - int(k)}, {"a": 0.5, "b": 0.5}).flagged for k in rng.binomial(20_000, 0.5, 200)
    )
    assert flags <= 2


def test_srm_with_one_arm_or_no_members_says_there_is_nothing_to_test_not_p_nan():
    one = srm_test({"call": 500}, {"call": 1.0})
    assert not one.testable and not one.flagged and np.isnan(one.p_value)
    assert one.sentence().code == "plan.srm_one_arm"
    assert "nan" not in phrase_text(one.sentence()) and "one arm" in phrase_text(one.sentence())
    empty = srm_test({}, {"a": 0.5, "b": 0.5})
    assert not empty.testable and empty.sentence().code == "plan.srm_no_members"
    assert "nan" not in phrase_text(empty.sentence()).lower()


def _members(n=2_000, seed=1):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "member_id": [f"M{i:05d}" for i in range(n)],
            "tier": rng.choice(["gold", "silver"], n),
            "band": rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2]),
            "spend": rng.gamma(2, 500, n),
        }
    )


def test_assignment_is_blocked_within_strata_and_reproducible():
    members = _members()
    shares = {"holdout": 0.2, "x": 0.4, "y": 0.4}
    a = assign_arms(members, shares, ["tier", "band"], seed=11)
    for _, block in a.groupby("stratum"):
        counts = block["arm"].value_counts()
        for arm, share in shares.items():
            assert abs(counts.get(arm, 0) - share * len(block)) < 1  # as close to the allocation as integers allow
    again = assign_arms(members.sample(frac=1, random_state=5), shares, ["tier", "band"], seed=11)  # rows in another order
    pd.testing.assert_frame_equal(a, again)
    other = assign_arms(members, shares, ["tier", "band"], seed=12)
    assert (other["arm"] != a["arm"]).mean() > 0.3
    assert set(a["member_id"]) == set(members["member_id"]) and a["member_id"].is_unique


def test_balance_table_by_hand():
    frame = pd.DataFrame({"arm": ["t", "t", "c", "c"], "x": [1.0, 3.0, 0.0, 2.0], "g": ["m", "f", "m", "m"]})
    b = balance_table(frame, ["x", "g"], "c").set_index("covariate")
    # x: means 2 and 1, variances 2 and 2 -> smd (2 - 1) / sqrt(2) = 0.7071
    assert b.loc["x", "smd"] == pytest.approx(1 / np.sqrt(2))
    # g = m: shares 0.5 and 1.0, variances 0.5 and 0 -> (0.5 - 1) / sqrt(0.25) = -1
    assert b.loc["g = m", "smd"] == pytest.approx(-1.0)
    assert not b.loc["x", "balanced"] and abs(b.loc["x", "smd"]) > SMD_LIMIT


def test_power_of_an_allocation_agrees_with_statsmodels_and_the_list_size_is_the_smallest():
    shares = {"holdout": 0.25, "x": 0.75}
    p = allocation_power(0.05, 0.02, 4_000, shares, "holdout").iloc[0]
    h = abs(proportion_effectsize(0.07, 0.05))
    assert p["power"] == pytest.approx(NormalIndPower().power(h, nobs1=3_000, alpha=0.05, ratio=1_000 / 3_000))
    n = list_size_needed(0.05, 0.02, shares, "holdout", power=0.8)
    assert allocation_power(0.05, 0.02, n, shares, "holdout")["power"].min() >= 0.8
    assert allocation_power(0.05, 0.02, n - 1, shares, "holdout")["power"].min() < 0.8


@pytest.fixture(scope="module")
def planned(small_mall, tmp_path_factory):
    folder = tmp_path_factory.mktemp("plan")
    (folder / "plan.yaml").write_text(PLAN, encoding="utf-8")
    data = load_dataset(small_mall)
    return folder, data, read_plan(folder / "plan.yaml")


def test_a_plan_from_the_refined_list_is_balanced_and_reproducible(planned):
    _, data, spec = planned
    plan = make_plan(data, spec)
    again = make_plan(data, spec)
    assert contacts_csv(plan.contacts) == contacts_csv(again.contacts)  # byte-identical
    assert list(plan.contacts.columns) == ["campaign_id", "member_id", "arm", "channel", "gift", "contact_cost", "gift_cost"]
    assert plan.contacts.loc[plan.contacts["arm"] == "sms_daily", "gift_cost"].isna().all()  # unknown cost stays unknown
    assert plan.record["assignment_sha256"] == hashlib.sha256(contacts_csv(plan.contacts)).hexdigest()
    assert plan.record["members"] == len(plan.contacts) == plan.record["list"]["refined"]
    assert not check_against_plan(plan.record, plan.contacts).flagged
    # the balance table covers every treated arm and covariate; the strata are balanced by construction
    assert set(plan.balance["arm"]) == {"call_wechat_ent", "sms_daily"}
    assert {"recency_days", "frequency", "monetary"} <= set(plan.balance["covariate"])
    for _, block in plan.assignment.groupby("stratum"):
        counts = block["arm"].value_counts()
        assert all(abs(counts.get(a, 0) - s * len(block)) < 1 for a, s in spec.shares.items())


def test_the_plan_command_writes_the_contact_file_and_the_record(planned, small_mall, capsys):
    folder, _, _ = planned
    rc = cli.main(["plan", str(folder / "plan.yaml"), "--data", str(small_mall), "--exports", str(folder / "exports")])
    assert rc == 0, capsys.readouterr().err
    out = folder / "exports" / "plans" / "W4-NEXT"
    record = json.loads((out / "preregistration.json").read_text())
    assert record["assignment_sha256"] == hashlib.sha256((out / "contacts.csv").read_bytes()).hexdigest()
    assert stat.S_IMODE((out / "contacts.csv").stat().st_mode) == 0o600  # raw member ids: owner only
    for key in ("primary_outcome", "response_days", "alpha", "min_detectable_lift", "allocation", "analysis_method"):
        assert key in record
    contacts = pd.read_csv(out / "contacts.csv")
    assert not check_against_plan(record, contacts).flagged
    # on a list of 20,000 with the same allocation, an arm that lost a tenth of its members afterwards
    # is caught by the sample-ratio test
    big = assign_arms(_members(20_000), record["allocation"], ["tier"], seed=1).assign(campaign_id="W4-NEXT")
    assert not check_against_plan(record, big).flagged
    tampered = big.drop(big[big["arm"] == "sms_daily"].index[::10])
    assert check_against_plan(record, tampered).flagged


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "campaign_id: X\nstart_date: 2024-12-20\narms: {a: {share: 0.5}, b: {share: 0.5}}",
            "exactly one arm must be the control",
        ),
        ("campaign_id: X\nstart_date: 2024-12-20\narms: {a: {share: 0.5, control: true}, b: {share: 0.4}}", "add up to 0.9"),
        ("campaign_id: X\nstart_date: 2024-13-40\narms: {a: {share: 0.5, control: true}, b: {share: 0.5}}", "not a date"),
        (
            "campaign_id: X\nstart_date: 2024-12-20\narms: {a: {share: 0.5, control: true}, b: {share: 0.5, gift_cost: -1}}",
            "arms.b.gift_cost': input should be greater than or equal to 0",
        ),
    ],
)
def test_a_wrong_plan_file_is_refused_with_its_name_and_exit_2(text, message, tmp_path, small_mall, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    assert cli.main(["plan", str(path), "--data", str(small_mall), "--exports", str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and message in err and "no plan written" in err
    assert not (tmp_path / "e").exists()


@pytest.mark.slow
def test_the_campaign_report_checks_each_wave_against_its_plan(small_mall, tmp_path):
    import shutil

    from analysis.application.runner import run_reports

    data = tmp_path / "mall"
    shutil.copytree(small_mall, data)
    # W1-BEFORE keeps the record the generator wrote; W2-AFTER gets a plan it did not follow; W3 none
    (data / "preregistrations" / "W3-FACTORIAL.json").unlink()
    (data / "preregistrations" / "W2-AFTER.json").write_text(  # a plan the wave did not follow
        json.dumps({"campaign_id": "W2-AFTER", "allocation": {"holdout": 0.5, "call_wechat_ent": 0.5}})
    )
    res = run_reports(data, out_dir=tmp_path / "r", only=["03_campaign_effects"], log=lambda *_: None)
    assert res.ok, [n.error for n in res.notebooks]
    page = (res.out_dir / "03_campaign_effects.html").read_text(encoding="utf-8")
    [check] = [t for t in tables(page) if any(text == "Plan" for _, text in t[0])]
    rows = {r[0][1]: " | ".join(text for _, text in r) for r in check[1:]}
    assert "pre-registration" in rows["W1-BEFORE"] and "as planned" in rows["W1-BEFORE"]
    assert "pre-registration" in rows["W2-AFTER"] and "MISMATCH" in rows["W2-AFTER"]
    assert "no plan recorded" in rows["W3-FACTORIAL"] and "No plan was recorded for W3-FACTORIAL" in page


def test_a_campaign_id_from_the_data_never_becomes_a_path(tmp_path):
    from analysis.statistics.plan import assignment_checks

    outside = tmp_path / "secret.json"
    outside.write_text(json.dumps({"allocation": {"a": 0.5, "b": 0.5}}))
    (tmp_path / "data" / "preregistrations").mkdir(parents=True)
    outcomes = pd.DataFrame({"campaign_id": "../../secret", "arm": ["a", "b"] * 50})
    checks = assignment_checks(tmp_path / "data", outcomes)
    assert checks.loc[0, "plan"] == "no plan recorded"


def test_the_demo_waves_carry_their_plans_written_by_the_plan_code(small_mall):
    """Every generated wave has a pre-registration record from :func:`preregistration_record`: the
    allocation its arms follow (no sample-ratio mismatch), blocked strata, and the SHA-256 of the
    planned contact file, which the wave's contacts reproduce."""
    import hashlib

    from analysis.statistics.plan import CONTACT_COLUMNS, check_against_plan, contacts_csv, read_preregistration

    contacts = pd.read_csv(small_mall / "contacts.csv", dtype={"member_id": str})
    records = sorted((small_mall / "preregistrations").glob("*.json"))
    assert [p.stem for p in records] == sorted(contacts["campaign_id"].unique())
    for path in records:
        record = read_preregistration(path)
        assert record["strata"] == ["tier", "recency_band"] and record["primary_outcome"] == "return_rate"
        assert not check_against_plan(record, contacts).flagged
        mine = contacts[contacts["campaign_id"] == record["campaign_id"]].sort_values("member_id", kind="stable")
        arms = record["arms"]
        planned = mine.assign(
            contact_cost=mine["arm"].map({a: v["contact_cost"] for a, v in arms.items()}),
            gift_cost=mine["arm"].map({a: v["gift_cost"] for a, v in arms.items()}),
        )[list(CONTACT_COLUMNS)]
        assert hashlib.sha256(contacts_csv(planned.reset_index(drop=True))).hexdigest() == record["assignment_sha256"]


def test_a_wave_with_arms_its_plan_never_had_is_a_deviation_not_a_crash(tmp_path):
    from analysis.statistics.plan import assignment_checks

    folder = tmp_path / "data" / "preregistrations"
    folder.mkdir(parents=True)
    (folder / "C1.json").write_text(json.dumps({"campaign_id": "C1", "allocation": {"holdout": 0.5, "sms": 0.5}}))
    outcomes = pd.DataFrame({"campaign_id": "C1", "arm": ["holdout", "sms", "sms_renamed"] * 40})
    checks = assignment_checks(tmp_path / "data", outcomes)
    assert checks.loc[0, "verdict"] == "arms not in the plan" and checks.loc[0, "plan"] == "pre-registration"


def test_the_primary_outcome_is_judged_as_planned_and_deviations_are_stated(small_mall, tmp_path):
    import shutil

    from analysis.data.dataset import load_dataset
    from analysis.statistics import campaigns as cp
    from analysis.statistics.plan import judge_against_plans

    data = load_dataset(small_mall)
    outcomes, waves = cp.compute_campaign_outcomes(data), data.campaigns.to_pandas()
    primary, deviations = judge_against_plans(small_mall, outcomes, waves)
    treated = outcomes.loc[outcomes["arm"] != "holdout", ["campaign_id", "arm"]].drop_duplicates()
    assert len(primary) == len(treated) and deviations == []
    effects = cp.estimate_arm_effects(outcomes, "holdout", 0.05).table("return_rate")
    assert np.allclose(
        primary.sort_values(["campaign_id", "arm"])["estimate"], effects.sort_values(["campaign_id", "arm"])["estimate"]
    )
    # a record the wave did not follow: another window, start, size and alpha
    d = shutil.copytree(small_mall, tmp_path / "mall")
    path = d / "preregistrations" / "W2-AFTER.json"
    record = json.loads(path.read_text())
    path.write_text(
        json.dumps(record | {"response_days": 14, "start_date": "2024-09-01", "members": record["members"] + 5, "alpha": 0.01})
    )
    primary, deviations = judge_against_plans(d, outcomes, waves)
    assert {d.code for d in deviations} == {"plan.window", "plan.start", "plan.members"}
    text = " ".join(map(phrase_text, deviations))
    assert "planned 14" in text and "planned for 2024-09-01" in text and "in the plan" in text and len(deviations) == 3
    assert set(primary.loc[primary["campaign_id"] == "W2-AFTER", "alpha"]) == {0.01}


def test_a_plan_from_the_campaign_reports_chosen_list_splits_every_recommendation_across_the_arms(planned):
    """`chosen_list:` (the report's next_wave_list.csv, relative to the plan file) replaces the
    refined sleeping list; the recommended arm is a stratum, so each recommendation is split as the
    allocation says and the wave can judge the recommendations too."""
    from analysis.data.params import ParameterError

    folder, data, _ = planned
    members = data.members.select("member_id", "join_date").to_pandas()
    ids = members.loc[members["join_date"] < pd.Timestamp("2024-12-01"), "member_id"].sort_values().iloc[:400].to_numpy()
    chosen = pd.DataFrame(
        {"member_id": ids, "rank": range(1, 401), "arm": np.where(np.arange(400) % 3 == 0, "sms_daily", "call_wechat_ent")}
    )
    chosen.to_csv(folder / "next_wave_list.csv", index=False)
    (folder / "chosen.yaml").write_text(PLAN + "chosen_list: next_wave_list.csv\n", encoding="utf-8")
    spec = read_plan(folder / "chosen.yaml")
    plan = make_plan(data, spec)
    assert sorted(plan.contacts["member_id"]) == sorted(ids)
    assert "recommended_arm" in plan.record["strata"] and plan.record["list"]["rule"] == "chosen list"
    got = plan.assignment.merge(chosen, on="member_id")
    for _, block in got.groupby("stratum"):
        held = (block["arm_x"] == "holdout").sum()
        assert abs(held - 0.2 * len(block)) < 1, "blocked: every stratum split as planned"
    assert contacts_csv(make_plan(data, spec).contacts) == contacts_csv(plan.contacts)
    chosen.assign(member_id=chosen["member_id"].where(chosen.index != 5, "NOT-A-MEMBER")).to_csv(
        folder / "next_wave_list.csv", index=False
    )
    with pytest.raises(
        ParameterError,
        match=r"next_wave_list.csv: column 'member_id' must name members of the data who had joined by 2024-12-19.*rows 7",
    ):
        make_plan(data, spec)
