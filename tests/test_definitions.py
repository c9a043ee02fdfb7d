"""One word, one meaning (issue 28): the definitions page and the reports read the same
definitions, so a defined measure has the same name in a report's table and on the definitions
page, in every language, and different rules have different names."""

from __future__ import annotations

import html
import re

import pandas as pd
import pytest

from analysis.application import monthly as mo
from analysis.presentation import formats
from analysis.presentation.definitions import COLUMN_TERMS, ENTRIES, anchor, term
from analysis.presentation.glossary import _rows, glossary_page
from analysis.presentation.languages import languages


@pytest.fixture
def configured():
    yield formats.configure
    formats.configure(lang="en")


def _page_terms(lang: str) -> dict[str, str]:
    """{anchor: the term as the definitions page shows it (the page's own language)}."""
    page = glossary_page("", lang)
    return {
        m.group(1): html.unescape(re.sub(r" \(<span.*", "", m.group(2)))
        for m in re.finditer(r'<dt id="([^"]+)">(.*?)</dt>', page)
    }


@pytest.mark.parametrize("lang", languages())
def test_a_defined_measure_has_the_same_name_in_a_report_table_and_on_the_definitions_page(lang, configured):
    configured(lang=lang)
    shown = _page_terms(lang)
    for column, name in COLUMN_TERMS.items():
        assert anchor(name) in shown, f"{name!r} ({column}) has no definition"
        assert formats.label(column) == shown[anchor(name)] == term(name, lang), column
    # the monthly report's watch list names its two rules by their defined terms
    assert mo.text("about_to_sleep", lang, days=30).startswith(shown[anchor("About to sleep")])
    assert mo.text("downgrade_warning", lang) == shown[anchor("Downgrade warning")]
    table = mo.localize(pd.DataFrame({"return_rate": [0.1], "cost": [1.0]}), lang)
    assert list(table.columns) == [shown[anchor("Return rate")], shown[anchor("Cost")]]


@pytest.mark.parametrize("lang", languages())
def test_different_rules_have_different_names_and_anchors(lang):
    rows = _rows(lang)
    anchors = [anchor(term) for _, term, _, _ in rows]
    assert len(anchors) == len(set(anchors)), sorted(a for a in anchors if anchors.count(a) > 1)
    words = [re.sub(r" \(<span.*", "", shown) for _, _, shown, _ in rows]
    assert len(words) == len(set(words)), sorted(w for w in words if words.count(w) > 1)
    # the three "about to sleep" rules of the issue: a count by rule, a prediction, an RFM segment
    names = {term("About to sleep", lang), term("High sleep risk", lang), formats.name_table(lang)["At risk"]}
    assert len(names) == 3


def test_every_defined_term_is_an_entry_and_an_unknown_term_is_refused():
    assert set(COLUMN_TERMS.values()) <= {t for _, t, _ in ENTRIES}
    with pytest.raises(KeyError):
        term("Almost asleep")


def test_the_monthly_narrative_names_the_watch_window_it_was_given():
    class _C:  # the least a narrative reads: a month and its key figures
        month = pd.Timestamp("2024-09-01")
        table_all = pd.DataFrame(
            {"value": 1.0, "change_pct": 0.1, "yoy_pct": 0.2},
            index=["active", "spend", "avg_ticket", "new", "woken", "lost", "sleeping"],
        )

    watch = pd.DataFrame({"tier": ["all"], "about_to_sleep": [12], "downgrade_warning": [3]})
    for lang in languages():
        text = " ".join(mo.write_narrative(_C(), watch, pd.DataFrame(), lang, "¥", warn_days=45))
        assert "45" in text and "30" not in text
