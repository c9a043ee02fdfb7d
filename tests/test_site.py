"""The whole report site of a generated mall, built once and checked as readers get it: no member
ids, phones or plates; no raw pandas output in any table; every page rendered by a browser."""

import html
import json
import os
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from sitescan import raw_forms, scan_site

from analysis.application.runner import run_months, run_reports
from analysis.data.config import NOTEBOOKS_DIR, TEACHING_DIR


@pytest.fixture(scope="module")
def site(small_mall, tmp_path_factory):
    """Every report, the teaching track with its answers, and one month in English and Chinese."""
    root = tmp_path_factory.mktemp("site")
    out = root / "reports"
    res = run_reports(small_mall, out_dir=out, jobs=2, log=lambda *_: None)
    assert res.ok, [n.error for n in res.notebooks]
    teach = run_reports(
        small_mall, out_dir=out, notebooks_dir=TEACHING_DIR, jobs=2, params={"show_solutions": "true"}, log=lambda *_: None
    )
    assert teach.ok, [n.error for n in teach.notebooks]
    zh = run_reports(small_mall, out_dir=out, jobs=2, params={"lang": "zh"}, label="zh", log=lambda *_: None)
    assert zh.ok, [n.error for n in zh.notebooks]
    zh_teach = run_reports(
        small_mall,
        out_dir=out,
        notebooks_dir=TEACHING_DIR,
        jobs=2,
        params={"lang": "zh"},
        label="zh-teaching",
        log=lambda *_: None,
    )
    assert zh_teach.ok, [n.error for n in zh_teach.notebooks]
    months = run_months(small_mall, ["2024-09"], out_dir=out, log=lambda *_: None)
    months += run_months(small_mall, ["2024-09"], out_dir=out, lang="zh", log=lambda *_: None)
    assert all(m.ok for m in months)
    return {"root": root, "out": out, "label": res.label, "data": small_mall}


@pytest.mark.slow
def test_site_has_no_ids_phones_or_plates(site, small_mall):
    out = site["out"]
    members = pd.read_csv(small_mall / "members.csv", dtype=str)
    secrets = set(members["member_id"]) | set(members["phone"]) | set(members["plate"].dropna())
    pages = list(out.rglob("*.html"))
    every_notebook = [p for p in NOTEBOOKS_DIR.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts]
    # the index in each language, the definitions, every notebook under notebooks/, the monthly report a second time in Chinese and
    # the six reports a second time in Chinese
    in_chinese = list(NOTEBOOKS_DIR.glob("*.ipynb")) + list(TEACHING_DIR.glob("*.ipynb"))
    # (the index and the definitions page in each language: 4)
    assert len(pages) == 4 + len(every_notebook) + 1 + len(in_chinese), "every notebook under notebooks/ is rendered and checked"
    for page in pages:
        text = page.read_text(encoding="utf-8")
        tokens = set(re.findall(r"[A-Za-z0-9\u4e00-\u9fff]+", text))
        leaked = tokens & secrets
        assert not leaked, f"{page.relative_to(out)} shows {sorted(leaked)[:5]}"
    assert not list(out.rglob("*.parquet")), "files with member ids live in exports/, outside the site"
    assert (site["root"] / "exports" / site["label"] / "member_segments.parquet").is_file()


@pytest.mark.slow
def test_no_table_in_the_site_shows_raw_pandas_output(site):
    assert scan_site(site["out"]) == {}


@pytest.mark.slow
def test_no_report_prints_warnings_or_stderr(site):
    """A reader sees results, never a library's warning text (e.g. a Cox fit that did not converge)."""
    for page in site["out"].rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert 'data-mime-type="application/vnd.jupyter.stderr"' not in text, page.name
        assert not re.search(r"\w+Warning:", text), (page.name, re.search(r".{80}\w+Warning:.{80}", text, re.S))


@pytest.mark.slow
def test_every_figure_in_the_site_has_alt_text(site):
    images = 0
    for page in site["out"].rglob("*.html"):
        for tag in re.findall(r"<img\b[^>]*>", page.read_text(encoding="utf-8")):
            images += 1
            alt = re.search(r'alt="([^"]*)"', tag)
            assert alt and alt.group(1).strip() and "without labels" not in alt.group(1), (page.name, tag[:200])
    assert images >= 20


