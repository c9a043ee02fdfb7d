"""Tables shown in reports never turn data into markup, and always go through the presentation layer.

Data values (arm labels, categories, extra column names, campaign names) reach the HTML of a
report through pandas tables. ``DataFrame.to_html`` escapes them, but a pandas ``Styler`` does
not (its ``escape`` applies only to formats given explicitly, never to headers). Every Styler a
notebook displays, and every one the package renders itself, goes through :func:`escape_styler`:
its formatted cells, index and column labels and caption are HTML-escaped text, and a missing
value shows as ``–`` (never ``nan``, ``NaT`` or ``None``). DataFrames shown directly do the same.
Columns and headers the code did not format get the presentation layer's defaults
(:mod:`analysis.presentation.present`: human labels, a format per kind of column, no index of row numbers).
"""

from __future__ import annotations

import html
from collections import defaultdict

import pandas as pd
from pandas.io.formats.style import Styler

from analysis.presentation.formats import MISSING, display_name, label
from analysis.presentation.i18n import tr
from analysis.presentation.phrases import phrase_text
from analysis.presentation.present import _index_text, _label_of, column_formatter, html_table, meaningful_index

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


def _display_styler(styler: Styler) -> str:
    return styler_html(styler)


def frame_html(frame: pd.DataFrame) -> str:
    """A DataFrame as notebooks show it: through the presentation layer (formatted, labelled,
    escaped), at most ``display.max_rows`` rows with a caption saying how many there are."""
    from analysis.presentation.present import present

    limit = pd.get_option("display.max_rows") or len(frame)
    caption = None
    if len(frame) > limit:
        caption = f"first {limit:,} of {len(frame):,} rows"
        frame = frame.head(limit)
    if not frame.columns.is_unique:  # the presentation layer addresses columns by label
        return frame.to_html(na_rep=MISSING, notebook=True, border=0)
    return present(frame, caption=caption).to_html()


def result_html(result) -> str:
    """A result object (:class:`analysis.statistics.results.Result`) or a validation report as a
    notebook shows it: its table through the presentation layer, in the report's language.

    The statistics hold numbers and codes only; this is where they get words (the kernel's HTML
    formatter calls it, :func:`register_kernel_formatters`)."""
    from analysis.data.validation import ValidationReport
    from analysis.statistics.campaigns.beforeafter import BeforeAfter
    from analysis.statistics.campaigns.effects import ArmEffects
    from analysis.statistics.clv import BGNBDModel

    if isinstance(result, ValidationReport):
        return _validation_html(result)
    if isinstance(result, ArmEffects):
        return _arm_effects_html(result)
    if isinstance(result, BeforeAfter):
        return html_table(result.waves, kinds=result.kinds) + html_table(result.summary(), kinds=result.kinds)
    page = html_table(result.table(), kinds=result.kinds)
    if isinstance(result, BGNBDModel):
        fit = tr("log-likelihood {ll:.1f}, n = {n:,}.", ll=result.log_likelihood_, n=result.n_obs)
        page += f"<p>{html.escape(fit)} {html.escape(phrase_text(result.diagnostics()))}</p>"
    return page


def _arm_effects_html(res) -> str:
    parts = []
    for outcome, grp in res.effects.groupby("outcome", sort=False):
        diff, level = ("money", "money") if outcome == "spend_per_contacted" else ("points", "percent")
        kinds = {"estimate": diff, "ci_low": diff, "ci_high": diff, "treated_mean": level, "control_mean": level, "p_value": "p"}
        head = tr(
            "{outcome}: arm minus {control}, {level:.0%} interval",
            outcome=label(outcome),
            control=display_name(res.control_arm),
            level=1 - res.alpha,
        )
        parts.append(f"<h4>{html.escape(head)}</h4>" + html_table(grp.drop(columns="outcome"), kinds=kinds))
    return "".join(parts)


def _validation_html(report) -> str:
    from analysis.data.validation import _masked

    status = tr("all rules pass") if report.ok else tr("{n} broken rule(s)", n=len(report.violations))
    head = "<p><b>{}</b> ({})</p>".format(
        html.escape(tr("Validation: {status}", status=status)),
        html.escape(tr("no date may be later than {date}", date=report.as_of)),
    )
    body = html_table(report.summary(), index=False)
    if not report.ok:
        body += "<ul>" + "".join(f"<li>{html.escape(_masked(m))}</li>" for m in report.messages()) + "</ul>"
    if report.warnings:
        body += (
            "<p><b>{}</b></p><ul>".format(html.escape(tr("Warnings (allowed, but check them):")))
            + "".join(f"<li>{html.escape(_masked(m))}</li>" for m in report.warning_messages())
            + "</ul>"
        )
    return head + body


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
    from analysis.data.validation import ValidationReport
    from analysis.statistics.results import Result

    formatters.for_type(Result, result_html)
    formatters.for_type(ValidationReport, result_html)
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
        from analysis.presentation.plots import figure_alt, smallest_text_px

        meta = dict(fetch(fig) or {})
        meta["alt"] = figure_alt(fig)
        meta["mallwake_min_text_px"] = round(smallest_text_px(fig), 1)  # checked by the site tests
        return meta

    with_alt.__mallwake_alt__ = True
    backend_inline._fetch_figure_metadata = with_alt
