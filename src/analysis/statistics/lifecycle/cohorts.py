"""Join cohorts: the share buying and spend per member by months since joining."""

from __future__ import annotations

import ibis
import pandas as pd

from analysis.data.dataset import MallData


def partial_last_month(as_of) -> tuple[str, int] | None:
    """The analysis date's month and how many of its days the data cover, when the date is not
    that month's last day (its figures are partial), else ``None``."""
    day = pd.Timestamp(as_of)
    if day.is_month_end:
        return None
    return day.strftime("%Y-%m"), int(day.day)


def compute_cohort_retention(data: MallData, max_months: int = 24, tier: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Share of each join-month cohort buying k months after joining, and spend per member.

    Returns (retention shares, spend per cohort member), rows join month, columns k = 0..max_months.
    Cohorts that joined before the first transaction month are left out (their early months
    are not in the data). The analysis date's month is left out when the data cover only part
    of it (:func:`partial_last_month`): a partial month reads as a drop that did not happen.
    """
    _ = ibis._
    m = data.members
    if tier:
        m = m.filter(m.tier == tier)
    days = data.purchase_days
    first_month = pd.Timestamp(days.day.min().to_pandas()).to_period("M").to_timestamp()
    m = m.filter(m.join_date >= ibis.literal(first_month.date())).mutate(cohort=_.join_date.truncate("M"))
    sizes = m.group_by("cohort").aggregate(size=_.count()).to_pandas()
    tx = days.join(m.select("member_id", "cohort"), "member_id").mutate(month=_.day.truncate("M").cast("date"))
    act = tx.group_by(["cohort", "month"]).aggregate(buyers=_.member_id.nunique(), spend=_.spend.sum()).to_pandas()
    act["cohort"], act["month"] = pd.to_datetime(act["cohort"]), pd.to_datetime(act["month"])
    act["k"] = (act["month"].dt.year - act["cohort"].dt.year) * 12 + act["month"].dt.month - act["cohort"].dt.month
    act = act[(act["k"] >= 0) & (act["k"] <= max_months)]
    partial = partial_last_month(data.as_of)
    if partial:
        act = act[act["month"] < pd.Timestamp(partial[0] + "-01")]
        sizes = sizes[pd.to_datetime(sizes["cohort"]) < pd.Timestamp(partial[0] + "-01")]
    sizes["cohort"] = pd.to_datetime(sizes["cohort"])
    act = act.merge(sizes, on="cohort")
    ret = act.pivot_table(index="cohort", columns="k", values="buyers").div(sizes.set_index("cohort")["size"], axis=0)
    spend = act.pivot_table(index="cohort", columns="k", values="spend").div(sizes.set_index("cohort")["size"], axis=0)
    ret.index = ret.index.strftime("%Y-%m")
    spend.index = spend.index.strftime("%Y-%m")
    return ret, spend
