"""Who is about to fall asleep: a logistic sleep-risk model trained and tested on two dates, and its scores."""

from __future__ import annotations

from dataclasses import dataclass, field

import ibis
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from statsmodels.discrete.discrete_model import Logit
from statsmodels.tools.tools import add_constant

from analysis.data.dataset import MallData
from analysis.data.errors import NotApplicable
from analysis.statistics.features import compute_member_features
from analysis.statistics.results import Result

# --- sleep risk ----------------------------------------------------------------------


@dataclass(frozen=True)
class SleepRiskModel(Result):
    """Logistic model of falling asleep within ``horizon_days`` of a date."""

    train_date: pd.Timestamp
    test_date: pd.Timestamp
    horizon_days: int
    auc: float
    calibration: pd.DataFrame
    drivers: pd.DataFrame
    fit: object = field(repr=False)
    columns: tuple[str, ...] = ()

    def table(self) -> pd.DataFrame:
        return self.drivers


RISK_FEATURES = ("log_recency", "log_frequency", "log_monetary", "log_tenure", "visit_share")


def _add_risk_features(f: pd.DataFrame) -> pd.DataFrame:
    """The model's inputs (:data:`RISK_FEATURES`) from a member-feature table, added in place."""
    f["log_recency"] = np.log1p(f["recency_days"])
    f["log_frequency"] = np.log1p(f["frequency"])
    f["log_monetary"] = np.log1p(f["monetary"])
    f["log_tenure"] = np.log1p(f["tenure_days"])
    days = f["visit_days_without_purchase"] + f["purchase_days"]
    f["visit_share"] = (f["visit_days_without_purchase"] / days.replace(0, np.nan)).fillna(0)
    return f


def _could_fall_asleep(date: pd.Timestamp, horizon_days: int, sleeping_days: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Last-purchase dates of the members :func:`_can_fall_asleep` keeps (for filtering in the engine)."""
    date = pd.Timestamp(date).normalize()
    return date - pd.Timedelta(days=sleeping_days - 1), date - pd.Timedelta(days=sleeping_days - horizon_days)


def _can_fall_asleep(f: pd.DataFrame, horizon_days: int, sleeping_days: int) -> pd.Series:
    # awake now, and far enough from the last purchase to reach the threshold within the horizon:
    # for them the question is whether they buy again in time (for the others it cannot happen)
    return (
        (f["recency_days"] < sleeping_days) & (f["recency_days"] >= sleeping_days - horizon_days) & (f["lifetime_purchases"] > 0)
    )


def sleep_risk_frame(
    data: MallData, date, horizon_days: int = 90, sleeping_days: int = 180, window_days: int = 365
) -> pd.DataFrame:
    """Features at ``date`` of members who can fall asleep within ``horizon_days`` (awake, last
    purchase at least ``sleeping_days - horizon_days`` ago) and whether they did."""
    date = pd.Timestamp(date)
    f = compute_member_features(
        data, date, window_days, categories=False, last_purchase_between=_could_fall_asleep(date, horizon_days, sleeping_days)
    )
    f = f[_can_fall_asleep(f, horizon_days, sleeping_days)].copy()
    # the outcome needs only the last purchase up to date + horizon (one aggregation, not a
    # second full feature table)
    later_day = (date + pd.Timedelta(days=horizon_days)).normalize()
    days = data.purchase_days
    last = (
        days.filter(days.day <= ibis.literal(later_day.date()))
        .group_by("member_id")
        .aggregate(last_purchase_later=days.day.max())
        .to_pandas()
    )
    f = f.merge(last, on="member_id")  # everyone here has bought before ``date``
    f["recency_later"] = (later_day - pd.to_datetime(f["last_purchase_later"]).dt.normalize()).dt.days
    f["asleep_later"] = (f["recency_later"] >= sleeping_days).astype(int)
    return _add_risk_features(f)


def fit_sleep_risk(data: MallData, train_date, test_date, horizon_days: int = 90, sleeping_days: int = 180) -> SleepRiskModel:
    """Train on members' features at ``train_date``, test on ``test_date`` (time-based split).

    ``test_date + horizon_days`` must not be after the analysis date (the outcome must be seen).
    """
    train_date, test_date = pd.Timestamp(train_date), pd.Timestamp(test_date)
    if test_date + pd.Timedelta(days=horizon_days) > pd.Timestamp(data.as_of):
        raise ValueError(f"test date {test_date.date()} + {horizon_days} days is after the analysis date {data.as_of}")
    if train_date + pd.Timedelta(days=horizon_days) > test_date:
        raise ValueError("the training outcome window must end before the test date (no leakage)")
    first = data.purchase_days.day.min().to_pandas()
    if first is None or pd.isna(first) or pd.Timestamp(first) + pd.Timedelta(days=sleeping_days) > train_date:
        raise NotApplicable(
            "risk.short_history",
            train=train_date.date(),
            days=sleeping_days,
            first=None if first is None or pd.isna(first) else pd.Timestamp(first).date(),
        )
    train = sleep_risk_frame(data, train_date, horizon_days, sleeping_days)
    test = sleep_risk_frame(data, test_date, horizon_days, sleeping_days)
    for window, frame in (("training", train), ("test", test)):
        if len(frame) < 20 or frame["asleep_later"].nunique() < 2:
            raise NotApplicable(
                f"risk.one_class_{window}", n=len(frame), asleep=int(frame["asleep_later"].sum()) if len(frame) else 0
            )
    cols = [c for c in RISK_FEATURES if train[c].std() > 0]  # e.g. no visits table: visit_share is all zero
    Xtr = add_constant(train[cols])
    fit = Logit(train["asleep_later"], Xtr).fit(disp=False)
    p = fit.predict(add_constant(test[cols], has_constant="add"))
    auc = float(roc_auc_score(test["asleep_later"], p)) if test["asleep_later"].nunique() == 2 else float("nan")
    test = test.assign(risk=p)
    test["decile"] = pd.qcut(test["risk"].rank(method="first"), 10, labels=False) + 1
    cal = (
        test.groupby("decile")
        .agg(members=("member_id", "size"), predicted=("risk", "mean"), observed=("asleep_later", "mean"))
        .reset_index()
    )
    # drivers: odds ratio per standard deviation of each feature
    sd = train[cols].std()
    ci = fit.conf_int()
    drivers = pd.DataFrame(
        {
            "feature": cols,
            "odds_ratio_per_sd": np.exp(fit.params[cols] * sd),
            "ci_low": np.exp(ci.loc[cols, 0] * sd),
            "ci_high": np.exp(ci.loc[cols, 1] * sd),
            "p_value": fit.pvalues[cols],
        }
    ).reset_index(drop=True)
    return SleepRiskModel(train_date, test_date, horizon_days, auc, cal, drivers, fit, tuple(cols))


def score_sleep_risk(model: SleepRiskModel, data: MallData, date=None, sleeping_days: int = 180) -> pd.DataFrame:
    """Risk of falling asleep within the model's horizon for members who can, at ``date``."""
    date = pd.Timestamp(date or data.as_of)
    f = compute_member_features(
        data, date, 365, categories=False, last_purchase_between=_could_fall_asleep(date, model.horizon_days, sleeping_days)
    )
    f = f[_can_fall_asleep(f, model.horizon_days, sleeping_days)].copy()
    f = _add_risk_features(f)
    f["risk"] = model.fit.predict(add_constant(f[list(model.columns)], has_constant="add"))
    return (
        f[["member_id", "tier", "recency_days", "frequency", "monetary", "risk"]]
        .sort_values("risk", ascending=False)
        .reset_index(drop=True)
    )
