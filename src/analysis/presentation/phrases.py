"""The words of the statistics' codes: why an analysis does not apply, what an estimate is, what
limits a verdict.

The statistics layer says these things as a code and its values (``NotApplicable("clv.few_repeaters",
n=12, needed=30)``, ``Phrase.of("claim1.no_list", date=..., tier="gold", days=180)``); this table is
the one place that turns a code into words, in the report's language: names of arms, campaigns,
tiers and gifts become their display names, money gets the report's currency. A test checks every
code the statistics use has its words here, and none is unused.
"""

from __future__ import annotations

from analysis.presentation.i18n import N_, tr
from analysis.presentation.present import display_name, format_value, label

#: code -> the English sentence (a message id of the catalogs), and fixed values it needs.
PHRASES: dict[str, tuple[str, dict[str, str]]] = {
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
    # --- the study's claims (analysis.statistics.claims) ---
    "claim1.evidence": (N_("share of the naive sleeping list that still comes or cannot be reached"), {}),
    "claim1.no_list": (
        N_("on {date} no {tier} member had gone {days} days without a purchase, so there is no naive list to check."),
        {},
    ),
    "claim1.no_both_sides": (
        N_("{campaign} has no contacted members on both sides of the refinement, so its distortion is not shown."),
        {},
    ),
    "claims.factor_effect": (N_("return-rate effect of {alternative} over {reference} ({factor})"), {}),
    "claims.in_factorial": (N_(", {campaign} (crossed gift x channel, average marginal effect)"), {}),
    "claims.in_arms": (N_(", {campaign}: arm {alternative} vs arm {reference}"), {}),
    "claims.factorial_error": (N_("the crossed wave cannot be analysed: {error}."), {}),
    "claims.no_contrast": (
        N_(
            "no campaign crosses gifts {gifts} with channels {channels} (set factorial_campaign), and none has two "
            "arms that differ only in the {factor} ({reference} vs {alternative})."
        ),
        {},
    ),
    "claim2.spend": (
        N_(
            "Spend per contacted member: {estimate} with {gift} ({low} to {high}, robust HC2 interval; heavy-tailed "
            "spend makes it run narrow in small arms)."
        ),
        {},
    ),
    "claim3.no_costs": (N_("the data record no costs for these contacts"), {}),
    "claim3.no_control": (N_("{campaign} has no {arm} arm"), {}),
    "claim3.cost_not_testable": (
        N_("The cost part is not testable: {why}; the verdict rests on the channel effect alone."),
        {},
    ),
    "claim3.cost": (
        N_(
            "Cost per incremental returned member, {alternative} minus {reference}: {difference} (bootstrap 95 % interval "
            "{low} to {high}; {direction}). Verdict parts: channel effect {rate_verdict}, lower cost {cost_verdict}."
        ),
        {},
    ),
    "claim4.evidence": (
        N_("change in the incremental return rate, after minus before (each against its holdout)"),
        {},
    ),
    "claim4.no_waves": (
        N_(
            "no before and after waves are named (set before_campaign, after_campaign, before_arm and after_arm, "
            "for example in the data folder's mallwake.yaml)."
        ),
        {},
    ),
    "claim4.missing_arms": (
        N_("the data have no contacts in {missing}: both waves need the arm and a {control} arm to compare against."),
        {},
    ),
    "claim4.naive": (
        N_(
            "The study's naive comparison (after minus before, treated return rates) reads {naive}; {holdout} "
            "of it is the change in the holdouts' return rate (what season and the list did without any contact), not the "
            "strategy."
        ),
        {},
    ),
    # --- sleeping lists (analysis.statistics.sleeping) ---
    "sleeping.untestable": (
        N_(
            "None of the refinements can be applied to these data ({rules}), so whether the naive list is accurate "
            "cannot be told here: the refined list equals the naive one by default, not by evidence."
        ),
        {},
    ),
    "sleeping.unavailable": (N_("Not applied, because the data cannot tell: {rules}."), {}),
    "sleeping.empty_column": (N_("`{column}` is empty: reachability by {column} unknown, counted as reachable"), {}),
}

