"""Segmentation: RFM scores and named segments, tiers and value concentration, clusters, migration.

All functions take the member-feature frame of :func:`analysis.statistics.features.compute_member_features`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.data.config import AGE_BAND_EDGES, AGE_BAND_LABELS
from analysis.data.errors import NotApplicable
from analysis.data.privacy import pseudonymize
from analysis.statistics.memo import memoized
from analysis.statistics.results import Result

#: The standard RFM segment map on (R score, F score); every pair of 1..5 has one segment.
SEGMENT_MAP = (
    (r"11", "Lost"),
    (r"[1-2][1-2]", "Hibernating"),
    (r"[1-2][3-4]", "At risk"),
    (r"[1-2]5", "Cannot lose"),
    (r"3[1-2]", "Slipping"),
    (r"33", "Need attention"),
    (r"[3-4][4-5]", "Loyal"),
    (r"41", "Promising"),
    (r"51", "New"),
    (r"[4-5][2-3]", "Potential loyalist"),
    (r"5[4-5]", "Champions"),
)
#: The segment of members who made no purchase in the window: they have no RFM profile to name.
NO_PURCHASE = "No purchase in window"
SEGMENTS = (
    "Champions",
    "Loyal",
    "Potential loyalist",
    "New",
    "Promising",
    "Need attention",
    "Slipping",
    "At risk",
    "Cannot lose",
    "Hibernating",
    "Lost",
    NO_PURCHASE,
)


# --- RFM -----------------------------------------------------------------------------


def score_quantiles(values: pd.Series, bins: int = 5, higher_is_better: bool = True) -> pd.Series:
    """Scores 1..``bins`` by quantile: ``1 + floor(bins * p)``, ``p`` the share of members with a worse value.

    Notes
    -----
    Tie rule: members with equal values get the same score, the one of the lowest position of
    their tie group (``rank(method="min")``), so the score never depends on row order, and a
    large block of equal worst values all score 1. With heavy ties the five groups are unequal in size and a score inside a tie block stays
    empty (on CDNOW half the members bought once, and F = 2 is empty): :func:`score_distribution`
    shows each score's members and values, so a score always means a stated range of values.
    """
    ranks = values.rank(method="min", ascending=higher_is_better)
    return (1 + np.floor(bins * (ranks - 1) / len(values))).clip(1, bins).astype(int)


def compute_rfm_scores(features: pd.DataFrame, bins: int = 5) -> pd.DataFrame:
    """R, F and M scores (1 = worst, ``bins`` = best) and the named RFM segment per member.

    R scores recency (fewer days is better), F the purchases and M the spend in the window.
    Scores rank members among those who bought in the window: a member without a purchase in
    the window has no R, F or M score (missing) and the segment :data:`NO_PURCHASE`. Ranking
    them with the buyers would give every non-buyer R = F = M = 1 and push buyers up the scale,
    so "Lost" or "At risk" would hold nobody who actually bought.
    """
    out = features[["member_id", "recency_days", "frequency", "monetary"]].copy()
    bought = out["frequency"] > 0
    buyers = out[bought]
    for col, letter, better in (("recency_days", "r", False), ("frequency", "f", True), ("monetary", "m", True)):
        score = pd.Series(pd.NA, index=out.index, dtype="Int64")
        if len(buyers):
            score[bought] = score_quantiles(buyers[col], bins, higher_is_better=better).to_numpy()
        out[f"{letter}_score"] = score
    out["rfm_cell"] = (out["r_score"].astype(str) + out["f_score"].astype(str) + out["m_score"].astype(str)).where(bought)
    segment = pd.Categorical([NO_PURCHASE] * len(out), categories=list(SEGMENTS))
    out["segment"] = pd.Series(segment, index=out.index)
    if len(buyers):
        out.loc[bought, "segment"] = assign_rfm_segments(out.loc[bought, "r_score"], out.loc[bought, "f_score"])
    return out


def score_distribution(rfm: pd.DataFrame, bins: int = 5) -> pd.DataFrame:
    """Members and value range behind each score of R, F and M (empty scores show as 0 members).

    Only members with a score count (those who bought in the window). With heavy ties (most members bought once) a tie block spans several quintiles and the
    scores inside it stay empty: this table shows which, and what each score means in values.
    """
    rows = []
    for letter, col in (("R", "recency_days"), ("F", "frequency"), ("M", "monetary")):
        g = rfm.groupby(f"{letter.lower()}_score")[col]
        stats = pd.DataFrame({"members": g.size(), "low": g.min(), "high": g.max()}).reindex(range(1, bins + 1))
        for score, r in stats.iterrows():
            n = 0 if pd.isna(r["members"]) else int(r["members"])
            rows.append(
                {
                    "score": f"{letter}{score}",
                    "members": n,
                    "values": "–"
                    if not n
                    else (f"{r['low']:,.0f}" if r["low"] == r["high"] else f"{r['low']:,.0f} – {r['high']:,.0f}"),
                }
            )
    return pd.DataFrame(rows)


def score_table(distribution: pd.DataFrame) -> pd.DataFrame:
    """:func:`score_distribution` as a table: scores 1..5 down, R, F and M across, value ranges in the cells."""
    d = distribution.assign(score_value=distribution["score"].str[1:], letter=distribution["score"].str[0])
    return d.pivot(index="score_value", columns="letter", values="values")[["R", "F", "M"]].rename_axis(
        index="score", columns=None
    )


def assign_rfm_segments(r_score: pd.Series, f_score: pd.Series) -> pd.Series:
    """Named segment from R and F scores (5-point scale) by :data:`SEGMENT_MAP`."""
    key = r_score.astype(int).clip(1, 5).astype(str) + f_score.astype(int).clip(1, 5).astype(str)
    return pd.Categorical(key.map(segment_lookup()), categories=list(SEGMENTS))


def segment_lookup() -> dict[str, str]:
    """The segment of every R x F score pair (``"53"`` -> ``"Potential loyalist"``): the first
    pattern of :data:`SEGMENT_MAP` that matches."""
    return {
        f"{r}{f}": next(name for pattern, name in SEGMENT_MAP if re.fullmatch(pattern, f"{r}{f}"))
        for r in range(1, 6)
        for f in range(1, 6)
    }


def compute_segment_summary(rfm: pd.DataFrame) -> pd.DataFrame:
    """Members, share of members, spend and share of spend per segment."""
    g = rfm.groupby("segment", observed=False).agg(
        members=("member_id", "size"),
        spend=("monetary", "sum"),
        mean_recency_days=("recency_days", "mean"),
        mean_frequency=("frequency", "mean"),
    )
    g["member_share"] = g["members"] / g["members"].sum()
    g["spend_share"] = g["spend"] / g["spend"].sum() if g["spend"].sum() else 0.0
    return g.reset_index()


def compute_rf_grid(rfm: pd.DataFrame, value: str = "monetary") -> pd.DataFrame:
    """Mean of ``value`` in each (R score, F score) cell: rows R 5..1, columns F 1..5."""
    grid = rfm.pivot_table(index="r_score", columns="f_score", values=value, aggfunc="mean", observed=False)
    return grid.reindex(index=range(5, 0, -1), columns=range(1, 6)).rename_axis(index="r_score", columns="f_score")


# --- tiers and concentration -----------------------------------------------------------


def compute_lorenz(spend: pd.Series) -> pd.DataFrame:
    """Lorenz curve of spend: cumulative share of members (poorest first) vs share of spend."""
    v = np.sort(spend.fillna(0).to_numpy(dtype=float))
    cum = np.concatenate([[0.0], np.cumsum(v)])
    total = cum[-1] or 1.0
    return pd.DataFrame({"member_share": np.linspace(0, 1, len(v) + 1), "spend_share": cum / total})


def gini(spend: pd.Series) -> float:
    """Gini coefficient of spend (0: everyone spends the same; 1: one member spends all)."""
    v = np.sort(spend.fillna(0).to_numpy(dtype=float))
    n = len(v)
    if n == 0 or v.sum() == 0:
        return 0.0
    return float((2 * np.arange(1, n + 1) - n - 1) @ v / (n * v.sum()))


def top_shares(spend: pd.Series, tops=(0.01, 0.05, 0.20)) -> pd.DataFrame:
    """Share of spend from the top 1 %, 5 %, 20 % of members."""
    v = np.sort(spend.fillna(0).to_numpy(dtype=float))[::-1]
    total = v.sum() or 1.0
    return pd.DataFrame(
        [
            {
                "top": f"top {t:.0%}",
                "top_share": t,
                "members": max(1, int(round(t * len(v)))),
                "spend_share": v[: max(1, int(round(t * len(v))))].sum() / total,
            }
            for t in tops
        ]
    )


def compute_tier_summary(features: pd.DataFrame, tiers: tuple[str, ...]) -> pd.DataFrame:
    """Members and window spend per tier, in tier order."""
    g = features.groupby("tier").agg(
        members=("member_id", "size"), spend=("monetary", "sum"), active=("frequency", lambda f: int((f > 0).sum()))
    )
    g = g.reindex([t for t in tiers if t in g.index])
    g["member_share"] = g["members"] / g["members"].sum()
    g["spend_share"] = g["spend"] / g["spend"].sum()
    g["spend_per_member"] = g["spend"] / g["members"]
    return g.reset_index()


def parse_thresholds(text: str) -> dict[str, float]:
    """``"silver:3000,gold:8000"`` (or ``=``) -> ``{"silver": 3000.0, "gold": 8000.0}``."""
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.replace("=", ":").partition(":")
        out[name.strip()] = float(value)
    return out


def evaluate_tier_rules(
    features: pd.DataFrame,
    tiers: tuple[str, ...],
    thresholds: dict[str, float],
    window_days: int = 365,
    elapsed_days: int | None = None,
) -> pd.DataFrame:
    """Tier each member's window spend qualifies for, upgrade candidates and downgrade warnings.

    ``thresholds`` gives the spend over ``window_days`` needed for each tier above the lowest.
    ``elapsed_days`` is how much of the review window has passed (default: all of it); spend is
    extrapolated to the full window at the same pace, so a member whose pace will not hold the
    current tier is flagged before the review (downgrade early warning).
    """
    unknown = set(thresholds) - set(tiers)
    if unknown:
        raise ValueError(f"tier thresholds name unknown tiers {sorted(unknown)}; tiers are {tiers}")
    elapsed = elapsed_days or window_days
    pace = features["monetary"] * window_days / elapsed
    order = {t: i for i, t in enumerate(tiers)}
    qualified = pd.Series(tiers[0], index=features.index, dtype=object)
    for tier in tiers[1:]:
        if tier in thresholds:
            qualified[pace >= thresholds[tier]] = tier
    current = features["tier"].map(order)
    earned = qualified.map(order)
    out = features[["member_id", "tier", "monetary"]].copy()
    out["spend_pace"] = pace
    out["qualifies_for"] = qualified
    out["upgrade_candidate"] = earned > current
    out["downgrade_warning"] = earned < current
    needed = features["tier"].map(thresholds).fillna(0.0)
    out["shortfall"] = (needed - pace).clip(lower=0)
    return out


# --- clusters ------------------------------------------------------------------------


def cluster_matrix(features: pd.DataFrame, min_purchases: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Standardized log features of members with at least ``min_purchases`` in the window.

    Returns (the members' rows of ``features``, the standardized matrix as a frame).
    """
    active = features[features["frequency"] >= min_purchases].reset_index(drop=True)
    X = pd.DataFrame(
        {
            "log_frequency": np.log1p(active["frequency"]),
            "log_avg_ticket": np.log(active["avg_ticket"].clip(lower=1)),
            "log_recency": np.log1p(active["recency_days"]),
        }
    )
    for col in [c for c in active.columns if c.startswith("share_")]:
        X[col] = active[col].fillna(0)
    from sklearn.preprocessing import StandardScaler  # scikit-learn loads with the clusters, not with the segments

    Z = pd.DataFrame(StandardScaler().fit_transform(X), columns=X.columns)
    return active, Z


