"""Headline figures: formatted once, labelled, shown by the index instead of raw metric keys."""

import math
import re

import pytest

from analysis.presentation.report import format_value, headline
from analysis.presentation.site import _headline


def test_values_are_written_by_kind():
    assert format_value(50000, "count") == "50,000"
    assert format_value(0.18762, "percent") == "18.8%"
    assert format_value(0.0321, "points") == "+3.2 points"
    assert format_value(1234567.8, "money") == "1,234,568"
    assert format_value(None, "count") == "–" and format_value(math.nan, "percent") == "–"  # unknown is not zero
    with pytest.raises(ValueError, match="unknown kind"):
        format_value(1, "furlongs")


def test_headline_with_an_interval_and_the_index_shows_it_escaped():
    h = headline(
        (("incremental return rate, {arm}", {"arm": "W2 / holdout"}), 0.1274, "points", (0.1059, 0.1459)),
        ("members", 2000, "count"),
        ("AUC", None, "number", (None, None)),
        ("spend", 1234.5, "money"),
    )
    # neutral: message ids, numbers and kinds, the same in every language (no words, no formatting)
    assert h[0] == {
        "label": "incremental return rate, {arm}",
        "fields": {"arm": "W2 / holdout"},
        "value": 0.1274,
        "kind": "points",
        "ci": [0.1059, 0.1459],
    }
    assert h[1] == {"label": "members", "value": 2000, "kind": "count"} and "ci" not in h[2]
    shown = _headline({"headline": h + [{"label": "<b>x</b>", "value": 1, "kind": "count"}], "bgnbd_loglik": -1664144.4})
    assert "incremental return rate, W2 / holdout: <b>+12.7 points (+10.6 to +14.6)</b>" in shown
    assert "members: <b>2,000</b>" in shown and "AUC: <b>–</b>" in shown and "bgnbd_loglik" not in shown
    assert "&lt;b&gt;x&lt;/b&gt;" in shown  # a label from data stays text
    # the Chinese index writes the same entries in Chinese, the arm by its Chinese name
    zh = _headline({"headline": h}, lang="zh")
    assert "增量回店率" in zh and "W2 / 对照组" in zh and "+12.7 个百分点 (+10.6 至 +14.6)" in zh and "points" not in zh


def test_a_count_column_with_a_suppressed_cell_shows_whole_numbers_and_names_of_the_contract_show_as_code():
    import pandas as pd

    from analysis.presentation.present import present

    frame = pd.DataFrame({"column": ["plate"], "reactivated": [0.0], "lost": ["<10"], "cooling": [13.0]})
    frame = pd.concat([frame, pd.DataFrame({"column": ["phone"], "reactivated": ["<10"], "lost": [840.0], "cooling": [0.5]})])
    page = present(frame.reset_index(drop=True)).to_html()
    cells = re.findall(r"<td[^>]*>(.*?)</td>", page)
    assert re.findall(r"<th[^>]*>(.*?)</th>", page) == ["Column", "Reactivated", "Lost members", "Cooling"]
    assert cells == ["<code>plate</code>", "0", "&lt;10", "13.00", "<code>phone</code>", "&lt;10", "840", "0.50"]
