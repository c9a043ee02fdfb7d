# %% [markdown]
# # Member segmentation
#
# Who the members are, by value and behaviour: RFM scores and the standard named segments, tiers and
# how concentrated spend is, data-driven clusters, and how members moved between segments over the
# last quarter. Use it to pick targets (Champions to keep, At risk and Cannot lose to win back) and to
# see which tiers will not hold at the next review.

# %% tags=["parameters"]
data_dir: str = "../data/demo"  # directory in the data contract
as_of: str = ""  # analysis date; empty: the last date in the data
window_days: int = 365  # RFM window: purchases and spend over this many days up to as_of (the same in every report)
migration_from: str = ""  # earlier date for segment migration; empty: 91 days before as_of
tier_thresholds: str = ""  # yearly spend to earn each tier, e.g. silver:3000,gold:8000 (empty: tier rules not checked)
n_clusters: int = 0  # 0: chosen by BIC (Gaussian mixture) or silhouette (k-means)
cluster_method: str = "gmm"  # gmm or kmeans
tier_filter: str = ""  # comma-separated tiers to include; empty: all
min_cell: int = 10  # smallest group shown in tables
export_dir: str = ""  # where member_segments.parquet and downgrade_warnings.csv/.xlsx go (the runner: exports/<label>/, outside the report site); empty: not written
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

from analysis.application import exports

from analysis.presentation import plots

from analysis.statistics import segmentation as seg
from analysis.application.notebook import start
from analysis.statistics.features import compute_member_features, compute_rfm_inputs
from analysis.presentation.report import applies, headline, record_metrics
from analysis.presentation.report import first_steps
from analysis.presentation.i18n import N_, tr
from analysis.presentation.formats import display_name
from analysis.presentation.present import present
data = start(data_dir, as_of, lang, namespace=globals())  # escaped tables; language, currency and names of the data folder; the data
as_of_date = pd.Timestamp(data.as_of)
tiers_kept = [t.strip() for t in tier_filter.split(",") if t.strip()] or list(data.tiers)
features = seg.add_age_band(compute_member_features(data, as_of_date, window_days, visits=False))  # no visit days: nothing here reads them
features = features[features["tier"].isin(tiers_kept)].reset_index(drop=True)
rfm = seg.compute_rfm_scores(features)

# %% [markdown]
# ## RFM: recency, frequency, monetary value
#
# Each member who bought in the window gets three scores from 1 (worst) to 5 (best) by quantile among
# the buyers: **R** for days since the last purchase, **F** for purchases and **M** for spend in the
# window. Equal values always get the same score (the score of the lowest position among them).
# Members without a purchase in the window get no score and no RFM segment (they are shown as *No
# purchase in window*), so "Lost" and "At risk" hold buyers whose last purchase is old. The heatmap shows the mean spend in every R x F cell: the top right is where the value is.

# %%
display(Markdown(tr("Window: the **{days} days** up to {date} (the same RFM definition in the monthly and campaign reports "
                    "when their window is left at its default).", days=window_days, date=as_of_date.date())))
plots.plot_rf_heatmap(seg.compute_rf_grid(rfm, "monetary"), label=tr("mean spend, last {days} days", days=window_days));

# %% [markdown]
# What each score holds: members and the range of values behind every R, F and M score. With heavy
# ties (many members bought once) a score inside a tie block stays empty.

# %%
score_dist = seg.score_distribution(rfm)
empty = score_dist.loc[score_dist["members"] == 0, "score"].tolist()
if empty:
    display(Markdown(tr("Empty scores on these data (inside a block of tied values): {scores}.", scores=", ".join(empty))))
display(seg.score_table(score_dist))

# %% [markdown]
# ## Named segments
#
# The standard RFM map on R and F: every member is in exactly one segment. *Champions* and *Loyal*
# carry most of the spend; *At risk* and *Cannot lose* used to buy often and have not come for a while:
# they are the wake-up campaign's best targets before they become *Hibernating* or *Lost*.

