"""Regenerate the notebooks in ``notebooks/`` (run: ``python tools/make_notebooks.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from nbbuild import write_notebook  # noqa: E402

NB = Path(__file__).resolve().parent.parent / "notebooks"

SETUP = """
%matplotlib inline
import matplotlib.pyplot as plt
import seaborn as sns
from IPython.display import display, Markdown
import numpy as np
import pandas as pd
sns.set_theme(style="whitegrid", context="notebook")
"""

OVERVIEW = [
    ("md", """
# Data overview

What the data directory holds before any analysis: the tables and their date coverage, the members
by card tier and joining year, spend, purchases and visits month by month, missing values, and the
result of validating every table against the data contract (`data/README.md`).
"""),
    ("params", """
data_dir: str = "../data/demo"  # directory in the data contract
as_of: str = ""  # analysis date YYYY-MM-DD; empty: the last date in the data
"""),
    ("setup", SETUP + """
from analysis import overview, plots
from analysis.dataset import load_dataset
from analysis.report import record_metrics
data = load_dataset(data_dir, as_of=as_of or None)
"""),
    ("md", "## Validation\n\nEvery rule of the data contract was checked before this report ran; a broken rule stops the run with a message naming the file, column, rule and example rows."),
    ("code", "data.validation"),
    ("md", "## Tables and coverage\n\nRows, distinct members and the first and last date of each table."),
    ("code", """
coverage = overview.compute_table_coverage(data)
coverage
"""),
    ("md", "## Members by card tier\n\nThe tier structure of the member base (tiers in their configured order)."),
    ("code", """
by_tier = overview.compute_members_by_tier(data)
plots.plot_members_by_tier(by_tier);
"""),
    ("md", "## Members by joining year\n\nHow the member base was built up, year by year, and the tier members hold now."),
    ("code", """
cohorts = overview.compute_join_cohorts(data)
plots.plot_join_cohorts(cohorts);
"""),
    ("md", """
## Activity month by month

Spend, purchases and visits (parking and Wi-Fi records) per calendar month. Peaks around Spring
Festival, 618, National Day week and Double 11 are the retail calendar; a falling number of buyers
next to steady visits is the first sign of members who come but no longer swipe their card.
"""),
    ("code", """
monthly = overview.compute_monthly_activity(data)
fig, axes = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
plots.plot_monthly_activity(monthly, "spend", ax=axes[0])
plots.plot_monthly_activity(monthly, "purchases", ax=axes[1], label="purchases")
plots.plot_monthly_activity(monthly, "buyers", ax=axes[1], label="buying members")
plots.plot_monthly_activity(monthly, "visits", ax=axes[2], label="visit records")
plots.plot_monthly_activity(monthly, "visitors", ax=axes[2], label="visiting members")
fig.tight_layout()
"""),
    ("md", "## Missing values\n\nShare of empty cells per column. Identifying columns (phone, plate) are flagged: they are never shown or used as covariates."),
    ("code", """
missing = overview.compute_missing_values(data)
missing[missing["missing"] > 0] if (missing["missing"] > 0).any() else Markdown("No missing values in any column.")
"""),
    ("hide", """
record_metrics(
    members=int(by_tier["members"].sum()),
    transactions=int(coverage.set_index("table").loc["transactions", "rows"]),
    visits=int(coverage.set_index("table").loc["visits", "rows"]),
    total_spend=float(monthly["spend"].sum()),
    first_month=str(monthly["month"].min().date()),
    last_month=str(monthly["month"].max().date()),
    members_by_tier={t: int(n) for t, n in zip(by_tier["tier"], by_tier["members"])},
)
"""),
]

SLEEPING = [
    ("md", """
# Who is really asleep

Trilogy step 1. A sleeping list built only from "no purchase for N days" holds members who are not
asleep at all (their car is in the parking records, they come without swiping the card) and members
the campaign cannot reach. This report builds the **naive list**, removes those **invalid sleepers**
rule by rule, and shows what the naive list does to a campaign's return rate.
"""),
    ("params", """
data_dir: str = "../data/demo"  # directory in the data contract
as_of: str = ""  # analysis date; empty: the last date in the data
list_date: str = ""  # day the sleeping list is drawn; empty: the analysis date
target_tier: str = "all"  # tier to wake up ("all": every tier)
sleeping_days: int = 180  # days without purchase to count as sleeping
lookback_days: int = 90  # a visit in this window shows the member still comes
channel: str = "call_wechat"  # sms, call, wechat or call_wechat: who is reachable
naive_campaign: str = ""  # a campaign sent to a naive list (empty: none)
min_cell: int = 10  # smallest group shown in tables
"""),
    ("setup", SETUP + """
from analysis import campaigns, plots, sleeping
from analysis.dataset import load_dataset
from analysis.privacy import suppress_small_cells
from analysis.report import record_metrics
data = load_dataset(data_dir, as_of=as_of or None)
sl = sleeping.build_sleeping_list(data, list_date or None, tier=target_tier, sleeping_days=sleeping_days,
                                  lookback_days=lookback_days, channel=channel)
"""),
    ("md", "## The naive list and the refined list"),
    ("code", """
display(Markdown(
    f"On **{sl.list_date}**, **{sl.naive_size:,}** {target_tier} members had not bought for at least {sleeping_days} days "
    f"(the naive list). After removing invalid sleepers, **{sl.refined_size:,}** remain: **{sl.invalid_share:.1%}** of "
    f"the naive list is not really asleep or cannot be reached by {channel}, and the naive list overstates the "
    f"sleeping population by **{sl.overstatement:.1%}**."
))
for note in sl.notes:
    display(Markdown(f"*Note: {note}.*"))
sl
"""),
    ("md", """
## The funnel

Members left after each rule, applied in order (a member removed by an earlier rule is not counted
again). `removed_alone` is how many members each rule would remove on its own.
"""),
    ("code", """
funnel = sl.funnel()
plots.plot_funnel(funnel);
"""),
    ("code", "funnel"),
    ("md", "## Overlaps\n\nInvalid sleepers often fail several rules at once; combinations of fewer than `min_cell` members are suppressed."),
    ("code", "suppress_small_cells(sl.overlaps(), \"members\", min_cell)"),
    ("md", """
## What the naive list does to a campaign's return rate

The campaign below was sent to a naive list. Members who still come "return" whether or not they
were contacted, so they inflate the return rate of every arm, including the holdout; unreachable
members cannot respond and deflate it. Only the refined-list rows measure what waking up sleeping
members achieves.
"""),
    ("code", """
if naive_campaign and naive_campaign in set(data.campaigns.campaign_id.to_pandas()):
    outcomes = campaigns.compute_campaign_outcomes(data, [naive_campaign])
    start = data.campaigns.filter(data.campaigns.campaign_id == naive_campaign).start_date.to_pandas().iloc[0]
    at_start = sleeping.build_sleeping_list(data, start - pd.Timedelta(days=1), tier=target_tier, sleeping_days=sleeping_days,
                                            lookback_days=lookback_days, channel=channel)
    distortion = sleeping.compare_list_return_rates(outcomes, at_start, naive_campaign)
    display(suppress_small_cells(distortion, "contacted", min_cell).style.format({"return_rate": "{:.1%}"}, na_rep="-"))
else:
    distortion = None
    display(Markdown("No campaign sent to a naive list was named (`naive_campaign`)."))
"""),
    ("hide", """
record_metrics(
    list_date=str(sl.list_date), naive_list=sl.naive_size, refined_list=sl.refined_size,
    invalid_share=sl.invalid_share, naive_overstates_by=sl.overstatement,
    removed_by_rule={r: int(n) for r, n in zip(funnel["step"][1:], funnel["removed"][1:])},
)
"""),
]

CAMPAIGNS = [
    ("md", """
