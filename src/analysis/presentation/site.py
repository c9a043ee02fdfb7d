"""Render executed notebooks to self-contained HTML and build the report index."""

from __future__ import annotations

import html
import io
import json
import re
from pathlib import Path
from urllib.parse import quote

import nbformat
from jinja2 import pass_context
from nbconvert import HTMLExporter
from nbconvert.preprocessors import TagRemovePreprocessor

from analysis.data.config import PACKAGE_DIR
from analysis.data.params import load_data_params
from analysis.data.storage import atomic_write_text, locked, state_dir
from analysis.presentation.css import prune_css
from analysis.presentation.formats import name_table
from analysis.presentation.glossary import glossary_page, page_file
from analysis.presentation.i18n import N_, number, tr, translate_notebook
from analysis.presentation.languages import SOURCE, language, languages, page_name
from analysis.presentation.phrases import CLAIM_TITLES
from analysis.presentation.report import FIRST_TAG, METRICS_MIME, headline_text
from analysis.presentation.webfont import cjk_font_path, embed_cjk_font

#: The definitions page, beside the index; every report links to it.
GLOSSARY = "glossary.html"

TEMPLATE_DIR = PACKAGE_DIR / "templates"
HIDDEN_TAGS = {"injected-parameters", "parameters", "hide"}
#: Code cells whose code is the point (a teaching exercise) show their input even when code is hidden.
SHOWN_TAGS = frozenset({"exercise"})
#: Cells with the answer of an exercise: shown only in an answer key (``show_solutions`` true).
SOLUTION_TAG = "solution"
_HEADING = re.compile(r'<h([1-3]) id="([^"]+)">(.*?)</h\1>', re.S)


#: The words of a page's frame (navigation, contents, provenance): message ids of the catalogs.
CHROME = {
    "back": N_("\u2190 all reports"),
    "contents": N_("Contents"),
    "provenance": N_("Provenance"),
    "how": N_("how this report was made"),
    "glossary": N_("definitions"),
    "as_of": N_("analysis date"),
}
#: How the run records an analysis date it took from the data (see runner: ``as_of`` not given).
LAST_DATE = N_("the last date in the data")
DATE_LAST_IN_DATA = N_("{date} (the last date in the data)")


def _chrome(key: str, lang: str) -> str:
    return tr(CHROME[key], lang=lang)


def _as_of_text(value, lang: str) -> str:
    """The analysis date as the page header shows it, in the page's language."""
    text = str(value or "")
    if text.endswith(f" ({LAST_DATE})"):  # "2024-12-31 (the last date in the data)"
        return tr(DATE_LAST_IN_DATA, lang=lang, date=text[: -len(LAST_DATE) - 3])
    return text.replace(LAST_DATE, tr(LAST_DATE, lang=lang))


def page_language(nb) -> str:
    """The language a report was run in: its ``lang`` parameter as given to papermill, else the
    default of its parameters cell, else English."""
    given = (nb.metadata.get("papermill", {}).get("parameters") or {}).get("lang")
    if given is None:
        for cell in nb.cells:
            tags = cell.metadata.get("tags", [])
            if "parameters" in tags and "injected-parameters" not in tags:
                m = re.search(r"""^lang\s*(?::[^=]+)?=\s*["'](\w+)["']""", cell.source, re.M)
                given = m.group(1) if m else None
    return str(given) if str(given) in languages() else SOURCE


def _toc(body: str, lang: str = "en") -> str:
    items = []
    for level, anchor, inner in _HEADING.findall(body):
        text = re.sub(r"<[^>]+>", "", inner).replace("¶", "").strip()
        if level == "1":
            continue  # the title
        items.append(f'<li class="mw-l{level}"><a href="#{anchor}">{text}</a></li>')
    if not items:
        return ""
    return f'<nav class="mw-toc"><b>{_chrome("contents", lang)}</b><ul>' + "".join(items) + "</ul></nav>"


