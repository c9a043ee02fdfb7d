"""Scan a report site's HTML tables for raw pandas output (issue 15's check).

``raw_forms(html)`` lists, per table, what a reader should never see: an index column of bare row
numbers, floats with five or more decimals, scientific notation, ``NaN``/``NaT``/``None``/``nan``,
snake_case headers.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

_LONG_FLOAT = re.compile(r"(?<![\w.])-?\d+\.\d{5,}(?![\w.])")
_SCIENTIFIC = re.compile(r"(?<![\w.\-])-?\d+(\.\d+)?[eE][-+]?\d+(?![\w.])")  # not inside a pseudonym: P-224e27...
_MISSING = re.compile(r"^(NaN|nan|NaT|None|<NA>|null)$")
_SNAKE = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)+$")


class _Tables(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables: list[dict] = []
        self._stack: list[dict] = []
        self._cell: list[str] | None = None
        self._cell_tag = ""
        self._row: list[tuple[str, str]] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._stack.append({"rows": [], "attrs": dict(attrs)})
        elif tag == "tr" and self._stack:
            self._row = []
        elif tag in ("td", "th") and self._stack:
            self._cell, self._cell_tag = [], tag

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append((self._cell_tag, " ".join("".join(self._cell).split())))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._stack:
            self._stack[-1]["rows"].append(self._row)
            self._row = None
        elif tag == "table" and self._stack:
            self.tables.append(self._stack.pop())

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def tables(html: str) -> list[list[list[tuple[str, str]]]]:
    p = _Tables()
    p.feed(html)
    return [t["rows"] for t in p.tables]


def raw_forms(html: str) -> list[str]:
    """What is raw in the tables of one page (empty: nothing). The provenance block is not a table of
    figures: its values are recorded as they are (a commit hash such as 18e4004 is not a number)."""
    html = re.sub(r'<details class="mw-provenance".*?</details>', "", html, flags=re.S)
    found = []
    for k, rows in enumerate(tables(html), start=1):
        body = [r for r in rows if any(tag == "td" for tag, _ in r)]
        # an index of bare row numbers: a leading header cell per body row holding 0..n-1 or similar
        leading = [r[0][1] for r in body if r and r[0][0] == "th"]
        # pandas writes a named index as a header row: its name, then empty cells
        named = any(all(tag == "th" for tag, _ in r) and r[0][1] and not any(t for _, t in r[1:]) for r in rows if len(r) > 1)
        if body and not named and len(leading) == len(body) and all(re.fullmatch(r"\d+", v) for v in leading):
            found.append(f"table {k}: an index column of row numbers ({', '.join(leading[:4])} ...)")
        for r in rows:
            for tag, text in r:
                if _MISSING.match(text):
                    found.append(f"table {k}: a missing value shown as {text!r}")
                elif _LONG_FLOAT.search(text):
                    found.append(f"table {k}: an unformatted float {text!r}")
                elif _SCIENTIFIC.search(text):
                    found.append(f"table {k}: scientific notation {text!r}")
                elif tag == "th" and _SNAKE.match(text):
                    found.append(f"table {k}: a snake_case header {text!r}")
    return found


def scan_site(root: Path) -> dict[str, list[str]]:
    """``{page: [raw forms]}`` for every HTML page under ``root`` that has any."""
    out = {}
    for page in sorted(Path(root).rglob("*.html")):
        found = raw_forms(page.read_text(encoding="utf-8"))
        if found:
            out[str(page.relative_to(root))] = found
    return out


#: Elements whose text is not the report's words: styles, scripts, code (parameter and column
#: names are code), and the provenance block (versions, paths, hashes).
_NOT_WORDS = {"style", "script", "code", "pre", "kbd", "samp"}
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
_ASCII_WORD = re.compile(r"(?<![\w/.-])[A-Za-z][A-Za-z_]{2,}(?![\w/.-])")


class _Words(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._skip: list[str] = []  # the open elements whose text is skipped

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in _VOID:
            if a.get("alt"):
                self.texts.append(a["alt"])
            return
        marked = tag != "html" and "lang" in a  # text marked as another language: a name in itself, the English term
        if self._skip or tag in _NOT_WORDS or marked or "mw-provenance" in (a.get("class") or ""):
            self._skip.append(tag)
        for key in ("alt", "title", "aria-label"):
            if a.get(key) and not self._skip:
                self.texts.append(a[key])

    def handle_endtag(self, tag):
        if self._skip and self._skip[-1] == tag:
            self._skip.pop()

    def handle_data(self, data):
        if not self._skip:
            self.texts.append(data)


def ascii_words(html: str) -> set[str]:
    """The words of a page a reader sees (text, ``alt``, ``title``) that are plain ASCII: in a page
    rendered in the pseudo-language (every catalog string has letters outside ASCII), what never
    went through a catalog. Code, styles, the provenance block and text marked with its own
    ``lang`` (a language's name in itself, the English term beside a translated one) are not."""
    p = _Words()
    p.feed(html)
    return {w for text in p.texts for w in _ASCII_WORD.findall(text)}