# What the wake-up campaigns did

Trilogy steps 2 and 3: which gift and which channel wake sleeping members up, at what cost. Every
campaign arm is compared with its randomized **holdout** (members on the same list, not contacted):
the difference is the campaign's incremental effect. The dissertation compared a "before" wave with an
"after" wave; that comparison is shown next to the holdout-based estimates, so the reader sees how
far the naive comparison is from the truth.
"""),
    ("params", """
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
"""),
    ("setup", SETUP + """
from analysis import campaigns, plots, timeseries
from analysis.dataset import load_dataset
from analysis.report import applies, record_metrics
data = load_dataset(data_dir, as_of=as_of or None)
has_campaigns = campaigns.has_contacts(data)
NO_CAMPAIGNS = "the data hold no campaigns (no campaigns or contacts table, or no contacts in it)."
outcomes = campaigns.compute_campaign_outcomes(data, response_days=response_days or None) if has_campaigns else None
has_control = has_campaigns and control_arm in set(outcomes["arm"])
NO_CONTROL = f"no campaign has an arm named {control_arm!r}, the randomized holdout the effects are measured against (set control_arm)."
arms = campaigns.summarize_arms(outcomes, control_arm) if has_control else None
effects = campaigns.estimate_arm_effects(outcomes, control_arm, alpha) if has_control else None
campaign_ids = sorted(outcomes["campaign_id"].unique()) if has_campaigns else []
"""),
    ("md", """
## Outcomes per arm

*Returned*: a purchase or a visit inside the response window. *Incremental returned*: returned minus
what the holdout's rate predicts for an arm of that size. Costs are contact plus redeemed gifts.
"""),
    ("code", """
if has_campaigns and campaigns.open_windows(outcomes):
    display(Markdown(f"**Interim.** {campaigns.open_windows(outcomes)}"))
if applies(has_control, NO_CAMPAIGNS if not has_campaigns else NO_CONTROL):
    display(arms.style.format({c: "{:.1%}" for c in ["return_rate", "purchase_rate"]} | {c: "{:,.1f}" for c in [
    "spend", "cost", "spend_per_contacted", "spend_per_returner", "cost_per_returned", "incremental_returned",
    "cost_per_incremental_return", "incremental_spend", "return_on_spend"]}, na_rep="-").hide(axis="index"))
"""),
    ("md", f"## Return rate by arm\n\nEach point is an arm's return rate with its Wilson interval; compare treated arms with the holdout of the same campaign."),
    ("code", """
if applies(has_control, NO_CAMPAIGNS if not has_campaigns else NO_CONTROL):
    plots.plot_rates_with_intervals(campaigns.rates_with_intervals(arms, alpha), "label")
    plt.show()
"""),
    ("md", "## Incremental effects against the holdout\n\nNewcombe intervals for rate differences, HC2-robust intervals for spend per contacted member (spend is "
           "heavy-tailed: on arms of a few hundred members these spend intervals run narrow; in the coverage study they held "
           "the truth 87-96 % of the time instead of 95 %). "
           "Every treated arm is compared with its campaign's holdout on two outcomes; the intervals are per comparison, not "
           "adjusted for their number, so read the return rate of the arm the study was about as the primary result and the "
           "rest as exploratory."),
    ("code", """
if applies(has_control, NO_CAMPAIGNS if not has_campaigns else NO_CONTROL):
    display(effects)
    plots.plot_forest(effects.table("return_rate").assign(label=lambda d: d["campaign_id"] + " / " + d["arm"]), "label",
                      title="incremental return rate (arm minus holdout)")
    plt.show()
"""),
    ("md", "## When members come back\n\nShare of each arm returned by day since the campaign start."),
    ("code", """
if applies(has_campaigns, NO_CAMPAIGNS):
    fig, axes = plt.subplots(1, len(campaign_ids), figsize=(5 * len(campaign_ids), 3.8), squeeze=False)
    for ax, cid in zip(axes[0], campaign_ids):
        plots.plot_cumulative_returns(outcomes, cid, ax=ax).set_title(cid)
    fig.tight_layout()
    plt.show()
"""),
    ("md", """
## The study's before/after table, and the truth

The dissertation reported the number of members back, the return rate and the spend on return for
the wave before and the wave after its optimisations. The naive comparison subtracts the two return
rates; but the two waves differ in season and in who was on the list, and both change the return
rate without any help from the campaign. The holdout of each wave measures those, and the
difference-in-differences (member-clustered standard errors) removes them.
"""),
    ("code", """
have_before_after = has_control and bool(before_campaign and after_campaign) and {before_campaign, after_campaign} <= set(campaign_ids)
if applies(have_before_after, "no before and after waves are named (before_campaign, after_campaign; a data folder's "
           "mallwake.yaml can name them)." if has_campaigns else NO_CAMPAIGNS):
    study = campaigns.compare_before_after(outcomes, before_campaign, after_campaign, before_arm, after_arm, control_arm, alpha)
    display(study)
    display(Markdown(
        f"The naive comparison says the optimised wave raised the return rate by **{study.naive_difference:+.1%}**; "
        f"against the holdouts, the optimisation raised the incremental return rate by **{study.causal_difference:+.1%}** "
        f"({1 - alpha:.0%} interval {study.did.ci_low:+.1%} to {study.did.ci_high:+.1%}). "
        f"The gap, **{study.naive_difference - study.causal_difference:+.1%}**, is what the holdouts remove: the change in the "
        f"return rate that happened without any contact. The difference-in-differences itself is how the *incremental* effect "
        f"changed between the waves; it mixes the change of strategy with anything else that changed how responsive the "
        f"lists were (season, who was on them), which two waves cannot separate."
    ))
else:
    study = None
"""),
    ("md", """
## Adjusting for who was on the list

Randomization makes the simple difference unbiased; adjusting for pre-campaign recency, frequency,
spend, tenure and tier (Lin's interacted regression, HC2 errors) makes it more precise. The
covariates are a parameter and may be member attributes only.
"""),
    ("code", """
adjusted = None
if applies(has_control, NO_CAMPAIGNS if not has_campaigns else NO_CONTROL):
    features = campaigns.compute_precampaign_features(data)
    adjusted = pd.concat([
        campaigns.estimate_adjusted_effect(outcomes, features, cid, arm, covariates.split(","), control_arm, alpha=alpha).table()
        for cid, arm in arms.loc[arms["arm"] != control_arm, ["campaign_id", "arm"]].itertuples(index=False)
    ], ignore_index=True)
    display(adjusted.style.format({c: "{:+.2%}" for c in ["unadjusted", "adjusted", "ci_low", "ci_high"]} | {"se": "{:.2%}"},
                                  na_rep="–").hide(axis="index"))
"""),
    ("md", """
## Gift or channel? The factorial wave

In the crossed wave every combination of gift and channel was randomized. A logistic model with
their interaction gives average marginal effects: how much of the lift is the gift, how much the
channel, and whether they reinforce each other.
"""),
    ("code", """
if applies(has_control and bool(factorial_campaign) and factorial_campaign in campaign_ids and bool(gift_levels and channel_levels),
           "no crossed gift x channel wave is named (factorial_campaign, gift_levels, channel_levels)."):
    factorial = campaigns.estimate_factorial(outcomes, factorial_campaign, tuple(gift_levels.split(",")),
                                             tuple(channel_levels.split(",")), control_arm, alpha)
    plots.plot_interaction(factorial.cell_rates)
    plt.show()
    display(factorial)
else:
    factorial = None
"""),
    ("md", """
## For whom does it work?

Effects of every treated arm within each level of the `subgroups` variables (recency band, tier,
age band, RFM segment on the day before the campaign started, or member attribute columns); the
figure shows the optimised arm (subgroups under 10 members per arm are not shown). These are
exploratory comparisons; the ranked table below corrects for all of them at once.
"""),
    ("code", """
hetero = {}
if applies(has_control, NO_CAMPAIGNS if not has_campaigns else NO_CONTROL):
    treated = list(arms.loc[arms["arm"] != control_arm, ["campaign_id", "arm"]].itertuples(index=False, name=None))
    target = (after_campaign, after_arm) if have_before_after else treated[0]
    variables = [v.strip() for v in subgroups.split(",") if v.strip()]
    hetero, missing = campaigns.estimate_heterogeneity_by_arm(outcomes, features, data, treated, variables, control_arm, alpha)
    applies(not missing, f"{', '.join(missing)} are not columns of the members or their bands.")
    variables = [v for v in variables if v not in missing]
    shown = [by for by in variables if len(hetero[(campaigns.arm_label(*target), by)])][:4]
    if shown:
        fig, axes = plt.subplots(1, len(shown), figsize=(6.5 * len(shown), 3.5), squeeze=False)
        for ax, by in zip(axes[0], shown):
            tab = hetero[(campaigns.arm_label(*target), by)]
            plots.plot_forest(tab.astype({by: str}), by, ax=ax, title=f"{target[1]} effect by {by.replace('_', ' ')}")
        fig.tight_layout()
        plt.show()
"""),
    ("md", """
### Whom to target next

Every subgroup of every treated arm, ranked: *target* where the effect is positive and survives
the Holm correction over the whole table, *skip* where the whole interval is below zero, otherwise
*no evidence* (too few members to tell). A subgroup holding the same members as another is listed
once. Cost per incremental return uses the arm's average cost per contacted member (unknown when
the data record no costs).
"""),
    ("code", """