#: Fewest active members (``min_purchases`` or more in the window) worth clustering.
MIN_CLUSTER_MEMBERS = 50


def cluster_problem(features: pd.DataFrame, k: int | None = None, min_purchases: int = 3) -> NotApplicable | None:
    """Why clusters cannot be drawn from ``features`` (``None``: they can)."""
    n = int((features["frequency"] >= min_purchases).sum())
    need = max(MIN_CLUSTER_MEMBERS, 10 * (k or 2))
    if n < need:
        return NotApplicable("segmentation.few_active", min=min_purchases, n=n, need=need)
    return None


@dataclass(frozen=True)
class ClusterResult(Result):
    """k-means and Gaussian-mixture clusters of active members."""

    k: int
    method: str
    labels: pd.Series  # indexed like ``members``
    members: pd.DataFrame = field(repr=False)
    selection: pd.DataFrame = field(repr=False)  # k, silhouette, bic
    stability: pd.DataFrame = field(repr=False)  # bootstrap ARI per replicate
    model: object = field(repr=False)

    def profile(self) -> pd.DataFrame:
        """Cluster profile: size and median features."""
        cols = ["frequency", "avg_ticket", "monetary", "recency_days"] + [
            c for c in self.members.columns if c.startswith("share_")
        ]
        g = self.members.assign(cluster=self.labels.to_numpy()).groupby("cluster")
        prof = g[cols].median()
        prof.insert(0, "members", g.size())
        prof.insert(1, "member_share", prof["members"] / prof["members"].sum())
        return prof.reset_index()

    def table(self) -> pd.DataFrame:
        return self.profile()

    def summary(self) -> pd.DataFrame:
        return self.selection

    @property
    def mean_stability(self) -> float:
        return float(self.stability["ari"].mean())


