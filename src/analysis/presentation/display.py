"""Tables shown in reports never turn data into markup, and always go through the presentation layer.

Data values (arm labels, categories, extra column names, campaign names) reach the HTML of a
report through pandas tables. ``DataFrame.to_html`` escapes them, but a pandas ``Styler`` does
not (its ``escape`` applies only to formats given explicitly, never to headers). Every Styler a
notebook displays, and every one the package renders itself, goes through :func:`~analysis.presentation.present.escape_styler`:
its formatted cells, index and column labels and caption are HTML-escaped text, and a missing
value shows as ``–`` (never ``nan``, ``NaT`` or ``None``). DataFrames shown directly do the same.
Columns and headers the code did not format get the presentation layer's defaults
(:mod:`analysis.presentation.present`: human labels, a format per kind of column, no index of row numbers).
"""

from __future__ import annotations

import html

import pandas as pd
from pandas.io.formats.style import Styler

from analysis.data.validation import ValidationReport, _masked
from analysis.presentation.formats import MISSING, display_name, label
from analysis.presentation.i18n import tr
from analysis.presentation.phrases import phrase_text
from analysis.presentation.plots import figure_alt, smallest_text_px
from analysis.presentation.present import escape_styler, html_table, present, styler_html  # noqa: F401 - styler_html: the page API
from analysis.statistics.campaigns.beforeafter import BeforeAfter
from analysis.statistics.campaigns.effects import ArmEffects
from analysis.statistics.clv import BGNBDModel
from analysis.statistics.results import Result


def _display_styler(styler: Styler) -> str:
    return styler_html(styler)


def frame_html(frame: pd.DataFrame) -> str:
    """A DataFrame as notebooks show it: through the presentation layer (formatted, labelled,
    escaped), at most ``display.max_rows`` rows with a caption saying how many there are."""
    limit = pd.get_option("display.max_rows") or len(frame)
    caption = None
    if len(frame) > limit:
        caption = tr("first {limit:,} of {n:,} rows", limit=limit, n=len(frame))
        frame = frame.head(limit)
    if not frame.columns.is_unique:  # the presentation layer addresses columns by label
        return frame.to_html(na_rep=MISSING, notebook=True, border=0)
    return present(frame, caption=caption).to_html()


def result_html(result) -> str:
    """A result object (:class:`analysis.statistics.results.Result`) or a validation report as a
    notebook shows it: its table through the presentation layer, in the report's language.

    The statistics hold numbers and codes only; this is where they get words (the kernel's HTML
    formatter calls it, :func:`register_kernel_formatters`)."""
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
        meta = dict(fetch(fig) or {})
        meta["alt"] = figure_alt(fig)
        meta["mallwake_min_text_px"] = round(smallest_text_px(fig), 1)  # checked by the site tests
        return meta

    with_alt.__mallwake_alt__ = True
    backend_inline._fetch_figure_metadata = with_alt