if applies(bool(hetero), NO_CAMPAIGNS if not has_campaigns else NO_CONTROL):
    cost_each = {campaigns.arm_label(r.campaign_id, r.arm): r.cost / r.contacted for r in arms.itertuples()}
    targets = campaigns.rank_targets(hetero, cost_each, alpha)
    n_target = int((targets["advice"] == "target").sum())
    display(Markdown(f"**{n_target}** of {len(targets)} subgroups of the treated arms are worth targeting on this evidence."))
    display(targets.style.format({"estimate": "{:+.1%}", "ci_low": "{:+.1%}", "ci_high": "{:+.1%}", "n_treated": "{:,}",
                                  "cost_per_incremental_return": "{:,.1f}",
                                  "p_holm": lambda p: "< 0.001" if p < 0.001 else f"{p:.3f}"}, na_rep="–").hide(axis="index"))
"""),
    ("md", """
## Without a holdout: the time-series view

Weekly reactivations of sleeping members of the target tier, modelled before the optimised wave
(local level with a yearly season) and forecast after it: the band is where reactivations would
have been without the campaign. Use it when a campaign had no holdout; with one, prefer the
holdout estimates above (the season moves this band, not the holdout comparison).
"""),
    ("code", """
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
"""),
    ("md", """
## Planning the next wave

Members needed per arm to detect a given lift in the return rate over the holdout's rate (two-sided
test at `alpha`, 80 % power, 20 % holdout), and what each arm cost per incremental return.
"""),
    ("code", """
if applies(has_control, NO_CAMPAIGNS if not has_campaigns else NO_CONTROL):
    baseline = float(arms.loc[arms["arm"] == control_arm, "return_rate"].mean())
    display(campaigns.plan_next_wave(baseline, [0.02, 0.03, 0.05, 0.10], alpha=alpha))
    display(arms.loc[arms["arm"] != control_arm, ["campaign_id", "arm", "contacted", "incremental_returned", "cost",
                                                  "cost_per_incremental_return"]])
"""),
    ("hide", """
record_metrics(
    campaigns=campaigns.campaign_metrics(arms, effects) if has_control else {},
    adjusted_effects=None if adjusted is None else {
        campaigns.arm_label(r.campaign_id, r.arm): {"estimate": r.adjusted, "se": r.se, "ci_low": r.ci_low, "ci_high": r.ci_high,
                                      "covariates": r.covariates, "dropped": r.dropped} for r in adjusted.itertuples()},
    naive_before_after=None if study is None else {"naive_difference": study.naive_difference, "did_estimate": study.did.estimate,
                                                   "did_ci_low": study.did.ci_low, "did_ci_high": study.did.ci_high},
    factorial=None if factorial is None else {row.effect: {"estimate": row.estimate, "ci_low": row.ci_low, "ci_high": row.ci_high}
                                              for row in factorial.effects.itertuples()},
    its_extra_reactivations=None if its is None else its.cumulative_effect,
)
"""),
]

SEGMENTATION = [
    ("md", """
# Member segmentation

Who the members are, by value and behaviour: RFM scores and the standard named segments, tiers and
how concentrated spend is, data-driven clusters, and how members moved between segments over the
last quarter. Use it to pick targets (Champions to keep, At risk and Cannot lose to win back) and to
see which tiers will not hold at the next review.
"""),
    ("params", """
data_dir: str = "../data/demo"  # directory in the data contract
as_of: str = ""  # analysis date; empty: the last date in the data
window_days: int = 365  # RFM window: purchases and spend over this many days up to as_of (the same in every report)
migration_from: str = ""  # earlier date for segment migration; empty: 91 days before as_of
tier_thresholds: str = ""  # yearly spend to earn each tier, e.g. silver:3000,gold:8000 (empty: tier rules not checked)
n_clusters: int = 0  # 0: chosen by BIC (Gaussian mixture) or silhouette (k-means)
cluster_method: str = "gmm"  # gmm or kmeans
tier_filter: str = ""  # comma-separated tiers to include; empty: all
min_cell: int = 10  # smallest group shown in tables
export_dir: str = ""  # where member_segments.parquet goes (the runner: exports/<label>/, outside the report site); empty: not written
"""),
    ("setup", SETUP + """
from analysis import plots, segmentation as seg
from analysis.dataset import load_dataset
from analysis.features import compute_member_features
from analysis.report import applies, record_metrics
data = load_dataset(data_dir, as_of=as_of or None)
as_of_date = pd.Timestamp(data.as_of)
tiers_kept = [t.strip() for t in tier_filter.split(",") if t.strip()] or list(data.tiers)
features = seg.add_age_band(compute_member_features(data, as_of_date, window_days))
features = features[features["tier"].isin(tiers_kept)].reset_index(drop=True)
rfm = seg.compute_rfm_scores(features)
"""),
    ("md", """
## RFM: recency, frequency, monetary value

Each member who bought in the window gets three scores from 1 (worst) to 5 (best) by quantile among
the buyers: **R** for days since the last purchase, **F** for purchases and **M** for spend in the
window. Equal values always get the same score (the score of the lowest position among them).
Members without a purchase in the window get no score and no RFM segment (they are shown as *No
purchase in window*), so "Lost" and "At risk" hold buyers whose last purchase is old. The heatmap shows the mean spend in every R x F cell: the top right is where the value is.
"""),
    ("code", """
display(Markdown(f"Window: the **{window_days} days** up to {as_of_date.date()} (the same RFM definition in the monthly "
                 "and campaign reports when their window is left at its default)."))
plots.plot_rf_heatmap(seg.compute_rf_grid(rfm, "monetary"), label=f"mean spend, last {window_days} days");
"""),
    ("md", """
What each score holds: members and the range of values behind every R, F and M score. With heavy
ties (many members bought once) a score inside a tie block stays empty.
"""),
    ("code", """
score_dist = seg.score_distribution(rfm)
empty = score_dist.loc[score_dist["members"] == 0, "score"].tolist()
if empty:
    display(Markdown(f"Empty scores on these data (inside a block of tied values): {', '.join(empty)}."))
