"""Definitions: every metric, stage, segment, window and rule the reports name, in one place.

The definitions page (:mod:`analysis.presentation.glossary`) writes every entry; a report that
shows a defined measure labels it with the defined term (:func:`term`, :data:`COLUMN_TERMS`), so
the word in a report's table is the word the definitions page defines, in every language, and a
rule that differs from a defined one needs a name of its own (tested in ``tests/test_site.py``).
"""

from __future__ import annotations

import re

from analysis.data.config import AGE_BAND_LABELS, MIN_CELL_SIZE, RFM_WINDOW_DAYS, SLEEPING_DAYS
from analysis.presentation.i18n import N_, tr

#: (section, term, definition): the section and definition are message ids (their translations
#: are in the catalogs), the term is an id of the ``terms`` catalog (a defined word keeps its own
#: translation); ``{placeholders}`` are filled from the code's defaults (:data:`DEFAULTS`).
#: Parameters are named as the notebooks name them.
ENTRIES: list[tuple[str, str, str]] = [
    # -- campaign metrics
    (
        N_("Campaign metrics"),
        "Holdout",
        N_(
            "Members drawn at random from the same list as the contacted members and not contacted. What they do in the "
            "response window is what the contacted members would have done without the campaign."
        ),
    ),
    (
        N_("Campaign metrics"),
        "Response window",
        N_(
            "Days after a campaign's start in which a purchase or visit counts as a response (`response_days`; default: "
            "each campaign's own, from campaigns.csv). A window that has not ended on the analysis date is marked interim."
        ),
    ),
    (
        N_("Campaign metrics"),
        "Returned",
        N_(
            "A contacted (or holdout) member who came back in the response window: made a purchase or has a visit record "
            "(parking, Wi-Fi). A member who bought is counted under Purchase rate as well."
        ),
    ),
    (N_("Campaign metrics"), "Return rate", N_("Returned members divided by the members of the arm.")),
    (
        N_("Campaign metrics"),
        "Purchase rate",
        N_(
            "Members with a purchase in the response window over the members of the arm (visits without a purchase do not count)."
        ),
    ),
    (
        N_("Campaign metrics"),
        "Incremental return rate",
        N_(
            "An arm's return rate minus its holdout's: the members brought back by the campaign, per member contacted. "
            "Shown in percentage points with a 95 % interval (Newcombe for rate differences)."
        ),
    ),
    (
        N_("Campaign metrics"),
        "Incremental returns",
        N_("Incremental return rate times the members contacted: how many came back because of the campaign."),
    ),
    (N_("Campaign metrics"), "Spend on return", N_("Spend of returned members in the response window.")),
    (
        N_("Campaign metrics"),
        "Spend per contacted",
        N_(
            "Spend in the response window over all members of the arm (zero for those who did not come); its difference "
            "to the holdout has an HC2-robust interval."
        ),
    ),
    (
        N_("Campaign metrics"),
        "Cost",
        N_("Contact cost plus the cost of redeemed gifts (contacts.csv). Unknown costs stay unknown."),
    ),
    (
        N_("Campaign metrics"),
        "Cost per incremental return",
        N_(
            "An arm's cost over its incremental returns, with a bootstrap interval (members resampled within the arm and "
            "its holdout). Not shown when the campaign brought nobody back beyond the holdout."
        ),
    ),
    (
        N_("Campaign metrics"),
        "Net incremental value",
        N_(
            "The gross margin (`margin_rate`) of an arm's extra spend over its holdout, minus its cost, per member "
            "contacted and in total, with an HC2-robust interval. Without a margin it is the best case, every extra "
            "spend counted as profit: an arm whose interval lies below zero loses money at any margin."
        ),
    ),
    (
        N_("Campaign metrics"),
        "Before/after comparison",
        N_(
            "The study's table: return count, rate and spend of a wave before and a wave after the new strategy. The naive "
            "difference mixes the strategy with season and list; the holdout-based difference (difference-in-differences "
            "of the incremental rates) removes what the holdouts measure."
        ),
    ),
    (
        N_("Campaign metrics"),
        "Sample-ratio check",
        N_(
            "The arm sizes of a campaign against its planned allocation (chi-square goodness of fit); p < 0.001 is flagged "
            "as a mismatch: members were lost or moved between arms after the draw. The plan comes from the campaign's "
            "pre-registration record or the `planned_allocation` parameter."
        ),
    ),
    (
        N_("Campaign metrics"),
        "Pre-registration",
        N_(
            "What `mallwake plan` writes before a wave: the list rule, arms and allocation, strata and seed, primary "
            "outcome, response window, alpha, minimum detectable lift, analysis method and the SHA-256 of the contact file."
        ),
    ),
    (
        N_("Campaign metrics"),
        "Uplift and Qini area",
        N_(
            "A member's uplift is the gain in return probability from being contacted, predicted from pre-campaign "
            "features (T-learner: one model among the contacted, one among the holdout, each prediction from models that "
            "did not see the member). The Qini area is the mean gain of targeting by predicted uplift over random "
            "targeting, in incremental returns per 1,000 members listed; its interval not clearing zero means the model "
            "does no better than random."
        ),
    ),
    (
        N_("Campaign metrics"),
        "Next wave list",
        N_(
            "Members ranked by the best arm for each: margin net of cost when the gross margin (`margin_rate` of the "
            "spend of a return) and the arms' costs are known, incremental returns per unit of cost when only the costs "
            "are, incremental returns otherwise; taken in that order while the `budget` lasts, and only where the "
            "expected extra spend covers the cost. From the uplift models when their Qini interval clears zero, else from "
            "the arms' average effects."
        ),
    ),
    (
        N_("Campaign metrics"),
        "Deviation from the plan",
        N_(
            "What a wave did differently from its pre-registration record: arms the plan did not have (or planned arms "
            "without members), another start date, response window or number of members. The report states each in one "
            "sentence and judges the recorded primary outcome as planned."
        ),
    ),
    # -- statistics
    (
        N_("Statistics"),
        "95 % interval",
        N_(
            "The range of effects compatible with the data at the 5 % level: Wilson for a rate, Newcombe for a difference "
            "of rates, HC2-robust regression for spend, bootstrap for ratios such as cost per incremental return."
        ),
    ),
    (
        N_("Statistics"),
        "Percentage points",
        N_(
            "How differences of rates are written in every report: a return rate of 12.0 % against 8.0 % is a difference "
            "of +4.0 points (not +4.0 %, and not +50 %, the relative change)."
        ),
    ),
    (
        N_("Statistics"),
        "p-value",
        N_(
            "How surprising the data would be without any effect; shown as `< 0.001` below one in a thousand. Where many "
            "subgroups are tested the Holm adjustment is applied (p-value (Holm))."
        ),
    ),
    (
        N_("Statistics"),
        "Adjusted effect",
        N_(
            "The incremental return rate from a linear probability model with pre-campaign covariates (HC2-robust); "
            "constant or collinear covariates are dropped and named."
        ),
    ),
    (
        N_("Statistics"),
        "Hazard ratio",
        N_(
            "From a Cox model of the time to fall asleep: above 1, members with the attribute fall asleep sooner. The "
            "proportional-hazards check reports each covariate's correlation with time."
        ),
    ),
    (
        N_("Statistics"),
        "AUC and Gini",
        N_(
            "How well a risk score ranks members: the AUC is the chance that a member who fell asleep scored higher than "
            "one who did not (0.5: no better than chance, 1: perfect); the Gini coefficient is 2 x AUC - 1."
        ),
    ),
    (
        N_("Statistics"),
        "BG/NBD and Gamma-Gamma",
        N_(
            "Models of repeat purchases (frequency, recency, age) and of spend per purchase, fitted by maximum likelihood; "
            "with them, the expected purchases, the probability of being alive and the customer lifetime value (CLV)."
        ),
    ),
    (
        N_("Statistics"),
        "Small cells",
        N_(
            "Counts below `min_cell` (default {min_cell}) are shown as `<{min_cell}`; a difference that would reveal a "
            "hidden count is hidden too."
        ),
    ),
    # -- windows and rules
    (
        N_("Windows and rules"),
        "Analysis date",
        N_("The day the reports describe (`as_of`); by default the last date in the data, never today's date."),
    ),
    (
        N_("Windows and rules"),
        "Sleeping member",
        N_(
            "No purchase for at least `sleeping_days` (default {sleeping_days}) days; a member who never bought is "
            "measured from the join date."
        ),
    ),
    (
        N_("Windows and rules"),
        "Naive sleeping list",
        N_("Members of the target tier (`target_tier`) asleep on the list date by the last purchase date alone."),
    ),
    (
        N_("Windows and rules"),
        "Refined sleeping list",
        N_(
            "The naive list without the invalid sleepers: the rules below, each applied in turn (`lookback_days`, default "
            "90, is the window in which a visit shows the member still comes)."
        ),
    ),
    (
        N_("Windows and rules"),
        "RFM window",
        N_("Recency, frequency and spend are counted over the {rfm_days} days up to the analysis date (or month-end)."),
    ),
    (
        N_("Windows and rules"),
        "RFM scores",
        N_(
            "Quintile scores 1-5 among the members who bought in the window (5: most recent, most frequent, highest "
            "spend); members without a purchase in the window have no scores."
        ),
    ),
    (
        N_("Windows and rules"),
        "Downgrade warning",
        N_(
            "Spend since 1 January, continued at the same pace to 31 December, below the yearly threshold of the member's "
            "tier (`tier_thresholds`, e.g. silver:3000,gold:8000): the member is on course to lose the tier at the yearly "
            "review."
        ),
    ),
    (
        N_("Windows and rules"),
        "About to sleep",
        N_(
            "Monthly report: an active or cooling member whose last purchase turns {sleeping_days} days old within "
            "`warn_days` (default 30) days, so who falls asleep by the rule unless they buy. A count of members, by rule, "
            "not a prediction."
        ),
    ),
    (
        N_("Windows and rules"),
        "High sleep risk",
        N_(
            "Lifecycle report: a member whose modelled probability of falling asleep in the next months is 50 % or more "
            "(the sleep-risk model). A prediction; not the same members as About to sleep."
        ),
    ),
    (N_("Windows and rules"), "Age bands", N_("One definition across reports: {age_bands} years.")),
    # -- lifecycle stages
    (N_("Lifecycle stages"), "New members", N_("Joined during the month.")),
    (
        N_("Lifecycle stages"),
        "Active",
        N_("Last purchase at most `cooling_days` (default 90) days before the month-end."),
    ),
    (
        N_("Lifecycle stages"),
        "Cooling",
        N_("Last purchase more than `cooling_days` but fewer than `sleeping_days` (default 180) days before the month-end."),
    ),
    (
        N_("Lifecycle stages"),
        "Sleeping",
        N_("At least `sleeping_days` but fewer than `lost_days` (default 365) days without a purchase."),
    ),
    (N_("Lifecycle stages"), "Lost members", N_("At least `lost_days` days without a purchase.")),
    (
        N_("Lifecycle stages"),
        "Reactivated",
        N_(
            "Bought during the month after being sleeping or lost at the end of the month before (the monthly report's Woken up)."
        ),
    ),
]

