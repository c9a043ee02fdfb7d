"""Any valid data gives a complete site (issue 13): the first half of the data-shape matrix."""

import pytest

from analysis.synthetic import make_shape
from shapes_common import run_everything


@pytest.mark.slow
@pytest.mark.parametrize("shape", ["no_campaigns", "one_campaign_no_history", "one_tier", "no_visits"])
def test_every_report_on_the_shape(shape, small_mall, tmp_path):
    data = make_shape(small_mall, tmp_path / shape, shape)
    assert run_everything(data, tmp_path / "reports") == []
