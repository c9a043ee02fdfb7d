# %% [markdown]
# # Data overview
#
# What the data directory holds before any analysis: the tables and their date coverage, the members
# by card tier and joining year, spend, purchases and visits month by month, missing values, and the
# result of validating every table against the data contract (`data/README.md`).

# %% tags=["parameters"]
data_dir: str = "../data/demo"  # directory in the data contract
as_of: str = ""  # analysis date YYYY-MM-DD; empty: the last date in the data
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

from analysis.statistics import overview

from analysis.presentation import plots
from analysis.application.notebook import start
from analysis.presentation.report import headline, record_metrics
from analysis.presentation.report import first_steps
from analysis.presentation.i18n import N_, tr
from analysis.presentation.present import present
data = start(data_dir, as_of, lang, namespace=globals())  # escaped tables; language, currency and names of the data folder; the data

# %% [markdown]
# ## Validation
#
# Every rule of the data contract was checked before this report ran; a broken rule stops the run with a message naming the file, column, rule and example rows.

# %%
data.validation

# %% [markdown]
# ## Tables and coverage
#
# Rows, distinct members and the first and last date of each table.

# %%
coverage = overview.compute_table_coverage(data)
coverage

# %% [markdown]
# ## Members by card tier
#
# The tier structure of the member base (tiers in their configured order).

# %%
by_tier = overview.compute_members_by_tier(data)
plots.plot_members_by_tier(by_tier);

# %% [markdown]
# ## Members by joining year
#
# How the member base was built up, year by year, and the tier members hold now.

# %%
cohorts = overview.compute_join_cohorts(data)
plots.plot_join_cohorts(cohorts);

# %% [markdown]
# ## Activity month by month
#
# Spend, purchases and visits (parking and Wi-Fi records) per calendar month. Peaks around Spring
# Festival, 618, National Day week and Double 11 are the retail calendar; a falling number of buyers
# next to steady visits is the first sign of members who come but no longer swipe their card.

# %%
monthly = overview.compute_monthly_activity(data)
fig, axes = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
plots.plot_monthly_activity(monthly, "spend", ax=axes[0])
plots.plot_monthly_activity(monthly, "purchases", ax=axes[1], label=tr("purchases"))
plots.plot_monthly_activity(monthly, "buyers", ax=axes[1], label=tr("buying members"))
plots.plot_monthly_activity(monthly, "visits", ax=axes[2], label=tr("visit records"))
plots.plot_monthly_activity(monthly, "visitors", ax=axes[2], label=tr("visiting members"))
fig.tight_layout()

# %% [markdown]
# ## Missing values
#
# Share of empty cells per column. Identifying columns (phone, plate) are flagged: they are never shown or used as covariates.

# %%
missing = overview.compute_missing_values(data)
missing[missing["missing"] > 0] if (missing["missing"] > 0).any() else Markdown(tr("No missing values in any column."))

# %% tags=["hide"]
metrics = dict(
    members=int(by_tier["members"].sum()),
    transactions=int(coverage.set_index("table").loc["transactions", "rows"]),
    visits=int(coverage.set_index("table").loc["visits", "rows"]),
    total_spend=float(monthly["spend"].sum()),
    first_month=str(monthly["month"].min().date()),
    last_month=str(monthly["month"].max().date()),
    members_by_tier={t: int(n) for t, n in zip(by_tier["tier"], by_tier["members"])},
)
record_metrics(**metrics, headline=headline(
    (N_("members"), metrics["members"], "count"), (N_("transactions"), metrics["transactions"], "count"),
    (N_("spend"), metrics["total_spend"], "money"),
    (N_("months"), f"{monthly['month'].min():%Y-%m} – {monthly['month'].max():%Y-%m}" if len(monthly) else None, "text")))

# %% tags=["first"]
first_steps(
    tr("The data hold **{members:,}** members and {transactions:,} purchases, from {first} to {last}.",
       members=metrics["members"], transactions=metrics["transactions"], first=metrics["first_month"][:7],
       last=metrics["last_month"][:7]),
    tr("Every rule of the data contract passes: the other reports can be read as they are.") if not data.validation.warnings
    else tr("Read the {n} validation warning(s) below before trusting the other reports.", n=len(data.validation.warnings)),
    tr("Without visit records the sleeping list cannot be refined by presence (report 2).") if not metrics["visits"] else "",
)
