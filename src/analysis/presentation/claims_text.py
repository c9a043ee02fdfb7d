"""The claims page in words: the rule, each claim's sentence and the summary table.

:mod:`analysis.statistics.claims` holds the numbers, the verdict (a code) and phrases (codes with
their values); this module writes them in the report's language (:func:`analysis.presentation.phrases.phrase_text`).
"""

from __future__ import annotations

import math

import pandas as pd

from analysis.presentation.formats import display_name, format_value
from analysis.presentation.i18n import N_, number, tr
from analysis.presentation.phrases import CLAIM_TITLES, WORDS, phrases_text
from analysis.presentation.present import styler_html
from analysis.statistics.claims import NOT_TESTABLE, POWER, Claim

RULE = N_(
    "**How each claim is judged** (fixed before the numbers): the claim is **supported** when its 95 % "
    "interval lies wholly on the side the dissertation states, **contradicted** when it lies wholly on the "
    "other side, and otherwise there is **not enough evidence**; then the page says how many members per arm "
    "would detect the observed effect (or the smallest effect worth finding, if the observed one points the "
    "other way) with 80 % power. A claim the data cannot speak to says why."
)

RULE_1 = N_(
    "Claim 1 is judged against a threshold fixed in advance: the naive list is inaccurate when at least "
    "**{share:.0%}** of it is not really asleep or cannot be reached (supported when the whole interval lies "
    "above it, contradicted when it lies below)."
)

#: The three claims of the study, in words (:data:`analysis.presentation.phrases.CLAIM_TITLES`).
TEXTS = CLAIM_TITLES

#: Claim 1's measures (codes of ``Claim.details``) in words.
MEASURES = {
    "naive_list": N_("naive list (no purchase for the sleeping days)"),
    "refined_list": N_("refined list (present, unreachable, opted-out and duplicate members removed)"),
    "overstatement": N_("the naive list overstates the sleeping population by"),
    "naive_return_rate": N_("{campaign}: return rate of the contacted, naive list"),
    "refined_return_rate": N_("{campaign}: return rate of the contacted, refined list only"),
    "distortion": N_("distortion of the return rate by the naive denominator (naive minus refined)"),
}


def verdict_text(verdict: str) -> str:
    return tr(WORDS[verdict])


def _fmt(c: Claim, value: float) -> str:
    """Claim 1's estimate is a share (a percentage); the others are differences of return rates,
    written in points as everywhere in the reports."""
    if value is None or math.isnan(value):
        return "–"
    if not c.percent:
        return number(value, "+,.2f")
    return format_value(value, "percent" if c.number == 1 else "points")


def claim_sentence(c: Claim) -> str:
    """The verdict in one sentence (and what limits it)."""
    if c.verdict == NOT_TESTABLE:
        return tr("Not testable here: {reason}", reason=phrases_text(c.reason))
    s = tr(
        "{verdict}: {evidence} {estimate} (95 % interval {low} to {high}).",
        verdict=verdict_text(c.verdict).capitalize(),
        evidence=phrases_text(c.evidence, sep=""),
        estimate=_fmt(c, c.estimate),
        low=_fmt(c, c.ci_low),
        high=_fmt(c, c.ci_high),
    )
    if c.needed_per_arm:
        s += tr(" About {n:,} members per arm would detect it with {power:.0%} power.", n=c.needed_per_arm, power=POWER)
    if c.reason:
        s += " " + phrases_text(c.reason)
    return s


def summary_table(claims: list[Claim]) -> pd.DataFrame:
    """One row per claim: the claim, the verdict, the estimate and its interval (the evidence in
    full is in each claim's section)."""
    return pd.DataFrame(
        [
            {
                "#": c.number,
                tr("claim"): tr(TEXTS[c.number]),
                tr("verdict"): verdict_text(c.verdict),
                tr("estimate"): _fmt(c, c.estimate) if c.verdict != NOT_TESTABLE else "–",
                tr("95 % interval"): (
                    tr("{low} to {high}", low=_fmt(c, c.ci_low), high=_fmt(c, c.ci_high)) if c.verdict != NOT_TESTABLE else "–"
                ),
                tr("what the estimate is"): (
                    phrases_text(c.evidence, sep="") if c.verdict != NOT_TESTABLE else phrases_text(c.reason)
                ),
            }
            for c in claims
        ]
    )


def details_table(claim: Claim) -> pd.DataFrame | None:
    """Claim 1's measures in words, values formatted (counts, percentages, points with an interval)."""
    if claim.details is None:
        return None

    rows = []
    for r in claim.details.to_dict("records"):
        campaign = r.get("campaign")
        has_campaign = isinstance(campaign, str) and campaign
        measure = tr(MEASURES[r["measure"]], campaign=display_name(campaign) if has_campaign else "")
        value, kind = r["value"], r["kind"]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            shown = "–"
        elif kind == "count":
            shown = number(int(value), ",")
        elif kind == "percent":
            shown = number(value, ".1%")
        else:  # a difference of rates, with its interval
            low, high = format_value(r["low"], "points"), format_value(r["high"], "points")
            shown = format_value(value, "points") + " (" + tr("{low} to {high}", low=low, high=high) + ")"
        rows.append({"measure": measure, "value": shown})
    return pd.DataFrame(rows)


def _left(frame: pd.DataFrame):
    return (
        frame.style.hide(axis="index")
        .set_properties(**{"text-align": "left"})
        .set_table_styles([{"selector": "th", "props": [("text-align", "left")]}])
    )


def summary_html(claims: list[Claim]) -> str:
    """:func:`summary_table` as an escaped HTML table, left-aligned, no index."""
    return styler_html(_left(summary_table(claims)))


def details_html(claim: Claim) -> str:
    """A claim's table of measures (claim 1) as an escaped HTML table, left-aligned, no index."""
    table = details_table(claim) if claim.number == 1 else claim.details
    return styler_html(_left(table)) if table is not None else ""
