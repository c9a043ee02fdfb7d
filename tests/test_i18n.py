"""Reports in Chinese: every sentence code writes and every markdown cell has a translation, the
translations keep their placeholders, headings and code, and the language switch works."""

import re
import string
from pathlib import Path

import nbformat
import pytest

from analysis.data.config import NOTEBOOKS_DIR
from analysis.presentation import catalogs, i18n
from analysis.presentation.claims_text import claim_sentence
from analysis.presentation.formats import configure

FIELDS = string.Formatter()


def _fields(text: str) -> set:
    return {f for _, f, _, _ in FIELDS.parse(text) if f}


def test_every_message_has_a_translation_and_no_entry_is_unused():
    used = catalogs.extract_messages(catalogs.source_files())
    catalog = i18n.messages("zh")
    assert len(used) > 150, "the extraction finds the messages"
    missing = {m: where for m, where in used.items() if m not in catalog}
    assert not missing, f"not translated (run `python -m analysis.presentation.catalogs missing zh`): {missing}"
    assert not set(catalog) - set(used), f"unused entries: {sorted(set(catalog) - set(used))[:5]}"
    for en, zh in catalog.items():
        assert _fields(en) == _fields(zh), (en, zh)
        words = re.sub(r"\{[^}]*\}", " ", en)  # format fields are not words
        assert re.search(r"[\u4e00-\u9fff]", zh) or not re.search(r"[a-z]{3,}", words), (en, zh)


def test_every_defined_term_has_its_translation_in_the_terms_catalog():
    """The definitions page's terms are their own catalog (``terms.yaml``): the lifecycle stage "New
    members" (新会员) and the RFM segment "New" (新客) each keep their own word."""
    from analysis.presentation.definitions import ENTRIES
    from analysis.presentation.glossary import glossary_page

    terms = {term for _, term, _ in ENTRIES}
    catalog = i18n.messages("zh", "terms")
    assert terms == set(catalog), (sorted(terms - set(catalog)), sorted(set(catalog) - terms))
    assert all(re.search(r"[\u4e00-\u9fff]", zh) for zh in catalog.values())
    page = glossary_page("", "zh")
    english = '(<span lang="en">{}</span>)'  # the English term beside, marked as English
    assert f"新会员 {english.format('New members')}" in page and f"新客 {english.format('New')}" in page


def test_every_markdown_cell_has_a_translation_with_its_heading_and_code():
    sources = catalogs.notebook_sources("zh")
    assert {"00_study_claims", "03_campaign_effects", "t1_rfm_by_hand"} <= set(sources)
    for stem, cells in sources.items():
        if stem == "monthly_report":
            continue  # written by code, in analysis.application.monthly's own texts
        table = i18n.narrative(stem, "zh")
        assert set(cells) == set(table), (
            f"{stem}: untranslated {[c[:40] for c in set(cells) - set(table)]}, "
            f"unused {[c[:40] for c in set(table) - set(cells)]}"
        )
        for en, zh in table.items():
            head_en, head_zh = re.findall(r"^(#+) ", en, re.M), re.findall(r"^(#+) ", zh, re.M)
            assert head_en == head_zh, (stem, en[:40])
            names = lambda text: sorted(re.findall(r"`[^`\s]+`", text))  # noqa: E731 (names in code; a formula may be worded)
            assert names(en) == names(zh), (stem, en[:40])


def test_the_message_follows_the_report_language():
    try:
        configure(lang="zh")
        assert i18n.tr("Not applicable here: {reason}", reason="x") == "此处不适用：x"
        assert i18n.tr("a sentence nobody translated {n}", n=3) == "a sentence nobody translated 3"
        configure(lang="en")
        assert i18n.tr("Not applicable here: {reason}", reason="x") == "Not applicable here: x"
    finally:
        configure(lang="en")


