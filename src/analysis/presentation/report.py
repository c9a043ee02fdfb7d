"""Helpers notebooks call to hand results to the runner and the HTML report.

``record_metrics`` displays the notebook's headline figures under a private MIME type:
invisible in the rendered HTML, collected by the runner into ``<notebook>.metrics.json``
(the same idea as scrapbook's ``glue``), so notebooks never write files themselves.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import numpy as np

from analysis.data.errors import NotApplicable
from analysis.presentation.context import current
from analysis.presentation.formats import KINDS, display_name, name_table
from analysis.presentation.formats import format_value as present_value
from analysis.presentation.i18n import tr
from analysis.presentation.phrases import phrase_text

METRICS_MIME = "application/vnd.mallwake.metrics+json"


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return None if math.isnan(v) or math.isinf(v) else v
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if value is None or isinstance(value, (int, str, bool)):
        return value
    return str(value)


def record_metrics(**metrics: Any) -> None:
    """Publish named headline figures of this notebook (numbers, or nested dicts of them).

    Returns nothing: as the last line of a cell in the lab it then prints nothing (the figures go
    to ``metrics.json`` through their own output type, which the lab does not show)."""
    from IPython.display import display

    display({METRICS_MIME: _plain(metrics)}, raw=True)


def collect_metrics(nb) -> dict:
    """Merge every metrics output of an executed notebook (later outputs win)."""
    merged: dict = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if METRICS_MIME in data:
                merged.update(data[METRICS_MIME])
    return merged


def applies(condition: bool, reason) -> bool:
    """Whether a report section applies; when it does not, show the one sentence saying why.

    Notebooks write ``if applies(ok, "why not"):`` before a section's code, so every section of a
    report either computes or states in one sentence why it does not apply to these data.
    ``reason``: a message id, or a :class:`NotApplicable` from a statistic's ``*_problem`` check.
    """
    if not condition:
        from IPython.display import Markdown, display

        display(Markdown("*" + tr("Not applicable here: {reason}", reason=phrase_text(reason)) + "*"))
    return bool(condition)


@contextlib.contextmanager
def section():
    """Run a report section; if an analysis in it raises :class:`NotApplicable`, show why instead.

    Any other error still fails the run: only the documented "cannot apply to these data" cases
    are turned into a sentence.
    """
    try:
        yield
    except NotApplicable as err:
        applies(False, err)


def format_value(value: Any, kind: str) -> str:
    """``value`` written as ``kind`` by the presentation layer (the report's currency, ``–`` when
    missing: unknown is not zero); see :func:`analysis.presentation.formats.format_value`."""
    return present_value(value, kind)


def headline(*items: tuple) -> list[dict]:
    """Two to four figures the index shows for a report: ``(label, value, kind)`` or
    ``(label, value, kind, (low, high))`` for an estimate with its interval. ``label`` is a message
    id, or ``(message id, {field: value})`` whose ``name`` fields are data labels (an arm, a
    segment). Returns neutral entries for :func:`record_metrics` (``headline=``): the message id,
    numbers and kind, the same in every language; the index writes them in its own
    (:func:`headline_text`)."""
    out = []
    for item in items:
        label, value, kind, *ci = item
        msgid, fields = label if isinstance(label, tuple) else (label, {})
        if kind not in present_kinds():
            raise ValueError(f"unknown kind {kind!r}; one of {', '.join(present_kinds())}")
        entry = {"label": str(msgid), "value": _plain(value), "kind": kind}
        if fields:
            entry["fields"] = {k: str(v) for k, v in fields.items()}
        if ci and ci[0] is not None and not any(v is None or v != v for v in ci[0]):
            entry["ci"] = [float(v) for v in ci[0]]
        if kind == "money":
            entry["currency"] = current().currency
        out.append(entry)
    return out


#: The tag of the cell that says what to do first: the page shows it right under the title.
FIRST_TAG = "first"


def first_steps(*sentences: str) -> None:
    """What to do first, in two to four sentences built from the report's own numbers: the decision
    and the list to act on. Written in the report's last cell (tagged ``first``), once everything is
    computed; the rendered page shows it under the title, before the method checks."""
    from IPython.display import Markdown, display

    shown = [s for s in sentences if s]
    display(Markdown("**" + tr("What to do first.") + "** " + " ".join(shown)))


def present_kinds() -> tuple[str, ...]:
    return KINDS


def headline_text(entry: dict, lang: str, names: dict | None = None) -> tuple[str, str]:
    """A headline entry (:func:`headline`) as ``(label, figure)`` in ``lang``; ``names``: display
    names for its name fields."""
    names = name_table(lang) if names is None else names
    fields = {k: display_name(v, names) for k, v in (entry.get("fields") or {}).items()}
    label = tr(str(entry.get("label", "")), lang=lang, **fields) if fields else tr(str(entry.get("label", "")), lang=lang)
    if "kind" not in entry:  # an older run's entry: already written
        return label, str(entry.get("text", ""))
    kind, currency = entry["kind"], entry.get("currency", "")
    text = present_value(entry.get("value"), kind, lang=lang, currency=currency)
    if entry.get("ci") and text != "–":
        low, high = (present_value(v, kind, lang=lang, currency=currency) for v in entry["ci"])
        low, high = (v.removesuffix(" points").removesuffix(" 个百分点") for v in (low, high))
        text += " (" + tr("{low} to {high}", lang=lang, low=low, high=high) + ")"
    return label, text
