"""The definitions page: every metric, stage, segment, window and rule the reports use.

Written beside the index (``reports/glossary.html``) and linked from every report. Definitions
that the code decides are generated from the code (the RFM segment of each R x F cell, the
sleeping-list rules, the default windows), so the page cannot drift from what the reports compute.
"""

from __future__ import annotations

import html
import re

from analysis.presentation.definitions import DEFAULTS, ENTRIES, anchor
from analysis.presentation.formats import name_table
from analysis.presentation.i18n import tr
from analysis.presentation.languages import SOURCE, language, languages, page_name
from analysis.presentation.phrases import RULE_LABELS
from analysis.statistics.segmentation import NO_PURCHASE, SEGMENTS, segment_lookup


def segment_cells() -> dict[str, list[str]]:
    """Each RFM segment with the (R, F) score pairs it covers, from the segmentation code's map."""
    cells: dict[str, list[str]] = {s: [] for s in SEGMENTS}
    for key, name in segment_lookup().items():
        cells[name].append(f"R{key[0]}F{key[1]}")
    return cells


def _rows(lang: str = "en") -> list[tuple[str, str, str, str]]:
    """(section, anchor term, shown term as HTML, definition) in ``lang``: the English term is the anchor,
    so a link to a definition is the same in every language."""
    names = name_table(lang)

    def shown(term: str, translated: str) -> str:
        """The term in the page's language with the English term beside it, marked as English
        (a reader can match the English reports and this page; a screen reader says it in English)."""
        if translated == term:
            return html.escape(term)
        return f'{html.escape(translated)} (<span lang="{language(SOURCE).html}">{html.escape(term)}</span>)'

    rows = [
        (tr(sec, lang=lang), term, shown(term, tr(term, lang=lang, domain="terms")), tr(text, lang=lang).format(**DEFAULTS))
        for sec, term, text in ENTRIES
    ]
    rules = tr("Windows and rules", lang=lang)
    for rule, text in RULE_LABELS.items():
        term = f"Sleeping-list rule: {rule}"
        rows.append(
            (
                rules,
                term,
                html.escape(tr("Sleeping-list rule: {rule}", lang=lang, rule="\0")).replace(
                    "\0", f"<code>{html.escape(rule)}</code>"
                ),
                tr("Removed from the refined list: {text}.", lang=lang, text=tr(text, lang=lang)),
            )
        )
    for segment, cells in segment_cells().items():
        text = (
            tr("Bought nothing in the RFM window: no scores.", lang=lang)
            if segment == NO_PURCHASE
            else tr("R and F scores {cells}.", lang=lang, cells=", ".join(cells))
        )
        rows.append((tr("RFM segments", lang=lang), segment, shown(segment, names.get(segment, segment)), text))
    return rows


#: The definitions page of each language (beside the index of that language).
def page_file(lang: str) -> str:
    """The definitions page of ``lang`` (beside the index of that language)."""
    return page_name("glossary", lang)


def glossary_page(csp_meta: str, lang: str = "en") -> str:
    """The definitions page in ``lang`` (HTML, escaped, offline), with a link to the other languages'."""
    sections: dict[str, list[str]] = {}
    for section, term, shown, text in _rows(lang):
        body = html.escape(text)
        body = re.sub(r"`([^`]+)`", r"<code>\1</code>", body)
        sections.setdefault(section, []).append(f'<dt id="{anchor(term)}">{shown}</dt><dd>{body}</dd>')
    parts = "".join(f"<section><h2>{html.escape(s)}</h2><dl>{''.join(items)}</dl></section>" for s, items in sections.items())
    others = " ".join(
        f'<a href="{page_file(other)}" hreflang="{language(other).html}" lang="{language(other).html}">{html.escape(language(other).name)}</a>'
        for other in languages()
        if other != lang
    )
    intro = tr(
        "Every metric, stage, segment, window and rule the reports use. Names in <code>code</code> are parameters of the "
        "notebooks (set with <code>mallwake run -p NAME=VALUE</code> or in the data folder's <code>mallwake.yaml</code>).",
        lang=lang,
    )
    return f"""<!DOCTYPE html>
<html lang="{language(lang).html}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">{csp_meta}<title>mallwake: {html.escape(tr("Definitions", lang=lang))}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 900px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }}
dt {{ font-weight: bold; margin-top: 0.8em; }} dd {{ margin-left: 1.2em; }} code {{ background: #f3f3f6; padding: 0 0.2em; }}
nav a {{ margin-right: 1em; }}
</style></head><body>
<nav><a href="{page_name("index", lang)}">&larr; {html.escape(tr("all reports", lang=lang))}</a>{others}</nav>
<h1>{html.escape(tr("Definitions", lang=lang))}</h1>
<p>{intro}</p>
{parts}
</body></html>"""
