# %% [markdown]
# # The member lifecycle
#
# How members move from new to active to sleeping to lost, and back when they are woken; how long
# they stay awake; what they are still worth; and who is about to fall asleep. The stage definitions
# use the thresholds in the parameters and are stated below.

# %% tags=["parameters"]
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
export_dir: str = ""  # where the high-sleep-risk list goes (the runner: exports/<label>/, outside the report site); empty: not written
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

from analysis.statistics import clv, lifecycle

from analysis.application import exports

from analysis.presentation import plots
from analysis.application.notebook import start
from analysis.data.privacy import pseudonymize
from analysis.presentation.report import applies, headline, record_metrics, section
from analysis.presentation.report import first_steps
from analysis.presentation.i18n import N_, tr
from analysis.presentation.formats import display_name, label
from analysis.presentation.phrases import phrase_text
from analysis.presentation.present import present
data = start(data_dir, as_of, lang, namespace=globals())  # escaped tables; language, currency and names of the data folder; the data
as_of_date = pd.Timestamp(data.as_of)
tier = tier_filter or None

# %% [markdown]
# ## Stages and flows

# %%
display(Markdown(tr(
    "At the end of each month a member is **new** (joined that month), **active** (bought in the last {cooling} days), "
    "**cooling** (last purchase {cooling_from}-{cooling_to} days ago), **sleeping** ({sleeping}-{sleeping_to} days), "
    "**lost** ({lost}+ days) or **reactivated** (bought this month after being sleeping or lost). Members who never bought are "
    "measured from their join date.", cooling=cooling_days, cooling_from=cooling_days + 1, cooling_to=sleeping_days - 1,
    sleeping=sleeping_days, sleeping_to=lost_days - 1, lost=lost_days)))
flows = lifecycle.compute_stage_flows(data, cooling_days=cooling_days, sleeping_days=sleeping_days, lost_days=lost_days, tier=tier)
NO_STAGES = tr("stages are reported from {days} days after the first purchase in the data (before that, a member who "
               "joined earlier cannot be told apart from a lost one), and the data are shorter than that.", days=lost_days)
if applies(len(flows.counts) > 0, NO_STAGES):
    plots.plot_stage_area(flows.counts)
    plt.show()

# %% [markdown]
# Each month, how many members fell asleep and how many were woken up (reactivated): the campaigns show as spikes of reactivations.

# %%
net = flows.net_flows()
if applies(len(net) > 0, NO_STAGES):
    plots.plot_net_flows(net)
    plt.show()

# %% [markdown]
# ### Month-to-month transitions
#
# Where the members of each stage at the end of the previous month are at the end of the last month
# (row shares). The steady state is where the stage mix would settle if these transitions went on and
# no new members joined: it shows why acquisition and reactivation both matter.

# %%
NO_TRANSITIONS = NO_STAGES if not len(flows.counts) else "the data cover one month-end only: no member moved between stages yet."
if applies(len(flows.transitions) > 0, NO_TRANSITIONS):
    matrix = flows.transition_matrix()
    plots.plot_transition_heatmap(matrix, title=tr("transitions into {month}", month=f"{flows.transitions['month'].max():%Y-%m}"))
    plt.show()

# %%
if applies(len(flows.transitions) > 0, NO_TRANSITIONS):
    steady = flows.steady_state()
    display(present(pd.DataFrame({"now": flows.counts.iloc[-1].drop("new") / flows.counts.iloc[-1].drop("new").sum(),
                                  "steady state": steady}), kinds={"now": "percent", "steady state": "percent"}))

# %% [markdown]
# ## Cohorts
#
# Share of each join-month cohort that bought k months after joining, and spend per cohort member.

# %%
retention, spend_retention = lifecycle.compute_cohort_retention(data, tier=tier)
if applies(len(retention) > 0, "no member joined while the data record purchases, so no cohort can be followed from its first month."):
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.5))
    plots.plot_cohort_heatmap(retention, ax=axes[0])
    plots.plot_cohort_heatmap(spend_retention, ax=axes[1], label=tr("spend per member"))
    fig.tight_layout()
    plt.show()
    if lifecycle.partial_last_month(data.as_of):
        month, days = lifecycle.partial_last_month(data.as_of)
        display(Markdown(tr("{month} is left out: the data cover only its first {days} days, and a partial month would read as a "
                            "drop in buying that did not happen.", month=month, days=days)))

# %% [markdown]
# ## Time to sleep
#
# Days from joining until a member first goes the sleeping threshold without buying, in days given below the figure (members still awake are
# censored at the analysis date). Kaplan-Meier curves by tier with 95 % confidence bands, a log-rank
# test of whether the tiers differ, and a Cox proportional-hazards model: a hazard ratio above 1 means
# falling asleep sooner.

