"""Campaign outcomes per contacted member (returned, purchased, spend, cost in the response window) and per arm."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from analysis.data.dataset import MallData, is_purchase
from analysis.statistics.results import Phrase

DEFAULT_CONTROL = "holdout"


# --- outcomes ------------------------------------------------------------------------


def _campaigns(data: MallData, response_days: int | None):
    k = data.campaigns
    if response_days:
        if response_days < 1:
            raise ValueError(f"response_days must be at least 1, not {response_days}")
        k = k.mutate(response_days=ibis.literal(int(response_days)).cast("int32"))
    return k


def _windowed(data: MallData, events, campaign_ids, response_days=None):
    c, k = data.contacts, _campaigns(data, response_days)
    if campaign_ids:
        c = c.filter(c.campaign_id.isin(list(campaign_ids)))
    ck = (
        c.join(k, "campaign_id")
        .select(
            c.campaign_id,
            c.member_id,
            win_start=k.start_date.cast("timestamp"),
            win_end=(k.start_date + k.response_days.as_interval("D")).cast("timestamp"),
        )
        .view()
    )  # a fresh relation: joining onto a join's projection would extend the old join chain
    j = ck.join(events, [ck.member_id == events.member_id, events.ts >= ck.win_start, events.ts < ck.win_end])
    return ck, j


def has_contacts(data: MallData) -> bool:
    """Whether the data hold any campaign contact (``campaigns`` and ``contacts`` are optional)."""
    return bool(data.contacts.count().to_pandas())


def compute_campaign_outcomes(
    data: MallData, campaign_ids: list[str] | None = None, response_days: int | None = None
) -> pd.DataFrame:
    """One row per contact with its response-window outcomes.

    ``response_days`` overrides every campaign's own window length (e.g. to compare 14 with
    30 days); by default each campaign's ``response_days`` applies.

    Columns: the contact's own columns, ``start_date``, ``response_days``, ``returned``,
    ``purchased``, ``visited``, ``purchases``, ``spend``, ``days_to_return`` (from the start
    date to the first purchase or visit; NaN if none), ``cost`` (contact + gift; NaN, unknown,
    when the data record no cost for the contact: never taken as free).
    """
    t = data.transactions
    ck, jt = _windowed(data, t, campaign_ids, response_days)
    buy = is_purchase(jt)  # a return is not a purchase; its (negative) amount is netted into spend
    tx = jt.group_by(["campaign_id", "member_id"]).aggregate(
        purchases=jt.count(where=buy),
        spend=jt.amount.sum(),
        first_purchase=buy.ifelse(jt.ts, ibis.null().cast("timestamp")).min(),
    )
    tx = tx.filter(tx.purchases > 0)
    v = data.visits
    _, jv = _windowed(data, v, campaign_ids, response_days)
    vis = jv.group_by(["campaign_id", "member_id"]).aggregate(visits=jv.ts.count(), first_visit=jv.ts.min())
    c, k = data.contacts, _campaigns(data, response_days)
    if campaign_ids:
        c = c.filter(c.campaign_id.isin(list(campaign_ids)))
    base = c.join(k.select("campaign_id", "start_date", "response_days"), "campaign_id")
    out = (
        base.left_join(tx, ["campaign_id", "member_id"])
        .drop("campaign_id_right", "member_id_right")
        .left_join(vis, ["campaign_id", "member_id"])
        .drop("campaign_id_right", "member_id_right")
        .to_pandas()
    )
    if out.empty:
        raise ValueError("no contacts found" + (f" for campaigns {campaign_ids}" if campaign_ids else ""))
    out["purchases"] = out["purchases"].fillna(0).astype(int)
    out["visits"] = out["visits"].fillna(0).astype(int)
    out["spend"] = out["spend"].fillna(0.0).astype(float)
    out["purchased"] = out["purchases"] > 0
    out["visited"] = out["visits"] > 0
    out["returned"] = out["purchased"] | out["visited"]
    first = pd.concat([pd.to_datetime(out["first_purchase"]), pd.to_datetime(out["first_visit"])], axis=1).min(axis=1)
    out["days_to_return"] = (first - pd.to_datetime(out["start_date"])).dt.total_seconds() / 86400
    # unknown is not zero: a contact's cost is known only when every cost it has a column for is filled in
    recorded = [c for c in ("contact_cost", "gift_cost") if out[c].notna().any()]
    out["contact_cost"] = out["contact_cost"].astype(float)
    out["gift_cost"] = out["gift_cost"].astype(float)
    out["cost"] = out[recorded].sum(axis=1, min_count=len(recorded)) if recorded else np.nan
    out = out.drop(columns=["first_purchase", "first_visit"])
    window_end = pd.to_datetime(out["start_date"]) + pd.to_timedelta(out["response_days"].astype(float), unit="D")
    out["window_open"] = window_end > pd.Timestamp(data.as_of) + pd.Timedelta(days=1)  # outcomes not all seen yet
    return out.sort_values(["campaign_id", "arm", "member_id"]).reset_index(drop=True)


def open_windows(outcomes: pd.DataFrame) -> Phrase | None:
    """The campaigns whose response window had not closed on the analysis date (their figures are
    interim), with the day each window ends (``campaigns.still_running``); ``None`` when every
    window is closed."""
    if outcomes is None or "window_open" not in outcomes or not outcomes["window_open"].any():
        return None
    rows = outcomes[outcomes["window_open"]].drop_duplicates("campaign_id")
    ends = tuple(
        Phrase.of(
            "campaigns.window_ends",
            campaign=r.campaign_id,
            end=(pd.Timestamp(r.start_date) + pd.Timedelta(days=float(r.response_days))).date(),
        )
        for r in rows.itertuples()
    )
    return Phrase.of("campaigns.still_running", campaigns=ends)


def _check_control(outcomes: pd.DataFrame, control_arm: str, campaign_id: str | None = None) -> None:
    arms = outcomes.loc[outcomes["campaign_id"] == campaign_id, "arm"] if campaign_id else outcomes["arm"]
    if control_arm not in set(arms):
        where = f" in campaign {campaign_id}" if campaign_id else ""
        raise ValueError(f"control arm {control_arm!r} not found{where}; arms: {sorted(set(arms))}")


def summarize_arms(outcomes: pd.DataFrame, control_arm: str = DEFAULT_CONTROL) -> pd.DataFrame:
    """Per campaign and arm: contacted, reached, returned, spend, cost, and cost per (incremental) return."""
    g = outcomes.groupby(["campaign_id", "arm"], sort=True)
    s = g.agg(
        contacted=("member_id", "size"),
        reached=("reached", lambda x: x.fillna(False).astype(bool).sum() if x.notna().any() else np.nan),
        returned=("returned", "sum"),
        purchased=("purchased", "sum"),
        redeemed=("redeemed", lambda x: x.fillna(False).astype(bool).sum() if x.notna().any() else np.nan),
        spend=("spend", "sum"),
        cost=("cost", lambda x: x.sum() if x.notna().all() else np.nan),  # unknown stays unknown
    ).reset_index()
    s["return_rate"] = s["returned"] / s["contacted"]
    s["purchase_rate"] = s["purchased"] / s["contacted"]
    s["spend_per_contacted"] = s["spend"] / s["contacted"]
    s["spend_per_returner"] = s["spend"] / s["returned"].where(s["returned"] > 0)
    s["cost_per_returned"] = s["cost"] / s["returned"].where(s["returned"] > 0)
    ctrl = s[s["arm"] == control_arm].set_index("campaign_id")
    base_rate = s["campaign_id"].map(ctrl["return_rate"])
    base_spend = s["campaign_id"].map(ctrl["spend_per_contacted"])
    s["incremental_returned"] = (s["return_rate"] - base_rate) * s["contacted"]
    s["cost_per_incremental_return"] = s["cost"] / s["incremental_returned"].where(s["incremental_returned"] > 0)
    s["incremental_spend"] = (s["spend_per_contacted"] - base_spend) * s["contacted"]
    s["return_on_spend"] = s["incremental_spend"] / s["cost"].where(s["cost"] > 0)
    is_ctrl = s["arm"] == control_arm
    s.loc[is_ctrl, ["incremental_returned", "cost_per_incremental_return", "incremental_spend", "return_on_spend"]] = np.nan
    return s


def return_rate_interval(returned: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson interval of a single return rate."""
    lo, hi = proportion_confint(returned, n, alpha=alpha, method="wilson")
    return float(lo), float(hi)


def rates_with_intervals(arms: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Return rate per campaign and arm with its Wilson interval (for plots)."""
    out = arms[["campaign_id", "arm", "contacted", "returned", "return_rate"]].copy()
    bounds = [return_rate_interval(int(r), int(n), alpha) for r, n in zip(out["returned"], out["contacted"])]
    out["ci_low"], out["ci_high"] = zip(*bounds) if bounds else ([], [])
    out["label"] = out["campaign_id"] + " / " + out["arm"]
    return out