display(seg.score_table(score_dist))
"""),
    ("md", """
## Named segments

The standard RFM map on R and F: every member is in exactly one segment. *Champions* and *Loyal*
carry most of the spend; *At risk* and *Cannot lose* used to buy often and have not come for a while:
they are the wake-up campaign's best targets before they become *Hibernating* or *Lost*.
"""),
    ("code", """
segments = seg.compute_segment_summary(rfm)
plots.plot_segment_shares(segments);
"""),
    ("code", """
segments.style.format({"spend": "{:,.0f}", "mean_recency_days": "{:,.0f}", "mean_frequency": "{:.1f}",
                       "member_share": "{:.1%}", "spend_share": "{:.1%}"}, na_rep="-").hide(axis="index")
"""),
    ("md", """
## Tiers and value concentration

Members and spend by card tier, and how unequal spend is: the Lorenz curve (the further from the
diagonal, the more a few members carry the mall), the Gini coefficient and the share of spend from
the top 1 %, 5 % and 20 % of members.
"""),
    ("code", """
tier_table = seg.compute_tier_summary(features, tuple(tiers_kept))
display(tier_table.style.format({"spend": "{:,.0f}", "member_share": "{:.1%}", "spend_share": "{:.1%}",
                                 "spend_per_member": "{:,.0f}"}).hide(axis="index"))
gini_value = seg.gini(features["monetary"])
fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
plots.plot_lorenz(seg.compute_lorenz(features["monetary"]), gini_value, ax=axes[0])
tops = seg.top_shares(features["monetary"])
sns.barplot(data=tops, x="top", y="spend_share", ax=axes[1], color="#4c72b0")
axes[1].set_ylabel("share of spend"); axes[1].set_xlabel("")
fig.tight_layout()
"""),
    ("md", """
## Tier rules: upgrade candidates and downgrade early warning

With the tier thresholds given as parameters (yearly spend), each member's spend so far this year is
extrapolated to the full year. Members whose pace earns a higher tier are **upgrade candidates**;
members whose pace will not hold their tier get a **downgrade early warning**, with the spend they
are short by, while there is still time to act.
"""),
    ("code", """
rules = None
if applies(bool(tier_thresholds) and len(tiers_kept) > 1,
           "no tier thresholds are given (tier_thresholds, e.g. in the data folder's mallwake.yaml)." if not tier_thresholds
           else "the members are in one tier: there is no tier to move to."):
    year_start = pd.Timestamp(year=as_of_date.year, month=1, day=1)
    elapsed = (as_of_date - year_start).days + 1
    ytd = compute_member_features(data, as_of_date, elapsed, categories=False)
    ytd = ytd[ytd["tier"].isin(tiers_kept)]
    rules = seg.evaluate_tier_rules(ytd, tuple(tiers_kept), seg.parse_thresholds(tier_thresholds), window_days=365, elapsed_days=elapsed)
    tier_watch = rules.groupby("tier").agg(members=("member_id", "size"), upgrade_candidates=("upgrade_candidate", "sum"),
                                           downgrade_warnings=("downgrade_warning", "sum"), median_shortfall=("shortfall", "median"))
    display(tier_watch.reindex([t for t in tiers_kept if t in tier_watch.index]))
"""),
    ("md", """
## Clusters

Segments drawn from the data rather than from rules: members with at least three purchases in the
window, described by log purchase frequency, log average ticket, log recency and the share of their
spend in each store category (standardized), clustered by a Gaussian mixture (or k-means). The
number of clusters is chosen by BIC (or silhouette) unless fixed; stability is the adjusted Rand
index between the full fit and refits on bootstrap samples (1 = identical clusters).
"""),
    ("code", """
cluster_problem = seg.cluster_problem(features, k=n_clusters or None)
clusters = None
if applies(cluster_problem is None, cluster_problem or ""):
    clusters = seg.fit_clusters(features, k=n_clusters or None, method=cluster_method, n_boot=5)
    display(Markdown(f"**{clusters.k} clusters** ({clusters.method}) of {len(clusters.members):,} active members; "
                     f"bootstrap stability (mean adjusted Rand index) **{clusters.mean_stability:.2f}**."))
    display(clusters.selection)
"""),
    ("code", """
if clusters is not None:
    profile = clusters.profile()
    display(profile.style.format({"member_share": "{:.1%}", "avg_ticket": "{:,.0f}", "monetary": "{:,.0f}"} |
                                 {c: "{:.0%}" for c in profile.columns if c.startswith("share_")}, precision=1).hide(axis="index"))
"""),
    ("md", "A sample of members in the three main dimensions, coloured by cluster:"),
    ("code", """
if applies(clusters is not None, cluster_problem or ""):
    plots.plot_cluster_pairs(clusters.members.assign(log_frequency=np.log1p(clusters.members["frequency"]),
                                                     log_avg_ticket=np.log(clusters.members["avg_ticket"])),
                             clusters.labels, ["log_frequency", "log_avg_ticket", "recency_days"])
    plt.show()
"""),
    ("md", "How the clusters line up with the RFM segments (members; cells under `min_cell` blank):"),
    ("code", """
if applies(clusters is not None, cluster_problem or ""):
    cross = pd.crosstab(clusters.labels.to_numpy(), rfm.set_index("member_id").loc[clusters.members["member_id"], "segment"].to_numpy())
    display(cross.where(cross >= min_cell).rename_axis(index="cluster", columns="segment"))
"""),
    ("md", """
## Segment migration

Where the members of each segment were a quarter earlier (rows) and are now (columns), as row
shares: the diagonal is members who stayed; off the diagonal are the flows to act on, such as
*Loyal -> At risk* or *Champions -> About to sleep*.
"""),
    ("code", """
date_from = pd.Timestamp(migration_from) if migration_from else as_of_date - pd.Timedelta(days=91)
before = compute_member_features(data, date_from, window_days, categories=False)
before = before[before["tier"].isin(tiers_kept)]
migration = seg.compute_migration(seg.compute_rfm_scores(before), rfm, date_from.date(), as_of_date.date())
plots.plot_transition_heatmap(migration.shares, title=f"segment on {date_from.date()} (rows) -> {as_of_date.date()} (columns)");
"""),
    ("code", "migration.flows(min_members=min_cell).head(12).style.format({'share_of_from': '{:.1%}'}).hide(axis='index')"),
    ("md", "## Profiles by age and gender\n\nSegment mix within each group (row shares); groups under `min_cell` members are suppressed."),
    ("code", """
for by in [c for c in ("age_band", "gender") if c in features.columns]:
    display(seg.compute_profiles(features, rfm, by, min_cell).style.format(
        {s: "{:.0%}" for s in seg.SEGMENTS} | {"spend_per_member": "{:,.0f}"}, na_rep="-").hide(axis="index"))
"""),
    ("hide", """
segment_file = seg.write_member_segments(rfm, clusters, export_dir)
record_metrics(
    members=len(features), window_days=window_days, gini=gini_value,
    top_20pct_spend_share=float(tops["spend_share"].iloc[-1]),
    segment_members={str(r.segment): int(r.members) for r in segments.itertuples()},
    n_clusters=None if clusters is None else clusters.k, cluster_stability_ari=None if clusters is None else clusters.mean_stability,
    upgrade_candidates=None if rules is None else int(rules["upgrade_candidate"].sum()),
    downgrade_warnings=None if rules is None else int(rules["downgrade_warning"].sum()),
    segment_file=None if segment_file is None else segment_file.name,
)
"""),
]

LIFECYCLE = [
    ("md", """
# The member lifecycle

How members move from new to active to sleeping to lost, and back when they are woken; how long
they stay awake; what they are still worth; and who is about to fall asleep. The stage definitions
use the thresholds in the parameters and are stated below.
"""),
    ("params", """
