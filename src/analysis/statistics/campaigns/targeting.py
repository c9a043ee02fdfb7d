"""For whom it works: effects within subgroups (Holm-adjusted) and the ranked whom-to-target table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.data.config import RFM_WINDOW_DAYS
from analysis.data.dataset import MallData
from analysis.statistics.campaigns.effects import _rate_diff
from analysis.statistics.campaigns.outcomes import DEFAULT_CONTROL
from analysis.statistics.features import compute_rfm_inputs
from analysis.statistics.segmentation import age_band, compute_rfm_scores

# --- heterogeneity -------------------------------------------------------------------


def holm(p_values) -> np.ndarray:
    """Holm-adjusted p-values: the k-th smallest of m times (m - k + 1), made monotone, capped at 1.

    The same numbers as statsmodels' ``multipletests(method="holm")`` (a test checks it), which
    ends its Holm branch with a full ``gc.collect()`` (statsmodels PR #8671): 0.1-0.3 s per call in
    a kernel holding a data set, 7 s over the campaign report's tables.
    """
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p, kind="stable")
    m = len(p)
    adjusted = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    out = np.empty(m)
    out[order] = adjusted
    return out


def estimate_heterogeneity(
    outcomes: pd.DataFrame,
    features: pd.DataFrame,
    campaign_id: str,
    arm: str,
    by: str,
    control_arm: str = DEFAULT_CONTROL,
    alpha: float = 0.05,
    min_size: int = 10,
) -> pd.DataFrame:
    """Return-rate effect of ``arm`` within each level of ``by``, Holm-adjusted across levels.

    Levels with fewer than ``min_size`` members in either arm are dropped (too small to show).
    """
    df = outcomes[(outcomes["campaign_id"] == campaign_id) & outcomes["arm"].isin([arm, control_arm])]
    df = df.merge(features[["campaign_id", "member_id", by]], on=["campaign_id", "member_id"], how="left")
    rows = []
    for level, grp in df.groupby(by, observed=True, sort=True):
        t, c = grp[grp["arm"] == arm], grp[grp["arm"] == control_arm]
        if len(t) < min_size or len(c) < min_size:
            continue
        est, lo, hi, p = _rate_diff(int(t["returned"].sum()), len(t), int(c["returned"].sum()), len(c), alpha)
        rows.append(
            {by: level, "n_treated": len(t), "n_control": len(c), "estimate": est, "ci_low": lo, "ci_high": hi, "p_value": p}
        )
    res = pd.DataFrame(rows)
    if len(res):
        ok = res["p_value"].notna()
        res["p_holm"] = np.nan
        if ok.any():
            res.loc[ok, "p_holm"] = holm(res.loc[ok, "p_value"])
    return res


#: Upper edges (days, inclusive) of the recency bands of heterogeneity tables.
RECENCY_BAND_EDGES = (270, 365, 540)


def band_labels(edges, unit: str = " d") -> list[str]:
    """Labels that say exactly what bands with inclusive upper ``edges`` hold: ``0-270 d``,
    ``271-365 d``, ..., ``541+ d`` (whole units)."""
    labels, low = [], 0
    for edge in edges:
        labels.append(f"{low}-{edge}{unit}")
        low = edge + 1
    return labels + [f"{low}+{unit}"]


def add_bands(features: pd.DataFrame) -> pd.DataFrame:
    """Recency and age bands for heterogeneity tables (age bands: the report-wide ones)."""
    out = features.copy()
    out["recency_band"] = pd.cut(
        out["recency_days"], [-np.inf, *RECENCY_BAND_EDGES, np.inf], labels=band_labels(RECENCY_BAND_EDGES)
    )
    out["age_band"] = age_band(out["age"])
    return out


def arm_label(campaign_id: str, arm: str) -> str:
    """How a campaign's arm is named in tables that list several campaigns: ``"W2 / call"``."""
    return f"{campaign_id} / {arm}"


def estimate_heterogeneity_by_arm(
    outcomes: pd.DataFrame,
    features: pd.DataFrame,
    data: MallData,
    treated,
    variables: list[str],
    control_arm: str = DEFAULT_CONTROL,
    alpha: float = 0.05,
) -> tuple[dict, list[str]]:
    """:func:`estimate_heterogeneity` for every treated ``(campaign_id, arm)`` and every variable.

    ``features`` are the pre-campaign features (:func:`compute_precampaign_features`); recency
    and age bands are added, and ``rfm_segment`` (the segment the day before each campaign) when
    asked for. Returns the tables keyed by ``(arm_label, variable)`` (the shape
    :func:`rank_targets` ranks) and the variables that are not columns of the members or bands.
    """
    treated = list(treated)
    banded = add_bands(features)
    if "rfm_segment" in variables and treated:
        segments = pd.concat([segment_at_start(data, cid) for cid in sorted({c for c, _ in treated})], ignore_index=True)
        banded = banded.merge(segments, on=["campaign_id", "member_id"], how="left")
    missing = [v for v in variables if v not in banded.columns]
    tables = {
        (arm_label(cid, arm), by): estimate_heterogeneity(outcomes, banded, cid, arm, by, control_arm, alpha)
        for cid, arm in treated
        for by in variables
        if by not in missing
    }
    return tables, missing


def segment_at_start(data: MallData, campaign_id: str, window_days: int = RFM_WINDOW_DAYS) -> pd.DataFrame:
    """RFM segment of every member the day before ``campaign_id`` started.

    Scores are relative to all members who had joined by then (not only the contacted ones), so
    the segment means what it means in the segmentation report. Columns ``campaign_id``,
    ``member_id``, ``rfm_segment``.
    """
    k = data.campaigns
    start = pd.Timestamp(k.filter(k.campaign_id == campaign_id).start_date.to_pandas().iloc[0])
    rfm = compute_rfm_scores(compute_rfm_inputs(data, as_of=start - pd.Timedelta(days=1), window_days=window_days))
    return pd.DataFrame({"campaign_id": campaign_id, "member_id": rfm["member_id"], "rfm_segment": rfm["segment"]})


#: The advice for a subgroup that responds but whose extra spend does not cover its cost.
COSTS_MORE = "costs more than it brings"


def rank_targets(heterogeneity: dict, cost_per_contact, alpha: float = 0.05, value_per_return=None) -> pd.DataFrame:
    """Which members to target next: every subgroup of every heterogeneity table, ranked.

    For each subgroup: the effect on the return rate with its interval, and the cost per
    incremental returned member (``cost_per_contact / effect``; undefined when the effect is not
    positive or the cost unknown). Subgroups that hold exactly the same members under two
    variables (for example a recency band that equals an RFM segment) are listed once, naming
    both. The Holm correction runs over the whole ranked table (``p_holm``), because the table
    is read as one list: ``advice`` is ``"target"`` when that p-value is below ``alpha`` and the
    effect is positive, ``"skip"`` when the whole interval lies below zero, otherwise
    ``"no evidence"``. Sorted by advice, then by cost per incremental return.

    The money decides too, by the rule the next-wave list follows: with ``value_per_return``
    (what an incremental return brings: the margin, or the spend itself at a 100 % margin when no
    margin is known) and a known cost, ``net_per_contacted`` = effect x value - cost, and a
    subgroup that responds but whose ``net_per_contacted`` is not positive is advised
    ``"costs more than it brings"`` instead of ``"target"``.

    Keys of ``heterogeneity`` are variable names, or ``(arm label, variable)`` pairs to rank the
    subgroups of several treated arms in one table (an ``arm`` column is then added, and
    ``cost_per_contact`` may map each arm label to its cost per contacted member).
    """
    rows, seen = [], {}
    for key, tab in heterogeneity.items():
        group, var = key if isinstance(key, tuple) else (None, key)
        cost = cost_per_contact.get(group, np.nan) if isinstance(cost_per_contact, dict) else cost_per_contact
        worth = (
            value_per_return.get(group, np.nan)
            if isinstance(value_per_return, dict)
            else (np.nan if value_per_return is None else value_per_return)
        )
        for _, r in tab.iterrows():
            same = (
                group,
                int(r["n_treated"]),
                int(r["n_control"]),
                round(float(r["estimate"]), 12),
                round(float(r["ci_low"]), 12),
            )
            if same in seen:  # the same members under another variable
                rows[seen[same]]["level"] += f" (= {var} {r[var]})"
                continue
            seen[same] = len(rows)
            est = float(r["estimate"])
            rows.append(
                {
                    "arm": group,
                    "variable": var,
                    "level": str(r[var]),
                    "n_treated": int(r["n_treated"]),
                    "estimate": est,
                    "ci_low": float(r["ci_low"]),
                    "ci_high": float(r["ci_high"]),
                    "p_value": float(r["p_value"]),
                    "cost_per_incremental_return": cost / est if est > 0 else np.nan,
                    "net_per_contacted": est * worth - cost,
                }
            )
    out = pd.DataFrame(
        rows,
        columns=[
            "arm",
            "variable",
            "level",
            "n_treated",
            "estimate",
            "ci_low",
            "ci_high",
            "p_value",
            "cost_per_incremental_return",
            "net_per_contacted",
        ],
    )
    if not any(isinstance(k, tuple) for k in heterogeneity):
        out = out.drop(columns="arm")
    out["p_holm"] = np.nan
    ok = out["p_value"].notna()
    if ok.any():
        out.loc[ok, "p_holm"] = holm(out.loc[ok, "p_value"])
    responds = (out["p_holm"] < alpha) & (out["estimate"] > 0)
    loses = out["net_per_contacted"].notna() & (out["net_per_contacted"] <= 0)
    out["advice"] = np.where(
        responds & loses, COSTS_MORE, np.where(responds, "target", np.where(out["ci_high"] < 0, "skip", "no evidence"))
    )
    out = out.drop(columns="p_value")
    if out["net_per_contacted"].isna().all():
        out = out.drop(columns="net_per_contacted")
    order = out["advice"].map({"target": 0, COSTS_MORE: 1, "no evidence": 2, "skip": 3})
    return (
        out.assign(_o=order)
        .sort_values(["_o", "cost_per_incremental_return"], na_position="last")
        .drop(columns="_o")
        .reset_index(drop=True)
    )


def shortlist(targets: pd.DataFrame, without_evidence: int = 10) -> tuple[pd.DataFrame, int]:
    """The rows of :func:`rank_targets` a reader acts on: every *target* and *skip*, and the first
    ``without_evidence`` of the rest (cheapest first); returns them and how many were left out."""
    decided = targets["advice"] != "no evidence"
    rest = targets.index[~decided][:without_evidence]
    keep = targets.index[decided].union(rest)
    return targets.loc[keep].reset_index(drop=True), int(len(targets) - len(keep))
