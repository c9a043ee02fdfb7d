"""The words and formats of one report: labels, display names, and how a value of each kind reads.

A report table is what a mall manager reads, not what pandas prints: human column labels in the
report's language, counts as integers with thousands separators, rates as percentages, money with
the data's currency, p-values as ``< 0.001``, missing values as ``–``, and data labels (tiers,
arms, channels, gifts) under the display names the data folder gives.

Each column has a *kind* (count, percent, money, p, number, date, bool, text): declared by the
code that builds the table (``kinds=``), else inferred from its name and values
(:func:`infer_kind`). One function formats a value of a kind (:func:`format_value`); tables are
built from these by :mod:`analysis.presentation.present`, sentences by
:mod:`analysis.presentation.phrases`.

Every function here writes in a :class:`~analysis.presentation.context.Context` (language, currency,
display names, tier order): the one passed (``ctx=``), else the report this kernel renders
(:func:`configure`, the notebook's set-up call). Numbers follow the language's locale rules
(Babel's separators and percent forms).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
from babel.dates import format_skeleton

from analysis.data.params import load_data_params, resolve_tiers
from analysis.presentation.context import Context, current, known_locale, locale_of, set_current
from analysis.presentation.definitions import COLUMN_TERMS, term
from analysis.presentation.i18n import N_, tr
from analysis.presentation.languages import SOURCE, language, languages
from analysis.presentation.numbers import decimal_text, percent_text

#: What a missing value (NaN, NaT, None, pd.NA) shows as in every report table.
MISSING = "–"

#: Display names of the default tiers, RFM segments, stages, waves and the codes tables show as
#: values (a data folder's ``display_names`` adds and overrides): raw label -> English message id
#: of the catalogs (a label not listed shows as it is).
DEFAULT_NAMES = {
    "normal": N_("Normal"),
    "silver": N_("Silver"),
    "gold": N_("Gold"),
    "platinum": N_("Platinum"),
    "Champions": N_("Champions"),
    "Loyal": N_("Loyal"),
    "Potential loyalist": N_("Potential loyalist"),
    "New": N_("New"),
    "Promising": N_("Promising"),
    "Need attention": N_("Need attention"),
    "Slipping": N_("Slipping"),
    "At risk": N_("At risk"),
    "Cannot lose": N_("Cannot lose"),
    "Hibernating": N_("Hibernating"),
    "Lost": N_("Lost"),
    "No purchase in window": N_("No purchase in window"),
    "before": N_("before"),
    "after": N_("after"),
    "new": N_("new"),
    "active": N_("active"),
    "cooling": N_("cooling"),
    "sleeping": N_("sleeping"),
    "lost": N_("lost"),
    "reactivated": N_("reactivated"),
    "target": N_("target"),
    "skip": N_("skip"),
    "no evidence": N_("no evidence"),
    "costs more than it brings": N_("costs more than it brings"),
    "pays": N_("pays"),
    "loses money": N_("loses money"),
    "cannot tell": N_("cannot tell"),
    "cost unknown": N_("cost unknown"),
    "holdout": N_("holdout"),
    "any contact": N_("any contact"),
    "no plan recorded": N_("no plan recorded"),
    "pre-registration": N_("pre-registration"),
    "planned_allocation parameter": N_("planned_allocation parameter"),
    "not checked": N_("not checked"),
    "as planned": N_("as planned"),
    "MISMATCH": N_("MISMATCH"),
    "arms not in the plan": N_("arms not in the plan"),
    "nothing to compare": N_("nothing to compare"),
    "present": N_("present"),
    "unreachable": N_("unreachable"),
    "opted_out": N_("opted_out"),
    "duplicate": N_("duplicate"),
    "naive list": N_("naive list"),
    "refined list": N_("refined list"),
    "whole naive list": N_("whole naive list"),
    "none (refined list)": N_("none (refined list)"),
    "invalid: present": N_("invalid: present"),
    "invalid: unreachable": N_("invalid: unreachable"),
    "invalid: opted_out": N_("invalid: opted_out"),
    "invalid: duplicate": N_("invalid: duplicate"),
    "invalid: not on the list": N_("invalid: not on the list"),
    "steady state": N_("steady state"),
    "now": N_("now"),
    "female": N_("female"),
    "male": N_("male"),
    "apparel": N_("apparel"),
    "beverage": N_("beverage"),
    "cinema": N_("cinema"),
    "dining": N_("dining"),
    "jewelry": N_("jewelry"),
    "kids": N_("kids"),
    "luxury": N_("luxury"),
    "supermarket": N_("supermarket"),
    "right": N_("right"),
    "wrong": N_("wrong"),
    "open": N_("open"),
    # clustering methods, and the status and file of a table in a validation summary
    "gmm": N_("Gaussian mixture"),
    "kmeans": N_("k-means"),
    "ok": N_("ok"),
    "invalid": N_("invalid"),
    "(absent)": N_("(absent)"),
    "all": N_("All tiers"),  # the monthly report's row of every member
}

#: Column labels: the English label of each name the analysis code uses, a message id of the
#: catalogs (``locales/<lang>/messages.yaml`` translate it). A name not listed reads as words
#: in English ("cost_per_contacted" -> "Cost per contacted").
LABELS: dict[str, str] = {
    "parameter": N_("Parameter"),
    "gain_per_1000_listed": N_("Gain per 1,000 listed"),
    "median_shortfall_of_warned": N_("Median shortfall (warned members)"),
    "log_early_spend": N_("Early spend (log)"),
    "n": N_("n"),
    "p": "p",  # a symbol: the same in every language
    "p_value": N_("p-value"),
    "p_holm": N_("p-value (Holm)"),
    "se": N_("Std. error"),
    "std_error": N_("Std. error"),
    "ci_low": N_("CI low"),
    "ci_high": N_("CI high"),
    "lower": N_("CI low"),
    "upper": N_("CI high"),
    "n_control": N_("n (holdout)"),
    "n_treated": N_("n (treated)"),
    "control_mean": N_("Holdout mean"),
    "member_id": N_("Member"),
    "txn_id": N_("Transaction"),
    "store_id": N_("Store"),
    "ts": N_("Time"),
    "is_return": N_("Return (refund)"),
    "avg_ticket": N_("Average ticket"),
    "rho_with_time": N_("Correlation with time"),
    "test_statistic": N_("Chi-square"),
    "bic": N_("BIC"),
    "k": "k",  # a symbol: the same in every language
    "recency_days": N_("Recency (days)"),
    "mean_recency_days": N_("Mean recency (days)"),
    "invalid_sleepers": N_("Not really asleep"),
    "invalid_share": N_("Share not really asleep"),
    "naive_overstates_by": N_("Naive list overstates by"),
    "sleeping_days": N_("Sleeping after (days)"),
    "removed_alone": N_("Removed by this rule alone"),
    "share_of_naive": N_("Share of naive list"),
    "campaign_id": N_("Campaign"),
    "holdout_mae": N_("Holdout error (mean absolute, per member)"),
    "predicted_total": N_("Predicted in the holdout"),
    "actual_total": N_("Seen in the holdout"),
    "log_likelihood_per_member": N_("Log-likelihood per member (calibration)"),
    "identified": N_("Identified"),
    "net_per_contacted": N_("Net value per contacted"),
    "ci_low_unadjusted": N_("CI low (unadjusted)"),
    "ci_high_unadjusted": N_("CI high (unadjusted)"),
    "total_ci_low": N_("Total CI low"),
    "total_ci_high": N_("Total CI high"),
    "incremental_returned": N_("Incremental returns"),
    "weeks_above_band": N_("Weeks above the band"),
    "member_share": N_("Share of members"),
    "spend_share": N_("Share of spend"),
    "missing_share": N_("Share missing"),
    "alpha": N_("alpha"),
    "a": "a",  # a symbol: the same in every language
    "b": "b",  # a symbol: the same in every language
    "r": "r",  # a symbol: the same in every language
    "q": "q",  # a symbol: the same in every language
    "v": "v",  # a symbol: the same in every language
    "chi2": N_("Chi-square"),
    "rfm_segment": N_("RFM segment"),
    "join_year": N_("Join year"),
    "tenure_days": N_("Tenure days"),
    "estimate": N_("Estimate"),
    "treated_mean": N_("Treated mean"),
    "members": N_("Members"),
    "member": N_("Member"),
    "tier": N_("Tier"),
    "arm": N_("Arm"),
    "campaign": N_("Campaign"),
    "channel": N_("Channel"),
    "gift": N_("Gift"),
    "segment": N_("Segment"),
    "month": N_("Month"),
    "wave": N_("Wave"),
    "spend": N_("Spend"),
    "purchases": N_("Purchases"),
    "visits": N_("Visits"),
    "age_band": N_("Age band"),
    "gender": N_("Gender"),
    "count": N_("Count"),
    "share": N_("Share"),
    "rate": N_("Rate"),
    "cost": N_("Cost"),
    "effect": N_("Effect"),
    "return_rate": N_("Return rate"),
    "purchase_rate": N_("Purchase rate"),
    "incremental_return_rate": N_("Incremental return rate"),
    "holdout_return_rate": N_("Holdout return rate"),
    "cost_per_incremental_return": N_("Cost per incremental return"),
    "cost_per_contacted": N_("Cost per contacted"),
    "cost_per_returned": N_("Cost per returned"),
    "spend_on_return": N_("Spend on return"),
    "spend_per_returner": N_("Spend per returner"),
    "spend_per_contacted": N_("Spend per contacted"),
    "contacted": N_("Contacted"),
    "returned": N_("Returned"),
    "incremental_spend": N_("Incremental spend"),
    "model": N_("Model"),
    "total": N_("Total"),
    "list_date": N_("List date"),
    "naive_list": N_("Naive list"),
    "refined_list": N_("Refined list"),
    "removed": N_("Removed"),
    "remaining": N_("Remaining"),
    "step": N_("Step"),
    "rule": N_("Rule"),
    "spend_per_member": N_("Spend per member"),
    "downgrade_warnings": N_("Downgrade warnings"),
    "upgrade_candidates": N_("Upgrade candidates"),
    "median_shortfall": N_("Median shortfall"),
    "frequency": N_("Frequency"),
    "monetary": N_("Monetary"),
    "days": N_("Days"),
    "hazard_ratio": N_("Hazard ratio"),
    "covariate": N_("Covariate"),
    "value": N_("Value"),
    "verdict": N_("Verdict"),
    "claim": N_("Claim"),
    "measure": N_("Measure"),
    "status": N_("Status"),
    "level": N_("Level"),
    "time": N_("Time"),
    "from": N_("From"),
    "to": N_("To"),
    "from_segment": N_("From segment"),
    "to_segment": N_("To segment"),
    "share_of_from": N_("Share of from"),
    "cluster": N_("Cluster"),
    "score": N_("Score"),
    "risk": N_("Risk"),
    "lift": N_("Lift"),
    "table": N_("Table"),
    "column": N_("Column"),
    "file": N_("File"),
    "rows": N_("Rows"),
    "missing": N_("Missing"),
    "broken_rules": N_("Broken rules"),
    "first": N_("First"),
    "last": N_("Last"),
    "mean": N_("Mean"),
    "median_days_to_sleep": N_("Median days to sleep"),
    "list_size": N_("List size"),
    "baseline_rate": N_("Baseline rate"),
    "identifying": N_("Identifying"),
    "reached": N_("Reached"),
    "purchased": N_("Purchased"),
    "redeemed": N_("Redeemed"),
    "return_on_spend": N_("Return on spend"),
    "plan": N_("Plan"),
    "comparison": N_("Comparison"),
    "unadjusted": N_("Unadjusted"),
    "covariates": N_("Covariates"),
    "dropped": N_("Dropped"),
    "variable": N_("Variable"),
    "advice": N_("Advice"),
    "weeks": N_("Weeks"),
    "actual": N_("Actual"),
    "counterfactual": N_("Counterfactual"),
    "extra_reactivations": N_("Extra reactivations"),
    "treated": N_("Treated"),
    "mean_frequency": N_("Mean frequency"),
    "mean_monetary": N_("Mean monetary"),
    "active": N_("Active"),
    "silhouette": N_("Silhouette"),
    "rules": N_("Rules"),
    "group": N_("Group"),
    "now": N_("Now"),
    "steady state": N_("steady state"),
    "cooling": N_("Cooling"),
    "sleeping": N_("Sleeping"),
    "lost": N_("Lost members"),
    "new": N_("New members"),
    "reactivated": N_("Reactivated"),
    "mean_clv": N_("Mean CLV"),
    "median_clv": N_("Median CLV"),
    "p75_clv": N_("CLV, 75th percentile"),
    "bin": N_("Bin"),
    "predicted": N_("Predicted"),
    "error": N_("Error"),
    "holdout": N_("Holdout"),
    "members_share": N_("Members share"),
    "upgrade_candidate": N_("Upgrade candidate"),
    "downgrade_warning": N_("Downgrade warning"),
    "shortfall": N_("Shortfall"),
    "to_contact": N_("To contact"),
    "reason": N_("Reason"),
    "label": N_("Label"),
    "subgroup": N_("Subgroup"),
    "share_of_group": N_("Share of group"),
    "age": N_("Age"),
    "clv": N_("CLV"),
    "p_alive": N_("P alive"),
    "expected_purchases": N_("Expected purchases"),
    "expected_spend": N_("Expected spend"),
    "odds_ratio_per_sd": N_("Odds ratio per sd"),
    "feature": N_("Feature"),
    "decile": N_("Decile"),
    "observed": N_("Observed"),
    "cohort": N_("Cohort"),
    "auc": N_("AUC"),
    "exercise": N_("Exercise"),
    "message": N_("Message"),
    "buyers": N_("Buyers"),
    "visitors": N_("Visitors"),
    "recency_band": N_("Recency band"),
    "log_frequency": N_("Log frequency"),
    "log_avg_ticket": N_("Average ticket (log)"),
    "log_recency": N_("Log recency"),
    "log_monetary": N_("Log monetary"),
    "log_tenure": N_("Log tenure"),
    "visit_share": N_("Visit share"),
    "outcome": N_("Outcome"),
    "chosen": N_("Chosen"),
    "expected_incremental_returns": N_("Expected incremental returns"),
    "expected_incremental_margin": N_("Expected incremental margin"),
    "share_of_list": N_("Share of list"),
    "asleep": N_("Asleep"),
    "category": N_("Category"),
    "return-rate difference": N_("return-rate difference"),
    "amount": N_("Amount"),
    "r_score": N_("R score"),
    "f_score": N_("F score"),
    "m_score": N_("M score"),
    "duration": N_("Duration"),
    "event": N_("Event"),
}

#: Words a name not in :data:`LABELS` may be made of: in a language written without spaces, a
#: name made only of these reads as their translations run together, in the name's order.
_FALLBACK_WORDS = {
    "share": N_("share"),
    "rate": N_("rate"),
    "mean": N_("mean"),
    "median": N_("median"),
    "spend": N_("spend"),
    "members": N_("members"),
}

_TOKENS = re.compile(r"[a-z]+|\d+")
_P_NAMES = {"p_value", "pvalue", "p_holm", "p_adj", "p_raw", "logrank_p", "p_value_holm"}
_PERCENT_WORDS = {"rate", "share", "pct", "percent", "proportion", "probability", "prob", "shares"}
_MONEY_WORDS = {"spend", "revenue", "cost", "margin", "amount", "monetary", "aov", "ticket", "clv", "sales", "price", "spent"}
KINDS = ("count", "percent", "change", "points", "money", "p", "number", "date", "bool", "text", "code")
#: Columns that hold names of the data contract (tables, columns, files, parameters): shown as code,
#: as the user writes them, in every language.
CODE_COLUMNS = frozenset({"table", "column", "file", "parameter"})


def configure(
    data_dir: str | Path | None = None, lang: str = "en", currency: str | None = None, names: dict | None = None
) -> Context:
    """The context of the report this kernel renders (:func:`report_context`), named as the
    kernel's (:func:`~analysis.presentation.context.set_current`). The notebook's set-up
    (:func:`analysis.application.notebook.start`) calls it."""
    return set_current(report_context(data_dir, lang, currency, names))


def report_context(
    data_dir: str | Path | None = None, lang: str = "en", currency: str | None = None, names: dict | None = None
) -> Context:
    """A report's language, currency, display names and tier order.

    From the data folder's ``mallwake.yaml`` when given: ``currency`` (e.g. ``"¥"``),
    ``display_names`` (``{raw label: name}`` or ``{raw label: {en: name, zh: name}}``) for tiers,
    arms, channels, gifts and segments, and ``tiers``; the arguments win.
    """
    lang = str(lang or "en").lower()
    if lang not in languages():
        raise ValueError(f"language {lang!r} is not supported; one of {', '.join(languages())}")
    declared = load_data_params(data_dir) if data_dir is not None else {}
    table = name_table(lang, declared)
    table.update({str(k): str(v) for k, v in (names or {}).items()})
    cur = currency if currency is not None else str(declared.get("currency") or "")
    tiers = tuple(resolve_tiers(data_dir)) if data_dir is not None else ()
    return Context(lang, cur, table, tiers)


@cache
def _default_names(lang: str) -> Mapping[str, str]:
    return MappingProxyType(name_table(lang))  # shared by every context of the language: read-only


def names_of(ctx: Context) -> Mapping[str, str]:
    """The display names of ``ctx``: its own, else its language's defaults."""
    return ctx.names or _default_names(ctx.lang)


