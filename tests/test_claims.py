"""The study's claims page: the verdict rule, the members needed, and verdicts that agree with the
effects planted in the synthetic mall (and stay undecided where the design is too small)."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from analysis.data.dataset import load_dataset
from analysis.presentation.claims_text import claim_sentence
from analysis.presentation.phrases import phrases_text
from analysis.statistics import campaigns, claims
from analysis.statistics.sleeping import build_sleeping_list
from analysis.statistics.synthetic import generate_mall


def test_verdict_rule_by_hand():
    assert claims.verdict(0.01, 0.05, +1) == claims.SUPPORTED
    assert claims.verdict(-0.05, -0.01, +1) == claims.CONTRADICTED
    assert claims.verdict(-0.01, 0.05, +1) == claims.UNDECIDED
    # "lower cost": the claimed direction is negative
    assert claims.verdict(-7.8, -1.8, -1) == claims.SUPPORTED and claims.verdict(1.5, 7.5, -1) == claims.CONTRADICTED
    assert claims.verdict(float("nan"), 1.0) == claims.UNDECIDED


def test_members_needed_by_hand():
    # two arms at 10 % and 15 %: variance per member 0.09 + 0.1275; (1.95996 + 0.84162)^2 = 7.8489
    n = claims.members_needed(0.09 + 0.1275, 0.05)
    assert n == math.ceil(7.848879734349088 * 0.2175 / 0.0025)
    assert claims.members_needed(0.2, 0.0) is None


def _four_claims(d, **roles):
    data = load_dataset(d)
    out = campaigns.compute_campaign_outcomes(data)
    sl = build_sleeping_list(data, "2024-03-10", tier="gold")
    roles = {"factorial_campaign": "W3-FACTORIAL"} | roles
    return [
        claims.claim_sleeping_list(sl, out, "W1-BEFORE"),
        claims.claim_gift(out, roles["factorial_campaign"]),
        claims.claim_channel(out, roles["factorial_campaign"], n_boot=400),
        claims.claim_before_after(out, "W1-BEFORE", "W2-AFTER", "sms_daily", "call_wechat_ent"),
    ]


@pytest.fixture(scope="module")
def demo_size(tmp_path_factory):
    """The demo at its default size and seed (the page's promise is about this design)."""
    return generate_mall(tmp_path_factory.mktemp("claims") / "full")


@pytest.mark.slow
def test_every_verdict_on_the_demo_agrees_with_the_planted_effects(demo_size):
    truth = json.loads((demo_size / "truth.json").read_text())
    found = _four_claims(demo_size)
    planted = {
        1: truth["campaigns"]["W1-BEFORE"]["list_size"] > 0,  # the naive list holds ghosts, duplicates, unreachable members
        2: truth["factorial"]["gift_effect_entertainment_vs_daily"] > 0,
        3: truth["factorial"]["channel_effect_call_wechat_vs_sms"] > 0
        and truth["factorial"]["true_cost_difference_call_wechat_minus_sms"] < 0,
        4: truth["difference_in_differences"]["true_value"] > 0,
    }
    assert all(planted.values())
    assert [c.verdict for c in found] == [claims.SUPPORTED] * 4, [claim_sentence(c) for c in found]
    for c in found:
        assert c.ci_low <= c.estimate <= c.ci_high
    # the intervals hold the planted values
    assert found[1].ci_low <= truth["factorial"]["gift_effect_entertainment_vs_daily"] <= found[1].ci_high
    assert found[2].ci_low <= truth["factorial"]["channel_effect_call_wechat_vs_sms"] <= found[2].ci_high
    assert found[3].ci_low <= truth["difference_in_differences"]["true_value"] <= found[3].ci_high
    assert truth["factorial"]["design_power_gift_at_5pct"] >= 0.8 and truth["factorial"]["design_power_channel_at_5pct"] >= 0.8


@pytest.mark.slow
def test_the_small_study_lacks_the_power_and_says_how_many_members_it_needs(tmp_path):
    d = generate_mall(tmp_path / "small", study="small")
    truth = json.loads((d / "truth.json").read_text())
    f = truth["factorial"]
    # underpowered by design, for both factors: each claim may come out either way on one draw
    assert f["design_power_gift_at_5pct"] < 0.8 and f["design_power_channel_at_5pct"] < 0.8
    found = _four_claims(d)
    n = truth["campaigns"]["W3-FACTORIAL"]["arms"]["sms_daily"]["n_contacted"]
    open_effects = [c for c in (found[1], found[2]) if c.ci_low < 0 < c.ci_high]
    assert open_effects, "both underpowered effects came out significant"
    for c in open_effects:  # an open claim says how many members per arm would settle it: more than the wave had
        assert c.verdict == claims.UNDECIDED and c.needed_per_arm > n and "members per arm" in claim_sentence(c)


def test_claims_say_why_they_cannot_be_tested(tiny_dir):
    data = load_dataset(tiny_dir, as_of="2023-12-31")
    sl = build_sleeping_list(data, "2023-12-31", tier="gold", sleeping_days=3000)
    c1 = claims.claim_sleeping_list(sl)
    assert c1.verdict == claims.NOT_TESTABLE and "no naive list" in phrases_text(c1.reason)
    for c in (claims.claim_gift(None), claims.claim_channel(None), claims.claim_before_after(None)):
        assert c.verdict == claims.NOT_TESTABLE and claim_sentence(c).startswith("Not testable here: the data hold no campaigns")
    out = pd.DataFrame(
        {
            "campaign_id": ["C"] * 4,
            "arm": ["a", "a", "holdout", "holdout"],
            "member_id": list("wxyz"),
            "returned": [True, False, False, False],
            "gift": ["daily"] * 2 + ["none"] * 2,
            "channel": ["sms"] * 2 + ["none"] * 2,
            "spend": [1.0, 0, 0, 0],
            "cost": [np.nan] * 4,
        }
    )
    c2 = claims.claim_gift(out)
    assert c2.verdict == claims.NOT_TESTABLE and "differ only in the gift" in phrases_text(c2.reason)
    c4 = claims.claim_before_after(out, "C", "D", "a", "a")
    assert c4.verdict == claims.NOT_TESTABLE and "D / a" in phrases_text(c4.reason)


def test_arms_that_differ_only_in_the_gift_stand_in_for_a_crossed_wave():
    rng = np.random.default_rng(1)
    n = 4000
    arm = rng.choice(["daily_sms", "ent_sms", "holdout"], n)
    p = np.select([arm == "daily_sms", arm == "ent_sms"], [0.10, 0.16], 0.05)
    out = pd.DataFrame(
        {
            "campaign_id": "C",
            "arm": arm,
            "member_id": [f"m{i}" for i in range(n)],
            "returned": rng.random(n) < p,
            "gift": np.where(arm == "holdout", "none", np.where(arm == "ent_sms", "entertainment", "daily")),
            "channel": np.where(arm == "holdout", "none", "sms"),
            "spend": 0.0,
            "cost": np.nan,
        }
    )
    c = claims.claim_gift(out)
    t, r = out[out["arm"] == "ent_sms"], out[out["arm"] == "daily_sms"]
    assert c.estimate == pytest.approx(t["returned"].mean() - r["returned"].mean())
    assert "arm ent_sms vs arm daily_sms" in phrases_text(c.evidence, sep="") and c.verdict == claims.SUPPORTED
    no_cost = claims.claim_channel(out)
    assert no_cost.verdict == claims.NOT_TESTABLE  # one channel only: no contrast


# --- claim 1 where the data cannot test it ---------------------------------------------------


def test_claim_1_is_not_testable_on_purchases_only(small_mall, tmp_path):
    from analysis.statistics.synthetic import make_shape

    data = load_dataset(make_shape(small_mall, tmp_path / "p", "purchases_only"))
    sl = build_sleeping_list(data, tier="all")
    assert sl.naive_size > 0 and set(sl.unavailable) == {"present", "unreachable", "opted_out", "duplicate"}
    assert not sl.testable and math.isnan(sl.invalid_share)  # unknown, not "0.0 % not really asleep"
    c = claims.claim_sleeping_list(sl)
    assert c.verdict == claims.NOT_TESTABLE and "None of the refinements can be applied" in claim_sentence(c)
    assert sl.funnel()["step"].tolist() == ["naive"]  # no "minus ... 0" rows for rules that were not applied


def test_visits_that_are_a_campaigns_outcomes_are_not_presence(small_mall, tmp_path):
    """The e-mail test: web visits the day after the e-mail are the campaign's outcomes, not a sign
    that the members on the list were never asleep."""
    from analysis.statistics.synthetic import make_shape

    data = load_dataset(make_shape(small_mall, tmp_path / "v", "visits_after_list"))
    k = data.campaigns.to_pandas().sort_values("start_date").iloc[-1]
    list_date = (pd.Timestamp(k["start_date"]) + pd.Timedelta(days=int(k["response_days"]) - 1)).date()
    assert len(data.visits.to_pandas()) > 0
    sl = build_sleeping_list(data, list_date, tier="all")
    assert not sl.members["present"].any() and "present" in sl.unavailable
    assert claims.claim_sleeping_list(sl).verdict == claims.NOT_TESTABLE


def test_claim_1_has_a_materiality_threshold_and_can_be_contradicted():
    from analysis.statistics.sleeping import RULES, SleepingList

    def made(invalid: int, n: int = 2_000) -> SleepingList:
        members = pd.DataFrame({"member_id": [f"m{i}" for i in range(n)], **{r: False for r in RULES}})
        members.loc[: invalid - 1, "present"] = True
        members["refined"] = ~members[list(RULES)].any(axis=1)
        return SleepingList(pd.Timestamp("2024-01-01").date(), "all", 180, 90, "sms", members)

    assert claims.claim_sleeping_list(made(400)).verdict == claims.SUPPORTED  # 20 %, interval above 5 %
    assert claims.claim_sleeping_list(made(20)).verdict == claims.CONTRADICTED  # 1 %: the naive list is about right
    assert claims.claim_sleeping_list(made(100)).verdict == claims.UNDECIDED  # 5 %: the interval straddles it
    assert claims.claim_sleeping_list(made(20), min_share=0.0).verdict == claims.SUPPORTED
