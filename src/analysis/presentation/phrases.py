"""The words of the statistics' codes: why an analysis does not apply, what an estimate is, what
limits a verdict.

The statistics layer says these things as a code and its values (``NotApplicable("clv.few_repeaters",
n=12, needed=30)``, ``Phrase.of("claim1.no_list", date=..., tier="gold", days=180)``); this table is
the one place that turns a code into words, in the report's language: names of arms, campaigns,
tiers and gifts become their display names, money gets the report's currency. A test checks every
code the statistics use has its words here, and none is unused.
"""

from __future__ import annotations

from analysis.presentation.context import Context, current
from analysis.presentation.formats import covariate_label, display_name, format_value, label
from analysis.presentation.i18n import N_, tr
from analysis.statistics.results import Phrase

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
    # what the campaign report's tables and sentences say
    "none": (N_("none"), {}),
    "campaigns.window_ends": (N_("{campaign} (window ends {end})"), {}),
    "campaigns.still_running": (
        N_(
            "Still running on the analysis date: {campaigns}. Their figures are interim: members can still come back before "
            "the window closes."
        ),
        {},
    ),
    "beforeafter.naive": (N_("naive: after minus before (treated return rates)"), {}),
    "beforeafter.did": (N_("holdout-based: after effect minus before effect (difference-in-differences)"), {}),
    "beforeafter.bias": (N_("bias of the naive comparison (season, list composition)"), {}),
    "factorial.gift": (N_("gift: {alternative} vs {reference}"), {}),
    "factorial.channel": (N_("channel: {alternative} vs {reference}"), {}),
    "factorial.interaction": (N_("interaction (gift effect with {alternative} minus with {reference})"), {}),
    "adjustment.constant": (N_("{covariate} (constant)"), {}),
    "adjustment.collinear": (N_("{covariate} (collinear with the covariates before it)"), {}),
    "adjustment.exact_fit": (
        N_(
            "{n} member(s) fitted exactly by a covariate level no one else in the comparison has "
            "(leverage 1): left out of the fit, which does not change the estimate"
        ),
        {},
    ),
    "value.cost_unknown": (N_("{arm}: the data record no cost for some of its contacts, so whether it pays is unknown."), {}),
    "value.best.loses": (
        N_(
            "**{arm} loses money even if all of its extra spend were profit**: its incremental spend of {spend} "
            "per contacted member does not cover the {cost} it cost ({net} per member, {level:.0%} interval {low} to "
            "{high}; {total} in total)."
        ),
        {},
    ),
    "value.best.pays": (
        N_(
            "{arm}: its incremental spend covers its cost at a 100 % margin ({net} per contacted member, {level:.0%} "
            "interval {low} to {high}); whether it pays at your real margin needs the gross margin rate (parameter "
            "`margin_rate`)."
        ),
        {},
    ),
    "value.best.unclear": (
        N_(
            "{arm}: whether its incremental spend even covers its cost cannot be told from these data ({net} per "
            "contacted member at a 100 % margin, {level:.0%} interval {low} to {high})."
        ),
        {},
    ),
    "value.loses": (
        N_(
            "**{arm} loses money** at a {margin:.0%} margin: {net} per contacted member ({level:.0%} interval {low} "
            "to {high}), {total} in total."
        ),
        {},
    ),
    "value.pays": (
        N_(
            "{arm} pays at a {margin:.0%} margin: {net} per contacted member ({level:.0%} interval {low} to {high}), "
            "{total} in total."
        ),
        {},
    ),
    "value.unclear": (
        N_(
            "{arm}: whether it pays at a {margin:.0%} margin cannot be told from these data: {net} per contacted "
            "member ({level:.0%} interval {low} to {high}), {total} in total."
        ),
        {},
    ),
    "plan.srm": (
        N_(
            "Sample-ratio mismatch: the arm sizes differ from the planned allocation (chi-square {chi2:,.1f}, p {p}); "
            "the assignment did not happen as planned, so the arms may not be comparable."
        ),
        {},
    ),
    "plan.srm_ok": (N_("The arm sizes match the planned allocation (chi-square {chi2:,.1f}, p {p})."), {}),
    "plan.srm_one_arm": (N_("The plan has one arm, so there is no ratio of arm sizes to check."), {}),
    "plan.srm_no_members": (N_("No member of the plan's arms is in the data yet, so the arm sizes cannot be checked."), {}),
    "plan.extra_arms": (N_("{campaign}: arms {arms} are not in the plan."), {}),
    "plan.missing_arms": (N_("{campaign}: planned arms {arms} have no members."), {}),
    "plan.start": (N_("{campaign}: started on {actual}, planned for {planned}."), {}),
    "plan.window": (
        N_("{campaign}: response window of {actual} days, planned {planned}; the primary outcome below uses the data's window."),
        {},
    ),
    "plan.members": (N_("{campaign}: {actual:,} members in the data, {planned:,} in the plan."), {}),
    "uplift.qini": (
        N_(
            "{arm}: targeting by the uplift model brings on average {area:+.1f} incremental returns per 1,000 members "
            "listed beyond random targeting ({level:.0%} interval {low:+.1f} to {high:+.1f}; Qini area, evaluated on members "
            "the model did not see)."
        ),
        {},
    ),
    "uplift.use_scores": (N_("The model ranks members better than random: use its scores to choose whom to contact."), {}),
    "uplift.no_better": (
        N_(
            "That is no better than random targeting on this evidence: choose the list by the simple rule "
            "(the refined sleeping list, or the subgroups above) rather than by the model."
        ),
        {},
    ),
    "uplift.list": (
        N_(
            "Ranked by {rule}: the list below holds {n:,} members, expected to bring {returns:,.1f} incremental returns "
            "at a cost of {cost}."
        ),
        {},
    ),
    "uplift.ranked_by.margin": (N_("expected margin net of cost"), {}),
    "uplift.ranked_by.returns_per_cost": (N_("expected incremental returns per unit of cost"), {}),
    "uplift.ranked_by.returns": (N_("expected incremental returns"), {}),
    "uplift.no_budget.margin": (
        N_("No budget was given (budget): the list holds every member whose best arm is expected to pay."),
        {},
    ),
    "uplift.no_budget.spend": (
        N_(
            "No budget was given (budget): the list holds every member whose best arm's expected extra spend "
            "covers its cost at a 100 % margin."
        ),
        {},
    ),
    "uplift.no_budget.returns": (
        N_("No budget was given (budget): the list holds every member expected to come back because of the contact."),
        {},
    ),
    "uplift.budget_not_applied": (N_("The budget is not applied: the data record no costs for these arms."), {}),
    "uplift.margin_unknown": (
        N_("The margin per incremental return is unknown (margin_rate), so the expected gross margin is not shown."),
        {},
    ),
    "uplift.list_empty": (N_("The list is empty: {why}"), {}),
    "uplift.empty.budget": (N_("the budget does not pay for a single contact."), {}),
    "uplift.empty.margin": (
        N_("for no member does the best arm's expected margin cover its cost; contacting anyone would lose money."),
        {},
    ),
    "uplift.empty.nobody_came": (
        N_("no contacted member came back, so nothing is known to cover the cost of a contact."),
        {},
    ),
    "uplift.empty.spend": (
        N_(
            "for no member does the best arm's expected extra spend cover its cost, even if all of it were profit; "
            "contacting anyone would lose money."
        ),
        {},
    ),
    "uplift.empty.no_uplift": (N_("no arm is expected to bring back anyone who would not have come anyway."), {}),
    # what the lifecycle report says of its models
    "survival.dropped": (
        N_(
            "Left out of the Cox model, because their hazard ratio cannot be estimated (no member with it fell "
            "asleep, or every one who did had it): {covariates}."
        ),
        {},
    ),
    "survival.not_converged": (N_("The Cox model did not converge: its hazard ratios are not reliable."), {}),
    "survival.one_group": (N_("One {group} only: there are no groups to compare, so no log-rank test."), {}),
    "survival.logrank": (N_("Log-rank test across {by}s: chi-square {chi2:,.1f}, p {p}."), {}),
    "survival.ph": (
        N_(
            "The proportional-hazards check rejects the assumption for {covariates} (p < {alpha}): their hazard ratios "
            "above are averages over time, not constant effects. Read the Kaplan-Meier curves for how the difference changes "
            "with time; for inference, stratify the Cox model by these covariates or give them a time-varying effect."
        ),
        {},
    ),
    "clv.none_identified": (
        N_("None of the repeat-purchase models is identified on these data, so P(alive) and lifetime values are not shown."),
        {},
    ),
    "clv.chosen": (
        N_(
            "Fitted up to {end} and judged on the purchases that followed, {model} predicts them best among the identified "
            "models (mean absolute error {mae:.3f} purchases per member); it gives P(alive) and the lifetime values below."
        ),
        {},
    ),
    "clv.chosen_sampled": (
        N_(
            "Fitted up to {end} on the same seeded sample of {fitted:,} of the {members:,} members (enough to pin each "
            "model's four parameters down) and judged on the purchases of every member that followed, {model} predicts "
            "them best among the identified models (mean absolute error {mae:.3f} purchases per member); it gives "
            "P(alive) and the lifetime values below."
        ),
        {},
    ),
    "clv.fit": (N_("Best of several starts: {optimizer}, converged."), {}),
    "clv.fit_failed": (N_("Best of several starts: {optimizer}, did NOT converge."), {}),
    "clv.edge": (N_("{names} at the edge of the range (the data cannot pin them down): not identified."), {}),
    "clv.no_se": (N_("standard errors cannot be computed (flat or singular likelihood): not identified."), {}),
    "clv.wide": (
        N_(
            "{names}: the 95 % interval spans more than three orders of magnitude (the likelihood is nearly flat along "
            "them): not identified."
        ),
        {},
    ),
    "clv.ill_conditioned": (N_("the information matrix is ill-conditioned (condition number {cond:.1e}): not identified."), {}),
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