def name_table(lang: str, declared: dict | None = None) -> dict[str, str]:
    """The display names in ``lang``: the defaults, then the data folder's ``display_names``
    (``declared``: its ``mallwake.yaml``)."""
    table = {raw: tr(name, lang=lang) for raw, name in DEFAULT_NAMES.items()}
    for raw, shown in ((declared or {}).get("display_names") or {}).items():
        if isinstance(shown, dict):
            shown = shown.get(lang) or shown.get("en")
        if shown:
            table[str(raw)] = str(shown)
    return table


def display_name(raw: Any, names: Mapping[str, str] | None = None, ctx: Context | None = None) -> str:
    """The display name of a data label (a tier, arm, channel, gift), else the label itself; a
    composite label ``campaign / arm`` has each part named. ``names``: a :func:`name_table`
    (default: those of ``ctx``, the report's context unless given)."""
    text = str(raw)
    table = names_of(ctx or current()) if names is None else names
    if text in table:
        return table[text]
    for sep in (" / ", " + "):  # a campaign / arm; rules a member broke together
        if sep in text:
            return sep.join(display_name(part, table) for part in text.split(sep))
    return text


def label(name: Any, ctx: Context | None = None) -> str:
    """The human label of a column name in the language of ``ctx`` (the report's unless given)."""
    if not isinstance(name, str):
        return str(name)
    ctx = ctx or current()
    lang = ctx.lang
    shown = names_of(ctx).get(name)
    declared = shown is not None and (name not in DEFAULT_NAMES or shown != tr(DEFAULT_NAMES[name], lang=lang))
    if declared:  # the data folder's display name wins
        return shown
    if name in COLUMN_TERMS:  # a defined measure: the word the definitions page defines
        return term(COLUMN_TERMS[name], lang=lang)
    if name in LABELS:  # a column's label before the default name of the same raw value
        return tr(LABELS[name], lang=lang)
    if shown is not None:
        return shown
    if name.startswith("share_") and len(name) > len("share_"):  # share of spend in a store category
        return tr("Share of {category}", lang=lang, category=display_name(name[len("share_") :], ctx=ctx))
    if not re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", name):
        return name
    words = name.split("_")
    if lang != SOURCE and language(lang).cjk and all(w in _FALLBACK_WORDS for w in words):
        return "".join(tr(_FALLBACK_WORDS[w], lang=lang) for w in words)
    text = name.replace("_", " ")  # an identifier: words, capitalised
    return tr(text[0].upper() + text[1:], lang=lang)


