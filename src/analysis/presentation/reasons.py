"""The sentence for each reason an analysis does not apply (:class:`analysis.data.errors.NotApplicable`).

The statistics layer says *why not* as a code and its values (``NotApplicable("clv.few_repeaters",
n=12, needed=30)``); this table is the one place that turns a code into words, in the report's
language. A test checks every code the statistics raise has its sentence here.
"""

from __future__ import annotations

from analysis.data.errors import NotApplicable
from analysis.presentation.i18n import N_, tr
from analysis.presentation.present import display_name

#: code -> the English sentence (a message id of the catalogs), and fixed values it needs.
REASONS: dict[str, tuple[str, dict[str, str]]] = {
    "campaigns.none": (N_("the data hold no campaigns."), {}),
    "timeseries.few_weeks_before": (
        N_(
            "the time-series view needs at least {needed} weeks of reactivations before the campaign started on "
            "{start}, and the data have {n}."
        ),
        {},
    ),
    "timeseries.ends_before_start": (N_("the data end before the campaign started on {start}."), {}),
    "segmentation.few_active": (
        N_(
            "clusters are drawn from members with at least {min} purchases in the window; {n:,} members have that many, "
            "fewer than the {need:,} needed."
        ),
        {},
    ),
    "risk.short_history": (
        N_(
            "the sleep-risk model is trained on {train} and needs {days} days of purchases before that date; the "
            "data start on {first}."
        ),
        {},
    ),
    "risk.one_class_training": (
        N_(
            "the sleep-risk model needs members who fell asleep and members who did not in its {window} window; "
            "the data have {n:,} members there, {asleep:,} of whom fell asleep."
        ),
        {"window": N_("training")},
    ),
    "risk.one_class_test": (
        N_(
            "the sleep-risk model needs members who fell asleep and members who did not in its {window} window; "
            "the data have {n:,} members there, {asleep:,} of whom fell asleep."
        ),
        {"window": N_("test")},
    ),
    "survival.no_joiners": (
        N_("time to sleep is measured on members who joined while the data record purchases, and there are none."),
        {},
    ),
    "survival.none_asleep": (
        N_(
            "time to sleep is measured on members who joined while the data record purchases, and none of "
            "them has fallen asleep yet."
        ),
        {},
    ),
    "clv.no_finite_fit": (N_("the model could not be fitted from any starting point (the likelihood is not finite)."), {}),
    "clv.few_repeaters": (
        N_(
            "repeat-purchase models (BG/NBD) need members who bought on at least two different days; "
            "{n:,} did, fewer than the {needed} needed."
        ),
        {},
    ),
    "clv.short_calibration": (
        N_("the calibration period must end ({end}) at least a month after the first purchase in the data ({first})."),
        {},
    ),
    "clv.few_spenders": (
        N_(
            "the spend model (Gamma-Gamma) needs members with repeat purchases and spend; {n:,} have them, "
            "fewer than the {needed} needed."
        ),
        {},
    ),
    "clv.dropout_unidentified": (
        N_(
            "the dropout parameters of {model} ({names}) are not identified in these data: almost nobody can be "
            "seen to drop out, so the likelihood hardly changes whatever the dropout rate, and P(alive) would be "
            "whatever the optimizer's starting point made it. P(alive) and lifetime values are not shown ({notes})."
        ),
        {},
    ),
    "clv.unidentified": (
        N_(
            "the {model} parameters are not identified on these data ({notes}), so P(alive) and lifetime "
            "values would be numbers without support; they are not shown."
        ),
        {},
    ),
    "uplift.no_features": (N_("none of the uplift features ({features}) is in the data."), {}),
    "uplift.small_arm": (
        N_(
            "an uplift model of {arm} needs at least {needed} members in the arm and in the holdout; they have "
            "{n_t:,} and {n_c:,}."
        ),
        {},
    ),
    "uplift.small_arms_for_list": (
        N_("choosing a list by uplift needs at least {needed} members in every arm of {campaign} and in its holdout."),
        {},
    ),
}

#: Values that are names of arms or campaigns: shown by their display names.
_NAMED = ("arm", "campaign")
#: Shown for a value the data do not have (unknown is not zero).
_UNKNOWN = "–"


def reason_text(reason: NotApplicable | str) -> str:
    """The one sentence saying why an analysis does not apply, in the report's language.

    ``reason``: a :class:`NotApplicable` (its code and values), or a message id written in a
    notebook (``applies(ok, "why not")``)."""
    if not isinstance(reason, NotApplicable):
        return tr(str(reason))
    template, fixed = REASONS[reason.code]
    values = {k: (_UNKNOWN if v is None else display_name(v) if k in _NAMED else v) for k, v in reason.values.items()}
    return tr(template, **values, **{k: tr(v) for k, v in fixed.items()})
