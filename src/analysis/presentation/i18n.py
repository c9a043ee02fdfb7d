"""Reports in the reader's language: message catalogs for sentences and notebook narrative.

The model is gettext's: the English text is the message id, a catalog per language maps it to the
translation, and a missing entry falls back to English. Two kinds of catalog live in
``locales/<lang>/``:

* ``messages.yaml``: the sentences code writes into reports, as ``str.format`` templates
  (``tr("{n:,} members on the list.", n=...)``);
* ``<notebook stem>.yaml``: a notebook's markdown cells, as a list of ``{en: ..., <lang>: ...}``
  pairs, swapped in when a report is rendered in that language.

Keyed by the English text, a translation goes stale the moment the English changes: the tests
check that every message and every markdown cell has an entry and that no entry is unused.
Translators' tools (what is missing, the pseudo-language, gettext ``.po`` files) are in
:mod:`analysis.presentation.catalogs`.
The language is the one asked for (``lang=``), else the report's (:mod:`analysis.presentation.context`).
"""

from __future__ import annotations

from functools import cache

import yaml

from analysis.presentation.context import current, locale_of
from analysis.presentation.languages import SOURCE, folder, languages
from analysis.presentation.numbers import LocaleFormatter


def language() -> str:
    """The language of the report this kernel renders (:func:`analysis.presentation.context.current`)."""
    return current().lang


#: The catalogs of words that are not sentences of the reports, each its own file (gettext's
#: domains): the same English word may need another translation there (a defined term).
DOMAINS = ("messages", "terms")


@cache
def messages(lang: str, domain: str = "messages") -> dict[str, str]:
    """The catalog ``domain`` of ``lang`` (English: empty, the ids are the text)."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown catalog {domain!r}; one of {', '.join(DOMAINS)}")
    if lang == SOURCE or lang not in languages():
        return {}
    path = folder(lang) / f"{domain}.yaml"
    if not path.is_file():
        return {}
    pairs = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return {str(p["en"]).strip(): str(p[lang]).strip() for p in pairs}


def N_(msgid: str) -> str:
    """Marks ``msgid`` for the catalog where it is defined; translated where it is shown (``tr(x)``)."""
    return msgid


def tr(msgid: str, /, lang: str | None = None, domain: str = "messages", **fields) -> str:
    """``msgid`` in the report's language (or ``lang``), formatted with ``fields`` (its numbers by the
    language's locale, :class:`~analysis.presentation.numbers.LocaleFormatter`); ``domain``: the
    catalog (:data:`DOMAINS`) that holds it."""
    lang = lang or language()
    text = messages(lang, domain).get(msgid.strip(), msgid)
    return _formatter(lang).format(text, **fields) if fields else text


def number(value, spec: str, lang: str | None = None) -> str:
    """``format(value, spec)`` written by the locale of ``lang`` (the report's language unless
    given), as a message's numbers are: for figure labels and page cells outside a sentence."""
    return _formatter(lang or language()).format_field(value, spec)


def _formatter(lang: str) -> LocaleFormatter:
    """Writes a message's numbers by the locale of ``lang`` (``{n:,}``: ``1.234`` in German); a
    language without a folder (its words fall back to English) by English's."""
    return LocaleFormatter(locale_of(lang if lang in languages() else SOURCE))


@cache
def narrative(stem: str, lang: str) -> dict[str, str]:
    """A notebook's markdown cells in ``lang``: ``{English source: translation}``."""
    if lang == SOURCE or lang not in languages():
        return {}
    path = folder(lang) / f"{stem}.yaml"
    if not path.is_file():
        return {}
    pairs = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return {_key(p["en"]): str(p[lang]).rstrip("\n") for p in pairs}


def _key(source: str) -> str:
    return "\n".join(line.rstrip() for line in str(source).strip().splitlines())


def translate_notebook(nb, stem: str, lang: str) -> list[str]:
    """Swap the markdown cells of ``nb`` for their ``lang`` text, in place; returns the English
    sources that have no translation (left as they are)."""
    table = narrative(stem, lang)
    missing = []
    if not table:
        return missing
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        text = table.get(_key(cell.source))
        if text is None:
            missing.append(cell.source)
        else:
            cell.source = text
    return missing


def title(nb, stem: str, lang: str) -> str | None:
    """The notebook's first ``# heading`` in ``lang`` (``None``: no heading)."""
    table = narrative(stem, lang)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            source = table.get(_key(cell.source), cell.source)
            for line in source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return None
