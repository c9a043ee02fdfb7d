# %% [markdown]
# # What the wake-up campaigns did
#
# Trilogy steps 2 and 3: which gift and which channel wake sleeping members up, at what cost. Every
# campaign arm is compared with its randomized **holdout** (members on the same list, not contacted):
# the difference is the campaign's incremental effect. The dissertation compared a "before" wave with an
# "after" wave; that comparison is shown next to the holdout-based estimates, so the reader sees how
# far the naive comparison is from the truth.

# %% tags=["parameters"]
data_dir: str = "../data/demo"  # directory in the data contract
as_of: str = ""  # analysis date; empty: the last date in the data
control_arm: str = "holdout"  # the arm that was not contacted
before_campaign: str = ""  # the study's "before" wave (empty: skip the comparison)
before_arm: str = ""  # its treated arm
after_campaign: str = ""  # the study's "after" wave
after_arm: str = ""  # its treated arm
factorial_campaign: str = ""  # crossed gift x channel wave (empty: skip)
gift_levels: str = ""  # reference, alternative (e.g. daily,entertainment)
channel_levels: str = ""  # reference, alternative (e.g. sms,call_wechat)
response_days: int = 0  # response window in days; 0: each campaign's own
covariates: str = "recency_days,frequency,monetary,tenure_days,tier"  # for regression adjustment
subgroups: str = "recency_band,tier,age_band,rfm_segment"  # variables of the "for whom" tables (member attribute columns too)
target_tier: str = "all"  # for the time-series view ("all": every tier)
sleeping_days: int = 180
alpha: float = 0.05
uplift_features: str = "recency_days,frequency,monetary,tenure_days,tier"  # pre-campaign features and member attribute columns of the uplift model
margin_rate: str = ""  # gross margin as a share of spend, e.g. 0.3 (empty: unknown; the margin is then not shown)
budget: str = ""  # money for the next wave's contacts and gifts (empty: no budget)
export_dir: str = ""  # where the next wave's list goes (the runner: exports/<label>/, outside the report site); empty: not written
planned_allocation: str = ""  # arm:share,... the campaigns' planned split, when no pre-registration record says it
lang: str = "en"  # language of the report: en or zh
settings_applied: bool = False  # mallwake run sets it: the data folder's mallwake.yaml is then already applied
fit_cache_dir: str = ""  # mallwake run sets it: where the run keeps model fits to reuse; empty: every fit computed

# %% tags=["hide", "setup"]
# %matplotlib inline
import matplotlib.pyplot as plt
import seaborn as sns
from IPython.display import display, Markdown
import numpy as np
import pandas as pd
sns.set_theme(style="whitegrid", context="notebook")

from analysis.statistics import campaigns, timeseries

from analysis.application import exports

from analysis.presentation import plots
from analysis.application.notebook import start
from analysis.presentation.report import applies, headline, record_metrics, section
from analysis.presentation.report import format_value
from analysis.presentation.report import first_steps
points = lambda v: format_value(v, "points")  # differences of rates, in points
from analysis.presentation.i18n import N_, tr
from analysis.presentation.formats import display_name, label
from analysis.presentation.phrases import phrase_text, phrases_text
from analysis.presentation.present import present
from analysis.statistics.plan import assignment_checks, judge_against_plans
from analysis.statistics import uplift
data = start(data_dir, as_of, lang, namespace=globals())  # escaped tables; language, currency and names of the data folder; the data
has_campaigns = campaigns.has_contacts(data)
NO_CAMPAIGNS = tr("the data hold no campaigns (no campaigns or contacts table, or no contacts in it).")
outcomes = campaigns.compute_campaign_outcomes(data, response_days=response_days or None) if has_campaigns else None
has_control = has_campaigns and control_arm in set(outcomes["arm"])
NO_CONTROL = tr("no campaign has an arm named {arm!r}, the randomized holdout the effects are measured against (set control_arm).",
                arm=control_arm)
arms = campaigns.summarize_arms(outcomes, control_arm) if has_control else None
effects = campaigns.estimate_arm_effects(outcomes, control_arm, alpha) if has_control else None
campaign_ids = sorted(outcomes["campaign_id"].unique()) if has_campaigns else []

# %% [markdown]
# ## Was each campaign assigned as planned?
#
# A sample-ratio check: the arm sizes against the planned allocation (chi-square, flagged at
# p < 0.001). The plan comes from the campaign's pre-registration record (`mallwake plan` writes it;
# keep it as `preregistrations/<campaign_id>.json` in the data folder) or from the
# planned allocation given to the run (the table says which plan each check used). A mismatch means members were lost or moved between arms after the
# draw, and the arms may no longer be comparable. Where a record exists, the primary outcome it
# names comes next, as planned (its arms, control and alpha), then anything the wave did
# differently from the record.