data_dir: str = "../data/demo"  # directory in the data contract
as_of: str = ""  # analysis date; empty: the last date in the data
cooling_days: int = 90  # after this many days without purchase a member is cooling
sleeping_days: int = 180  # ... sleeping
lost_days: int = 365  # ... lost
tier_filter: str = ""  # one tier to analyse; empty: all members
horizon_months: int = 12  # CLV horizon
monthly_discount: float = 0.01  # discount rate per month for CLV
margin: float = 0.3  # gross margin on spend, for CLV
calibration_months: int = 6  # holdout length for validating BG/NBD
risk_horizon_days: int = 90  # sleep risk: asleep within this many days
"""),
    ("setup", SETUP + """
from analysis import clv, lifecycle, plots
from analysis.dataset import load_dataset
from analysis.privacy import pseudonymize
from analysis.report import applies, record_metrics, section
data = load_dataset(data_dir, as_of=as_of or None)
as_of_date = pd.Timestamp(data.as_of)
tier = tier_filter or None
"""),
    ("md", "## Stages and flows"),
    ("code", """
display(Markdown(
    f"At the end of each month a member is **new** (joined that month), **active** (bought in the last {cooling_days} days), "
    f"**cooling** (last purchase {cooling_days + 1}-{sleeping_days - 1} days ago), **sleeping** ({sleeping_days}-{lost_days - 1} days), "
    f"**lost** ({lost_days}+ days) or **reactivated** (bought this month after being sleeping or lost). Members who never bought are "
    f"measured from their join date."
))
flows = lifecycle.compute_stage_flows(data, cooling_days=cooling_days, sleeping_days=sleeping_days, lost_days=lost_days, tier=tier)
NO_STAGES = (f"stages are reported from {lost_days} days after the first purchase in the data (before that, a member who "
             "joined earlier cannot be told apart from a lost one), and the data are shorter than that.")
if applies(len(flows.counts) > 0, NO_STAGES):
    plots.plot_stage_area(flows.counts)
    plt.show()
"""),
    ("md", "Each month, how many members fell asleep and how many were woken up (reactivated): the campaigns show as spikes of reactivations."),
    ("code", """
net = flows.net_flows()
if applies(len(net) > 0, NO_STAGES):
    plots.plot_net_flows(net)
    plt.show()
"""),
    ("md", """
### Month-to-month transitions

Where the members of each stage at the end of the previous month are at the end of the last month
(row shares). The steady state is where the stage mix would settle if these transitions went on and
no new members joined: it shows why acquisition and reactivation both matter.
"""),
    ("code", """
NO_TRANSITIONS = NO_STAGES if not len(flows.counts) else "the data cover one month-end only: no member moved between stages yet."
if applies(len(flows.transitions) > 0, NO_TRANSITIONS):
    matrix = flows.transition_matrix()
    plots.plot_transition_heatmap(matrix, title=f"transitions into {flows.transitions['month'].max():%Y-%m}")
    plt.show()
"""),
    ("code", """
if applies(len(flows.transitions) > 0, NO_TRANSITIONS):
    steady = flows.steady_state()
    display(pd.DataFrame({"now": flows.counts.iloc[-1].drop("new") / flows.counts.iloc[-1].drop("new").sum(),
                          "steady state": steady}).style.format("{:.1%}", na_rep="–"))
"""),
    ("md", "## Cohorts\n\nShare of each join-month cohort that bought k months after joining, and spend per cohort member."),
    ("code", """
retention, spend_retention = lifecycle.compute_cohort_retention(data, tier=tier)
if applies(len(retention) > 0, "no member joined while the data record purchases, so no cohort can be followed from its first month."):
    fig, axes = plt.subplots(1, 2, figsize=(16, 7))
    plots.plot_cohort_heatmap(retention, ax=axes[0])
    plots.plot_cohort_heatmap(spend_retention, ax=axes[1], label="spend per member")
    fig.tight_layout()
    plt.show()
"""),
    ("md", """
## Time to sleep

Days from joining until a member first goes `sleeping_days` without buying (members still awake are
censored at the analysis date). Kaplan-Meier curves by tier with 95 % confidence bands, a log-rank
test of whether the tiers differ, and a Cox proportional-hazards model: a hazard ratio above 1 means
falling asleep sooner.
"""),
    ("code", """
tts = lifecycle.compute_time_to_sleep(data, sleeping_days, early_days=90)
if tier:
    tts = tts[tts["tier"] == tier]
survival = None
with section():
    survival = lifecycle.fit_survival(tts, by="tier")
    plots.plot_survival(survival.curves)
    plt.show()
    display(Markdown(survival.logrank_sentence() + " Median days to sleep: "
                     + (", ".join(f"{g} {d:,.0f}" for g, d in survival.median_days().items()) or "not reached yet") + "."))
"""),
    ("code", """
if survival is not None:
    display(survival.hazard_ratios.style.format({"hazard_ratio": "{:.2f}", "lower": "{:.2f}", "upper": "{:.2f}",
                                                 "p_value": "{:.2g}"}).hide(axis="index"))
    if survival.ph_note():
        display(Markdown(f"**Read with care.** {survival.ph_note()}"))
"""),
    ("md", """
Proportional-hazards check: correlation of each covariate's scaled Schoenfeld residuals with event
time. A clearly non-zero correlation means the covariate's effect changes over time and its single
hazard ratio is an average; with tens of thousands of members, even small drifts are "significant",
so read the size of the correlation, not only the p-value.
"""),
    ("code", """
if survival is not None:
    display(survival.ph_check.style.format({"rho_with_time": "{:+.2f}", "p_value": "{:.2g}"}).hide(axis="index"))
"""),
    ("md", """
## P(alive), expected purchases and lifetime value

A BG/NBD model of repeat purchases (each member buys at a steady rate while alive and may drop out
after any purchase) and a Gamma-Gamma model of spend per purchase, both by maximum likelihood; time
unit: weeks. P(alive) is the probability that a member has not dropped out; CLV is the discounted
margin on the purchases expected over the horizon.

Two different counts go by "frequency": here it is the number of **repeat purchase days** (days
with a purchase after the first one, several purchases on one day counting once), as BG/NBD
defines it; in the RFM scores of the segmentation report it is the number of **purchases** in the
window. The same member can have different values of the two.
"""),
    ("code", """
summary = clv.compute_rfm_summary(data)
bgnbd = values = None
with section():
    bgnbd = clv.fit_bgnbd(summary["frequency"], summary["recency"], summary["T"])
    gamma_gamma = clv.fit_gamma_gamma(summary["frequency"], summary["monetary_value"])
    display(bgnbd)
    display(gamma_gamma.summary().style.format("{:.3f}"))
    values = clv.compute_clv(bgnbd, gamma_gamma, summary, horizon_months, monthly_discount, margin)
    summary["p_alive"] = values["p_alive"].to_numpy()
    plots.plot_palive_matrix(summary)
    plt.show()
"""),
    ("md", "CLV over the horizon by card tier:"),
    ("code", """
if values is not None:
    values = values.merge(data.members.select("member_id", "tier").to_pandas(), on="member_id")
    fig, ax = plt.subplots(figsize=(8, 4))
    sns.boxplot(data=values, x="tier", y="clv", order=[t for t in data.tiers if t in set(values["tier"])], ax=ax, showfliers=False)
    ax.set_ylabel(f"CLV, next {horizon_months} months")
    plt.show()
    display(values.groupby("tier")["clv"].describe()[["count", "mean", "50%", "75%"]].reindex(
        [t for t in data.tiers if t in set(values["tier"])]))
"""),
    ("md", """
### Does the model predict? Calibration on a holdout

