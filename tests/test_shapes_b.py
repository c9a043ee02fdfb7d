"""Any valid data gives a complete site (issue 13): the second half of the matrix, and CDNOW."""

from pathlib import Path

import pytest
from shapes_common import run_everything

from analysis.statistics.cdnow import convert_cdnow
from analysis.statistics.synthetic import make_shape

CDNOW = Path(__file__).parent / "data" / "cdnow" / "CDNOW_sample.txt"


@pytest.mark.slow
@pytest.mark.parametrize("shape", ["no_costs", "no_demographics", "short_history", "ties"])
def test_every_report_on_the_shape(shape, small_mall, tmp_path):
    data = make_shape(small_mall, tmp_path / shape, shape)
    assert run_everything(data, tmp_path / "reports") == []


@pytest.mark.slow
def test_every_report_on_cdnow(tmp_path):
    """Real data: one tier, no visits, no campaigns, no demographics, heavy ties."""
    data = convert_cdnow(CDNOW, tmp_path / "cdnow")
    assert run_everything(data, tmp_path / "reports") == []
