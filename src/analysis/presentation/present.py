"""One presentation layer for every table a report shows.

One function turns a frame into an escaped, formatted Styler (:func:`present`): human column
labels, no index of row numbers, each column formatted by its kind
(:mod:`analysis.presentation.formats`), and cells that hold a phrase of the statistics (a code and
its values: :class:`~analysis.statistics.results.Phrase`) in the report's words
(:mod:`analysis.presentation.phrases`). The notebook display hooks
(:mod:`analysis.presentation.display`) send every DataFrame and Styler through it, so a table the
code forgot to format still reads well. Every Styler shown is escaped (:func:`escape_styler`): a
value from the data never becomes markup.
"""

from __future__ import annotations

import html
from collections import defaultdict
from typing import Any

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from analysis.presentation.context import Context, current
from analysis.presentation.formats import (
    _CATEGORICAL,
    CODE_COLUMNS,
    LABELS,
    MISSING,
    column_decimals,
    covariate_label,
    display_name,
    format_value,
    infer_kind,
    label,
)
from analysis.presentation.phrases import NONE, phrase_text


def column_formatter(name: Any, values: pd.Series, kind: str | None = None, ctx: Context | None = None):
    """The formatter of one column: its ``kind`` (inferred from name and values when not given),
    and for numbers the decimals its typical value needs; it writes in ``ctx`` (the report's context
    when the formatter is made), whenever the table is rendered."""
    ctx = ctx or current()
    if name in ("covariate", "covariates") and kind is None:  # model terms: in words, not code names
        return lambda v: MISSING if v is None or v != v else ", ".join(covariate_label(c.strip(), ctx) for c in str(v).split(","))
    if len(values) and values.map(_is_phrases).all():  # what the statistics say, as codes: in words
        return lambda v: cell_words(v, ctx)
    kind = kind or infer_kind(name, values)
    decimals = column_decimals(values) if kind == "number" else None
    formatter = lambda v: format_value(v, kind, decimals, ctx=ctx)  # noqa: E731
    formatter.__mallwake_code__ = kind == "code"  # shown as code (escape_styler)
    return formatter


def _is_phrase(value: Any) -> bool:
    return hasattr(value, "code") and hasattr(value, "values") and not isinstance(value, (pd.Series, pd.DataFrame))


def _is_phrases(value: Any) -> bool:
    """A phrase, or a tuple of phrases (possibly empty: nothing to say)."""
    return _is_phrase(value) or (isinstance(value, tuple) and all(map(_is_phrase, value)))


def cell_words(value: Any, ctx: Context | None = None) -> str:
    """A cell holding a phrase in words; a tuple of phrases joined by "; ", an empty one "none"."""
    if isinstance(value, tuple):
        return "; ".join(phrase_text(v, ctx) for v in value) or phrase_text(NONE, ctx)
    return phrase_text(value, ctx)


def meaningful_index(index: pd.Index) -> bool:
    """Whether an index says something (a name, or labels that are not row numbers)."""
    if isinstance(index, pd.MultiIndex):
        return True
    if isinstance(index, pd.RangeIndex):
        return False
    if index.name is not None:
        return True
    return not pd.api.types.is_integer_dtype(index.dtype)


def _label_of(value: Any, ctx: Context) -> str:
    if isinstance(value, tuple):
        return " · ".join(label(v, ctx) for v in value if str(v) != "")
    return label(value, ctx) if isinstance(value, str) else display_name(value, ctx=ctx) if value is not None else ""