The model is refitted on purchases up to `calibration_months` before the analysis date and asked to
predict each member's purchases in the months that follow; predicted and actual means by the number
of repeat purchases in the calibration period.
"""),
    ("code", """
cal_end = as_of_date - pd.DateOffset(months=calibration_months)
with section():
    calibration, cal_model = clv.calibration_holdout(data, cal_end)
    fig, ax = plt.subplots(figsize=(7, 4))
    calibration.plot(x="bin", y=["actual", "predicted"], kind="bar", ax=ax)
    ax.set_xlabel("repeat purchases in the calibration period"); ax.set_ylabel("purchases in the holdout, mean")
    plt.show()
    display(calibration.style.format({"actual": "{:.2f}", "predicted": "{:.2f}", "error": "{:+.2f}"}).hide(axis="index"))
"""),
    ("md", """
## Sleep risk: who is about to fall asleep

A logistic model of falling asleep within `risk_horizon_days`, for members who could (awake, last
purchase at least `sleeping_days - risk_horizon_days` ago), trained at one date and tested at a later
one (no information from the test period is used in training). Odds ratios are per standard
deviation of each feature.
"""),
    ("code", """
test_date = as_of_date - pd.Timedelta(days=risk_horizon_days)
train_date = test_date - pd.Timedelta(days=2 * risk_horizon_days)
risk = about_to_sleep = None
with section():
    risk = lifecycle.fit_sleep_risk(data, train_date, test_date, risk_horizon_days, sleeping_days)
    display(Markdown(f"Trained on {train_date.date()}, tested on {test_date.date()}: AUC **{risk.auc:.2f}**."))
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    plots.plot_calibration(risk.calibration, ax=ax[0]).set_title("calibration by risk decile")
    plots.plot_forest(risk.drivers.assign(estimate=np.log(risk.drivers["odds_ratio_per_sd"]), ci_low=np.log(risk.drivers["lower"]),
                                          ci_high=np.log(risk.drivers["upper"])), "feature", ax=ax[1], percent=False,
                      title="log odds ratio per SD")
    fig.tight_layout()
    plt.show()
"""),
    ("md", "The about-to-sleep list for the wake-up team (pseudonymized ids; the top 20 of the list):"),
    ("code", """
if applies(risk is not None, "there is no sleep-risk model (see above)."):
    about_to_sleep = lifecycle.score_sleep_risk(risk, data, as_of_date, sleeping_days)
    shown = about_to_sleep.head(20).assign(member=lambda d: pseudonymize(d["member_id"])).drop(columns="member_id")
    display(shown[["member", "tier", "recency_days", "frequency", "monetary", "risk"]].style.format(
        {"monetary": "{:,.0f}", "risk": "{:.0%}"}).hide(axis="index"))
"""),
    ("hide", """
record_metrics(
    stage_counts={s: int(flows.counts.iloc[-1][s]) for s in flows.counts.columns} if len(flows.counts) else None,
    fell_asleep_last_month=int(net["fell_asleep"].iloc[-1]) if len(net) else None,
    woken_last_month=int(net["woken"].iloc[-1]) if len(net) else None,
    bgnbd=None if bgnbd is None else {k: float(v) for k, v in bgnbd.params_.items()},
    bgnbd_loglik=None if bgnbd is None else bgnbd.log_likelihood_,
    mean_p_alive=None if values is None else float(values["p_alive"].mean()),
    mean_clv=None if values is None else float(values["clv"].mean()),
    logrank_p=None if survival is None else survival.logrank_p, sleep_risk_auc=None if risk is None else risk.auc,
    about_to_sleep=None if about_to_sleep is None else int((about_to_sleep["risk"] >= 0.5).sum()),
)
"""),
]

MONTHLY = [
    ("params", """
data_dir: str = "../../data/demo"  # directory in the data contract
as_of: str = ""  # analysis date; empty: the last date in the data
report_month: str = ""  # YYYY-MM; empty: the last complete month before the analysis date
lang: str = "en"  # en or zh
control_arm: str = "holdout"  # the no-contact arm of campaigns
cooling_days: int = 90  # lifecycle stage thresholds (see the lifecycle report)
sleeping_days: int = 180
lost_days: int = 365
warn_days: int = 30  # "about to sleep": asleep within this many days without a purchase
tier_thresholds: str = ""  # yearly spend to hold each tier, e.g. silver:3000,gold:8000 (empty: no downgrade warnings)
currency: str = "¥"
min_cell: int = 10  # counts below this are shown as "<10"
output_dir: str = ""  # figures are also saved here as PNG (set by the runner); empty: not saved
"""),
    ("setup", SETUP + """
from pathlib import Path
from analysis import monthly as mo, plots
from analysis.dataset import load_dataset
from analysis.privacy import suppress_small_counts
from analysis.report import record_metrics
from analysis.config import RFM_WINDOW_DAYS
from analysis.segmentation import parse_thresholds
data = load_dataset(data_dir, as_of=as_of or None)
month = mo.parse_month(report_month or mo.last_complete_month(data))
figure_lang = plots.use_language(lang)
T = lambda key, **kw: mo.text(key, lang, **kw)
F = lambda key, **kw: mo.text(key, figure_lang, **kw)
fig_dir = str(Path(output_dir) / "figures") if output_dir else ""
"""),
    ("code", """
panel = mo.stage_panel(data, month, cooling_days, sleeping_days, lost_days)
kpis = mo.compute_monthly_kpis(data, month - pd.DateOffset(months=12), month, cooling_days, sleeping_days, lost_days, panel=panel)
comparison = mo.compare_month(kpis, month)
watch = mo.compute_watch_list(data, month, parse_thresholds(tier_thresholds), sleeping_days, warn_days, cooling_days, lost_days,
                              panel=panel)
month_campaigns = mo.summarize_month_campaigns(data, month, control_arm)
display(Markdown(f"# {T('title', month=mo.month_label(month, lang))}"))
display(Markdown("\\n\\n".join(mo.write_narrative(comparison, watch, month_campaigns, lang, currency))))
"""),
    ("code", """
display(Markdown(f"## {T('kpi_heading')}"))
shown = comparison.table_all.rename(index=lambda k: T(k))[["value", "previous", "change_pct", "last_year", "yoy_pct"]]
shown.index.name = T("kpi")
shown.columns = [T("value"), T("previous"), T("mom"), T("last_year"), T("yoy")]
shown.style.format("{:,.0f}", subset=[T("value"), T("previous"), T("last_year")], na_rep="–").format(
    "{:+.1%}", subset=[T("mom"), T("yoy")], na_rep="–")
"""),
    ("code", """
display(Markdown(f"### {T('trend_title')}"))
fig = plots.plot_kpi_trends(kpis, {k: F(k) for k in mo.KPIS}, month=month)
plots.save_figure(fig, fig_dir, f"{month:%Y-%m}-trends");
"""),
    ("code", """
display(Markdown(f"## {T('by_tier_heading')}"))
tier_table = comparison.by_tier[list(mo.KPIS)].rename(columns=lambda k: T(k)).rename_axis(T("tier"))
display(suppress_small_counts(tier_table.astype({T(k): "int64" for k in mo.KPIS if k not in ("spend", "avg_ticket")}), min_cell)
        .style.format(lambda v: v if isinstance(v, str) else f"{v:,.0f}"))
fig = plots.plot_tier_kpis(comparison.by_tier, {k: F(k) for k in mo.KPIS})
plots.save_figure(fig, fig_dir, f"{month:%Y-%m}-tiers");
"""),
    ("code", """
display(Markdown(f"## {T('stages_title')}"))
transitions = mo.compute_stage_transitions(data, month, cooling_days, sleeping_days, lost_days, panel=panel)
mo.localize(suppress_small_counts(transitions, min_cell), lang)
"""),
    ("code", """
