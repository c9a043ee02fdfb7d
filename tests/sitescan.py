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
    """What is raw in the tables of one page (empty: nothing)."""
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
