"""The advice on data shaped unlike the demo (issue 25): a promotion that loses money, purchases
only, visits that are a campaign's outcomes. The reports that advise run on each shape, and what
they advise is checked, not only that they run."""

import json
import re

import pytest
from shapes_common import bad_cells

from analysis.application.runner import run_reports
from analysis.statistics.synthetic import generate_mall, make_shape

ADVISING = ["00_study_claims", "02_sleeping_members", "03_campaign_effects"]


def _run(data, out, **params) -> dict:
    res = run_reports(data, out_dir=out, jobs=2, only=ADVISING, params=params, log=lambda *_: None)
    assert [n.error for n in res.notebooks if n.status != "ok"] == []
    for page in out.rglob("*.html"):
        assert bad_cells(page) == [], page
    return {stem: json.loads((res.out_dir / f"{stem}.metrics.json").read_text()) for stem in ADVISING} | {"_dir": res.out_dir}


@pytest.fixture(scope="module")
def medium_mall(tmp_path_factory):
    """Waves with at least 200 members in every arm, so the next list is chosen."""
    return generate_mall(tmp_path_factory.mktemp("medium") / "mall", n_members=12_000, seed=11)


@pytest.mark.slow
def test_a_promotion_that_loses_money_is_not_advised(medium_mall, tmp_path):
    m = _run(make_shape(medium_mall, tmp_path / "losing", "losing_promotion"), tmp_path / "reports")
    c = m["03_campaign_effects"]
    verdicts = {arm: v["verdict"] for arms in c["net_value"].values() for arm, v in arms.items()}
    assert verdicts and set(verdicts.values()) == {"loses money"}, verdicts
    for arms in c["net_value"].values():
        for v in arms.values():
            assert v["net_incremental_value_per_contacted"]["ci_high"] < 0 and v["best_case"]
    assert c["next_wave"]["members"] == 0
    page = (m["_dir"] / "03_campaign_effects.html").read_text(encoding="utf-8")
    assert "loses money even if all of its extra spend were profit" in page and "The list is empty" in page
    assert "subgroups of the treated arms are worth targeting" in page and "<strong>0</strong> of" in page
    # with a margin too
    m = _run(make_shape(medium_mall, tmp_path / "losing2", "losing_promotion"), tmp_path / "reports2", margin_rate="0.3")
    assert m["03_campaign_effects"]["next_wave"]["members"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("shape", ["purchases_only", "visits_after_list"])
def test_claim_1_says_it_is_not_testable_where_nothing_can_refine_the_list(shape, small_mall, tmp_path):
    # the claims page on the day the last campaign's window closes: any visit in the lookback is that campaign's outcome
    m = _run(make_shape(small_mall, tmp_path / shape, shape), tmp_path / "reports", list_date="2024-12-17")
    [claim1] = [c for c in m["00_study_claims"]["claims"] if c["claim"] == 1]
    assert claim1["verdict"] == "not testable here" and claim1["estimate"] is None, claim1
    s = m["02_sleeping_members"]
    assert s["invalid_share"] is None and set(s["refinements_not_applied"]) == {
        "present",
        "unreachable",
        "opted_out",
        "duplicate",
    }
    page = (m["_dir"] / "02_sleeping_members.html").read_text(encoding="utf-8")
    assert "None of the refinements can be applied" in page
    assert not re.search(r"(?<![\d.])0\.0%", page)  # no "0.0 % not really asleep" presented as a finding