segment_counts, migration = mo.compute_segment_movement(data, month)
display(Markdown(f"## {T('segments_title')}"))
display(Markdown(T('rfm_window', days=RFM_WINDOW_DAYS)))
display(mo.localize(suppress_small_counts(segment_counts.set_index("segment"), min_cell), lang))
flows = migration.flows(min_cell).head(8)
mo.localize(flows, lang).style.format({T("share_of_from"): "{:.0%}"}).hide(axis="index")
"""),
    ("code", """
display(Markdown(f"## {T('campaigns_title')}"))
if len(month_campaigns):
    table = month_campaigns.copy()
    table["contacted"] = suppress_small_counts(table[["contacted"]], min_cell)["contacted"]
    display(mo.localize(table, lang).style.format(precision=3, na_rep="–").hide(axis="index"))
else:
    display(Markdown(T("no_campaign")))
"""),
    ("code", """
display(Markdown(f"## {T('watch_title')}"))
w = watch.set_index("tier").rename(columns={"about_to_sleep": T("about_to_sleep", days=warn_days), "downgrade_warning": T("downgrade_warning")})
suppress_small_counts(w, min_cell).rename_axis(T("tier"))
"""),
    ("hide", """
record_metrics(title=T("title", month=mo.month_label(month, lang)), lang=lang, **mo.month_metrics(comparison, watch, month_campaigns))
"""),
]

TEACH_SETUP = SETUP + """
from analysis import teaching
from analysis.privacy import mask_ids
from analysis.dataset import load_dataset
from analysis.report import record_metrics
data = load_dataset(data_dir, as_of=as_of or None)
as_of_date = pd.Timestamp(data.as_of)
checks = []
"""

TEACH_END = ("hide", """
record_metrics(checks={c.exercise: c.status for c in checks}, right=sum(c.ok for c in checks), exercises=len(checks))
""")

TEACH_RFM = [
    ("md", """
# Teaching 1: RFM by hand, then with the toolkit

**Goals.** Compute recency, frequency and monetary value from raw transactions yourself; turn them
into 1-5 scores; then see what the toolkit does with them (named segments) and why the details
(the window, ties) matter.

Work top to bottom. Each exercise has a cell where you replace `None` with your answer and a
self-check cell right after it: a green tick means right, a red cross tells you what to look at.
"""),
    ("params", """
data_dir: str = "../../data/demo"  # the synthetic mall (or any data directory in the contract)
as_of: str = ""  # analysis date; empty: the last date in the data
window_days: int = 365  # purchases counted over this many days up to as_of
show_solutions: bool = False  # instructors: True fills in every answer
"""),
    ("setup", TEACH_SETUP + """
from analysis import plots, segmentation as seg
from analysis.features import compute_member_features
end = as_of_date.normalize() + pd.Timedelta(days=1)
tx = data.transactions.filter(data.transactions.ts >= end - pd.Timedelta(days=window_days + 30)).to_pandas()
"""),
    ("md", """
## The raw material

`tx` holds the transactions of the last `window_days` days (and a few more): one row per purchase
with `member_id`, `ts` (timestamp) and `amount`. The analysis date is shown below.
"""),
    ("code", """
display(Markdown(f"Analysis date: **{as_of_date.date()}**, window: **{window_days} days**, rows in `tx`: **{len(tx):,}**"))
mask_ids(tx.head())  # member ids shown as pseudonyms; your code works on the real ids in tx
"""),
    ("md", """
## Exercise 1: the RFM table

For every member who bought at least once in the window (from the start of the day
`as_of - window_days + 1` to the end of `as_of`), compute:

* `frequency` - number of purchases in the window;
* `monetary` - their total amount;
* `recency_days` - whole days from the date of the last purchase to the analysis date.

Store a DataFrame with columns `member_id`, `recency_days`, `frequency`, `monetary` in `rfm`.
*Hint:* filter `tx` on `ts`, then `groupby("member_id").agg(...)`.
"""),
    ("code", """
rfm = None  # your answer
if show_solutions:
    window = tx[(tx["ts"] >= end - pd.Timedelta(days=window_days)) & (tx["ts"] < end)]
    rfm = window.groupby("member_id").agg(last=("ts", "max"), frequency=("ts", "size"), monetary=("amount", "sum")).reset_index()
    rfm["recency_days"] = (as_of_date.normalize() - rfm["last"].dt.normalize()).dt.days
checks.append(teaching.check_rfm_table(rfm, data, as_of_date, window_days))
checks[-1]
"""),
    ("md", """
## Exercise 2: scores from 1 to 5

Scores rank members against each other. For recency *fewer* days is better. The toolkit's rule:
rank the members (the worst value gets rank 1; equal values share the lowest rank of their
group, `rank(method="min")`), then `score = 1 + floor(5 * (rank - 1) / n)`.