def _fit(method: str, k: int, Z: np.ndarray, seed: int):
    from sklearn.cluster import KMeans
    from sklearn.mixture import GaussianMixture

    if method == "kmeans":
        return KMeans(n_clusters=k, n_init=4, random_state=seed).fit(Z)
    return GaussianMixture(n_components=k, covariance_type="full", random_state=seed).fit(Z)


@memoized
def fit_clusters(
    features: pd.DataFrame,
    k: int | None = None,
    method: str = "gmm",
    k_range=range(2, 7),
    n_boot: int = 10,
    min_purchases: int = 3,
    seed: int = 0,
    max_fit: int = 6_000,
) -> ClusterResult:
    """Cluster active members; pick k by BIC (GMM) or silhouette (k-means) unless given.

    Stability: the model is refitted on ``n_boot`` bootstrap samples and each refit's labels
    of all members are compared with the full fit's by the adjusted Rand index.

    BLAS runs single-threaded here: on these small matrices thread start-up costs more than it
    saves (measured 3x slower on two cores).
    """
    if method not in ("kmeans", "gmm"):
        raise ValueError("method must be 'kmeans' or 'gmm'")
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return _fit_clusters(features, k, method, k_range, n_boot, min_purchases, seed, max_fit)


def _fit_clusters(features, k, method, k_range, n_boot, min_purchases, seed, max_fit) -> ClusterResult:
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, silhouette_score
    from sklearn.mixture import GaussianMixture

    members, Zdf = cluster_matrix(features, min_purchases)
    if len(members) < 50:
        raise ValueError(f"only {len(members)} members with {min_purchases}+ purchases: too few to cluster")
    Z = Zdf.to_numpy()
    rng = np.random.default_rng(seed)
    fit_idx = rng.choice(len(Z), size=min(max_fit, len(Z)), replace=False)
    Zfit = Z[fit_idx]
    rows = []
    for kk in k_range:
        km = KMeans(n_clusters=kk, n_init=4, random_state=seed).fit(Zfit)
        sample = rng.choice(len(Zfit), size=min(5000, len(Zfit)), replace=False)
        sil = silhouette_score(Zfit[sample], km.labels_[sample])
        gm = GaussianMixture(n_components=kk, covariance_type="full", random_state=seed).fit(Zfit)
        rows.append({"k": kk, "silhouette": sil, "bic": gm.bic(Zfit)})
    selection = pd.DataFrame(rows)
    if k is None:
        k = int(
            selection.loc[selection["bic"].idxmin(), "k"]
            if method == "gmm"
            else selection.loc[selection["silhouette"].idxmax(), "k"]
        )
    model = _fit(method, k, Zfit, seed)
    labels = model.predict(Z)
    aris = []
    for b in range(n_boot):
        boot = rng.choice(len(Zfit), size=len(Zfit), replace=True)
        refit = _fit(method, k, Zfit[boot], seed + b + 1)
        aris.append({"replicate": b, "ari": adjusted_rand_score(labels, refit.predict(Z))})
    return ClusterResult(
        k, method, pd.Series(labels, index=members.index, name="cluster"), members, selection, pd.DataFrame(aris), model
    )