#: The entries of a report's provenance (message ids; values stay as recorded: versions, hashes,
#: parameter names). The runner writes them under these English names.
PROVENANCE = (
    N_("run"),
    N_("data directory"),
    N_("data fingerprint (sha256 of the files' bytes)"),
    N_("data source"),
    N_("data fingerprint (sha256 of the tables' row counts and checksums)"),
    N_("analysis date"),
    N_("git commit"),
    N_("environment (uv.lock sha256)"),
    N_("generated"),
    N_("packages"),
    N_("notebook"),
    N_("parameters"),
    N_("execution time"),
)


def provenance_html(prov: dict, lang: str = "en") -> str:
    """The provenance block shown at the end of every report."""
    rows = []
    for key, value in prov.items():
        value = _as_of_text(value, lang) if key == "analysis date" else value
        key = tr(key, lang=lang) if key in PROVENANCE else key
        if isinstance(value, dict):  # one line per entry (parameters, packages)
            cell = "<br>".join(f"{html.escape(str(k))} = {html.escape(str(v))}" for k, v in value.items())
        else:
            cell = html.escape(str(value))
        rows.append(f"<tr><td><b>{html.escape(str(key))}</b></td><td>{cell}</td></tr>")
    return (
        f'<details class="mw-provenance" open><summary><b>{_chrome("provenance", lang)}</b>: {_chrome("how", lang)}</summary>'
        f"<table>{''.join(rows)}</table></details>"
    )


#: Reports are static pages: no script runs, nothing is fetched; images and fonts are inline.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; base-uri 'none'; form-action 'none'"
)
CSP_META = f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'
#: Phones show the page at their own width (without it they draw a 980 px page and shrink it).
VIEWPORT_META = '<meta name="viewport" content="width=device-width, initial-scale=1">'


class _ReportExporter(HTMLExporter):
    """nbconvert's HTML exporter with Markdown rendered escaped: raw HTML in a Markdown cell or a
    ``display(Markdown(...))`` output (where data values are formatted in) shows as text."""

    @pass_context
    def markdown2html(self, context, source):
        from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

        cell = context.get("cell", {})
        renderer = IPythonRenderer(
            escape=True,
            attachments=cell.get("attachments", {}),
            embed_images=self.embed_images,
            path=context.get("resources", {}).get("metadata", {}).get("path", ""),
            anchor_link_text=self.anchor_link_text,
            exclude_anchor_links=self.exclude_anchor_links,
            **self.lexer_options,
        )
        return MarkdownWithMath(renderer=renderer).render(source)


def _pager(pages: list[tuple[str, str]], stem: str, lang: str) -> list[dict]:
    """Links to the previous and next report of the run (by their titles)."""
    names = [name for name, _ in pages]
    if stem not in names:
        return []
    i, out = names.index(stem), []
    if i > 0:
        out.append({"rel": "prev", "href": quote(names[i - 1] + ".html"), "text": f"\u2190 {pages[i - 1][1]}"})
    if i + 1 < len(names):
        out.append({"rel": "next", "href": quote(names[i + 1] + ".html"), "text": f"{pages[i + 1][1]} \u2192"})
    return out


def _first_steps_first(nb) -> None:
    """Move the cells tagged ``first`` (what to do first: computed last) right under the title."""
    first = [c for c in nb.cells if FIRST_TAG in c.metadata.get("tags", [])]
    if not first:
        return
    rest = [c for c in nb.cells if FIRST_TAG not in c.metadata.get("tags", [])]
    at = next((i + 1 for i, c in enumerate(rest) if c.cell_type == "markdown" and c.source.lstrip().startswith("# ")), 0)
    nb.cells = rest[:at] + first + rest[at:]