def infer_kind(name: Any, values: pd.Series) -> str:
    """The kind of a column from its name and values (see the module's docstring)."""
    dtype = values.dtype
    if name in CODE_COLUMNS and not pd.api.types.is_numeric_dtype(dtype):
        return "code"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "date"
    if not pd.api.types.is_numeric_dtype(dtype):
        numbers = pd.to_numeric(values.map(lambda v: v if isinstance(v, (int, float, np.number)) else None), errors="coerce")
        if (
            numbers.notna().any()
            and values.map(
                lambda v: isinstance(v, (int, float, np.number)) or pd.isna(v) or (isinstance(v, str) and v.startswith("<"))
            ).all()
        ):
            return infer_kind(name, numbers)  # numbers with suppressed cells ("<10") among them
        return "text"
    key = str(name).lower() if not isinstance(name, tuple) else str(name[-1]).lower()
    words = set(_TOKENS.findall(key))
    finite = pd.to_numeric(values, errors="coerce").dropna()
    finite = finite[np.isfinite(finite.astype(float))]
    if key in _P_NAMES or key.endswith("_p") or key.startswith("p_"):
        return "p"
    if words & _PERCENT_WORDS and (finite.empty or finite.abs().max() <= 1.5):
        return "percent"
    if words & _MONEY_WORDS and not key.startswith("return_on") and not (words & {"n", "count"}):
        return "money"
    if pd.api.types.is_integer_dtype(dtype):
        return "count"
    if (
        not finite.empty
        and np.allclose(finite, np.round(finite))
        and finite.abs().max() < 1e15
        and len(finite) > 0
        and (finite.abs() >= 1).any()
    ):
        return "count"
    return "number"