# --- migration -----------------------------------------------------------------------


@dataclass(frozen=True)
class Migration(Result):
    """Segment transitions between two dates (members present at both)."""

    date_from: str
    date_to: str
    counts: pd.DataFrame

    @property
    def shares(self) -> pd.DataFrame:
        return self.counts.div(self.counts.sum(axis=1).replace(0, np.nan), axis=0)

    def flows(self, min_members: int = 10) -> pd.DataFrame:
        """Moves between different segments, largest first (small flows suppressed)."""
        long = self.counts.stack().rename("members").reset_index()
        long.columns = ["from_segment", "to_segment", "members"]
        long = long[(long["from_segment"] != long["to_segment"]) & (long["members"] >= min_members)]
        share = self.shares.stack().rename("share").reset_index()
        share.columns = ["from_segment", "to_segment", "share_of_from"]
        return long.merge(share, on=["from_segment", "to_segment"]).sort_values("members", ascending=False).reset_index(drop=True)

    def table(self) -> pd.DataFrame:
        return self.counts


def compute_migration(rfm_from: pd.DataFrame, rfm_to: pd.DataFrame, date_from: str, date_to: str) -> Migration:
    """Transition matrix of RFM segments between two scorings."""
    j = rfm_from[["member_id", "segment"]].merge(rfm_to[["member_id", "segment"]], on="member_id", suffixes=("_from", "_to"))
    counts = pd.crosstab(j["segment_from"], j["segment_to"], dropna=False)
    counts = counts.reindex(index=list(SEGMENTS), columns=list(SEGMENTS), fill_value=0)
    return Migration(str(date_from), str(date_to), counts)