#: The code's defaults the definitions name.
DEFAULTS = {
    "min_cell": MIN_CELL_SIZE,
    "sleeping_days": SLEEPING_DAYS,
    "rfm_days": RFM_WINDOW_DAYS,
    "age_bands": ", ".join(AGE_BAND_LABELS),
}


#: Columns of the reports' tables whose label is a defined term: the label is the term, in the
#: ``terms`` catalog's words (``formats.label`` reads this).
COLUMN_TERMS = {
    "return_rate": "Return rate",
    "purchase_rate": "Purchase rate",
    "incremental_return_rate": "Incremental return rate",
    "incremental_returned": "Incremental returns",
    "spend_on_return": "Spend on return",
    "spend_per_contacted": "Spend per contacted",
    "cost": "Cost",
    "cost_per_incremental_return": "Cost per incremental return",
    "hazard_ratio": "Hazard ratio",
    "holdout": "Holdout",
    "p_value": "p-value",
    "active": "Active",
    "cooling": "Cooling",
    "sleeping": "Sleeping",
    "about_to_sleep": "About to sleep",
    "downgrade_warning": "Downgrade warning",
    "high_sleep_risk": "High sleep risk",
}

TERMS = frozenset(t for _, t, _ in ENTRIES)


def term(name: str, lang: str | None = None) -> str:
    """The defined term ``name`` (an English term of :data:`ENTRIES`) in ``lang`` (default: the
    report's), as the definitions page names it."""
    if name not in TERMS:
        raise KeyError(f"{name!r} is not a defined term")
    return tr(name, lang=lang, domain="terms")


def anchor(name: str) -> str:
    """The id of ``name``'s definition on the definitions page (the same in every language)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