def test_the_table_scan_finds_every_raw_form():
    raw = pd.DataFrame(
        {"cost_per_contacted": [0.191589, 41.409932], "p_value": [5.607214e-03, 1e-7], "members": [50000.0, None]}
    ).to_html()
    found = " | ".join(raw_forms(raw))
    for what in (
        "index column of row numbers",
        "unformatted float '0.191589'",
        "scientific notation '1.000000e-07'",
        "missing value shown as 'NaN'",
        "snake_case header 'cost_per_contacted'",
    ):
        assert what in found, (what, found)


def test_the_presentation_layer_leaves_nothing_raw():
    from analysis.presentation.formats import configure
    from analysis.presentation.present import present

    configure(names={"call_wechat": "Call + WeChat"}, currency="¥")
    frame = pd.DataFrame(
        {
            "arm": ["call_wechat", "holdout"],
            "cost_per_contacted": [0.191589, 41.409932],
            "p_value": [5.607214e-03, 1e-7],
            "members": [50000.0, None],
            "return_rate": [0.2134, 0.05],
            "when": pd.to_datetime(["2024-12-31", None]),
        }
    )
    page = present(frame).to_html()
    assert raw_forms(page) == []
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    for shown in (
        "Call + WeChat",
        "¥0.19",
        "¥41.41",
        "0.006",
        "< 0.001",
        "50,000",
        "21.3%",
        "2024-12-31",
        "Cost per contacted",
        "p-value",
        "Return rate",
        "–",
    ):
        assert shown in text, (shown, text)
    configure()


# --- in a browser -----------------------------------------------------------------------------

BROWSER_REQUIRED = os.environ.get("MALLWAKE_REQUIRE_BROWSER") == "1"
#: where the screenshots of the browser test are kept for review (one per page and width)
SCREENSHOTS = Path(os.environ.get("MALLWAKE_SCREENSHOTS", Path(__file__).resolve().parent.parent / "build" / "screenshots"))
WIDTHS = (1280, 820, 390)  # desktop, tablet, phone: no page wider than the screen


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if path is None:
        if BROWSER_REQUIRED:
            pytest.fail("no Chromium but MALLWAKE_REQUIRE_BROWSER=1 (apt-get install chromium)")
        pytest.skip("no Chromium on this machine (apt-get install chromium)")
    return path


def _latin_only_fontconfig(folder: Path) -> Path:
    """A fontconfig file that shows the browser only non-CJK fonts: a machine without CJK system fonts."""
    dirs = [d for d in ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/liberation") if Path(d).is_dir()]
    conf = folder / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
        + "".join(f"<dir>{d}</dir>" for d in dirs)
        + f"<cachedir>{folder / 'cache'}</cachedir></fontconfig>",
        encoding="utf-8",
    )
    return conf


_CHECK = """async () => {
  await document.fonts.ready;
  const faces = [...document.fonts].map(f => ({family: f.family, status: f.status}));
  const text = document.body.innerText;
  const cjk = [...text].filter(c => c.codePointAt(0) >= 0x2E80 && c.codePointAt(0) <= 0x9FFF);
  return {scrollWidth: document.documentElement.scrollWidth, width: window.innerWidth, faces,
          cjk: cjk.length, sample: cjk.slice(0, 1).join(""),
          covered: cjk.length ? document.fonts.check('16px "Mallwake CJK"', cjk.slice(0, 50).join("")) : true};
}"""