#: The three claims of the study, by number.
CLAIM_TITLES = {
    1: N_("A sleeping list built from the last purchase alone is inaccurate"),
    2: N_("Entertainment gifts beat daily-use gifts of the same value"),
    3: N_("Outbound call + WeChat beats SMS, at a lower cost"),
    4: N_("The optimised wave worked better than the one before it"),
}

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
_MONEY = {
    "claim2.spend": ("estimate", "low", "high"),
    "claim3.cost": ("difference", "low", "high"),
    "uplift.list": ("cost",),
    **{
        f"value.{c}": ("net", "low", "high", "total", "spend", "cost")
        for c in ("loses", "pays", "unclear", "best.loses", "best.pays", "best.unclear")
    },
}
#: Differences of rates, per code (shown in points: one rule for every difference of rates).
_POINTS = {"claim4.naive": ("naive", "holdout")}
#: Shown for a value the data do not have (unknown is not zero).
_UNKNOWN = "–"


def _value(code: str, key: str, value, ctx: Context):
    if value is None:
        return _UNKNOWN
    if key in _MONEY.get(code, ()):
        return format_value(value, "money", sign=True, ctx=ctx)
    if key in _POINTS.get(code, ()):
        return format_value(value, "points", ctx=ctx)
    if key in _NAMED:
        return display_name(value, ctx=ctx)
    if key in ("factor", "by", "group"):
        return label(value, ctx).lower()
    if key == "p":  # a p-value after "p"
        return "< " + format_value(0.001, "p", ctx=ctx) if value < 0.001 else "= " + format_value(value, "p", ctx=ctx)
    if key == "covariates":
        return ", ".join(covariate_label(c, ctx) for c in value)
    if key == "covariate":
        return covariate_label(value, ctx)
    if key == "arms":
        return ", ".join(display_name(v, ctx=ctx) for v in value)
    if key in ("gifts", "channels"):
        return " / ".join(display_name(v, ctx=ctx) for v in value)
    if key == "missing":
        return ", ".join(f"{display_name(c, ctx=ctx)} / {display_name(a, ctx=ctx)}" for c, a in value)
    if key == "rules":
        return "; ".join(tr(UNAVAILABLE_REASONS[r], lang=ctx.lang) for r in value)
    if key in ("direction", "rate_verdict", "cost_verdict"):
        return tr(WORDS[value], lang=ctx.lang)
    if hasattr(value, "code"):  # a phrase inside a phrase
        return phrase_text(value, ctx)
    if isinstance(value, tuple) and all(hasattr(v, "code") for v in value):  # phrases inside a phrase
        return (", " if key == "campaigns" else " ").join(phrase_text(v, ctx) for v in value)
    return value


