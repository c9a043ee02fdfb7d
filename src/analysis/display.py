"""Tables shown in reports never turn data into markup.

Data values (arm labels, categories, extra column names, campaign names) reach the HTML of a
report through pandas tables. ``DataFrame.to_html`` escapes them, but a pandas ``Styler`` does
not (its ``escape`` applies only to formats given explicitly, never to headers). Every Styler a
notebook displays, and every one the package renders itself, goes through :func:`escape_styler`:
its formatted cells, index and column labels and caption are HTML-escaped text.
"""

from __future__ import annotations

import html
from collections import defaultdict

from pandas.io.formats.style import Styler

_FUNCS = ("_display_funcs", "_display_funcs_index", "_display_funcs_index_names", "_display_funcs_columns",
          "_display_funcs_column_names")


def _escaping(func):
    def escaped(value):
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


def register_kernel_formatters() -> None:
    """In a notebook kernel, display every Styler escaped (no-op outside IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return
    ip = get_ipython()
    if ip is None:
        return
    ip.display_formatter.formatters["text/html"].for_type(Styler, _display_styler)