# %%
tts = lifecycle.compute_time_to_sleep(data, sleeping_days, early_days=90)
if tier:
    tts = tts[tts["tier"] == tier]
survival = None
with section():
    survival = lifecycle.fit_survival(tts, by="tier")
    plots.plot_survival(survival.curves)
    plt.show()
    display(Markdown(phrase_text(survival.logrank_sentence()) + " " + tr("Median days to sleep ({days} days without buying make a member asleep): {medians}.", days=sleeping_days, medians=", ".join(
        f"{display_name(g)} {d:,.0f}" for g, d in survival.median_days().items()) or tr("not reached yet"))))

# %%
if survival is not None:
    display(present(survival.hazard_ratios))
    if survival.ph_note():
        display(Markdown(tr("**Read with care.** {note}", note=phrase_text(survival.ph_note()))))
    if survival.fit_note():
        display(Markdown(phrase_text(survival.fit_note())))

# %% [markdown]
# Proportional-hazards check: the standard test of each covariate (Grambsch and Therneau; scaled
# Schoenfeld residuals against the rank of event time, chi-square with one degree of freedom, as
# lifelines' `proportional_hazard_test`). A small p-value means the covariate's effect changes over
# time and its single hazard ratio is an average; with tens of thousands of members, even small
# drifts are "significant", so read the Kaplan-Meier curves too, not only the p-value.

# %%
if survival is not None:
    display(present(survival.ph_check))

# %% [markdown]
# ## P(alive), expected purchases and lifetime value
#
# Three models of repeat purchases, each member buying at a steady rate while alive: BG/NBD (a member
# may drop out after any repeat purchase), MBG/NBD (also right after the first) and Pareto/NBD (at any
# time). Each is fitted on the purchases up to a calibration date months before the analysis date (the sentence below the table gives it) and judged
# on the months that follow; of the models the data identify, the one that predicts those months best
# gives P(alive) and CLV, with a Gamma-Gamma model of spend per purchase (maximum likelihood; time
# unit: weeks). A model whose dropout parameters the data cannot pin down (where almost nobody can be
# seen to drop out) is not used. P(alive) is the probability that a member has not dropped out; CLV
# is the discounted margin on the purchases expected over the horizon.
#
# Two different counts go by "frequency": here it is the number of **repeat purchase days** (days
# with a purchase after the first one, several purchases on one day counting once), as BG/NBD
# defines it; in the RFM scores of the segmentation report it is the number of **purchases** in the
# window. The same member can have different values of the two.

# %%
summary = clv.compute_rfm_summary(data)
cal_end = as_of_date - pd.DateOffset(months=calibration_months)
bgnbd = values = choice = None
with section():
    choice = clv.choose_repeat_model(data, cal_end)
    display(choice)
    display(Markdown(phrase_text(choice.sentence())))
repeat_model = choice.chosen if choice is not None and choice.chosen else "BG/NBD"
with section():
    bgnbd = clv.REPEAT_MODELS[repeat_model](summary["frequency"], summary["recency"], summary["T"])
    gamma_gamma = clv.fit_gamma_gamma(summary["frequency"], summary["monetary_value"])
    display(bgnbd)
    display(gamma_gamma)
    values = clv.compute_clv(bgnbd, gamma_gamma, summary, horizon_months, monthly_discount, margin)
    summary["p_alive"] = values["p_alive"].to_numpy()
    plots.plot_palive_matrix(summary)
    plt.show()

# %% [markdown]
# CLV over the horizon by card tier:

# %%
if values is not None:
    values = values.merge(data.members.select("member_id", "tier").to_pandas(), on="member_id")
    fig, ax = plt.subplots(figsize=(8, 4))
    tiers_here = [t for t in data.tiers if t in set(values["tier"])]
    sns.boxplot(data=values.assign(tier=values["tier"].map(display_name)), x="tier", y="clv",
                order=[display_name(t) for t in tiers_here], ax=ax, showfliers=False,
                hue="tier", palette={display_name(t): c for t, c in plots.tier_colors(tiers_here).items()}, legend=False)
    ax.set_ylabel(tr("CLV, next {months} months", months=horizon_months))
    ax.set_xlabel(tr("tier"))
    plots.axis_units(ax, "money")
    plt.show()
    display(present(clv.clv_by_group(values, "tier", tiers_here)))

# %% [markdown]
# ### Does the model predict? Calibration on a holdout
#
# The chosen model, as fitted on purchases up to the calibration date above, is asked to
# predict each member's purchases in the months that follow; predicted and actual means by the number
# of repeat purchases in the calibration period.

# %%
with section():
    calibration, cal_model = clv.calibration_holdout(data, cal_end, model=repeat_model, choice=choice)
    fig, ax = plt.subplots(figsize=(7, 4))
    calibration.rename(columns=label).plot(x=label("bin"), y=[label("actual"), label("predicted")], kind="bar", ax=ax)
    ax.set_xlabel(tr("repeat purchases in the calibration period")); ax.set_ylabel(tr("purchases in the holdout, mean"))
    plt.show()
    display(present(calibration))

