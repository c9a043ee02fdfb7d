"""Tables shown in reports never turn data into markup, and always go through the presentation layer.

Data values (arm labels, categories, extra column names, campaign names) reach the HTML of a
report through pandas tables. ``DataFrame.to_html`` escapes them, but a pandas ``Styler`` does
not (its ``escape`` applies only to formats given explicitly, never to headers). Every Styler a
notebook displays, and every one the package renders itself, goes through :func:`escape_styler`:
its formatted cells, index and column labels and caption are HTML-escaped text, and a missing
value shows as ``–`` (never ``nan``, ``NaT`` or ``None``). DataFrames shown directly do the same.
Columns and headers the code did not format get the presentation layer's defaults
(:mod:`analysis.present`: human labels, a format per kind of column, no index of row numbers).
"""

from __future__ import annotations

import html
from collections import defaultdict

import pandas as pd
from pandas.io.formats.style import Styler

from .present import MISSING, _index_text, _label_of, column_formatter, label, meaningful_index

_FUNCS = (
    "_display_funcs",
    "_display_funcs_index",
    "_display_funcs_index_names",
    "_display_funcs_columns",
    "_display_funcs_column_names",
)


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


def _finish(styler: Styler) -> None:
    """Give the columns and headers ``styler`` leaves unformatted the presentation defaults."""
    data = styler.data
    formatted = {c for (_r, c) in getattr(styler, "_display_funcs", {})}
    for j, col in enumerate(data.columns):
        if j in formatted:
            continue
        styler.format(column_formatter(col, data.iloc[:, j]), subset=data.columns[[j]])
    if not getattr(styler, "_display_funcs_columns", None):
        styler.format_index(_label_of, axis=1)
    for axis in (0, 1):
        names = data.index.names if axis == 0 else data.columns.names
        if any(n is not None for n in names):
            styler.format_index_names(lambda v: label(v) if isinstance(v, str) else str(v), axis=axis)
    if meaningful_index(data.index):
        if not getattr(styler, "_display_funcs_index", None):
            styler.format_index(_index_text, axis=0)
    elif not all(getattr(styler, "hide_index_", [False])):
        styler.hide(axis="index")


def escape_styler(styler: Styler) -> Styler:
    """Make ``styler`` render every cell, label and caption as escaped text (in place; returned).

    Formatting (``format``, ``format_index``, ``na_rep``) is kept: the formatted text is escaped.
    Cells and headers without a format get the presentation layer's (:mod:`analysis.present`).
    """
    if not getattr(styler, "_mallwake_finished", False):
        if not styler.data.columns.is_unique:
            pass  # subset= cannot address a duplicated label; such tables keep pandas' formats
        else:
            _finish(styler)
        styler._mallwake_finished = True
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
    """A DataFrame as notebooks show it: through the presentation layer (formatted, labelled,
    escaped), at most ``display.max_rows`` rows with a caption saying how many there are."""
    from .present import present

    limit = pd.get_option("display.max_rows") or len(frame)
    caption = None
    if len(frame) > limit:
        caption = f"first {limit:,} of {len(frame):,} rows"
        frame = frame.head(limit)
    if not frame.columns.is_unique:  # the presentation layer addresses columns by label
        return frame.to_html(na_rep=MISSING, notebook=True, border=0)
    return present(frame, caption=caption).to_html()


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
    _describe_inline_figures()


def _describe_inline_figures() -> None:
    """Give every inline figure a text alternative (``alt`` in its output's metadata; the report
    template writes it on the image). matplotlib_inline builds that metadata in one private
    function; it is wrapped here, and left alone if a later version renames it."""
    try:
        from matplotlib_inline import backend_inline
    except ImportError:  # pragma: no cover - a dependency of ipykernel
        return
    fetch = getattr(backend_inline, "_fetch_figure_metadata", None)
    if fetch is None or getattr(fetch, "__mallwake_alt__", False):
        return

    def with_alt(fig):
        from .plots import figure_alt

        meta = dict(fetch(fig) or {})
        meta["alt"] = figure_alt(fig)
        return meta

    with_alt.__mallwake_alt__ = True
    backend_inline._fetch_figure_metadata = with_alt