# %%
segments = seg.compute_segment_summary(rfm)
plots.plot_segment_shares(segments);

# %%
present(segments)

# %% [markdown]
# ## Tiers and value concentration
#
# Members and spend by card tier, and how unequal spend is: the Lorenz curve (the further from the
# diagonal, the more a few members carry the mall), the Gini coefficient and the share of spend from
# the top 1 %, 5 % and 20 % of members.

# %%
tier_table = seg.compute_tier_summary(features, tuple(tiers_kept))
display(present(tier_table))
gini_value = seg.gini(features["monetary"])
fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
plots.plot_lorenz(seg.compute_lorenz(features["monetary"]), gini_value, ax=axes[0])
tops = seg.top_shares(features["monetary"])
plots.plot_top_shares(tops, ax=axes[1])
fig.tight_layout()

# %% [markdown]
# ## Tier rules: upgrade candidates and downgrade early warning
#
# With the tier thresholds given as parameters (yearly spend), each member's spend so far this year is
# extrapolated to the full year. Members whose pace earns a higher tier are **upgrade candidates**;
# members whose pace will not hold their tier get a **downgrade early warning**, with the spend they
# are short by, while there is still time to act.

# %%
rules = exported = None
if applies(bool(tier_thresholds) and len(tiers_kept) > 1,
           tr("no tier thresholds are given (tier_thresholds, e.g. in the data folder's mallwake.yaml).") if not tier_thresholds
           else tr("the members are in one tier: there is no tier to move to.")):
    year_start = pd.Timestamp(year=as_of_date.year, month=1, day=1)
    elapsed = (as_of_date - year_start).days + 1
    ytd = compute_rfm_inputs(data, as_of_date, elapsed)
    ytd = ytd[ytd["tier"].isin(tiers_kept)]
    rules = seg.evaluate_tier_rules(ytd, tuple(tiers_kept), seg.parse_thresholds(tier_thresholds), window_days=365, elapsed_days=elapsed)
    # the shortfall of the warned members only (over all members the median is 0: most are on course)
    warned = rules[rules["downgrade_warning"]]
    tier_watch = rules.groupby("tier").agg(members=("member_id", "size"), upgrade_candidates=("upgrade_candidate", "sum"),
                                           downgrade_warnings=("downgrade_warning", "sum"))
    tier_watch["median_shortfall_of_warned"] = warned.groupby("tier")["shortfall"].median()
    display(present(tier_watch.reindex([t for t in tiers_kept if t in tier_watch.index]), index=True,
                    kinds={"median_shortfall_of_warned": "money"}))
    exported = exports.write_list(exports.downgrade_list(data, rules, as_of_date), export_dir, "downgrade_warnings")
    if exported:
        display(Markdown(tr("Members with a downgrade warning.") + " " + exported.sentence()))

# %% [markdown]
# ## Clusters
#
# Segments drawn from the data rather than from rules: members with at least three purchases in the
# window, described by log purchase frequency, log average ticket, log recency and the share of their
# spend in each store category (standardized), clustered by a Gaussian mixture (or k-means). The
# number of clusters is chosen by BIC (or silhouette) unless fixed; stability is the adjusted Rand
# index between the full fit and refits on bootstrap samples (1 = identical clusters).

# %%
cluster_problem = seg.cluster_problem(features, k=n_clusters or None)
clusters = None
if applies(cluster_problem is None, cluster_problem or ""):
    clusters = seg.fit_clusters(features, k=n_clusters or None, method=cluster_method, n_boot=5)
    display(Markdown(tr("**{k} clusters** ({method}) of {n:,} active members; bootstrap stability (mean adjusted Rand index) "
                        "**{ari:.2f}**.", k=clusters.k, method=display_name(clusters.method), n=len(clusters.members), ari=clusters.mean_stability)))
    display(clusters.selection)

