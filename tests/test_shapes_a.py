"""Any valid data gives a complete site (issue 13): the first half of the data-shape matrix."""

import json

import pytest
from shapes_common import run_everything

from analysis.statistics.synthetic import make_shape


@pytest.mark.slow
@pytest.mark.parametrize("shape", ["no_campaigns", "one_campaign_no_history", "one_tier", "no_visits"])
def test_every_report_on_the_shape(shape, small_mall, tmp_path):
    data = make_shape(small_mall, tmp_path / shape, shape)
    assert run_everything(data, tmp_path / "reports") == []
    if shape == "one_campaign_no_history":  # no history: covariates are constant or collinear, and say so
        metrics = json.loads(next((tmp_path / "reports").glob("*/03_campaign_effects.metrics.json")).read_text())
        [(key, adj)] = [(k, v) for k, v in metrics["adjusted_effects"].items() if k.endswith("call_wechat_ent")]
        assert adj["se"] > 0 and adj["ci_low"] < adj["estimate"] < adj["ci_high"]
        assert {d["code"] for d in adj["dropped"]} & {"collinear", "constant"}  # codes, in every language
