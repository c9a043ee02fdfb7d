"""Data overview: coverage, members by tier and cohort, activity over time, missing values."""

from __future__ import annotations

import ibis
import pandas as pd

from analysis.data.dataset import SENSITIVE_COLUMNS, MallData, is_purchase


def compute_table_coverage(data: MallData) -> pd.DataFrame:
    """Rows, members and date coverage per table."""
    rows = []
    spans = {"members": "join_date", "transactions": "ts", "visits": "ts", "campaigns": "start_date", "contacts": None}
    for name, col in spans.items():
        t = data.table(name)
        aggs = {"rows": t.count()}
        if "member_id" in t.columns:
            aggs["members"] = t.member_id.nunique()
        if col:
            aggs["first"] = t[col].min().cast("date")
            aggs["last"] = t[col].max().cast("date")
        res = t.aggregate(**aggs).to_pandas().iloc[0].to_dict()
        rows.append({"table": name, "file": data.origins.get(name, "(absent)"), **res})
    return pd.DataFrame(rows)


def compute_members_by_tier(data: MallData) -> pd.DataFrame:
    """Members per tier (in tier order) with their share."""
    m = data.members
    df = m.group_by("tier").aggregate(members=m.count()).to_pandas()
    df["tier"] = pd.Categorical(df["tier"], categories=list(data.tiers), ordered=True)
    df = df.sort_values("tier").reset_index(drop=True)
    df["share"] = df["members"] / df["members"].sum()
    return df


def compute_join_cohorts(data: MallData) -> pd.DataFrame:
    """Members joining per year and tier (rows: join year; columns: tiers)."""
    m = data.members
    df = m.group_by(year=m.join_date.year(), tier=m.tier).aggregate(members=m.count()).to_pandas()
    table = df.pivot_table(index="year", columns="tier", values="members", fill_value=0, observed=True)
    return table.reindex(columns=[t for t in data.tiers if t in table.columns])


def compute_monthly_activity(data: MallData) -> pd.DataFrame:
    """Spend, purchases, purchasing members and visits per calendar month (computed in the engine)."""
    t = data.transactions
    buy = is_purchase(t)  # returns are netted into spend but are not purchases
    tx = t.group_by(month=t.ts.truncate("M").cast("date")).aggregate(
        spend=t.amount.sum(),
        purchases=t.count(where=buy),
        buyers=buy.ifelse(t.member_id, ibis.null().cast("string")).nunique(),
    )
    v = data.visits
    vis = v.group_by(month=v.ts.truncate("M").cast("date")).aggregate(visits=v.count(), visitors=v.member_id.nunique())
    df = tx.outer_join(vis, "month").to_pandas()
    if "month_right" in df.columns:
        df["month"] = df["month"].fillna(df.pop("month_right"))
    df["month"] = pd.to_datetime(df["month"])
    df = df.sort_values("month").reset_index(drop=True)
    for c in ("spend", "purchases", "buyers", "visits", "visitors"):
        df[c] = df[c].fillna(0)
    df["spend"] = df["spend"].astype(float).round(6)  # a parallel sum's last bits depend on the engine's order
    df["average_ticket"] = df["spend"] / df["purchases"].where(df["purchases"] > 0)
    return df


def compute_missing_values(data: MallData) -> pd.DataFrame:
    """Share of missing values per column of every table (identifying columns listed, not shown)."""
    rows = []
    for name in ("members", "transactions", "visits", "campaigns", "contacts"):
        if name not in data.origins:
            continue
        t = data.table(name)
        n = t.count().to_pandas()
        if not n:
            continue
        aggs = {c: t[c].isnull().sum() for c in t.columns}
        res = t.aggregate(**aggs).to_pandas().iloc[0]
        for c in t.columns:
            rows.append(
                {
                    "table": name,
                    "column": c,
                    "missing": int(res[c]),
                    "missing_share": (res[c] / n) if n else 0.0,
                    "identifying": c.lower() in SENSITIVE_COLUMNS,
                }
            )
    return pd.DataFrame(rows)