#: Nothing to say (an empty tuple of phrases in a table cell).
NONE = Phrase("none", {})


def phrase_text(phrase, ctx: Context | None = None) -> str:
    """The words of a phrase (:class:`~analysis.statistics.results.Phrase`) or of a reason an
    analysis does not apply (:class:`~analysis.data.errors.NotApplicable`), in the report's
    language (``ctx``'s, the report's unless given); a plain text is a message id written in a
    notebook (``applies(ok, "why not")``)."""
    ctx = ctx or current()
    if isinstance(phrase, tuple):  # several phrases said one after the other
        return " ".join(phrase_text(p, ctx) for p in phrase)
    if not hasattr(phrase, "code"):
        return tr(str(phrase), lang=ctx.lang)
    if phrase.code.startswith("label."):  # a column's label as a value (an outcome's name)
        return label(phrase.code[len("label.") :], ctx)
    template, fixed = PHRASES[phrase.code]
    values = {k: _value(phrase.code, k, v, ctx) for k, v in phrase.values.items()}
    return tr(template, lang=ctx.lang, **values, **{k: tr(v, lang=ctx.lang) for k, v in fixed.items()})


def phrases_text(phrases, sep: str = " ", ctx: Context | None = None) -> str:
    """Several phrases as one text (a claim's evidence, its reasons)."""
    return sep.join(phrase_text(p, ctx) for p in phrases)
