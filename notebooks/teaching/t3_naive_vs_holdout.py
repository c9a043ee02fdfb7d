# %% [markdown]
# # Teaching 3: why a naive before/after comparison misleads, and how a holdout fixes it
#
# **Goals.** Reproduce the kind of table the dissertation reported (return rate of the first wake-up
# campaign vs the second), see how much of the difference is *not* the new strategy, and measure
# the strategy's real effect against a holdout, a random part of the list that was not contacted.

# %% tags=["parameters"]
data_dir: str = "../../data/demo"  # the synthetic mall (or any data directory in the contract)
as_of: str = ""  # analysis date; empty: the last date in the data
before_campaign: str = "W1-BEFORE"  # the first wave (old strategy)
after_campaign: str = "W2-AFTER"  # the second wave (new strategy)
before_arm: str = "sms_daily"
after_arm: str = "call_wechat_ent"
control_arm: str = "holdout"
show_solutions: bool = False  # instructors: True fills in every answer
lang: str = "en"  # language of the report: en or zh
settings_applied: bool = False  # mallwake run sets it: the data folder's mallwake.yaml is then already applied

# %% tags=["hide", "setup"]
# %matplotlib inline
import matplotlib.pyplot as plt
import seaborn as sns
from IPython.display import display, Markdown
import numpy as np
import pandas as pd
sns.set_theme(style="whitegrid", context="notebook")

from analysis.presentation import teaching
from analysis.data.privacy import mask_ids
from analysis.application.notebook import start
from analysis.presentation.report import headline, record_metrics
from analysis.presentation.i18n import N_, tr
from analysis.presentation.present import present
data = start(data_dir, as_of, lang, namespace=globals())  # escaped tables; language, currency and names of the data folder; the data
as_of_date = pd.Timestamp(data.as_of)
checks = []

from analysis.statistics import campaigns
missing = teaching.missing_campaigns(data, [before_campaign, after_campaign])  # without the two waves every exercise stays open
outcomes = (campaigns.compute_campaign_outcomes(data, [before_campaign, after_campaign]) if not missing
            else pd.DataFrame({"campaign_id": [], "member_id": [], "arm": [], "returned": []}))
truth = teaching.load_truth(data_dir)

# %% [markdown]
# ## The data
#
# `outcomes` has one row per contacted member: `campaign_id`, `arm`, and `returned` (True if the member
# bought or visited within the campaign's response window).

# %%
if missing:  # said where the reader sees it (the set-up cell's output is not shown)
    display(Markdown(tr("**Not applicable to these data:** the exercises compare two waves of a campaign, each with a random "
                        "holdout ({before} and {after}); the data have no contacts for {missing}. Set before_campaign and "
                        "after_campaign to two waves of your data.", before=before_campaign, after=after_campaign,
                        missing=", ".join(missing))))
else:
    display(outcomes.groupby(["campaign_id", "arm"])["returned"].agg(["size", "sum"])
            .rename(columns={"size": "contacted", "sum": "returned"}))

# %% [markdown]
# ## Exercise 1: the naive comparison
#
# Compute the return rate of the members who got the old strategy (`before_campaign`, arm
# `before_arm`) and of those who got the new one (`after_campaign`, arm `after_arm`). Store them in
# `rate_before` and `rate_after`. The study read `rate_after - rate_before` as the effect of the new
# strategy.

# %% tags=["exercise"]
rate_before = rate_after = None  # your answers

# %% tags=["solution"]
if show_solutions:
    rate_before = outcomes.loc[(outcomes["campaign_id"] == before_campaign) & (outcomes["arm"] == before_arm), "returned"].mean()
    rate_after = outcomes.loc[(outcomes["campaign_id"] == after_campaign) & (outcomes["arm"] == after_arm), "returned"].mean()

# %%
checks.append(teaching.check_return_rate(rate_before, outcomes, before_campaign, before_arm))
checks.append(teaching.check_return_rate(rate_after, outcomes, after_campaign, after_arm))
display(checks[-2], checks[-1])

# %% [markdown]
# **Think about it.** The two waves ran in different seasons, on differently built lists (the second
# removed members who were not really asleep). Name two reasons the return rate could change even if
# the new strategy did nothing.
#
# ## Exercise 2: the effect against a holdout
#
# Each wave kept a random holdout that was not contacted. Within the *after* wave, compute the return
# rate of `after_arm` minus that of `control_arm` and store it in `incremental_after`.

# %% tags=["exercise"]
incremental_after = None  # your answer

# %% tags=["solution"]
if show_solutions:
    w2 = outcomes[outcomes["campaign_id"] == after_campaign]
    incremental_after = w2.loc[w2["arm"] == after_arm, "returned"].mean() - w2.loc[w2["arm"] == control_arm, "returned"].mean()

# %%
checks.append(teaching.check_incremental(incremental_after, outcomes, after_campaign, after_arm, control_arm))
checks[-1]

# %% [markdown]
# ## With the toolkit, and the answer key of the synthetic mall
#
# `compare_before_after` puts the naive table next to the holdout-based estimates and the
# difference-in-differences (the change in *incremental* effect between the waves). On the synthetic
# mall the true effects are known (`truth.json`): compare.

# %%
if not (teaching.all_right(checks) or show_solutions):  # a student's copy prints no answer before it is found
    display(Markdown(tr("The toolkit's results appear here once every exercise above is answered right.")))
elif not missing:  # (without the two waves there is nothing to compare: said above)
    study = campaigns.compare_before_after(outcomes, before_campaign, after_campaign, before_arm, after_arm, control_arm)
    # the columns the comparison needs (all 13 are wider than the lab's output area)
    display(present(study.table()[["wave", "arm", "contacted", "return_rate", "holdout_return_rate", "incremental_return_rate",
                                   "ci_low", "ci_high"]], kinds=study.kinds))
    display(present(study.summary(), kinds=study.kinds))
    rows = [(tr("naive after - before"), study.naive_difference), (tr("difference-in-differences"), study.did.estimate)]
    if truth:
        arms = truth["campaigns"]
        true_change = (arms[after_campaign]["arms"][after_arm]["true_incremental_return_rate"]
                       - arms[before_campaign]["arms"][before_arm]["true_incremental_return_rate"])
        rows.append((tr("truth: change in incremental return rate"), true_change))
    display(present(pd.DataFrame(rows, columns=["comparison", "return-rate difference"]), kinds={"return-rate difference": "points"}))

# %%
display(Markdown("## " + tr("Your score")))
present(teaching.summarize_checks(checks))

# %% tags=["hide"]
record_metrics(checks={c.exercise: c.status for c in checks}, right=sum(c.ok for c in checks), exercises=len(checks),
               headline=headline((N_("exercises"), len(checks), "count"), (N_("answered right"), sum(c.ok for c in checks), "count")))