def render_html(
    nb_path: Path,
    out_path: Path,
    *,
    show_code: bool,
    run_label: str,
    provenance: dict,
    title: str | None = None,
    show_solutions: bool = False,
    pages: list[tuple[str, str]] | None = None,
    translations: dict[str, str] | None = None,
    full_css: bool = False,
) -> Path:
    """Render one executed notebook to a standalone, offline HTML file.

    Code is hidden unless ``show_code``, except in cells tagged ``exercise`` (the code is the
    exercise). Cells tagged ``solution`` are shown in an answer key (``show_solutions``) and
    left out otherwise.
    """
    nb = nbformat.read(nb_path, as_version=4)
    shown = SHOWN_TAGS | ({SOLUTION_TAG} if show_solutions else set())
    removed = HIDDEN_TAGS | (set() if show_solutions else {SOLUTION_TAG})
    for cell in nb.cells:
        if cell.cell_type == "code" and not show_code and not shown & set(cell.metadata.get("tags", [])):
            cell.metadata.setdefault("tags", []).append("mw-code-hidden")
    nb.metadata["title"] = title or nb_path.stem  # the page's <title>
    _first_steps_first(nb)
    for cell in nb.cells:  # headline figures go to metrics.json, not into the page
        if cell.get("outputs"):
            cell.outputs = [o for o in cell.outputs if METRICS_MIME not in o.get("data", {})]
    exporter = _ReportExporter(
        template_name="mallwake",
        extra_template_basedirs=[str(TEMPLATE_DIR)],
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    exporter.register_preprocessor(
        TagRemovePreprocessor(remove_cell_tags=removed, remove_input_tags={"mw-code-hidden"}, enabled=True), enabled=True
    )
    for cell in nb.cells:  # a report runs no script: JavaScript outputs are dropped
        for out in cell.get("outputs", []):
            for mime in [m for m in out.get("data", {}) if "javascript" in m]:
                del out["data"][mime]
    lang = page_language(nb)
    translate_notebook(nb, nb_path.stem, lang)  # the narrative in the report's language
    exporter.language_code = language(lang).html
    resources = {
        "mallwake": {
            "index_href": f"../{page_name('index', lang)}",
            "run_label": run_label,
            "provenance_html": provenance_html(provenance, lang),
            "csp_meta": CSP_META,
            "back": _chrome("back", lang),
            "glossary": _chrome("glossary", lang),
            "glossary_href": f"../{page_file(lang)}",
            "as_of": f"{_chrome('as_of', lang)} {_as_of_text(provenance.get('analysis date', ''), lang)}".strip(),
            "languages": [
                {"href": href, "name": language(other).name, "code": language(other).html}
                for other, href in (translations or {}).items()
            ],
            "pager": _pager(pages or [], out_path.stem, lang),
        }
    }
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    body = body.replace("<!--MALLWAKE-TOC-->", _toc(body, lang), 1)
    if not full_css:  # only the CSS rules the page uses (not JupyterLab's 240 KB in every page)
        body = prune_css(body)
    return atomic_write_text(out_path, embed_cjk_font(body))


def _fmt(value, lang: str) -> str:
    if isinstance(value, float):
        return number(value, ",.3g" if abs(value) < 1 else ",.1f", lang)
    if isinstance(value, int):
        return number(value, ",", lang)
    return html.escape(str(value))


def _claims(claims: list, lang: str = "en") -> str:
    """The study's claims with their verdicts, one line each (the claims page's entry in the index)."""
    colour = {"supported": "#1a7f37", "contradicted": "#b42318"}
    lines = []
    for c in claims:
        verdict = str(c.get("verdict", ""))
        style = f' style="color:{colour[verdict]}"' if verdict in colour else ""
        lines.append(
            f"{html.escape(str(c.get('claim', '')))}. {html.escape(tr(CLAIM_TITLES.get(c.get('claim'), ''), lang=lang))}: "
            f"<b{style}>{html.escape(tr(verdict, lang=lang))}</b>"
        )
    return "<br>".join(lines)


def _headline(metrics: dict, limit: int = 6, lang: str = "en", names: dict | None = None) -> str:
    if isinstance(metrics.get("claims"), list):
        return _claims(metrics["claims"], lang)
    if isinstance(metrics.get("headline"), list):  # the report's own two to four figures, in the index's language
        shown = [headline_text(h, lang, names) for h in metrics["headline"][:limit] if isinstance(h, dict)]
        return "<br>".join(f"{html.escape(label)}: <b>{html.escape(text)}</b>" for label, text in shown)
    flat = [(k, v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return "<br>".join(f"{html.escape(k)}: {_fmt(v, lang)}" for k, v in flat[:limit])


_TREND_KPIS = (("active", N_("active members")), ("spend", N_("spend")), ("sleeping", N_("sleeping")), ("woken", N_("woken up")))


def _trend_svg(months: list[str], kpis: list[dict], lang: str = "en") -> str:
    """Small line charts of the headline KPIs over the built months, as inline SVG (deterministic)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rc = {"svg.hashsalt": "mallwake", "svg.fonttype": "none", "font.size": 8}
    font = cjk_font_path() if language(lang).cjk else None
    if font is not None:  # titles measured with the Chinese font the page embeds
        from matplotlib import font_manager

        font_manager.fontManager.addfont(str(font))
        rc["font.sans-serif"] = [font_manager.FontProperties(fname=str(font)).get_name(), *plt.rcParams["font.sans-serif"]]
    with plt.rc_context(rc):
        fig, axes = plt.subplots(1, len(_TREND_KPIS), figsize=(2.6 * len(_TREND_KPIS), 1.5))
        x = range(len(months))
        for ax, (key, title) in zip(axes, _TREND_KPIS):
            ax.plot(x, [k.get(key, {}).get("value") for k in kpis], marker="o", ms=2.5, lw=1.2, color="#4c72b0")
            ax.set_title(tr(title, lang=lang))
            ax.set_xticks([0, len(months) - 1] if len(months) > 1 else [0])
            ax.set_xticklabels([months[0], months[-1]] if len(months) > 1 else months)
            ax.tick_params(labelsize=7)
            # plain units with thousands separators: no "1e7" offset above a spend axis
            ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _pos: number(v, ",.0f", lang)))
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
        fig.tight_layout()
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
        plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.index("<svg") :]


def _whole(value):
    return int(round(value)) if isinstance(value, float) else value


def _pct_cell(value, lang: str) -> str:
    return "–" if value is None else number(value, "+.1%", lang)


def _monthly_section(runs: list[dict], page_lang: str = "en") -> str:
    """Monthly reports: one row per built month (newest first) with headline KPIs, and trend charts."""
    ok = [r for r in runs if r.get("status") == "ok" and r.get("notebooks")]
    rows = []
    for run in sorted(runs, key=lambda r: (r.get("month", ""), r.get("lang", "")), reverse=True):
        nb = (run.get("notebooks") or [{}])[0]
        k = nb.get("metrics", {}).get("kpis", {})
        link = (
            f'<a href="{_href(run["_dir"], nb["name"] + ".html")}">{html.escape(run.get("month", run["_dir"]))}</a>'
            if nb.get("html")
            else html.escape(run["_dir"])
        )
        code = str(run.get("lang") or SOURCE)
        known = code in languages()  # the language's name in itself, marked as that language
        lang = (
            f'<span lang="{html.escape(language(code).html)}">{html.escape(language(code).name)}</span>'
            if known
            else html.escape(code)
        )
        if run.get("status") != "ok" or not k:
            rows.append(
                f"<tr><td>{link}</td><td>{lang}</td><td class='failed' colspan='6'>{html.escape(tr(str(run.get('status')), lang=page_lang))}</td></tr>"
            )
            continue
        cells = "".join(
            f"<td>{_fmt(_whole(k[key]['value']), page_lang)}<br><small>{_pct_cell(k[key].get('change_pct'), page_lang)}</small></td>"
            for key, _ in _TREND_KPIS
        )
        rows.append(f"<tr><td>{link}</td><td>{lang}</td>{cells}</tr>")
    trend = ""
    main_lang = [r for r in ok if r.get("lang", "en") == "en"] or ok
    series = sorted(main_lang, key=lambda r: r.get("month", ""))
    if len(series) >= 2:
        trend = _trend_svg(
            [r["month"] for r in series], [r["notebooks"][0]["metrics"].get("kpis", {}) for r in series], page_lang
        )
    head = "".join(
        f"<th>{html.escape(tr(t, lang=page_lang))}<br><small>{html.escape(tr('vs previous month', lang=page_lang))}</small></th>"
        for _, t in _TREND_KPIS
    )
    return (
        f"<section><h2>{html.escape(tr('Monthly member reports', lang=page_lang))}</h2>"
        f"<p>{tr(MONTHLY_INTRO, lang=page_lang)}</p>"
        f"<div class='mw-trend'>{trend}</div>"
        f"<div class='mw-scroll'><table><tr><th>{html.escape(tr('month', lang=page_lang))}</th>"
        f"<th>{html.escape(tr('language', lang=page_lang))}</th>"
        f"{head}</tr>{''.join(rows)}</table></div></section>"
    )


#: Run and report statuses, as the index shows them.
STATUS_WORDS = (N_("ok"), N_("failed"), N_("skipped"))
MONTHLY_INTRO = N_(
    "One page per month for management: KPIs and their changes, segment and lifecycle movements, the month's "
    "campaigns, a watch list and a short narrative. Built with <code>mallwake run --month YYYY-MM</code> or "
    "backfilled with <code>--months YYYY-MM..YYYY-MM</code>."
)
INDEX_INTRO = N_(
    "Member analytics for shopping malls: every report below was executed by papermill from a notebook in "
    "<code>notebooks/</code> and rendered offline. Open a report for its figures, narrative and provenance; "
    '<a href="{glossary}">definitions</a> of every metric, stage, segment, window and rule.'
)


def build_index(reports_dir: Path) -> Path:
    """Write ``reports/index.html`` listing every run (newest first) and its reports.

    Rebuilt under a lock and through a unique temporary file, so concurrent runs never see a
    half-written index or collide on the temporary file.
    """
    reports_dir = Path(reports_dir)
    with locked(state_dir(reports_dir) / "index.lock", wait=True, what=f"{reports_dir / 'index.html'}"):
        for lang in languages():
            atomic_write_text(reports_dir / page_file(lang), embed_cjk_font(glossary_page(CSP_META, lang)))
        runs = _read_runs(reports_dir)
        for lang in languages():
            if lang != SOURCE:  # one index per language, each linking the others
                atomic_write_text(reports_dir / page_name("index", lang), embed_cjk_font(_index_page(runs, lang)))
        return atomic_write_text(reports_dir / "index.html", embed_cjk_font(_index_page(runs)))


def _href(*parts: str) -> str:
    """A relative link to ``parts`` (folder and file names), quoted for the URL and the attribute."""
    return html.escape("/".join(quote(str(p)) for p in parts), quote=True)


def _read_runs(reports_dir: Path) -> list[dict]:
    """Every run's ``run.json`` under ``reports_dir`` (newest first); unreadable ones are skipped."""
    runs = []
    for run_file in reports_dir.glob("[!.]*/run.json"):
        try:
            runs.append(json.loads(run_file.read_text(encoding="utf-8")) | {"_dir": run_file.parent.name})
        except (OSError, json.JSONDecodeError):
            continue
    return sorted(runs, key=lambda r: r.get("finished", ""), reverse=True)


def _run_names(run: dict, lang: str) -> dict[str, str]:
    """Display names in ``lang`` for a run's figures: the defaults and its data folder's ``mallwake.yaml``."""
    try:
        declared = load_data_params(run.get("data_dir")) if run.get("data_dir") and Path(run["data_dir"]).is_dir() else {}
    except Exception:  # noqa: BLE001 - a data folder changed since the run: its names are not needed to list it
        declared = {}
    return name_table(lang, declared)


def _index_page(runs: list[dict], page_lang: str = "en") -> str:
    _t = lambda text, **kw: html.escape(tr(text, lang=page_lang, **kw))  # noqa: E731 (the page's language, escaped)
    monthly = [r for r in runs if r.get("kind") == "monthly"]
    runs = [r for r in runs if r.get("kind") != "monthly"]
    parts = [_monthly_section(monthly, page_lang)] if monthly else []
    for run in runs:
        status = run.get("status", "?")
        rows = []
        names = _run_names(run, page_lang)
        for nb in run.get("notebooks", []):
            title = (nb.get("titles") or {}).get(page_lang) or nb["title"]  # in the index's language
            link = (
                f'<a href="{_href(run["_dir"], nb["name"] + ".html")}">{html.escape(str(title))}</a>'
                if nb.get("html")
                else html.escape(str(title))
            )
            err = f"<br><small>{html.escape(nb.get('error') or '')}</small>" if nb.get("error") else ""
            if nb.get("status") != "ok" and nb.get("ipynb"):  # the executed notebook is kept: open it to see the failing cell
                err += f'<br><small><a href="{_href(run["_dir"], nb["ipynb"])}">{_t("executed notebook (up to the failing cell)")}</a></small>'
            rows.append(
                f"<tr><td>{link}</td><td class='{html.escape(str(nb['status']))}'>{_t(str(nb['status']))}{err}</td>"
                f"<td>{number(float(nb.get('seconds') or 0), '.1f', page_lang)} s</td><td>{_headline(nb.get('metrics', {}), lang=page_lang, names=names)}</td></tr>"
            )
        parts.append(
            f"<section><h2>{html.escape(run['_dir'])} <span class='{html.escape(str(status))}'>{_t(str(status))}</span></h2>"
            f"<p>{_t('data')}: {html.escape(run.get('data_name', ''))} &middot; {_t('as of')} {html.escape(_as_of_text(run.get('as_of', ''), page_lang))} "
            f"&middot; {_t('finished')} {html.escape(str(run.get('finished', '')))} &middot; {number(float(run.get('seconds') or 0), '.1f', page_lang)} s</p>"
            f'<div class="mw-scroll"><table><tr><th>{_t("report")}</th><th>{_t("status")}</th><th>{_t("time")}</th>'
            f"<th>{_t('headline figures')}</th></tr>" + "".join(rows) + "</table></div></section>"
        )
    other = " &middot; ".join(
        f'<a href="{page_name("index", code)}" hreflang="{language(code).html}" lang="{language(code).html}">{html.escape(language(code).name)}</a>'
        for code in languages()
        if code != page_lang
    )
    page = f"""<!DOCTYPE html>
<html lang="{language(page_lang).html}"><head><meta charset="utf-8">{VIEWPORT_META}{CSP_META}<title>{_t("mallwake reports")}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }} td, th {{ border-bottom: 1px solid #ddd; padding: 0.4em; text-align: left; vertical-align: top; }}
.mw-scroll {{ overflow-x: auto; }} /* a wide table scrolls in its own box on a phone */
@media (max-width: 600px) {{ body {{ margin: 1em auto; }} td, th {{ padding: 0.3em; }} }}
:lang(zh) td, :lang(zh) th {{ word-break: keep-all; }}
.ok {{ color: #1a7f37; }} .failed {{ color: #c62828; font-weight: bold; }} .skipped {{ color: #888; }}
</style></head><body>
<p class="mw-lang">{other}</p>
<h1>{_t("mallwake reports")}</h1>
<p>{tr(INDEX_INTRO, lang=page_lang, glossary=page_file(page_lang))}</p>
{"".join(parts) if parts else "<p>" + tr("No runs yet: <code>make report</code> builds one.", lang=page_lang) + "</p>"}
</body></html>
"""
    return page
