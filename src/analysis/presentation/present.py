"""One presentation layer for every table a report shows.

One function turns a frame into an escaped, formatted Styler (:func:`present`): human column
labels, no index of row numbers, each column formatted by its kind
(:mod:`analysis.presentation.formats`), and cells that hold a phrase of the statistics (a code and
its values: :class:`~analysis.statistics.results.Phrase`) in the report's words
(:mod:`analysis.presentation.phrases`). The notebook display hooks
(:mod:`analysis.presentation.display`) send every DataFrame and Styler through it, so a table the
code forgot to format still reads well.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

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


def column_formatter(name: Any, values: pd.Series, kind: str | None = None):
    """The formatter of one column: its ``kind`` (inferred from name and values when not given),
    and for numbers the decimals its typical value needs."""
    if name in ("covariate", "covariates") and kind is None:  # model terms: in words, not code names
        return lambda v: MISSING if v is None or v != v else ", ".join(covariate_label(c.strip()) for c in str(v).split(","))
    if len(values) and values.map(_is_phrases).all():  # what the statistics say, as codes: in words
        return cell_words
    kind = kind or infer_kind(name, values)
    decimals = column_decimals(values) if kind == "number" else None
    formatter = lambda v: format_value(v, kind, decimals)  # noqa: E731
    formatter.__mallwake_code__ = kind == "code"  # shown as code (display.escape_styler)
    return formatter


def _is_phrase(value: Any) -> bool:
    return hasattr(value, "code") and hasattr(value, "values") and not isinstance(value, (pd.Series, pd.DataFrame))


def _is_phrases(value: Any) -> bool:
    """A phrase, or a tuple of phrases (possibly empty: nothing to say)."""
    return _is_phrase(value) or (isinstance(value, tuple) and all(map(_is_phrase, value)))


def cell_words(value: Any) -> str:
    """A cell holding a phrase in words; a tuple of phrases joined by "; ", an empty one "none"."""
    if isinstance(value, tuple):
        return "; ".join(map(phrase_text, value)) or phrase_text(NONE)
    return phrase_text(value)


def meaningful_index(index: pd.Index) -> bool:
    """Whether an index says something (a name, or labels that are not row numbers)."""
    if isinstance(index, pd.MultiIndex):
        return True
    if isinstance(index, pd.RangeIndex):
        return False
    if index.name is not None:
        return True
    return not pd.api.types.is_integer_dtype(index.dtype)


def _label_of(value: Any) -> str:
    if isinstance(value, tuple):
        return " · ".join(label(v) for v in value if str(v) != "")
    return label(value) if isinstance(value, str) else display_name(value) if value is not None else ""


def present(
    frame: pd.DataFrame,
    kinds: dict | None = None,
    labels: dict | None = None,
    index: bool | None = None,
    caption: str | None = None,
):
    """``frame`` as a formatted, escaped Styler: each column formatted by its kind (``kinds``
    declares some, the rest are inferred), headers labelled (``labels`` overrides), the index
    shown only when it means something (``index`` decides), missing values as ``–``."""
    from analysis.presentation.display import escape_styler

    kinds = dict(kinds or {})
    show_index = meaningful_index(frame.index) if index is None else index
    styler = frame.style
    formats = {}
    for col in frame.columns:
        values = frame[col]
        if isinstance(values, pd.DataFrame):  # duplicate column names: format each the same way
            values = values.iloc[:, 0]
        formats[col] = column_formatter(col, values, kinds.get(col))
    if formats:
        styler = styler.format(formats, na_rep=MISSING)
    # names of the data contract are shown as code (pandas wraps a formatter: the mark is kept here)
    styler._mallwake_code_columns = {
        j for j, col in enumerate(frame.columns) if getattr(formats.get(col), "__mallwake_code__", False)
    }
    names = dict(labels or {})
    styler = styler.format_index(lambda v: names.get(v, _label_of(v)), axis=1)
    styler = styler.format_index_names(lambda v: names.get(v, label(v)), axis=1)
    # an index of names of the data contract or of a model's parameters is shown as code
    styler._mallwake_code_index = frame.index.name in CODE_COLUMNS
    if show_index and styler._mallwake_code_index:
        styler = styler.format_index(str, axis=0)
    elif show_index:
        styler = styler.format_index(lambda v: names.get(v, _index_text(v)), axis=0)
        styler = styler.format_index_names(lambda v: names.get(v, label(v)), axis=0)
    else:
        styler = styler.hide(axis="index")
    if caption:
        styler = styler.set_caption(caption)
    return escape_styler(styler)


def _index_text(value: Any) -> str:
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return format_value(value, "date")
    if isinstance(value, pd.Period):
        return str(value)
    if isinstance(value, (float, np.floating)):
        return format_value(value, "number")
    if isinstance(value, str) and value in LABELS:
        return label(value)
    if isinstance(value, str) and any(value.startswith(v + "_") for v in _CATEGORICAL):
        return covariate_label(value)
    return display_name(value) if value is not None else MISSING


def html_table(frame: pd.DataFrame, **kw) -> str:
    """The HTML of :func:`present` (for ``_repr_html_`` of result objects)."""
    return present(frame, **kw).to_html()
