"""Headline figures: formatted once, labelled, shown by the index instead of raw metric keys."""

import math

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
        ("incremental return rate, W2 / call", 0.1274, "points", (0.1059, 0.1459)),
        ("members", 2000, "count"),
        ("AUC", None, "number", (None, None)),
    )
    assert h == [
        {"label": "incremental return rate, W2 / call", "text": "+12.7 points (+10.6 to +14.6)"},
        {"label": "members", "text": "2,000"},
        {"label": "AUC", "text": "–"},
    ]
    shown = _headline({"headline": h + [{"label": "<b>x</b>", "text": "1"}], "bgnbd_loglik": -1664144.4})
    assert "members: <b>2,000</b>" in shown and "bgnbd_loglik" not in shown  # labelled figures, not raw keys
    assert "&lt;b&gt;x&lt;/b&gt;" in shown  # a label from data stays text