# --- profiles and output ---------------------------------------------------------------


def compute_profiles(features: pd.DataFrame, rfm: pd.DataFrame, by: str, min_size: int = 10) -> pd.DataFrame:
    """Segment mix per demographic group (age band or gender); groups under ``min_size`` suppressed."""
    df = features[["member_id", by]].merge(rfm[["member_id", "segment", "monetary"]], on="member_id")
    tab = pd.crosstab(df[by], df["segment"], normalize="index")
    sizes = df.groupby(by, observed=True).agg(members=("member_id", "size"), spend_per_member=("monetary", "mean"))
    out = sizes.join(tab)
    small = out["members"] < min_size
    out = out.astype(object)
    out.loc[small, :] = None
    out.loc[small, "members"] = f"<{min_size}"
    return out.reset_index()


def age_band(age: pd.Series) -> pd.Series:
    """The report-wide age bands (:data:`~analysis.data.config.AGE_BAND_LABELS`) of ages in years."""
    return pd.cut(age, list(AGE_BAND_EDGES), labels=list(AGE_BAND_LABELS))


def add_age_band(features: pd.DataFrame) -> pd.DataFrame:
    out = features.copy()
    if "age" in out.columns:
        out["age_band"] = age_band(out["age"])
    return out


def write_member_segments(rfm: pd.DataFrame, clusters: ClusterResult | None, export_dir: str | Path) -> Path | None:
    """Write ``member_segments.parquet`` (for targeting) into the run's exports folder.

    Holds the raw ``member_id`` (needed to contact members) and its pseudonym; it is a data
    file for the campaign team, kept outside the shareable report site (the runner passes
    ``exports/<label>/``) and never linked from a report. Nothing is written when
    ``export_dir`` is empty.
    """
    if not export_dir:
        return None
    out = rfm[["member_id", "r_score", "f_score", "m_score", "segment"]].copy()
    out["segment"] = out["segment"].astype(str)
    out.insert(1, "pseudonym", pseudonymize(out["member_id"]))
    if clusters is not None:
        out["cluster"] = (
            clusters.labels.reindex(range(len(clusters.members)))
            .set_axis(clusters.members["member_id"])
            .reindex(out["member_id"])
            .to_numpy()
        )
    path = Path(export_dir) / "member_segments.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    out.to_parquet(path, index=False)
    return path