#: Why a refinement of the sleeping list cannot be applied, per rule (the data say nothing about it).
UNAVAILABLE_REASONS = {
    "present": N_("no visit is recorded in the lookback window before the list date (presence)"),
    "unreachable": N_("reachability on the channel is never filled in"),
    "opted_out": N_("opt-out is never filled in"),
    "duplicate": N_("there are no phone numbers (duplicate cards)"),
}

#: The refinement rules of the sleeping list, in words (``analysis.statistics.sleeping.RULES``).
RULE_LABELS = {
    "present": N_("came to the mall (visit records in the lookback window)"),
    "unreachable": N_("cannot be reached on the channel"),
    "opted_out": N_("opted out of marketing"),
    "duplicate": N_("likely duplicate card (phone shared with another member)"),
}


def funnel_words(funnel):
    """A sleeping list's funnel (:meth:`~analysis.statistics.sleeping.SleepingList.funnel`) with its
    steps in words: the naive list, then "minus: <rule>" per applied rule."""
    steps = [tr("naive list") if s == "naive" else tr("minus: {rule}", rule=tr(RULE_LABELS[s])) for s in funnel["step"]]
    return funnel.assign(step=steps)


#: Words of the codes that phrases carry as values (verdicts, directions).
WORDS = {
    "supported": N_("supported"),
    "contradicted": N_("contradicted"),
    "not enough evidence": N_("not enough evidence"),
    "not testable here": N_("not testable here"),
    "lower": N_("lower"),
    "higher": N_("higher"),
    "not clearly different": N_("not clearly different"),
}

#: Values that are names of arms, campaigns, tiers or gifts: shown by their display names.
_NAMED = ("arm", "campaign", "tier", "alternative", "reference", "gift", "control")
#: Values in money, per code (shown with the report's currency and a sign).
_MONEY = {"claim2.spend": ("estimate", "low", "high"), "claim3.cost": ("difference", "low", "high")}
#: Differences of rates, per code (shown in points: one rule for every difference of rates).
_POINTS = {"claim4.naive": ("naive", "holdout")}
#: Shown for a value the data do not have (unknown is not zero).
_UNKNOWN = "–"


def _value(code: str, key: str, value):
    if value is None:
        return _UNKNOWN
    if key in _MONEY.get(code, ()):
        return format_value(value, "money", sign=True)
    if key in _POINTS.get(code, ()):
        return format_value(value, "points")
    if key in _NAMED:
        return display_name(value)
    if key == "factor":
        return label(value).lower()
    if key in ("gifts", "channels"):
        return " / ".join(map(display_name, value))
    if key == "missing":
        return ", ".join(f"{display_name(c)} / {display_name(a)}" for c, a in value)
    if key == "rules":
        return "; ".join(tr(UNAVAILABLE_REASONS[r]) for r in value)
    if key in ("direction", "rate_verdict", "cost_verdict"):
        return tr(WORDS[value])
    if hasattr(value, "code"):  # a phrase inside a phrase
        return phrase_text(value)
    return value


def phrase_text(phrase) -> str:
    """The words of a phrase (:class:`~analysis.statistics.results.Phrase`) or of a reason an
    analysis does not apply (:class:`~analysis.data.errors.NotApplicable`), in the report's
    language; a plain text is a message id written in a notebook (``applies(ok, "why not")``)."""
    if not hasattr(phrase, "code"):
        return tr(str(phrase))
    template, fixed = PHRASES[phrase.code]
    values = {k: _value(phrase.code, k, v) for k, v in phrase.values.items()}
    return tr(template, **values, **{k: tr(v) for k, v in fixed.items()})


def phrases_text(phrases, sep: str = " ") -> str:
    """Several phrases as one text (a claim's evidence, its reasons)."""
    return sep.join(phrase_text(p) for p in phrases)