Using `features` (the toolkit's table for *all* members, including those who did not buy), compute
the recency score of every member as a Series aligned with `features` and store it in `r_score`.
"""),
    ("code", """
features = compute_member_features(data, as_of_date, window_days)
r_score = None  # your answer
if show_solutions:
    ranks = features["recency_days"].rank(method="min", ascending=False)
    r_score = (1 + np.floor(5 * (ranks - 1) / len(features))).clip(1, 5).astype(int)
checks.append(teaching.check_rfm_scores(r_score, features, "recency_days", higher_is_better=False))
checks[-1]
"""),
    ("md", """
**Think about it.** Many members did not buy in the window and all have frequency 0. What score
do they all get, and why does `method="min"` matter for them? What would change with `"first"`?

## With the toolkit

`compute_rfm_scores` does both exercises for R, F and M, ranking only the members who bought in
the window (those who did not get no score and the segment *No purchase in window*), and names
the segment of each buyer from its R and F scores (Champions, Loyal, At risk, Hibernating, ...). The shares below are of
members and of spend: a few segments hold most of the money.
"""),
    ("code", """
rfm_scores = seg.compute_rfm_scores(features)
summary = seg.compute_segment_summary(rfm_scores)
plots.plot_segment_shares(summary);
"""),
    ("code", """
display(Markdown("## Your score"))
teaching.summarize_checks(checks)
"""),
    TEACH_END,
]

TEACH_SURVIVAL = [
    ("md", """
# Teaching 2: survival and the member lifecycle

**Goals.** See why "how long until a member falls asleep" cannot be answered by averaging the
members who already fell asleep; estimate it with Kaplan-Meier by hand on a tiny example, then on
the whole mall with the toolkit, and compare tiers.
"""),
    ("params", """
data_dir: str = "../../data/demo"  # the synthetic mall (or any data directory in the contract)
as_of: str = ""  # analysis date; empty: the last date in the data
sleeping_days: int = 180  # a member falls asleep after this many days without a purchase
tier: str = "gold"  # the tier of exercise 2
show_solutions: bool = False  # instructors: True fills in every answer
"""),
    ("setup", TEACH_SETUP + """
from statsmodels.duration.survfunc import SurvfuncRight
from analysis import lifecycle, plots
"""),
    ("md", """
## Exercise 1: Kaplan-Meier by hand

Eight members, followed from joining. `days` is how long we watched them; `asleep` is 1 if they fell
asleep at that day, 0 if they were still awake when we stopped watching (*censored*).

At each day where somebody falls asleep, the share still awake is multiplied by
`1 - (fell asleep that day) / (still watched just before that day)`. Censored members leave the
group without falling asleep. Compute the share still awake at day 100 and store it in `s100`.
"""),
    ("code", """
tiny = pd.DataFrame({"days": [30, 60, 60, 90, 120, 150, 200, 250], "asleep": [1, 0, 1, 1, 0, 1, 0, 1]})
display(tiny.T)
s100 = None  # your answer
if show_solutions:
    s100 = 1.0
    for day in sorted(tiny.loc[(tiny["asleep"] == 1) & (tiny["days"] <= 100), "days"].unique()):
        at_risk = (tiny["days"] >= day).sum()
        events = ((tiny["days"] == day) & (tiny["asleep"] == 1)).sum()
        s100 *= 1 - events / at_risk
checks.append(teaching.check_km_by_hand(s100, tiny["days"], tiny["asleep"], 100))
checks[-1]
"""),
    ("md", """
**Think about it.** The mean of the observed sleeping days here is (30+60+90+150+250)/5 = 116. Why is
that too short as "typical time to sleep"? (Who is left out of it?)

## Exercise 2: the median time to sleep of a tier

`tts` has one row per member who joined while the data were being recorded: `duration` (days from
joining until falling asleep, or until the analysis date) and `event` (1 = fell asleep). Estimate
the median number of days until a member of tier `tier` falls asleep and store it in `median_days`.
*Hint:* `SurvfuncRight(durations, events)` from statsmodels; where does the curve cross 0.5?
"""),
    ("code", """
tts = lifecycle.compute_time_to_sleep(data, sleeping_days)
median_days = None  # your answer
if show_solutions:
    sub = tts[tts["tier"] == tier]
    sf = SurvfuncRight(sub["duration"].to_numpy(float), sub["event"].to_numpy(int))
    median_days = float(sf.surv_times[sf.surv_prob <= 0.5][0])
naive_mean = tts.loc[(tts["tier"] == tier) & (tts["event"] == 1), "duration"].mean()
display(Markdown(f"For comparison, the mean duration of the {tier} members already asleep is {naive_mean:,.0f} days."))
checks.append(teaching.check_median_time_to_sleep(median_days, tts, tier))
checks[-1]
"""),
    ("md", """
## With the toolkit

`fit_survival` draws the Kaplan-Meier curve of every tier with its confidence band and tests
whether the tiers differ (log-rank). The lifecycle report goes further (Cox model, sleep risk).
"""),
    ("code", """
survival = lifecycle.fit_survival(tts, by="tier", covariates=("tier",))
plots.plot_survival(survival.curves);
display(survival.median_days().to_frame())
"""),
    ("code", """
display(Markdown("## Your score"))
teaching.summarize_checks(checks)
"""),
    TEACH_END,
]

TEACH_HOLDOUT = [
    ("md", """
# Teaching 3: why a naive before/after comparison misleads, and how a holdout fixes it

**Goals.** Reproduce the kind of table the dissertation reported (return rate of the first wake-up
campaign vs the second), see how much of the difference is *not* the new strategy, and measure
the strategy's real effect against a holdout, a random part of the list that was not contacted.
"""),
    ("params", """
data_dir: str = "../../data/demo"  # the synthetic mall (or any data directory in the contract)
as_of: str = ""  # analysis date; empty: the last date in the data
before_campaign: str = "W1-BEFORE"  # the first wave (old strategy)
after_campaign: str = "W2-AFTER"  # the second wave (new strategy)
before_arm: str = "sms_daily"
after_arm: str = "call_wechat_ent"
control_arm: str = "holdout"
show_solutions: bool = False  # instructors: True fills in every answer
"""),
    ("setup", TEACH_SETUP + """
from analysis import campaigns
outcomes = campaigns.compute_campaign_outcomes(data, [before_campaign, after_campaign])
truth = teaching.load_truth(data_dir)
"""),
    ("md", """
## The data

`outcomes` has one row per contacted member: `campaign_id`, `arm`, and `returned` (True if the member
bought or visited within the campaign's response window).
"""),
    ("code", """
outcomes.groupby(["campaign_id", "arm"])["returned"].agg(["size", "sum"]).rename(columns={"size": "contacted", "sum": "returned"})
"""),
    ("md", """
## Exercise 1: the naive comparison

Compute the return rate of the members who got the old strategy (`before_campaign`, arm
`before_arm`) and of those who got the new one (`after_campaign`, arm `after_arm`). Store them in
`rate_before` and `rate_after`. The study read `rate_after - rate_before` as the effect of the new
strategy.
"""),
    ("code", """
rate_before = rate_after = None  # your answers
if show_solutions:
    rate_before = outcomes.loc[(outcomes["campaign_id"] == before_campaign) & (outcomes["arm"] == before_arm), "returned"].mean()
    rate_after = outcomes.loc[(outcomes["campaign_id"] == after_campaign) & (outcomes["arm"] == after_arm), "returned"].mean()
checks.append(teaching.check_return_rate(rate_before, outcomes, before_campaign, before_arm))
checks.append(teaching.check_return_rate(rate_after, outcomes, after_campaign, after_arm))
display(checks[-2], checks[-1])
"""),
    ("md", """
**Think about it.** The two waves ran in different seasons, on differently built lists (the second
removed members who were not really asleep). Name two reasons the return rate could change even if
the new strategy did nothing.

## Exercise 2: the effect against a holdout

Each wave kept a random holdout that was not contacted. Within the *after* wave, compute the return
rate of `after_arm` minus that of `control_arm` and store it in `incremental_after`.
"""),
    ("code", """
incremental_after = None  # your answer
if show_solutions:
    w2 = outcomes[outcomes["campaign_id"] == after_campaign]
    incremental_after = w2.loc[w2["arm"] == after_arm, "returned"].mean() - w2.loc[w2["arm"] == control_arm, "returned"].mean()
checks.append(teaching.check_incremental(incremental_after, outcomes, after_campaign, after_arm, control_arm))
checks[-1]
"""),
    ("md", """
## With the toolkit, and the answer key of the synthetic mall

`compare_before_after` puts the naive table next to the holdout-based estimates and the
difference-in-differences (the change in *incremental* effect between the waves). On the synthetic
mall the true effects are known (`truth.json`): compare.
"""),
    ("code", """
study = campaigns.compare_before_after(outcomes, before_campaign, after_campaign, before_arm, after_arm, control_arm)
display(study.table)
rows = [("naive after - before", study.naive_difference), ("difference-in-differences", study.did.estimate)]
if truth:
    arms = truth["campaigns"]
    true_change = (arms[after_campaign]["arms"][after_arm]["true_incremental_return_rate"]
                   - arms[before_campaign]["arms"][before_arm]["true_incremental_return_rate"])
    rows.append(("truth: change in incremental return rate", true_change))
pd.DataFrame(rows, columns=["comparison", "return-rate difference"]).style.format({"return-rate difference": "{:+.3f}"}).hide(axis="index")
"""),
    ("code", """
display(Markdown("## Your score"))
teaching.summarize_checks(checks)
"""),
    TEACH_END,
]

if __name__ == "__main__":
    NB.mkdir(exist_ok=True)
    write_notebook(NB / "01_data_overview.ipynb", OVERVIEW)
    write_notebook(NB / "02_sleeping_members.ipynb", SLEEPING)
    write_notebook(NB / "03_campaign_effects.ipynb", CAMPAIGNS)
    write_notebook(NB / "04_segmentation.ipynb", SEGMENTATION)
    write_notebook(NB / "05_lifecycle.ipynb", LIFECYCLE)
    (NB / "monthly").mkdir(exist_ok=True)
    write_notebook(NB / "monthly" / "monthly_report.ipynb", MONTHLY)
    (NB / "teaching").mkdir(exist_ok=True)
    write_notebook(NB / "teaching" / "t1_rfm_by_hand.ipynb", TEACH_RFM)
    write_notebook(NB / "teaching" / "t2_survival_and_lifecycle.ipynb", TEACH_SURVIVAL)
    write_notebook(NB / "teaching" / "t3_naive_vs_holdout.ipynb", TEACH_HOLDOUT)
    print("notebooks written to", NB)