# %% [markdown]
# ## Sleep risk: who is about to fall asleep
#
# A logistic model of falling asleep within a horizon, for members who could (awake, and close enough
# to the sleeping threshold; the sentence below gives both in days), trained at one date and tested at a later
# one (no information from the test period is used in training). Odds ratios are per standard
# deviation of each feature.

# %%
test_date = as_of_date - pd.Timedelta(days=risk_horizon_days)
train_date = test_date - pd.Timedelta(days=2 * risk_horizon_days)
risk = high_risk = exported = None
with section():
    risk = lifecycle.fit_sleep_risk(data, train_date, test_date, risk_horizon_days, sleeping_days)
    display(Markdown(tr("Falling asleep within {days} days, among members awake whose last purchase was at least {min_days} days "
                        "before; trained on {train}, tested on {test}: AUC **{auc:.2f}**.", days=risk_horizon_days,
                        min_days=sleeping_days - risk_horizon_days, train=train_date.date(), test=test_date.date(), auc=risk.auc)))
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    plots.plot_calibration(risk.calibration, ax=ax[0]).set_title(tr("calibration by risk decile"))
    plots.plot_forest(risk.drivers.assign(estimate=np.log(risk.drivers["odds_ratio_per_sd"]), ci_low=np.log(risk.drivers["ci_low"]),
                                          ci_high=np.log(risk.drivers["ci_high"])), "feature", ax=ax[1], percent=False,
                      title=tr("log odds ratio per SD"))
    fig.tight_layout()
    plt.show()

# %% [markdown]
# The high-sleep-risk list for the wake-up team (pseudonymized ids; the top 20 of the list):

# %%
if applies(risk is not None, tr("there is no sleep-risk model (see above).")):
    high_risk = lifecycle.score_sleep_risk(risk, data, as_of_date, sleeping_days)
    shown = high_risk.head(20).assign(member=lambda d: pseudonymize(d["member_id"])).drop(columns="member_id")
    display(present(shown[["member", "tier", "recency_days", "frequency", "monetary", "risk"]],
                    kinds={"monetary": "money", "risk": "percent"}))
    exported = exports.write_list(exports.high_risk_list(data, high_risk, as_of_date), export_dir, "high_sleep_risk")
    if exported:
        display(Markdown(tr("Members with a risk of 50 % or more.") + " " + exported.sentence()))

# %% tags=["hide"]
metrics = dict(
    stage_counts={s: int(flows.counts.iloc[-1][s]) for s in flows.counts.columns} if len(flows.counts) else None,
    fell_asleep_last_month=int(net["fell_asleep"].iloc[-1]) if len(net) else None,
    woken_last_month=int(net["woken"].iloc[-1]) if len(net) else None,
    repeat_model=None if choice is None else choice.metrics(),
    repeat_model_params=None if bgnbd is None else {k: float(v) for k, v in bgnbd.params_.items()},
    bgnbd=None if bgnbd is None or repeat_model != "BG/NBD" else {k: float(v) for k, v in bgnbd.params_.items()},
    bgnbd_loglik=None if bgnbd is None or repeat_model != "BG/NBD" else bgnbd.log_likelihood_,
    mean_p_alive=None if values is None else float(values["p_alive"].mean()),
    mean_clv=None if values is None else float(values["clv"].mean()),
    logrank_p=None if survival is None else survival.logrank_p, sleep_risk_auc=None if risk is None else risk.auc,
    high_sleep_risk=None if high_risk is None else int((high_risk["risk"] >= 0.5).sum()),
)
record_metrics(**metrics, headline=headline(
    (N_("sleeping members now"), (metrics["stage_counts"] or {}).get("sleeping"), "count"),
    (N_("woken up last month"), metrics["woken_last_month"], "count"),
    (N_("high sleep risk (risk 50 %+)"), metrics["high_sleep_risk"], "count"),
    (N_("sleep-risk model AUC"), metrics["sleep_risk_auc"], "number")))

# %% tags=["first"]
sleeping_now = (metrics["stage_counts"] or {}).get("sleeping")
first_steps(
    tr("**{sleeping:,}** members are asleep now; {woken:,} were woken up last month.", sleeping=sleeping_now,
       woken=metrics["woken_last_month"]) if sleeping_now is not None and metrics["woken_last_month"] is not None else "",
    tr("Call the **{n:,}** members with a high sleep risk first, before they fall asleep.", n=metrics["high_sleep_risk"])
    + (" " + exported.sentence() if exported else "") if metrics["high_sleep_risk"] else
    tr("No member has a high sleep risk (50 % or more) on the model, or the model does not apply to these data."),
)