# %%
if applies(has_campaigns, NO_CAMPAIGNS):
    srm = assignment_checks(data_dir, outcomes, planned_allocation)
    unchecked = srm.loc[srm["plan"] == "no plan recorded", "campaign_id"].tolist()
    if unchecked:
        display(Markdown(tr("No plan was recorded for {campaigns}: the arm sizes cannot be checked against one.",
                            campaigns=", ".join(map(display_name, unchecked)))))
    display(present(srm, kinds={"chi2": "number", "p_value": "p"}))
    primary, deviations = judge_against_plans(data_dir, outcomes, data.campaigns.to_pandas())
    if len(primary):
        display(Markdown(tr("**The pre-registered primary outcome**, each treated arm against the planned control at the planned "
                            "alpha, before any other analysis:")))
        display(present(primary, kinds={"estimate": "points", "ci_low": "points", "ci_high": "points", "p_value": "p"}))
    if deviations:
        display(Markdown(tr("**Deviations from the plan.**") + " " + phrases_text(deviations)))
    elif len(primary):
        display(Markdown(tr("The waves with a plan followed it: the same arms, start dates, response windows and members.")))

# %% [markdown]
# ## Outcomes per arm
#
# *Returned*: a purchase or a visit inside the response window. *Incremental returned*: returned minus
# what the holdout's rate predicts for an arm of that size. Costs are contact plus redeemed gifts.

# %%
if has_campaigns and campaigns.open_windows(outcomes):
    display(Markdown(tr("**Interim.** {note}", note=phrase_text(campaigns.open_windows(outcomes)))))
if applies(has_control, NO_CAMPAIGNS if not has_campaigns else NO_CONTROL):
    display(present(arms, kinds={"incremental_returned": "number", "return_on_spend": "number"}))

# %% [markdown]
# ## Does it pay?
#
# Per treated arm, the **net incremental value**: the extra spend the contact brought (arm minus
# holdout, per contacted member) times the gross margin (the sentences below give it), minus what contacting and
# the gifts cost, per contacted member and in total, with its interval. Without a margin, the same
# figure at a 100 % margin is the best case: an arm below zero there loses money at any margin.
# The next list and the targeting table follow the same rule.

# %%
net = None
if applies(has_control, NO_CAMPAIGNS if not has_campaigns else NO_CONTROL):
    net = campaigns.estimate_net_value(outcomes, control_arm, float(margin_rate) if margin_rate else None, alpha)
    display(Markdown(phrases_text(net.sentences(), sep="\n\n")))
    display(net)

# %% [markdown]
# ## Return rate by arm
#
# Each point is an arm's return rate with its Wilson interval; compare treated arms with the holdout of the same campaign.

# %%
if applies(has_control, NO_CAMPAIGNS if not has_campaigns else NO_CONTROL):
    plots.plot_rates_with_intervals(campaigns.rates_with_intervals(arms, alpha), "label")
    plt.show()

# %% [markdown]
# ## Incremental effects against the holdout
#
# Newcombe intervals for rate differences, HC2-robust intervals for spend per contacted member (spend is heavy-tailed: on arms of a few hundred members these spend intervals run narrow; in the coverage study they held the truth 87-96 % of the time instead of 95 %). Every treated arm is compared with its campaign's holdout on two outcomes; the intervals are per comparison, not adjusted for their number, so read the return rate of the arm the study was about as the primary result and the rest as exploratory.

# %%
if applies(has_control, NO_CAMPAIGNS if not has_campaigns else NO_CONTROL):
    display(effects)
    plots.plot_forest(effects.table("return_rate").assign(label=lambda d: d["campaign_id"] + " / " + d["arm"]), "label",
                      title=tr("incremental return rate (arm minus holdout)"))
    plt.show()

# %% [markdown]
# ## When members come back
#
# Share of each arm returned by day since the campaign start.

# %%
if applies(has_campaigns, NO_CAMPAIGNS):
    fig, axes = plots.panels(len(campaign_ids), height=3.8)
    for ax, cid in zip(axes, campaign_ids):
        plots.plot_cumulative_returns(outcomes, cid, ax=ax).set_title(display_name(cid))
    plt.show()

# %% [markdown]
# ## The study's before/after table, and the truth
#
# The dissertation reported the number of members back, the return rate and the spend on return for
# the wave before and the wave after its optimisations. The naive comparison subtracts the two return
# rates; but the two waves differ in season and in who was on the list, and both change the return
# rate without any help from the campaign. The holdout of each wave measures those, and the
# difference-in-differences (member-clustered standard errors) removes them.

