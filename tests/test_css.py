"""A report page ships only the CSS it uses (presentation/css.py), and looks the same."""

import re
import shutil
import subprocess

import pytest

from analysis.presentation.css import prune_css


def test_only_rules_that_can_match_the_page_are_kept():
    page = """<html><head><style>
:root { --jp-a: red; --jp-b: var(--jp-c); --jp-c: blue; --jp-unused: green; }
.used { color: var(--jp-a); }
.unused { color: var(--jp-unused); }
.used:not(.absent), .absent .used { background: var(--jp-b); }
body { margin: 0; }
@media (max-width: 600px) { .unused { display: none; } .used { display: block; } }
@keyframes spin { from { opacity: 0; } }
@font-face { font-family: x; src: url(data:font/woff2;base64,AAAA); }
</style></head><body><p class="used other">x</p><span style="color: var(--jp-inline)">y</span></body></html>"""
    out = prune_css(page)
    css = re.search(r"<style>(.*)</style>", out, re.S).group(1)
    assert ".used{color:var(--jp-a)}" in css and ".unused" not in css
    assert ".used:not(.absent){" in css and ".absent .used" not in css  # a selector list keeps the part that can match
    assert "--jp-a:red" in css and "--jp-b:var(--jp-c)" in css and "--jp-c:blue" in css  # used, also through another
    assert "--jp-unused" not in css
    assert "body{margin:0}" in css and "@media (max-width: 600px){.used{display:block}}" in css
    assert "@font-face" in css and "keyframes" not in css
    assert out.endswith('<body><p class="used other">x</p><span style="color: var(--jp-inline)">y</span></body></html>')


@pytest.mark.slow
def test_a_report_page_is_light_and_looks_the_same_as_with_the_whole_stylesheet(small_mall, tmp_path):
    """The claims page (no figures) was 290 KB, 240 KB of it JupyterLab's stylesheet; the page must
    stay under 120 KB (a Chinese page: besides the glyphs it embeds) and render pixel for pixel as with
    the whole stylesheet, in English and Chinese."""
    from PIL import Image, ImageChops

    from analysis.application.runner import run_reports
    from analysis.presentation.site import render_html

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    out = tmp_path / "reports"
    notebooks = tmp_path / "nbs"
    notebooks.mkdir()
    from analysis.data.config import NOTEBOOKS_DIR

    for ext in ("ipynb", "py"):
        shutil.copy(NOTEBOOKS_DIR / f"00_study_claims.{ext}", notebooks)
    shutil.copy(NOTEBOOKS_DIR / "jupytext.toml", notebooks)
    for lang in ("en", "zh"):
        res = run_reports(small_mall, out_dir=out, notebooks_dir=notebooks, params={"lang": lang}, log=lambda *_: None)
        assert res.ok, [n.error for n in res.notebooks]
        page = res.out_dir / "00_study_claims.html"
        text = page.read_text(encoding="utf-8")
        font = sum(len(m) for m in re.findall(r"url\(data:font/[^)]*\)", text))  # a Chinese page embeds its glyphs
        assert len(text.encode()) - font < 120_000, (lang, page.stat().st_size, font)
        # the same page rendered twice, with the pruned and with the whole stylesheet
        import json

        prov = json.loads((res.out_dir / "run.json").read_text(encoding="utf-8"))["provenance"]
        pruned, full = tmp_path / f"pruned-{lang}.html", tmp_path / f"full-{lang}.html"
        for target, whole in ((pruned, False), (full, True)):
            render_html(
                res.out_dir / "00_study_claims.ipynb",
                target,
                show_code=False,
                run_label=res.label,
                provenance=prov,
                full_css=whole,
            )
        assert full.stat().st_size > 200_000 and pruned.stat().st_size < full.stat().st_size - 150_000
        if chromium is None:
            continue
        shots = []
        # sticky first columns are rasterized on their own layer, at a moment Chromium's screenshot does
        # not wait for (their pixels differ between two shots of one page): both pages lay them out in place
        unstick = "<style>.jp-RenderedHTMLCommon table tr > :first-child { position: static !important; }</style></head>"
        for html_file in (pruned, full):
            html_file.write_text(html_file.read_text(encoding="utf-8").replace("</head>", unstick, 1), encoding="utf-8")
        for html_file in (pruned, full):
            for width in (390, 1280):
                png = tmp_path / f"{html_file.stem}-{lang}-{width}.png"
                subprocess.run(
                    [
                        chromium,
                        "--headless",
                        "--no-sandbox",
                        "--disable-gpu",
                        "--no-first-run",
                        "--hide-scrollbars",
                        f"--user-data-dir={tmp_path / 'chrome'}",
                        f"--window-size={width},4000",
                        f"--screenshot={png}",
                        html_file.as_uri(),
                    ],
                    check=True,
                    capture_output=True,
                    timeout=120,
                )
                shots.append(Image.open(png).convert("RGB"))
        for a, b in zip(shots[:2], shots[2:]):
            assert ImageChops.difference(a, b).getbbox() is None, f"the {lang} page looks different without the unused CSS"
