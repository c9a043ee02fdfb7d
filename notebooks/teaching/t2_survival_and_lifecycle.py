# %% [markdown]
# # Teaching 2: survival and the member lifecycle
#
# **Goals.** See why "how long until a member falls asleep" cannot be answered by averaging the
# members who already fell asleep; estimate it with Kaplan-Meier by hand on a tiny example, then on
# the whole mall with the toolkit, and compare tiers.

# %% tags=["parameters"]
data_dir: str = "../../data/demo"  # the synthetic mall (or any data directory in the contract)
as_of: str = ""  # analysis date; empty: the last date in the data
sleeping_days: int = 180  # a member falls asleep after this many days without a purchase
target_tier: str = ""  # the tier of exercise 2; empty: the highest tier in the data (the demo: gold)
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
from analysis.presentation.report import headline, record_metrics, section
from analysis.presentation.i18n import N_, tr
from analysis.presentation.formats import display_name
from analysis.presentation.phrases import phrase_text
from analysis.presentation.present import present
data = start(data_dir, as_of, lang, namespace=globals())  # escaped tables; language, currency and names of the data folder; the data
as_of_date = pd.Timestamp(data.as_of)
checks = []

from statsmodels.duration.survfunc import SurvfuncRight
from analysis.statistics import lifecycle
from analysis.presentation import plots

# %% [markdown]
# ## Exercise 1: Kaplan-Meier by hand
#
# Eight members, followed from joining. `days` is how long we watched them; `asleep` is 1 if they fell
# asleep at that day, 0 if they were still awake when we stopped watching (*censored*).
#
# At each day where somebody falls asleep, the share still awake is multiplied by
# `1 - (fell asleep that day) / (still watched just before that day)`. Censored members leave the
# group without falling asleep. Compute the share still awake at day 100 and store it in `s100`.

# %% tags=["exercise"]
tiny = pd.DataFrame({"days": [30, 60, 60, 90, 120, 150, 200, 250], "asleep": [1, 0, 1, 1, 0, 1, 0, 1]})
display(tiny.T)
s100 = None  # your answer

# %% tags=["solution"]
if show_solutions:
    s100 = 1.0
    for day in sorted(tiny.loc[(tiny["asleep"] == 1) & (tiny["days"] <= 100), "days"].unique()):
        at_risk = (tiny["days"] >= day).sum()
        events = ((tiny["days"] == day) & (tiny["asleep"] == 1)).sum()
        s100 *= 1 - events / at_risk

# %%
checks.append(teaching.check_km_by_hand(s100, tiny["days"], tiny["asleep"], 100))
checks[-1]

# %% [markdown]
# **Think about it.** The mean of the observed sleeping days here is (30+60+90+150+250)/5 = 116. Why is
# that too short as "typical time to sleep"? (Who is left out of it?)
#
# ## Exercise 2: the median time to sleep of a tier
#
# `tts` has one row per member who joined while the data were being recorded: `duration` (days from
# joining until falling asleep, or until the analysis date) and `event` (1 = fell asleep). Estimate
# the median number of days until a member of tier `tier` falls asleep and store it in `median_days`.
# *Hint:* `SurvfuncRight(durations, events)` from statsmodels; where does the curve cross 0.5?

# %% tags=["exercise"]
tts = lifecycle.compute_time_to_sleep(data, sleeping_days)
tier = target_tier or list(data.tiers)[-1]
median_days = None  # your answer

# %% tags=["solution"]
if show_solutions:
    sub = tts[tts["tier"] == tier]
    sf = SurvfuncRight(sub["duration"].to_numpy(float), sub["event"].to_numpy(int))
    below = sf.surv_times[sf.surv_prob <= 0.5]
    median_days = float(below[0]) if len(below) else float("nan")  # not reached: fewer than half fell asleep

# %%
naive_mean = tts.loc[(tts["tier"] == tier) & (tts["event"] == 1), "duration"].mean()
display(Markdown(tr("For comparison, the mean duration of the {tier} members already asleep is {days:,.0f} days.",
                    tier=display_name(tier), days=naive_mean)))
checks.append(teaching.check_median_time_to_sleep(median_days, tts, tier))
checks[-1]

# %% [markdown]
# ## With the toolkit
#
# `fit_survival` draws the Kaplan-Meier curve of every tier with its confidence band and tests
# whether the tiers differ (log-rank). The lifecycle report goes further (Cox model, sleep risk).

# %%
if not (teaching.all_right(checks) or show_solutions):  # a student's copy prints no answer before it is found
    display(Markdown(tr("The toolkit's results appear here once every exercise above is answered right.")))
else:
    with section():  # data where no one has fallen asleep yet: one sentence instead
        survival = lifecycle.fit_survival(tts, by="tier", covariates=("tier",))
        plots.plot_survival(survival.curves);
        if survival.fit_note():
            display(Markdown(phrase_text(survival.fit_note())))
        display(survival.median_days().to_frame())

# %%
display(Markdown("## " + tr("Your score")))
present(teaching.summarize_checks(checks))

# %% tags=["hide"]
record_metrics(checks={c.exercise: c.status for c in checks}, right=sum(c.ok for c in checks), exercises=len(checks),
               headline=headline((N_("exercises"), len(checks), "count"), (N_("answered right"), sum(c.ok for c in checks), "count")))
