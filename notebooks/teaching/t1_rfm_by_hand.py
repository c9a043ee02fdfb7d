# %% [markdown]
# # Teaching 1: RFM by hand, then with the toolkit
#
# **Goals.** Compute recency, frequency and monetary value from raw transactions yourself; turn them
# into 1-5 scores; then see what the toolkit does with them (named segments) and why the details
# (the window, ties) matter.
#
# Work top to bottom. Each exercise has a cell where you replace `None` with your answer and a
# self-check cell right after it: a green tick means right, a red cross tells you what to look at.

# %% tags=["parameters"]
data_dir: str = "../../data/demo"  # the synthetic mall (or any data directory in the contract)
as_of: str = ""  # analysis date; empty: the last date in the data
window_days: int = 365  # purchases counted over this many days up to as_of
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

from analysis.presentation import plots

from analysis.statistics import segmentation as seg
from analysis.statistics.features import compute_member_features
end = as_of_date.normalize() + pd.Timedelta(days=1)
tx = data.transactions.filter(data.transactions.ts >= end - pd.Timedelta(days=window_days + 30)).to_pandas()

# %% [markdown]
# ## The raw material
#
# `tx` holds the transactions of the last `window_days` days (and a few more): one row per purchase
# with `member_id`, `ts` (timestamp) and `amount`. The analysis date is shown below.

# %%
display(Markdown(tr("Analysis date: **{date}**, window: **{days} days**, rows in `tx`: **{rows:,}**", date=as_of_date.date(),
                    days=window_days, rows=len(tx))))
mask_ids(tx.head())  # member ids shown as pseudonyms; your code works on the real ids in tx

# %% [markdown]
# ## Exercise 1: the RFM table
#
# For every member who bought at least once in the window (from the start of the day
# `as_of - window_days + 1` to the end of `as_of`), compute:
#
# * `frequency` - number of purchases in the window;
# * `monetary` - their total amount;
# * `recency_days` - whole days from the date of the last purchase to the analysis date.
#
# Store a DataFrame with columns `member_id`, `recency_days`, `frequency`, `monetary` in `rfm`.
# *Hint:* filter `tx` on `ts`, then `groupby("member_id").agg(...)`.

# %% tags=["exercise"]
rfm = None  # your answer

# %% tags=["solution"]
if show_solutions:
    window = tx[(tx["ts"] >= end - pd.Timedelta(days=window_days)) & (tx["ts"] < end)]
    rfm = window.groupby("member_id").agg(last=("ts", "max"), frequency=("ts", "size"), monetary=("amount", "sum")).reset_index()
    rfm["recency_days"] = (as_of_date.normalize() - rfm["last"].dt.normalize()).dt.days

# %%
checks.append(teaching.check_rfm_table(rfm, data, as_of_date, window_days))
checks[-1]

# %% [markdown]
# ## Exercise 2: scores from 1 to 5
#
# Scores rank members against each other. For recency *fewer* days is better. The toolkit's rule:
# rank the members (the worst value gets rank 1; equal values share the lowest rank of their
# group, `rank(method="min")`), then `score = 1 + floor(5 * (rank - 1) / n)`.
#
# Using `features` (the toolkit's table for *all* members, including those who did not buy), compute
# the recency score of every member as a Series aligned with `features` and store it in `r_score`.

# %% tags=["exercise"]
features = compute_member_features(data, as_of_date, window_days)
r_score = None  # your answer

# %% tags=["solution"]
if show_solutions:
    ranks = features["recency_days"].rank(method="min", ascending=False)
    r_score = (1 + np.floor(5 * (ranks - 1) / len(features))).clip(1, 5).astype(int)

# %%
checks.append(teaching.check_rfm_scores(r_score, features, "recency_days", higher_is_better=False))
checks[-1]

# %% [markdown]
# **Think about it.** Many members did not buy in the window and all have frequency 0. What score
# do they all get, and why does `method="min"` matter for them? What would change with `"first"`?
#
# ## With the toolkit
#
# `compute_rfm_scores` does both exercises for R, F and M, ranking only the members who bought in
# the window (those who did not get no score and the segment *No purchase in window*), and names
# the segment of each buyer from its R and F scores (Champions, Loyal, At risk, Hibernating, ...). The shares below are of
# members and of spend: a few segments hold most of the money.

# %%
rfm_scores = seg.compute_rfm_scores(features)
summary = seg.compute_segment_summary(rfm_scores)
plots.plot_segment_shares(summary);

# %%
display(Markdown("## " + tr("Your score")))
present(teaching.summarize_checks(checks))

# %% tags=["hide"]
record_metrics(checks={c.exercise: c.status for c in checks}, right=sum(c.ok for c in checks), exercises=len(checks),
               headline=headline((N_("exercises"), len(checks), "count"), (N_("answered right"), sum(c.ok for c in checks), "count")))
