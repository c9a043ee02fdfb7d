"""Words through an explicit context (issue 27): a report's language, currency, display names and
tier order are a value passed to the functions that write, not settings a module keeps; numbers
follow the language's locale (Babel)."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest
import yaml

from analysis.data import config
from analysis.presentation import context, formats, i18n, languages
from analysis.presentation.context import Context
from analysis.presentation.i18n import tr
from analysis.presentation.phrases import phrase_text
from analysis.presentation.present import present
from analysis.statistics.results import Phrase


@pytest.fixture(autouse=True)
def _kernel_context_restored():
    before = context.current()
    yield
    context.set_current(before)


def test_a_context_passed_in_writes_without_the_kernel_being_configured():
    zh = Context(lang="zh", currency="¥", names={"gold": "黄金卡"})
    assert context.current().lang == "en"
    assert formats.label("return_rate", zh) == "回店率"
    assert formats.display_name("gold", ctx=zh) == "黄金卡"
    assert formats.format_value(1234.5, "money", sign=True, ctx=zh) == "+¥1,234"
    assert formats.format_value(-0.043, "points", ctx=zh) == "-4.3 个百分点"
    assert phrase_text(Phrase.of("plan.srm_ok", chi2=0.4, p=0.52), zh).startswith("各组人数与计划分配一致")
    # and the kernel's context is untouched: English, no currency
    assert formats.format_value(1234.5, "money") == "1,234" and formats.label("return_rate") == "Return rate"


def test_a_table_is_written_in_the_context_it_was_built_in_even_when_rendered_later():
    frame = pd.DataFrame({"tier": ["gold"], "return_rate": [0.25], "spend": [1500.0]})
    styler = present(frame, ctx=Context(lang="zh", currency="¥"))
    context.set_current(Context(lang="en", currency="$"))  # another report's context before rendering
    html = styler.to_html()
    assert "金卡" in html and "回店率" in html and "¥1,500" in html
    assert "$" not in html and "Return rate" not in html


def test_two_pages_written_at_once_in_two_languages_each_keep_their_own_words():
    frame = pd.DataFrame({"tier": ["gold", "silver"], "return_rate": [0.25, 0.125]})
    out: dict[str, list[str]] = {"en": [], "zh": []}

    def write(lang):
        ctx = Context(lang=lang)
        for _ in range(30):
            out[lang].append(present(frame, ctx=ctx).to_html())

    threads = [threading.Thread(target=write, args=(lang,)) for lang in out]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all("Return rate" in h and "回店率" not in h for h in out["en"])
    assert all("回店率" in h and "Return rate" not in h for h in out["zh"])


def test_configure_builds_the_context_from_the_data_folder_and_names_it_the_kernels(tmp_path):
    (tmp_path / "mallwake.yaml").write_text(
        yaml.safe_dump({"currency": "€", "display_names": {"gold": {"en": "Gold+", "zh": "金+"}}}), encoding="utf-8"
    )
    ctx = formats.configure(tmp_path, lang="zh")
    assert context.current() is ctx and ctx.currency == "€" and formats.display_name("gold") == "金+"
    with pytest.raises(ValueError, match="not supported"):
        Context(lang="xx")
    with pytest.raises(TypeError):
        context.set_current("zh")


@pytest.fixture
def foreign_languages(tmp_path, monkeypatch):
    """Three language folders outside the package: German, Swiss French, and a pseudo-language
    Babel does not know (words: none, so English's)."""
    for code, tag in (("de", "de-DE"), ("fr-CH", "fr-CH"), ("qps", "qps")):
        (tmp_path / code).mkdir()
        (tmp_path / code / "language.yaml").write_text(f"name: {code}\nhtml: {tag}\n", encoding="utf-8")
    monkeypatch.setenv("MALLWAKE_LOCALES", str(tmp_path))
    caches = (config.language_folders, languages._languages, context.known_locale, i18n.messages)
    for cached in caches:
        cached.cache_clear()
    yield
    monkeypatch.delenv("MALLWAKE_LOCALES")
    for cached in caches:
        cached.cache_clear()


def test_numbers_follow_the_locale_of_the_language_folder(foreign_languages):
    """Adding a language is adding a folder, and its numbers are written by its locale's rules:
    German separators, Swiss French grouping, the same digits as English."""
    de, ch, en = Context(lang="de"), Context(lang="fr-CH"), Context(lang="en")
    assert formats.format_value(1234567.891, "number", decimals=2, ctx=de) == "1.234.567,89"
    assert formats.format_value(0.1234, "percent", ctx=de) == "12,3\u00a0%"  # a no-break space before %
    assert formats.format_value(12345, "count", ctx=ch) == "12'345"
    assert formats.format_value(1234567.891, "number", decimals=2, ctx=en) == "1,234,567.89"
    # a diverged fit's huge value: every digit, never a decimal-context error (seen on a real shape)
    assert formats.format_value(1e30, "number", ctx=de) == f"{1e30:,.0f}".replace(",", ".")
    assert formats.format_value(-1e300, "money", ctx=en).startswith("-1,000,000")
    # rounded as Python rounds the float, in every language: only the separators differ
    for value in (2.675, 0.125, 1.005, -0.0449):
        assert formats.format_value(value, "number", decimals=2, ctx=de) == f"{value:,.2f}".replace(".", ",")
    assert formats.format_month("2024-09-01", ctx=de) == "September 2024"
    assert formats.format_month("2024-09-01", lang="zh") == "2024年9月"
    # a language Babel does not know (the pseudo-language): English digits, no English month name
    assert formats.format_month("2024-09-01", lang="qps") == "2024-09"
    assert formats.format_value(1234.5, "number", decimals=1, ctx=Context(lang="qps")) == "1,234.5"


def test_a_sentences_numbers_follow_its_language_as_a_tables_do(foreign_languages):
    """The numbers inside a message (``{n:,}``, ``{share:.1%}``, ``{diff:+.1f}``) are written by the
    locale of the sentence's language, with the digits Python's rounding gives; a spec the locale
    does not write (``e``, a width) and a field without a spec (a year) stay as Python writes them."""
    template = "{n:,} members, {share:.1%} of {total:,.0f}; {diff:+.1f} points; cond {cond:.1e}; {year}; {ratio:,}"
    fields = {"n": 1234567, "share": 0.12345, "total": 9876543.5, "diff": -2.25, "cond": 12345.0, "year": 2024, "ratio": 1234.5}
    assert tr(template, lang="en", **fields) == template.format(**fields)
    assert tr(template, lang="zh", **fields) == template.format(**fields)  # the same separators in Chinese
    assert tr(template, lang="de", **fields) == (
        "1.234.567 members, 12,3\u00a0% of 9.876.544; -2,2 points; cond 1.2e+04; 2024; 1.234,5"
    )
    assert tr("{n:,}", lang="qps", n=1234567) == "1,234,567"  # Babel does not know it: English's rules
    assert tr("{n:,}", lang="xx", n=1234567) == "1,234,567"  # no such folder: English words, English numbers
    assert tr("{v:,.0f}", lang="de", v=float("nan")) == "nan"
    # numpy numbers (what pandas hands back) are numbers too
    assert tr("{n:,} / {v:.2f}", lang="de", n=np.int64(12345), v=np.float64(2.675)) == "12.345 / 2,67"
    with pytest.raises(ValueError):
        tr("{n:,}", lang="de", n="12")  # a string where a number belongs is an error, as in Python


@pytest.mark.parametrize("spec", [",", ",.0f", ",.1f", ".0%", ".1%", ".2%", "+.1f", "+,.0f", ".3f", "d", ",d", ".1e", ">8.1f"])
def test_english_messages_read_exactly_as_pythons_format(spec):
    """In English the locale-aware formatter changes nothing: every spec the catalogs use, over
    values that round both ways, huge, tiny, negative and whole."""
    formatter = i18n._formatter("en")
    values = (
        [0, 1, -1, 7, 1234, -98765, 10**12]
        if "d" in spec
        else [0.0, -0.0, 0.125, 2.675, 1.005, -0.0449, 0.5, 1234.5, 99999.95, 1e15, 123456789.0, -3.25]
    )
    for v in values:
        assert formatter.format("{v:" + spec + "}", v=v) == format(v, spec), (spec, v)