# %%
have_before_after = has_control and bool(before_campaign and after_campaign) and {before_campaign, after_campaign} <= set(campaign_ids)
if applies(have_before_after, tr("no before and after waves are named (before_campaign, after_campaign; a data folder's "
                                 "mallwake.yaml can name them).") if has_campaigns else NO_CAMPAIGNS):
    study = campaigns.compare_before_after(outcomes, before_campaign, after_campaign, before_arm, after_arm, control_arm, alpha)
    display(study)
    display(Markdown(tr(
        "The naive comparison says the optimised wave raised the return rate by **{naive}**; against the holdouts, the "
        "optimisation raised the incremental return rate by **{causal}** ({level:.0%} interval {low} to {high}). "
        "The gap, **{gap}**, is what the holdouts remove: the change in the return rate that happened without any contact. "
        "The difference-in-differences itself is how the *incremental* effect changed between the waves; it mixes the change of "
        "strategy with anything else that changed how responsive the lists were (season, who was on them), which two waves "
        "cannot separate.", naive=points(study.naive_difference), causal=points(study.causal_difference), level=1 - alpha,
        low=points(study.did.ci_low), high=points(study.did.ci_high), gap=points(study.naive_difference - study.causal_difference))))
else:
    study = None

# %% [markdown]
# ## Adjusting for who was on the list
#
# Randomization makes the simple difference unbiased; adjusting for pre-campaign recency, frequency,
# spend, tenure and tier (Lin's interacted regression, HC2 errors) makes it more precise. The
# covariates are a parameter and may be member attributes only.

# %%
adjusted_results = []
if applies(has_control, NO_CAMPAIGNS if not has_campaigns else NO_CONTROL):
    features = campaigns.compute_precampaign_features(data)
    adjusted_results = [
        campaigns.estimate_adjusted_effect(outcomes, features, cid, arm, covariates.split(","), control_arm, alpha=alpha)
        for cid, arm in arms.loc[arms["arm"] != control_arm, ["campaign_id", "arm"]].itertuples(index=False)
    ]
    adjusted = pd.concat([r.table() for r in adjusted_results], ignore_index=True)
    display(present(adjusted, kinds={"unadjusted": "points", "estimate": "points", "ci_low": "points", "ci_high": "points",
                                     "se": "percent"}))

# %% [markdown]
# ## Gift or channel? The factorial wave
#
# In the crossed wave every combination of gift and channel was randomized. A logistic model with
# their interaction gives average marginal effects: how much of the lift is the gift, how much the
# channel, and whether they reinforce each other.

# %%
if applies(has_control and bool(factorial_campaign) and factorial_campaign in campaign_ids and bool(gift_levels and channel_levels),
           tr("no crossed gift x channel wave is named (factorial_campaign, gift_levels, channel_levels).")):
    factorial = campaigns.estimate_factorial(outcomes, factorial_campaign, tuple(gift_levels.split(",")),
                                             tuple(channel_levels.split(",")), control_arm, alpha)
    plots.plot_interaction(factorial.cell_rates)
    plt.show()
    display(factorial)
else:
    factorial = None

# %% [markdown]
# ## For whom does it work?
#
# Effects of every treated arm within each level of the subgroup variables (recency band, tier,
# age band, RFM segment on the day before the campaign started, or member attribute columns); the
# figure shows the optimised arm (subgroups under 10 members per arm are not shown). These are
# exploratory comparisons; the ranked table below corrects for all of them at once.

# %%
hetero = {}
if applies(has_control, NO_CAMPAIGNS if not has_campaigns else NO_CONTROL):
    treated = list(arms.loc[arms["arm"] != control_arm, ["campaign_id", "arm"]].itertuples(index=False, name=None))
    target = (after_campaign, after_arm) if have_before_after else treated[0]
    variables = [v.strip() for v in subgroups.split(",") if v.strip()]
    hetero, missing = campaigns.estimate_heterogeneity_by_arm(outcomes, features, data, treated, variables, control_arm, alpha)
    applies(not missing, tr("{columns} are not columns of the members or their bands.", columns=", ".join(missing)))
    variables = [v for v in variables if v not in missing]
    shown = [by for by in variables if len(hetero[(campaigns.arm_label(*target), by)]) >= 2][:4]  # a panel compares groups
    if shown:
        fig, axes = plots.panels(len(shown), height=3.5)
        for ax, by in zip(axes, shown):
            tab = hetero[(campaigns.arm_label(*target), by)]
            plots.plot_forest(tab.astype({by: str}), by, ax=ax, title=tr("{arm} effect by {variable}", arm=display_name(target[1]), variable=label(by).lower()))
        plt.show()