# %%
if clusters is not None:
    profile = clusters.profile()
    display(present(profile, kinds={"monetary": "money"}))

# %% [markdown]
# A sample of members in the three main dimensions, coloured by cluster:

# %%
if applies(clusters is not None, cluster_problem or ""):
    plots.plot_cluster_pairs(clusters.members.assign(log_frequency=np.log1p(clusters.members["frequency"]),
                                                     log_avg_ticket=np.log(clusters.members["avg_ticket"])),
                             clusters.labels, ["log_frequency", "log_avg_ticket", "recency_days"])
    plt.show()

# %% [markdown]
# How the clusters line up with the RFM segments (members; cells with too few members to show are blank):

# %%
if applies(clusters is not None, cluster_problem or ""):
    cross = pd.crosstab(clusters.labels.to_numpy(), rfm.set_index("member_id").loc[clusters.members["member_id"], "segment"].to_numpy())
    display(cross.where(cross >= min_cell).rename_axis(index="cluster", columns="segment"))

# %% [markdown]
# ## Segment migration
#
# Where the members of each segment were a quarter earlier (rows) and are now (columns), as row
# shares: the diagonal is members who stayed; off the diagonal are the flows to act on, such as
# *Loyal -> At risk* or *Champions -> Slipping*.

# %%
date_from = pd.Timestamp(migration_from) if migration_from else as_of_date - pd.Timedelta(days=91)
before = compute_rfm_inputs(data, date_from, window_days)
before = before[before["tier"].isin(tiers_kept)]
migration = seg.compute_migration(seg.compute_rfm_scores(before), rfm, date_from.date(), as_of_date.date())
plots.plot_transition_heatmap(migration.shares, title=tr("segment on {start} (rows) -> {end} (columns)", start=date_from.date(), end=as_of_date.date()));

# %%
present(migration.flows(min_members=min_cell).head(12))

# %% [markdown]
# ## Profiles by age and gender
#
# Segment mix within each group (row shares); groups with too few members to show are left out.

# %%
for by in [c for c in ("age_band", "gender") if c in features.columns]:
    display(present(seg.compute_profiles(features, rfm, by, min_cell), kinds=dict.fromkeys(seg.SEGMENTS, "percent")))

# %% tags=["hide"]
segment_file = seg.write_member_segments(rfm, clusters, export_dir)
record_metrics(
    members=len(features), window_days=window_days, gini=gini_value,
    top_20pct_spend_share=float(tops["spend_share"].iloc[-1]),
    segment_members={str(r.segment): int(r.members) for r in segments.itertuples()},
    n_clusters=None if clusters is None else clusters.k, cluster_stability_ari=None if clusters is None else clusters.mean_stability,
    upgrade_candidates=None if rules is None else int(rules["upgrade_candidate"].sum()),
    downgrade_warnings=None if rules is None else int(rules["downgrade_warning"].sum()),
    segment_file=None if segment_file is None else segment_file.name,
    headline=headline((N_("members"), len(features), "count"),
                      (("{segment}", {"segment": "Champions"}), float((rfm["segment"] == "Champions").mean()) if len(rfm) else None, "percent"),
                      (N_("spend of the top 20 % of members"), float(tops["spend_share"].iloc[-1]), "percent"),
                      (N_("Gini of spend"), gini_value, "number")),
)

# %% tags=["first"]
first_steps(
    tr("Champions are **{share:.1%}** of the members; the top 20 % of members bring {top:.1%} of the spend: look after them first.",
       share=float((rfm["segment"] == "Champions").mean()) if len(rfm) else 0.0, top=float(tops["spend_share"].iloc[-1])),
    tr("**{n:,}** members are on course to lose their tier at the yearly review.", n=int(rules["downgrade_warning"].sum()))
    + (" " + exported.sentence() if exported else "") if rules is not None else "",
)
