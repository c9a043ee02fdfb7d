"""Interrupted time series for campaigns without a holdout.

Weekly *reactivations* (a purchase by a member of the target tier whose previous purchase, or
joining, lies at least ``sleeping_days`` back) are modelled before a campaign with a
structural time-series model (statsmodels ``UnobservedComponents``: local level plus a yearly
trigonometric season); its forecast after the start is the counterfactual band.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import ibis
import numpy as np
import pandas as pd
from statsmodels.tsa.statespace.structural import UnobservedComponents

from analysis.data.dataset import MallData
from analysis.data.errors import NotApplicable
from analysis.statistics.clv import ConvergenceWarning
from analysis.statistics.results import Result


def compute_weekly_reactivations(data: MallData, tier: str = "gold", sleeping_days: int = 180) -> pd.DataFrame:
    """Reactivations per week (Monday start), computed with a window function in the engine."""
    _ = ibis._
    m, t = data.members, data.purchases
    members = m if tier == "all" else m.filter(m.tier == tier)
    tx = t.join(members.select("member_id", "join_date"), "member_id")
    w = ibis.window(group_by="member_id", order_by="ts")
    tx = tx.mutate(prev=_.ts.lag().over(w))
    tx = tx.mutate(prev=_.prev.fill_null(_.join_date.cast("timestamp")))
    react = tx.filter(_.ts.delta(_.prev, unit="day") >= sleeping_days)
    weekly = react.group_by(week=_.ts.truncate("W").cast("date")).aggregate(reactivations=_.count()).to_pandas()
    weekly["week"] = pd.to_datetime(weekly["week"])
    full = pd.date_range(weekly["week"].min(), weekly["week"].max(), freq="W-MON") if len(weekly) else []
    return weekly.set_index("week").reindex(full, fill_value=0).rename_axis("week").reset_index()


@dataclass(frozen=True)
class CounterfactualResult(Result):
    """Actual weekly reactivations after ``start`` against the model's counterfactual band."""

    start: pd.Timestamp
    alpha: float
    series: pd.DataFrame  # week, actual, predicted, ci_low, ci_high, period ("before"/"after")
    fit: object = field(repr=False)

    @property
    def after(self) -> pd.DataFrame:
        return self.series[self.series["period"] == "after"]

    @property
    def cumulative_effect(self) -> float:
        a = self.after
        return float((a["actual"] - a["predicted"]).sum())

    def table(self) -> pd.DataFrame:
        a = self.after
        return pd.DataFrame(
            [
                {
                    "weeks": len(a),
                    "actual": a["actual"].sum(),
                    "counterfactual": a["predicted"].sum(),
                    "extra_reactivations": self.cumulative_effect,
                    "weeks_above_band": int((a["actual"] > a["ci_high"]).sum()),
                }
            ]
        )


#: Weeks of history a counterfactual needs before the campaign (half a year).
MIN_WEEKS_BEFORE = 26


def _split(weekly: pd.DataFrame, start, weeks_after: int):
    wk = weekly.set_index("week")["reactivations"].astype(float) if len(weekly) else pd.Series(dtype=float)
    pre = wk[wk.index < start - pd.Timedelta(days=6)]
    post = wk[wk.index >= start - pd.Timedelta(days=6)].iloc[:weeks_after]
    return pre, post


def counterfactual_problem(weekly: pd.DataFrame, start, weeks_after: int = 6) -> NotApplicable | None:
    """Why the counterfactual cannot be modelled for a campaign starting at ``start`` (``None``: it can)."""
    start = pd.Timestamp(start)
    pre, post = _split(weekly, start, weeks_after)
    if len(pre) < MIN_WEEKS_BEFORE:
        return NotApplicable("timeseries.few_weeks_before", needed=MIN_WEEKS_BEFORE, start=start.date(), n=len(pre))
    if not len(post):
        return NotApplicable("timeseries.ends_before_start", start=start.date())
    return None


def estimate_counterfactual(weekly: pd.DataFrame, start, weeks_after: int = 6, alpha: float = 0.05) -> CounterfactualResult:
    """Fit on the weeks before ``start`` and forecast ``weeks_after`` weeks as the counterfactual."""
    start = pd.Timestamp(start)
    pre, post = _split(weekly, start, weeks_after)
    problem = counterfactual_problem(weekly, start, weeks_after)
    if problem:
        raise problem
    pre.index.freq = None
    model = UnobservedComponents(
        np.log1p(pre.to_numpy()),
        level="local level",
        freq_seasonal=[{"period": 52.18, "harmonics": 2}] if len(pre) >= 80 else None,
    )
    from statsmodels.tools.sm_exceptions import ConvergenceWarning as SMConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SMConvergenceWarning)  # recorded below and re-raised as the project's warning
        fit = model.fit(disp=False, maxiter=200)
    if not fit.mle_retvals.get("converged", True):
        warnings.warn(
            f"the time-series model did not converge in {fit.mle_retvals.get('iterations', 200)} iterations; "
            "its band is approximate",
            ConvergenceWarning,
            stacklevel=2,
        )
    fc = fit.get_forecast(steps=len(post))
    mean = np.expm1(fc.predicted_mean)
    lo, hi = np.expm1(fc.conf_int(alpha=alpha)).T
    fitted = np.expm1(fit.fittedvalues)
    before = pd.DataFrame(
        {
            "week": pre.index,
            "actual": pre.to_numpy(),
            "predicted": fitted,
            "ci_low": np.nan,
            "ci_high": np.nan,
            "period": "before",
        }
    )
    after = pd.DataFrame(
        {
            "week": post.index,
            "actual": post.to_numpy(),
            "predicted": mean,
            "ci_low": np.maximum(lo, 0),
            "ci_high": hi,
            "period": "after",
        }
    )
    return CounterfactualResult(start, alpha, pd.concat([before, after], ignore_index=True), fit)