# %% [markdown]
# ### Whom to target next
#
# Every subgroup of every treated arm, ranked: *target* where the effect is positive and survives
# the Holm correction over the whole table, *skip* where the whole interval is below zero, otherwise
# *no evidence* (too few members to tell). A subgroup holding the same members as another is listed
# once. Cost per incremental return uses the arm's average cost per contacted member (unknown when
# the data record no costs).

# %%
if applies(bool(hetero), NO_CAMPAIGNS if not has_campaigns else NO_CONTROL):
    cost_each = {campaigns.arm_label(r.campaign_id, r.arm): r.cost / r.contacted for r in arms.itertuples()}
    value_each = {campaigns.arm_label(r.campaign_id, r.arm): r.spend_per_returner * (float(margin_rate) if margin_rate else 1.0)
                  for r in arms.itertuples()}
    targets = campaigns.rank_targets(hetero, cost_each, alpha, value_per_return=value_each)
    n_target = int((targets["advice"] == "target").sum())
    display(Markdown(tr("**{n}** of {total} subgroups of the treated arms are worth targeting on this evidence.", n=n_target,
                        total=len(targets))))
    n_costly = int((targets["advice"] == campaigns.COSTS_MORE).sum())
    if n_costly:
        display(Markdown(tr("{n} more respond to the contact, but what they would spend does not cover its cost at a "
                            "{margin:.0%} margin.", n=n_costly, margin=float(margin_rate)) if margin_rate else
                         tr("{n} more respond to the contact, but what they would spend does not cover its cost, even if all of "
                            "it were profit.", n=n_costly)))
    shown, left_out = campaigns.shortlist(targets)
    display(present(shown.assign(variable=shown["variable"].map(label)).rename(
                        columns={"ci_low": "ci_low_unadjusted", "ci_high": "ci_high_unadjusted"}),
                    kinds={"estimate": "points", "ci_low_unadjusted": "points", "ci_high_unadjusted": "points",
                           "net_per_contacted": "money"}))
    display(Markdown(tr("The intervals are each subgroup's own, not adjusted for the number of subgroups; the advice uses the "
                        "Holm-adjusted p-value over the whole table. A subgroup whose own interval excludes zero can therefore "
                        "still have no evidence once all the comparisons are counted.")))
    if left_out:
        display(Markdown(tr("{n} more subgroups without evidence either way are not listed.", n=left_out)))

# %% [markdown]
# ### Can a model choose them better? Uplift, judged on members it did not see
#
# For each campaign with a holdout, a T-learner (gradient boosting on the members' features, all
# measured before the campaign) predicts each member's gain in return probability from being
# contacted (any treated arm against the holdout). Every prediction comes from models that did not
# see that member (5-fold cross-fitting). The Qini area is the model's mean gain over random
# targeting, in incremental returns per 1,000 members listed, with a bootstrap interval; when the
# interval does not clear zero, the model does no better than random and the list should follow the
# simple rule.

# %%
uplift_results = []
if applies(has_control, NO_CAMPAIGNS if not has_campaigns else NO_CONTROL):
    uplift_results, not_applicable = uplift.estimate_uplift_by_campaign(outcomes, features, uplift_features, control_arm, alpha)
    for reason in not_applicable:
        applies(False, reason)
    if uplift_results:
        display(present(uplift.summary_table(uplift_results), kinds={"gain_per_1000_listed": "number"}))
        display(Markdown(phrases_text([r.sentence() for r in uplift_results], sep="\n\n")))
        fig, axes = plots.panels(len(uplift_results))
        for ax, r in zip(axes, uplift_results):
            plots.plot_qini(r, ax=ax)
        plt.show()

# %% [markdown]
# ### Whom to contact next, with which arm, within a budget
#
# From the latest campaign with enough members in every arm: each member's expected incremental
# return from each treated arm (the uplift models above, per arm, cross-fitted; the arms' average
# effects when the model did no better than random), each arm's cost per contacted member as the
# campaign recorded it, and the gross margin of a return (the margin rate times the mean spend of
# returned members). Each member gets the arm with the best value: margin net of cost when both are
# known, returns per unit of cost when only costs are, returns otherwise. Members are taken in that
# order until the budget (the sentence below says whether one was given) is spent; unknown costs or margin stay unknown.

