"""Tables shown in reports never turn data into markup.

Data values (arm labels, categories, extra column names, campaign names) reach the HTML of a
report through pandas tables. ``DataFrame.to_html`` escapes them, but a pandas ``Styler`` does
not (its ``escape`` applies only to formats given explicitly, never to headers). Every Styler a
notebook displays, and every one the package renders itself, goes through :func:`escape_styler`:
its formatted cells, index and column labels and caption are HTML-escaped text, and a missing
value shows as ``–`` (never ``nan``, ``NaT`` or ``None``). DataFrames shown directly do the same.
"""

from __future__ import annotations

import html
from collections import defaultdict

import pandas as pd
from pandas.io.formats.style import Styler

_FUNCS = ("_display_funcs", "_display_funcs_index", "_display_funcs_index_names", "_display_funcs_columns",
          "_display_funcs_column_names")


#: What a missing value (NaN, NaT, None, pd.NA) shows as in every report table.
MISSING = "–"


def _missing(value) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # arrays, lists: not a scalar missing value
        return False


def _escaping(func):
    def escaped(value):
        if _missing(value):
            return MISSING
        return html.escape(str(func(value)), quote=True)

    escaped.__mallwake_escaped__ = True
    return escaped


def escape_styler(styler: Styler) -> Styler:
    """Make ``styler`` render every cell, label and caption as escaped text (in place; returned).

    Formatting (``format``, ``format_index``, ``na_rep``) is kept: the formatted text is escaped.
    """
    for name in _FUNCS:
        funcs = getattr(styler, name, None)
        if not isinstance(funcs, defaultdict):
            continue
        factory = funcs.default_factory
        wrapped = defaultdict(lambda factory=factory: _escaping(factory()))
        for key, func in funcs.items():
            wrapped[key] = func if getattr(func, "__mallwake_escaped__", False) else _escaping(func)
        setattr(styler, name, wrapped)
    if isinstance(styler.caption, str):
        styler.caption = html.escape(styler.caption)
    return styler


def styler_html(styler: Styler) -> str:
    """The escaped HTML of ``styler`` (for ``_repr_html_`` of result objects)."""
    return escape_styler(styler).to_html()


def _display_styler(styler: Styler) -> str:
    return styler_html(styler)


def frame_html(frame: pd.DataFrame) -> str:
    """A DataFrame as notebooks show it, with missing values as ``–`` (pandas escapes the text)."""
    text_cols = [i for i, dtype in enumerate(frame.dtypes) if dtype == object and frame.iloc[:, i].isna().any()]
    if text_cols:  # to_html's na_rep misses None in object columns
        frame = frame.copy()
        for i in text_cols:
            col = frame.iloc[:, i]
            frame.iloc[:, i] = col.where(col.notna(), MISSING)
    return frame.to_html(na_rep=MISSING, max_rows=pd.get_option("display.max_rows"),
                         max_cols=pd.get_option("display.max_columns"), show_dimensions=False, notebook=True, border=0)


def register_kernel_formatters() -> None:
    """In a notebook kernel, display every Styler escaped (no-op outside IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return
    ip = get_ipython()
    if ip is None:
        return
    formatters = ip.display_formatter.formatters["text/html"]
    formatters.for_type(Styler, _display_styler)
    formatters.for_type(pd.DataFrame, frame_html)