def test_a_notebook_is_translated_cell_by_cell_and_missing_cells_are_named():
    nb = nbformat.read(NOTEBOOKS_DIR / "01_data_overview.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("A cell added without a translation."))
    missing = i18n.translate_notebook(nb, "01_data_overview", "zh")
    assert missing == ["A cell added without a translation."]
    assert nb.cells[0].source.startswith("# 数据概览")
    assert i18n.title(nb, "01_data_overview", "zh") == "数据概览"
    assert i18n.translate_notebook(nb, "no_such_notebook", "zh") == []


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_claims_sentences_use_display_names_and_the_currency(lang, tmp_path):
    """No internal codes (call_wechat) or bare amounts in a claim's sentence."""
    import pandas as pd

    from analysis.statistics import claims

    rows = []
    for arm, gift, channel, n, k in (
        ("a", "daily", "sms", 400, 40),
        ("b", "entertainment", "sms", 400, 80),
        ("holdout", None, None, 200, 10),
    ):
        rows += [
            {
                "campaign_id": "C1",
                "member_id": f"{arm}{i}",
                "arm": arm,
                "gift": gift,
                "channel": channel,
                "returned": i < k,
                "spend": 100.0 * (i < k),
                "cost": 5.0,
            }
            for i in range(n)
        ]
    out = pd.DataFrame(rows)
    try:
        configure(
            lang=lang,
            currency="¥",
            names={
                "entertainment": "Cinema tickets" if lang == "en" else "电影票",
                "daily": "Tissues" if lang == "en" else "纸巾",
            },
        )
        c = claims.claim_gift(out, "", ("daily", "entertainment"), ("sms", "call_wechat"))
        text = claim_sentence(c)
    finally:
        configure(lang="en")
    assert "entertainment" not in text and "daily" not in text
    assert ("Cinema tickets" if lang == "en" else "电影票") in text
    assert "¥" in text


def _data_words(data_dir) -> set[str]:
    """The ASCII words of the data itself (its folder's name, the text columns of its tables: ids,
    arms, gifts, channels, categories; the display names its ``mallwake.yaml`` gives): what a report
    shows as the data has it, not words of the reports; and the product's name."""
    import pandas as pd
    import yaml
    from sitescan import ascii_words

    words = {data_dir.name, "mallwake"}
    for path in [*data_dir.glob("*.csv"), *data_dir.glob("*.parquet")]:
        frame = pd.read_csv(path, dtype=str) if path.suffix == ".csv" else pd.read_parquet(path)
        for col in frame.select_dtypes(exclude="number").columns:
            words |= ascii_words(" ".join(frame[col].dropna().astype(str).unique()[:5000]))
    declared = yaml.safe_load((data_dir / "mallwake.yaml").read_text(encoding="utf-8")) or {}
    for shown in (declared.get("display_names") or {}).values():
        words |= ascii_words(" ".join(shown.values()) if isinstance(shown, dict) else str(shown))
    return words


@pytest.mark.slow
def test_a_pseudo_language_renders_every_report_with_no_string_left_untranslated(small_mall, tmp_path):
    """Adding a language is adding a folder: a generated pseudo-language (every letter of every
    catalog string swapped for a look-alike outside ASCII) is written to a folder outside the
    package, every report, the monthly report, the index and the definitions page are built in it,
    and no page shows an ASCII word that is not the data's own: every word a reader sees went
    through a catalog."""
    import os
    import subprocess
    import sys

    from sitescan import ascii_words

    root = catalogs.write_pseudo(tmp_path / "locales")
    assert (root / "messages.yaml").is_file() and (root / "03_campaign_effects.yaml").is_file()
    env = {**os.environ, "MALLWAKE_LOCALES": str(tmp_path / "locales")}
    mallwake = str(Path(sys.executable).parent / "mallwake")
    out = tmp_path / "site"
    teaching = ["--notebooks", str(NOTEBOOKS_DIR / "teaching"), "-p", "lang=qps"]
    for extra in (["-p", "lang=qps"], teaching, ["--month", "2024-09", "--lang", "qps"]):
        res = subprocess.run(
            [mallwake, "run", "--data", str(small_mall), "--out", str(out), "--jobs", "2", *extra],
            capture_output=True,
            text=True,
            env=env,
        )
        assert res.returncode == 0, res.stderr[-3000:]
    pages = sorted(out.glob("*-qps/*.html")) + [out / "index.qps.html", out / "glossary.qps.html"]
    assert len(pages) == 6 + 3 + 1 + 2, [p.name for p in pages]  # the reports, teaching, the month, index, definitions
    known = _data_words(small_mall)
    left = {page.relative_to(out).as_posix(): sorted(ascii_words(page.read_text(encoding="utf-8")) - known) for page in pages}
    left = {page: words for page, words in left.items() if words}
    assert not left, left


def test_the_pseudo_language_keeps_markup_and_the_scan_finds_what_it_did_not_translate():
    from sitescan import ascii_words

    said = catalogs.pseudo("**Ranked by {rule}**: <b>{n:,} members</b> in `exports/` [see](#defs) &amp; RFM")
    assert said.startswith(
        "**Ŕáñķéđ ƀý {rule}**: <b>{n:,} ɱéɱƀéŕš</b> in `exports/` [šéé](#defs) &amp; ŔƑṀ".replace(" in ", " íñ ")
    )
    page = (
        f"<html lang='qps'><body><h1>{catalogs.pseudo('Ranked by the margin')}</h1><p>Still English</p><code>member_id</code>"
        "<a lang='en'>English</a><img alt='A figure'><details class='mw-provenance'>git commit</details></body></html>"
    )
    assert ascii_words(page) == {
        "Still",
        "English",
        "figure",
    }  # the text and alt left in English; code, names in themselves, provenance not


def test_the_catalogs_go_to_gettext_po_files_and_come_back_unchanged(tmp_path, monkeypatch):
    """Translators' tools read gettext: ``catalogs po zh`` writes every catalog as a ``.po`` file (an
    empty msgstr where a translation is missing) and ``catalogs import-po`` reads the translations back."""
    from babel.messages.pofile import read_po

    assert catalogs.main(["po", "zh", str(tmp_path / "po")]) == 0  # the README's command
    files = sorted((tmp_path / "po").glob("*.po"))
    names = {p.stem for p in files}
    assert {"messages", "terms", "03_campaign_effects", "t1_rfm_by_hand"} <= names
    with (tmp_path / "po" / "messages.po").open("rb") as f:
        po = read_po(f)
    assert str(po.locale) == "zh" and len(po) == len(catalogs.extract_messages(catalogs.source_files()))
    assert po["Sleeping members"].string == "沉睡会员" and po["Sleeping members"].locations
    before = {name: catalogs._catalog("zh", name) for name in names}  # the package's catalogs
    copy = tmp_path / "zh"
    copy.mkdir()
    monkeypatch.setattr(i18n, "folder", lambda lang: copy)
    monkeypatch.setattr(catalogs, "folder", lambda lang: copy)
    try:
        catalogs.import_po("zh", files)  # into the copy, not the package
        assert sorted(p.name for p in copy.iterdir()) == sorted(f"{name}.yaml" for name in names)
        for name in names:
            assert catalogs._catalog("zh", name) == before[name], name
    finally:
        i18n.messages.cache_clear()
        i18n.narrative.cache_clear()


def test_no_report_narrative_names_a_parameter_instead_of_giving_its_value():
    """A manager reads what a rule is ("180 days without buying"), not the name of the parameter that
    sets it (`sleeping_days`): the reports' markdown cells name none of their parameters; a value
    that depends on the run is written by a code cell (and the definitions page names the parameters)."""
    found = []
    for path in sorted(NOTEBOOKS_DIR.glob("0*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        params = next(c.source for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        names = set(re.findall(r"^([a-z_][a-z0-9_]*)\s*(?::[^=]+)?=", params, re.M))
        assert len(names) >= 3, path.name
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                found += [f"{path.stem}: `{n}`" for n in sorted(names) if f"`{n}`" in cell.source]
    assert not found, found


def test_a_language_folder_from_outside_the_package_cannot_inject_markup(tmp_path):
    """``MALLWAKE_LOCALES`` folders are files a user brings: a language's name is escaped where the
    language switch shows it, and an HTML language tag that is not a tag is refused, naming the file."""
    import os
    import subprocess
    import sys

    for code, spec in (("xx", 'name: "<i>Ex</i>"\nhtml: xx\n'), ("yy", "name: Why\nhtml: 'y\" onload=\"alert(1)'\n")):
        (tmp_path / code).mkdir()
        (tmp_path / code / "language.yaml").write_text(spec, encoding="utf-8")

    def pages(body: str) -> str:  # in a fresh process: the list of languages is read once per process
        code = "from analysis.presentation.site import _index_page\nfrom analysis.presentation.glossary import glossary_page\n"
        env = {**os.environ, "MALLWAKE_LOCALES": str(tmp_path)}
        out = subprocess.run([sys.executable, "-c", code + body], capture_output=True, text=True, env=env)
        assert out.returncode == 0, out.stderr
        return out.stdout

    out = pages("try:\n    _index_page([], 'en')\nexcept ValueError as err:\n    print('refused', err)\n")
    assert "refused" in out and "yy/language.yaml" in out and "language tag" in out
    (tmp_path / "yy" / "language.yaml").write_text("name: Why\nhtml: yy\n", encoding="utf-8")
    out = pages("print(_index_page([], 'en') + glossary_page('', 'en'))\n")
    assert "<i>Ex</i>" not in out and out.count("&lt;i&gt;Ex&lt;/i&gt;") == 2