# %%
next_list = exported = None
if applies(has_control, NO_CAMPAIGNS if not has_campaigns else NO_CONTROL):
    with section():
        next_list, next_from, by_model = uplift.plan_from_latest(
            outcomes, features, uplift_features, uplift_results, control_arm,
            margin_rate=float(margin_rate) if margin_rate else None, budget=float(budget) if budget else None)
        display(Markdown(tr("From {campaign}.", campaign=display_name(next_from)) + " " + phrase_text(next_list.sentence())))
        display(present(next_list.curve))
        display(present(next_list.by_arm()))
        exported = exports.write_list(exports.next_wave_list(data, next_list, data.as_of), export_dir, "next_wave_list")
        if exported:
            display(Markdown(exported.sentence()))

# %% [markdown]
# ## Without a holdout: the time-series view
#
# Weekly reactivations of sleeping members of the target tier, modelled before the optimised wave
# (local level with a yearly season) and forecast after it: the band is where reactivations would
# have been without the campaign. Use it when a campaign had no holdout; with one, prefer the
# holdout estimates above (the season moves this band, not the holdout comparison).

# %%
its = None
if applies(has_campaigns, NO_CAMPAIGNS):
    weekly = timeseries.compute_weekly_reactivations(data, target_tier, sleeping_days)
    its_campaign = target[0] if hetero else campaign_ids[-1]
    its_start = data.campaigns.filter(data.campaigns.campaign_id == its_campaign).start_date.to_pandas().iloc[0]
    problem = timeseries.counterfactual_problem(weekly, its_start)
    if applies(problem is None, problem or ""):
        its = timeseries.estimate_counterfactual(weekly, its_start, alpha=alpha)
        plots.plot_counterfactual(its.series, its_start)
        plt.show()
        display(its.table())

# %% [markdown]
# ## Planning the next wave
#
# Members needed per arm to detect a given lift in the return rate over the holdout's rate (two-sided
# test at the report's significance level, 80 % power, 20 % holdout), and what each arm cost per incremental return.

# %%
if applies(has_control, NO_CAMPAIGNS if not has_campaigns else NO_CONTROL):
    baseline = float(arms.loc[arms["arm"] == control_arm, "return_rate"].mean())
    display(present(campaigns.plan_next_wave(baseline, [0.02, 0.03, 0.05, 0.10], alpha=alpha), kinds={"lift": "points"}))
    display(arms.loc[arms["arm"] != control_arm, ["campaign_id", "arm", "contacted", "incremental_returned", "cost",
                                                  "cost_per_incremental_return"]])

# %% tags=["hide"]
main = campaigns.main_effect(effects, after_campaign, after_arm, primary if has_campaigns else None) if has_control else None
record_metrics(
    campaigns=campaigns.campaign_metrics(arms, effects) if has_control else {},
    adjusted_effects={campaigns.arm_label(r.campaign_id, r.arm): r.to_metrics() for r in adjusted_results} or None,
    naive_before_after=None if study is None else study.to_metrics(),
    factorial=None if factorial is None else factorial.to_metrics(),
    uplift={r.campaign_id: r.metrics() for r in uplift_results},
    net_value=None if net is None else net.metrics(),
    its_extra_reactivations=None if its is None else its.cumulative_effect,
    next_wave=None if next_list is None else next_list.to_metrics(),
    headline=headline(*([] if main is None else [((N_("incremental return rate, {arm}"), {"arm": main["arm"]}), main["estimate"], "points",
                                                   (main["ci_low"], main["ci_high"]))]),
                      (N_("campaigns"), len(campaign_ids), "count"),
                      *([] if study is None else [(N_("before/after, holdout-based change"), study.did.estimate, "points",
                                                   (study.did.ci_low, study.did.ci_high))])),
)

# %% tags=["first"]
if not has_control:
    first_steps(tr("No campaign here has a holdout, so no effect can be measured: plan the next wave with one "
                   "(`mallwake plan`)."))
else:
    said = []
    if main is not None:
        said.append(tr("{arm} raised the return rate by **{estimate}** against its holdout ({low} to {high}).",
                       arm=display_name(main["arm"]), estimate=points(main["estimate"]),
                       low=points(main["ci_low"]), high=points(main["ci_high"])))
    if net is not None and len(net.losing()):
        said.append(tr("**Stop or change {arms}**: it loses money (its extra spend does not cover its cost).",
                       arms=", ".join(display_name(f"{r.campaign_id} / {r.arm}") for r in net.losing().itertuples())))
    if next_list is not None and len(next_list.chosen):
        said.append(tr("Next wave: contact the **{n:,}** members of the next-wave list.", n=len(next_list.chosen))
                    + (" " + exported.sentence() if exported else ""))
    elif next_list is not None:
        said.append(tr("The next-wave list is empty: no member is expected to bring back more than contacting them costs."))
    first_steps(*said)