@pytest.mark.slow
def test_every_page_in_a_browser_without_cjk_fonts(site, tmp_path):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if BROWSER_REQUIRED:
            pytest.fail("playwright is not installed but MALLWAKE_REQUIRE_BROWSER=1")
        pytest.skip("playwright not installed (make test installs it)")
    chromium = _chromium()
    env = dict(os.environ, FONTCONFIG_FILE=str(_latin_only_fontconfig(tmp_path)))
    pages = sorted(site["out"].rglob("*.html"))
    shots = SCREENSHOTS / "site"
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    problems, chinese = [], 0
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, env=env, args=["--no-sandbox", "--disable-gpu"])
        for width in WIDTHS:
            context = browser.new_context(viewport={"width": width, "height": 900})
            for path in pages:
                name = path.relative_to(site["out"]).as_posix()
                page = context.new_page()
                errors = []
                page.on("console", lambda m, errors=errors: errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                page.goto(path.as_uri(), wait_until="load")
                got = page.evaluate(_CHECK)
                if got["scrollWidth"] > got["width"]:
                    problems.append(f"{name} at {width}px: the page is {got['scrollWidth']}px wide")
                if errors:
                    problems.append(f"{name}: console errors {errors[:3]}")
                if [f for f in got["faces"] if f["status"] != "loaded"]:
                    problems.append(f"{name}: web fonts not loaded {got['faces']}")
                if got["cjk"]:
                    chinese += 1
                    if not got["faces"] or not got["covered"]:
                        problems.append(f"{name}: {got['cjk']} Chinese characters and no embedded font for them")
                page.screenshot(path=str(shots / f"{name.replace('/', '__')}-{width}.png"), full_page=True)
                page.close()
            context.close()
        browser.close()
    assert problems == []
    assert chinese >= len(WIDTHS), "the Chinese monthly report was rendered at every width"
    assert len(list(shots.glob("*.png"))) == len(pages) * len(WIDTHS)


@pytest.mark.slow
def test_definitions_page_is_linked_from_every_report_and_covers_the_terms(site):
    from analysis.presentation.glossary import segment_cells
    from analysis.statistics.lifecycle import STAGES
    from analysis.statistics.segmentation import SEGMENTS
    from analysis.statistics.sleeping import RULES

    out = site["out"]
    page = (out / "glossary.html").read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    for term in [
        *SEGMENTS,
        *(s.capitalize() for s in STAGES if s != "reactivated"),
        "Reactivated",
        "Return rate",
        "Incremental return rate",
        "Cost per incremental return",
        "Response window",
        "RFM window",
        "Holdout",
    ]:
        assert term in text, term
    for rule in RULES:
        assert f"Sleeping-list rule: <code>{rule}</code>" in page  # the rule's name as code, as parameters are
    reports = [p for p in out.rglob("*.html") if p.parent != out]
    chinese = {p for p in reports if '<html lang="zh-CN"' in p.read_text(encoding="utf-8")}
    assert chinese and all('href="../glossary.zh.html"' in p.read_text(encoding="utf-8") for p in chinese)
    assert all('href="../glossary.html"' in p.read_text(encoding="utf-8") for p in set(reports) - chinese)
    assert 'href="glossary.html"' in (out / "index.html").read_text(encoding="utf-8")
    assert 'href="glossary.zh.html"' in (out / "index.zh.html").read_text(encoding="utf-8")
    # the Chinese definitions page: every definition in Chinese, linking the Chinese index and the English page
    zh_page = (out / "glossary.zh.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN"' in zh_page and 'href="index.zh.html"' in zh_page and 'href="glossary.html"' in zh_page
    for dd in re.findall(r"<dd>(.*?)</dd>", zh_page, re.S):
        prose = re.sub(r"<code>.*?</code>|\([A-Za-z][^)]*\)", "", dd)
        assert re.search(r"[\u4e00-\u9fff]", prose), dd
        assert not re.search(r"\b(the|of|and|members?)\b", prose), dd
    # one word, one meaning: the monthly watch list's rule and the lifecycle's risk model have two names
    assert "About to sleep" in text and "High sleep risk" in text and "Slipping" in text
    # every R x F cell belongs to exactly one segment
    cells = [c for cs in segment_cells().values() for c in cs]
    assert sorted(cells) == sorted(f"R{r}F{f}" for r in range(1, 6) for f in range(1, 6))


@pytest.mark.slow
def test_every_figure_is_readable_at_the_pages_width(site):
    """The smallest text of each figure as the page shows it (figures wider than the column are shrunk
    with their text): "For whom does it work?" had four panels side by side with 6 px text."""
    from analysis.presentation.plots import MIN_TEXT_PX

    sizes = {}
    for page in sorted(site["out"].rglob("*.html")):
        for i, px in enumerate(re.findall(r'<img\b[^>]*data-min-text-px="([^"]*)"', page.read_text(encoding="utf-8"))):
            sizes[f"{page.parent.name}/{page.name}#{i}"] = float(px)
    assert len(sizes) > 20, "every figure carries its smallest text size"
    small = {k: v for k, v in sizes.items() if v < MIN_TEXT_PX}
    assert not small, small


@pytest.mark.slow
def test_every_report_links_its_neighbours_and_its_other_language(site):
    """Previous/next between the reports of a run, in order, and a language switch on every page:
    to the same report in the other language when a run on the same data and date has it."""
    out = site["out"]
    for run in ("zh", site["label"]):
        pages = sorted((out / run).glob("*.html"))
        assert len(pages) >= 6
        for i, page in enumerate(pages):
            text = page.read_text(encoding="utf-8")
            prev = re.search(r'<a class="mw-prev" href="([^"]+)" rel="prev">', text)
            nxt = re.search(r'<a class="mw-next" href="([^"]+)" rel="next">', text)
            assert (prev.group(1) if prev else None) == (pages[i - 1].name if i else None), page
            assert (nxt.group(1) if nxt else None) == (pages[i + 1].name if i + 1 < len(pages) else None), page
            switch = re.findall(r'<a class="mw-lang" href="([^"]+)"', text)
            assert len(switch) == 1 and (page.parent / switch[0]).resolve().is_file(), (page, switch)
            # the Chinese run was built second: it links the same report of the English run; the English run
            # was built when no Chinese one existed: it links the Chinese index (never a page that is not there)
            assert switch[0] == (f"../{site['label']}/{page.name}" if run == "zh" else "../index.zh.html"), (page, switch)
    # the month in Chinese (built second) links the same month in English
    page = out / "month-2024-09-zh" / "monthly_report.html"
    switch = re.findall(r'<a class="mw-lang" href="([^"]+)"', page.read_text(encoding="utf-8"))
    assert switch == ["../month-2024-09/monthly_report.html"], switch


def test_composite_labels_are_named_part_by_part():
    from analysis.presentation.formats import configure, display_name

    configure(names={"call_wechat_ent": "Call + WeChat, entertainment gift"})
    assert display_name("W2-AFTER / call_wechat_ent") == "W2-AFTER / Call + WeChat, entertainment gift"
    assert display_name("call_wechat_ent") == "Call + WeChat, entertainment gift"
    assert display_name("unknown / label") == "unknown / label"
    configure()


@pytest.mark.slow
def test_chinese_pages_have_their_frame_in_chinese(site):
    [page] = list(site["out"].glob("*-zh/*.html"))
    text = page.read_text(encoding="utf-8")
    for words in ("全部报告", "术语定义", "目录", "分析日期", "出处"):
        assert words in text, words
    for english in ("all reports", "the last date in the data"):
        at = text.find(english)
        assert at < 0, (page, text[max(0, at - 200) : at + 50])
    assert 'lang="zh-CN"' in text


def test_figure_alt_text_from_data_is_escaped(tmp_path):
    """A legend or title built from data (an arm label) reaches the alt attribute as text."""
    import base64

    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    from analysis.presentation.site import render_html

    png = base64.b64encode(bytes.fromhex("89504e470d0a1a0a")).decode()
    nb = new_notebook(
        cells=[
            new_code_cell(
                "x",
                outputs=[
                    new_output(
                        "display_data", data={"image/png": png}, metadata={"alt": 'Figure: arm "><script>alert(1)</script>'}
                    )
                ],
            )
        ]
    )
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    page = render_html(path, tmp_path / "n.html", show_code=False, run_label="r", provenance={}).read_text(encoding="utf-8")
    from html.parser import HTMLParser

    class Tags(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tags, self.alts = [], []

        def handle_starttag(self, tag, attrs):
            self.tags.append(tag)
            if tag == "img":
                self.alts.append(dict(attrs).get("alt"))

    parsed = Tags()
    parsed.feed(page)
    assert "script" not in parsed.tags  # the label stayed text inside the attribute
    assert parsed.alts == ['Figure: arm "><script>alert(1)</script>']


def test_the_index_trend_charts_show_plain_units():
    from analysis.presentation.site import _trend_svg

    svg = _trend_svg(
        ["2024-09", "2024-10"],
        [{"spend": {"value": 1.1e7}, "active": {"value": 12_000}}, {"spend": {"value": 1.2e7}, "active": {"value": 13_000}}],
    )
    assert "1e7" not in svg and ("11,000,000" in svg or "12,000,000" in svg)


ALLOWED_LATIN = {"Holm", "BIC", "AUC", "alpha", "Wilson", "Gini", "Qini", "RFM", "Cox", "CLV", "Chi", "HC2"}


@pytest.mark.slow
def test_reports_run_in_chinese_read_in_chinese(site):
    """``--lang zh`` applies to every report: no English narrative, sentence or table header left."""
    import string

    from analysis.presentation import catalogs, i18n

    pages = sorted((site["out"] / "zh").glob("*.html")) + sorted((site["out"] / "zh-teaching").glob("*.html"))
    assert len(pages) == len(list(NOTEBOOKS_DIR.glob("*.ipynb"))) + len(list(TEACHING_DIR.glob("*.ipynb")))
    english = []  # pieces of the English text long enough to be unmistakable
    for cells in catalogs.notebook_sources().values():
        for cell in cells:
            english += [line.lstrip("# ")[:40] for line in cell.splitlines() if len(line.lstrip("# ")) >= 30]
    for msg in i18n.messages("zh"):
        literal = next(iter(string.Formatter().parse(msg)))[0]
        if len(literal) >= 25:
            english.append(literal[:40])
    data_labels = set(re.findall(r"[A-Za-z]{4,}", " ".join(pd.read_csv(site["data"] / "campaigns.csv")["campaign_id"])))
    for page in pages:
        text = html.unescape(page.read_text(encoding="utf-8"))
        assert 'lang="zh-CN"' in text, page.name
        body = re.sub(r"<details class=\"mw-provenance\".*?</details>|<style.*?</style>", "", text, flags=re.S)
        left = [e for e in english if e in body]
        assert not left, (page.name, left[:3])
        for th in re.findall(r"<th[^>]*>(.*?)</th>", body, re.S):
            words = set(re.findall(r"[A-Za-z]{4,}", re.sub(r"<[^>]+>", "", th))) - ALLOWED_LATIN - data_labels
            assert not words, (page.name, th)
        for alt in re.findall(r'<img\b[^>]*alt="([^"]*)"', body):  # the figures' words: titles, axes, legends
            words = set(re.findall(r"[A-Za-z]{4,}", alt)) - ALLOWED_LATIN - data_labels
            assert not words, (page.name, alt[:200])
        title = re.search(r"<h1[^>]*>(.*?)</h1>", body, re.S).group(1)
        assert re.search(r"[\u4e00-\u9fff]", title), (page.name, title)
        assert 'href="../index.zh.html"' in text, "a Chinese report leads back to the Chinese index"
    index = (site["out"] / "index.html").read_text(encoding="utf-8")
    zh_index = html.unescape((site["out"] / "index.zh.html").read_text(encoding="utf-8"))
    # each index writes every run in its own language: titles and headline figures (the English run too)
    assert "会员生命周期" in zh_index and "论文的论断" in zh_index and "The member lifecycle" not in zh_index
    assert "The member lifecycle" in index and "会员生命周期" not in index
    for english in ("sleeping members now", "campaigns:", "members:", "points"):
        assert english not in zh_index, english
    assert '<html lang="zh-CN">' in zh_index and "月度会员报告" in zh_index and "关键数字" in zh_index
    assert "headline figures" not in zh_index and "the last date in the data" not in zh_index
    assert 'href="index.zh.html"' in index and 'href="index.html"' in zh_index, "each index links the other language"


def _leaves(x, path=""):
    if isinstance(x, dict):
        for k, v in x.items():
            yield from _leaves(v, f"{path}.{k}" if path else str(k))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from _leaves(v, f"{path}[{i}]")
    else:
        yield path, x


@pytest.mark.slow
def test_metrics_are_the_same_in_every_language(site):
    """A result does not depend on the language it was computed in: metrics.json of the English and
    the Chinese run have the same keys, numbers and codes (only the page's title differs; the headline
    figures are message ids and numbers that the index writes in its own language)."""
    en_dir, zh_dir = site["out"] / site["label"], site["out"] / "zh"
    files = sorted(en_dir.glob("*.metrics.json"))
    assert files and sorted(p.name for p in zh_dir.glob("*.metrics.json")) == [p.name for p in files]
    for f in files:
        en = dict(_leaves(json.loads(f.read_text(encoding="utf-8"))))
        zh = dict(_leaves(json.loads((zh_dir / f.name).read_text(encoding="utf-8"))))
        assert sorted(en) == sorted(zh), (f.name, sorted(set(en) ^ set(zh))[:10])
        words = re.compile(r"^title$")  # the page's own title; the headline is neutral (the index writes it)
        differ = {k: (en[k], zh[k]) for k in en if en[k] != zh[k] and not words.match(k)}
        assert not differ, (f.name, dict(list(differ.items())[:10]))


@pytest.mark.slow
def test_every_page_declares_a_viewport_for_phones(site):
    """Without the viewport tag a phone draws a 980 px page and shrinks it (the index and the
    definitions page had none)."""
    pages = sorted(site["out"].rglob("*.html"))
    assert len(pages) > 10
    missing = [p.name for p in pages if 'name="viewport"' not in p.read_text(encoding="utf-8")[:20_000]]
    assert missing == []


def test_the_raw_output_scan_flags_scientific_notation_but_not_a_pseudonym():
    """A pseudonym's hex digits can read like 224e27...: the scan flagged it on some secret keys."""
    from sitescan import raw_forms

    page = "<table><tr><th>member</th><th>value</th></tr><tr><td>{}</td><td>{}</td></tr></table>"
    assert raw_forms(page.format("P-224e2786975754901517", "1,234")) == []
    assert any("scientific" in f for f in raw_forms(page.format("P-ab12", "1.5e-07")))