def _decimals(magnitude: float) -> int:
    if magnitude >= 100:
        return 0 if magnitude >= 1000 else 1
    if magnitude >= 1:
        return 2
    return 3


def format_value(
    value: Any,
    kind: str,
    decimals: int | None = None,
    sign: bool = False,
    lang: str | None = None,
    currency: str | None = None,
    ctx: Context | None = None,
) -> str:
    """``value`` written as ``kind``; missing is ``–``. ``decimals`` fixes the number of decimals
    of a number (default: three significant digits, at most four decimals); ``sign`` writes a
    ``+`` before a positive amount of money (a difference). The language, currency and number
    rules (Babel's, per locale: separators, percent sign) are those of ``ctx`` (the report's unless
    given); ``lang`` and ``currency`` override them (the index writes every run's figures in its
    language)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    if value is None or value is pd.NaT:
        return MISSING
    try:
        if pd.isna(value):
            return MISSING
    except (TypeError, ValueError):
        pass
    ctx = ctx or current()
    lang = lang or ctx.lang
    currency = ctx.currency if currency is None else currency
    if isinstance(value, str) and kind not in ("text", "date"):
        return value  # a suppressed cell ("<10") or a note in a numeric column
    if kind == "code":
        return str(value)
    if kind == "text":
        return display_name(value, ctx=ctx)
    if kind == "bool":
        return tr(N_("yes") if value else N_("no"), lang=lang)
    if kind == "date":
        ts = pd.Timestamp(value)
        return ts.strftime("%Y-%m-%d") if ts == ts.normalize() else ts.strftime("%Y-%m-%d %H:%M")
    v = float(value)
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    loc = locale_of(lang)
    if kind == "count":
        return decimal_text(round(v), 0, loc)
    if kind == "percent":
        return percent_text(v, 2 if 0 < abs(v) < 0.01 else 1, loc)
    if kind == "change":  # a relative change: +3.4%
        return percent_text(v, 1, loc, signed=True)
    if kind == "points":
        return tr("{points} points", lang=lang, points=decimal_text(v * 100, 1, loc, signed=True))
    if kind == "p":
        return "< " + decimal_text(0.001, 3, loc) if v < 0.001 else decimal_text(v, 3, loc)
    if kind == "money":
        body = decimal_text(abs(v), 0 if abs(v) >= 1000 else 2, loc)
        return f"{'-' if v < 0 else '+' if sign and v > 0 else ''}{currency}{body}"
    # number: three significant digits, at most four decimals; never scientific notation
    places = decimals if decimals is not None else (4 if 0 < abs(v) < 0.001 else _decimals(abs(v)))
    if v != 0 and round(v, places) == 0:
        return "≈ 0"
    return decimal_text(v, places, loc)


def format_month(month: Any, lang: str | None = None, ctx: Context | None = None) -> str:
    """A month as the language names it (``September 2024``, ``2024年9月``): the locale's own
    year-and-month form (Babel), not the process's C locale as ``strftime("%B")`` would be; in a
    language Babel does not know, ``2024-09`` (no English month name)."""
    loc = known_locale(lang or (ctx or current()).lang)
    if loc is None:
        return pd.Timestamp(month).strftime("%Y-%m")
    return format_skeleton("yMMMM", pd.Timestamp(month).date(), locale=loc)


#: Categorical variables whose model terms are written ``<variable>_<level>`` (one-hot columns).
_CATEGORICAL = ("tier", "age_band", "join_year", "gender", "channel", "gift", "segment", "stage")


def covariate_label(name: Any, ctx: Context | None = None) -> str:
    """A model term in words: ``tier_normal`` -> "Tier: Normal" (普卡 in Chinese), ``log_early_spend``
    -> its label; a column name otherwise."""
    ctx = ctx or current()
    text = str(name)
    for var in _CATEGORICAL:
        if text.startswith(var + "_") and len(text) > len(var) + 1:
            level = display_name(text[len(var) + 1 :], ctx=ctx)
            return tr("{variable}: {level}", lang=ctx.lang, variable=label(var, ctx), level=level)
    return label(text, ctx)


def column_decimals(values: pd.Series) -> int:
    """Decimals for a number column: enough for three significant digits of its typical value; none
    when every value is whole (counts that became floats beside a suppressed "<10" cell)."""
    finite = pd.to_numeric(values, errors="coerce").dropna().abs()
    finite = finite[np.isfinite(finite)]
    if len(finite) and bool((finite == finite.round()).all()):
        return 0
    finite = finite[finite > 0]
    if finite.empty:
        return 2
    return min(_decimals(float(finite.median())), 4) if finite.median() >= 0.001 else 4