def present(
    frame: pd.DataFrame,
    kinds: dict | None = None,
    labels: dict | None = None,
    index: bool | None = None,
    caption: str | None = None,
    ctx: Context | None = None,
):
    """``frame`` as a formatted, escaped Styler: each column formatted by its kind (``kinds``
    declares some, the rest are inferred), headers labelled (``labels`` overrides), the index
    shown only when it means something (``index`` decides), missing values as ``–``; written in
    ``ctx`` (the report's context unless given), also when pandas renders it later."""
    ctx = ctx or current()
    kinds = dict(kinds or {})
    show_index = meaningful_index(frame.index) if index is None else index
    styler = frame.style
    formats = {}
    for col in frame.columns:
        values = frame[col]
        if isinstance(values, pd.DataFrame):  # duplicate column names: format each the same way
            values = values.iloc[:, 0]
        formats[col] = column_formatter(col, values, kinds.get(col), ctx)
    if formats:
        styler = styler.format(formats, na_rep=MISSING)
    # names of the data contract are shown as code (pandas wraps a formatter: the mark is kept here)
    styler._mallwake_code_columns = {
        j for j, col in enumerate(frame.columns) if getattr(formats.get(col), "__mallwake_code__", False)
    }
    names = dict(labels or {})
    styler = styler.format_index(lambda v: names.get(v, _label_of(v, ctx)), axis=1)
    styler = styler.format_index_names(lambda v: names.get(v, label(v, ctx)), axis=1)
    # an index of names of the data contract or of a model's parameters is shown as code
    styler._mallwake_code_index = frame.index.name in CODE_COLUMNS
    if show_index and styler._mallwake_code_index:
        styler = styler.format_index(str, axis=0)
    elif show_index:
        styler = styler.format_index(lambda v: names.get(v, _index_text(v, ctx)), axis=0)
        styler = styler.format_index_names(lambda v: names.get(v, label(v, ctx)), axis=0)
    else:
        styler = styler.hide(axis="index")
    if caption:
        styler = styler.set_caption(caption)
    return escape_styler(styler)


def _index_text(value: Any, ctx: Context) -> str:
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return format_value(value, "date", ctx=ctx)
    if isinstance(value, pd.Period):
        return str(value)
    if isinstance(value, (float, np.floating)):
        return format_value(value, "number", ctx=ctx)
    if isinstance(value, str) and value in LABELS:
        return label(value, ctx)
    if isinstance(value, str) and any(value.startswith(v + "_") for v in _CATEGORICAL):
        return covariate_label(value, ctx)
    return display_name(value, ctx=ctx) if value is not None else MISSING


def html_table(frame: pd.DataFrame, **kw) -> str:
    """The HTML of :func:`present` (for ``_repr_html_`` of result objects)."""
    return present(frame, **kw).to_html()


# --- escaping: every Styler shown renders escaped text -----------------------------------------

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


def _escaping(func, code: bool = False):
    """``func``'s text, HTML-escaped; ``code``: a name of the data contract, shown as code."""

    def escaped(value):
        if _missing(value):
            return MISSING
        text = html.escape(str(func(value)), quote=True)
        return f"<code>{text}</code>" if code else text

    escaped.__mallwake_escaped__ = True
    return escaped


def _finish(styler: Styler) -> None:
    """Give the columns and headers ``styler`` leaves unformatted the presentation defaults."""
    data = styler.data
    ctx = current()  # the report's context now, kept by the formats whenever the table renders
    formatted = {c for (_r, c) in getattr(styler, "_display_funcs", {})}
    for j, col in enumerate(data.columns):
        if j in formatted:
            continue
        styler.format(column_formatter(col, data.iloc[:, j], ctx=ctx), subset=data.columns[[j]])
    if not getattr(styler, "_display_funcs_columns", None):
        styler.format_index(lambda v: _label_of(v, ctx), axis=1)
    for axis in (0, 1):
        names = data.index.names if axis == 0 else data.columns.names
        if any(n is not None for n in names):
            styler.format_index_names(lambda v: label(v, ctx) if isinstance(v, str) else str(v), axis=axis)
    if meaningful_index(data.index):
        if not getattr(styler, "_display_funcs_index", None):
            styler.format_index(lambda v: _index_text(v, ctx), axis=0)
    elif not all(getattr(styler, "hide_index_", [False])):
        styler.hide(axis="index")


def escape_styler(styler: Styler) -> Styler:
    """Make ``styler`` render every cell, label and caption as escaped text (in place; returned).

    Formatting (``format``, ``format_index``, ``na_rep``) is kept: the formatted text is escaped.
    Cells and headers without a format get the presentation layer's (:mod:`analysis.presentation.present`).
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
        codes = getattr(styler, "_mallwake_code_columns", set()) if name == "_display_funcs" else set()
        code_index = name == "_display_funcs_index" and getattr(styler, "_mallwake_code_index", False)
        for key, func in funcs.items():
            code = code_index or (bool(codes) and key[1] in codes)
            wrapped[key] = func if getattr(func, "__mallwake_escaped__", False) else _escaping(func, code=code)
        setattr(styler, name, wrapped)
    if isinstance(styler.caption, str):
        styler.caption = html.escape(styler.caption)
    return styler


def styler_html(styler: Styler) -> str:
    """The escaped HTML of ``styler`` (for ``_repr_html_`` of result objects)."""
    return escape_styler(styler).to_html()
