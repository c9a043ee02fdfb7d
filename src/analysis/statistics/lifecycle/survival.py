"""Time to fall asleep: Kaplan-Meier curves, log-rank test, Cox model and its proportional-hazards check."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import ibis
import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.duration.survfunc import SurvfuncRight, survdiff
from statsmodels.tools.sm_exceptions import ConvergenceWarning

from analysis.data.dataset import MallData
from analysis.data.errors import NotApplicable
from analysis.statistics.results import Phrase, Result
from analysis.statistics.segmentation import age_band

# --- time to sleep -------------------------------------------------------------------


def compute_time_to_sleep(data: MallData, sleeping_days: int = 180, as_of=None, early_days: int = 90) -> pd.DataFrame:
    """Days from joining to falling asleep (the first gap of ``sleeping_days`` without a purchase).

    Per member: ``duration`` (days), ``event`` (1 = fell asleep, 0 = censored at ``as_of``),
    ``tier``, ``age``, ``join_year`` and ``early_spend`` (spend in the first ``early_days``).
    Members who joined before the first transaction in the data are left out (left-truncated).
    """
    _ = ibis._
    end = pd.Timestamp(as_of or data.as_of).normalize()
    pdays = data.purchase_days
    first_day = pd.Timestamp(pdays.day.min().to_pandas()).normalize()
    cols = ["member_id", "join_date", "tier"] + (["birth_year"] if "birth_year" in data.members.columns else [])
    m = data.members.filter(data.members.join_date >= ibis.literal(first_day.date())).select(*cols)
    days = pdays.filter(pdays.day <= ibis.literal(end.date())).select("member_id", "day", amount=_.spend)
    days = days.join(m.select("member_id", "join_date"), "member_id")
    w = ibis.window(group_by="member_id", order_by="day")
    days = days.mutate(prev=_.day.lag().over(w))
    days = days.mutate(gap_start=_.prev.fill_null(_.join_date))
    gaps = days.filter(_.day.delta(_.gap_start, unit="day") >= sleeping_days)
    first_sleep = gaps.group_by("member_id").aggregate(sleep_from=_.gap_start.min())
    last = days.group_by("member_id").aggregate(
        last_day=_.day.max(), early_spend=(_.day.delta(_.join_date, unit="day") < early_days).ifelse(_.amount, 0.0).sum()
    )
    df = (
        m.left_join(first_sleep, "member_id")
        .drop("member_id_right")
        .left_join(last, "member_id")
        .drop("member_id_right")
        .to_pandas()
    )
    df = df.sort_values("member_id", kind="stable").reset_index(drop=True)  # member order: reproducible samples
    df["early_spend"] = df["early_spend"].astype(float).round(6)  # a sum in engine order differs in the last bit
    join = pd.to_datetime(df["join_date"])
    last_seen = pd.to_datetime(df["last_day"]).fillna(join)
    sleep_gap = pd.to_datetime(df["sleep_from"])
    # no sleeping gap between purchases: asleep if the open gap since the last purchase reached the threshold
    open_sleep = last_seen.where((end - last_seen).dt.days >= sleeping_days)
    start_of_gap = sleep_gap.fillna(open_sleep)
    df["event"] = start_of_gap.notna().astype(int)
    asleep_at = start_of_gap + pd.Timedelta(days=sleeping_days)
    df["duration"] = np.where(df["event"] == 1, (asleep_at - join).dt.days, (end - join).dt.days).astype(float)
    df["early_spend"] = df["early_spend"].fillna(0.0)
    df["join_year"] = join.dt.year.astype(str)
    if "birth_year" in df.columns:
        df["age"] = end.year - df["birth_year"]
    df = df[df["duration"] > 0]
    return df.drop(columns=["sleep_from", "last_day"]).reset_index(drop=True)


def _pointwise_band(sf: SurvfuncRight, alpha: float):
    """Pointwise log-log band around a Kaplan-Meier curve (Greenwood variance)."""
    z = stats.norm.ppf(1 - alpha / 2)
    s_ = np.clip(sf.surv_prob, 1e-12, 1 - 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = sf.surv_prob_se / (s_ * np.abs(np.log(s_)))
        lo = s_ ** np.exp(z * se)
        hi = s_ ** np.exp(-z * se)
    return np.nan_to_num(lo, nan=0.0), np.nan_to_num(hi, nan=1.0)


@dataclass(frozen=True)
class SurvivalResult(Result):
    """Kaplan-Meier curves by group, log-rank test, Cox model and its PH check."""

    by: str
    curves: pd.DataFrame  # group, time, survival, ci_low, ci_high
    logrank_chi2: float
    logrank_p: float
    cox: object = field(repr=False)
    hazard_ratios: pd.DataFrame = field(repr=False)
    ph_check: pd.DataFrame = field(repr=False)
    converged: bool = True  # the Cox fit reached its optimum (statsmodels raised no ConvergenceWarning)
    dropped: tuple = ()  # covariate levels left out of the Cox model: separated (no event, or every event)

    def table(self) -> pd.DataFrame:
        return self.hazard_ratios

    def fit_note(self) -> tuple[Phrase, ...]:
        """What was left out of the Cox model (``survival.dropped``), and that it did not converge
        (``survival.not_converged``); empty: nothing to say."""
        parts = []
        if self.dropped:
            parts.append(Phrase.of("survival.dropped", covariates=tuple(self.dropped)))
        if not self.converged:
            parts.append(Phrase.of("survival.not_converged"))
        return tuple(parts)

    def logrank_sentence(self) -> Phrase:
        """The log-rank result (``survival.logrank``); one group: there is nothing to compare."""
        if pd.isna(self.logrank_p):
            return Phrase.of("survival.one_group", group=self.by)
        return Phrase.of("survival.logrank", by=self.by, chi2=self.logrank_chi2, p=self.logrank_p)

    def ph_violations(self, alpha: float = 0.05) -> list[str]:
        """Covariates whose proportional-hazards check rejects the assumption at ``alpha``."""
        if self.ph_check is None or not len(self.ph_check):
            return []
        bad = self.ph_check[self.ph_check["p_value"] < alpha]
        return [str(c) for c in bad.iloc[:, 0]]

    def ph_note(self, alpha: float = 0.05) -> Phrase | None:
        """What the hazard ratios may claim when the PH check rejects the assumption (``survival.ph``;
        ``None``: it does not)."""
        bad = self.ph_violations(alpha)
        if not bad:
            return None
        return Phrase.of("survival.ph", covariates=tuple(bad), alpha=alpha)

    def median_days(self) -> pd.Series:
        c = self.curves
        return c[c["survival"] <= 0.5].groupby("group")["time"].min().rename("median_days_to_sleep")


def fit_survival(
    tts: pd.DataFrame,
    by: str = "tier",
    covariates=("tier", "join_year", "age_band", "log_early_spend"),
    alpha: float = 0.05,
    max_fit: int = 20_000,
    seed: int = 0,
) -> SurvivalResult:
    """Kaplan-Meier by ``by`` with pointwise bands, log-rank test, Cox PH with hazard ratios.

    The PH assumption is checked per covariate by :func:`ph_test` (scaled Schoenfeld residuals
    against the rank of event time; a small p-value flags a time-varying effect). The fit is
    reproducible: members are ordered by ``member_id`` before any sample is drawn.
    """
    if len(tts) == 0 or not tts["event"].any():
        raise NotApplicable("survival.no_joiners" if len(tts) == 0 else "survival.none_asleep")
    df = tts.sort_values("member_id", kind="stable").reset_index(drop=True) if "member_id" in tts.columns else tts.copy()
    df["log_early_spend"] = np.log1p(df["early_spend"])
    if "age" in df.columns:
        df["age_band"] = age_band(df["age"]).astype(str)
    rows = []
    for g, sub in df.groupby(by, sort=True):
        sf = SurvfuncRight(sub["duration"].to_numpy(), sub["event"].to_numpy())
        lo, hi = _pointwise_band(sf, alpha)
        rows.append(pd.DataFrame({"group": g, "time": sf.surv_times, "survival": sf.surv_prob, "ci_low": lo, "ci_high": hi}))
    curves = pd.concat(rows, ignore_index=True)
    if df[by].nunique() > 1:
        chi2, p = survdiff(df["duration"].to_numpy(), df["event"].to_numpy(), df[by].astype(str).to_numpy())
    else:  # one group (e.g. a mall without tiers): nothing to compare
        chi2, p = np.nan, np.nan
    sample = df.sample(min(max_fit, len(df)), random_state=seed) if len(df) > max_fit else df
    covs = [c for c in covariates if c in sample.columns]
    X = pd.get_dummies(sample[covs], drop_first=True, dtype=float)
    X = X.loc[:, X.std() > 0]
    dropped = tuple(separated_columns(X, sample["event"].to_numpy() == 1))
    X = X.drop(columns=list(dropped))
    if X.shape[1] == 0:  # no covariate varies: curves only
        return SurvivalResult(
            by,
            curves,
            float(chi2),
            float(p),
            None,
            pd.DataFrame(columns=["covariate", "hazard_ratio", "ci_low", "ci_high", "p_value"]),
            pd.DataFrame(columns=["covariate", "test_statistic", "p_value"]),
            dropped=dropped,
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # recorded: convergence goes into the result, not onto the report's stderr
        cox = PHReg(sample["duration"].to_numpy(), X.to_numpy(), status=sample["event"].to_numpy(), ties="efron").fit()
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught) and bool(
        np.isfinite(cox.params).all() and np.isfinite(cox.bse).all()
    )
    for w in caught:  # anything other than the optimizer's own numerical noise is passed on
        if not issubclass(w.category, (ConvergenceWarning, RuntimeWarning)):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    with np.errstate(over="ignore"):
        ci = np.exp(cox.conf_int(alpha=alpha))
    hr = pd.DataFrame(
        {
            "covariate": X.columns,
            "hazard_ratio": np.exp(cox.params),
            "ci_low": ci[:, 0],
            "ci_high": ci[:, 1],
            "p_value": cox.pvalues,
        }
    )
    checks = ph_test(cox, sample["duration"].to_numpy(), sample["event"].to_numpy(), list(X.columns))
    return SurvivalResult(by, curves, float(chi2), float(p), cox, hr, checks, converged=converged, dropped=dropped)


def ph_test(cox, durations, events, names: list[str] | None = None, transform: str = "rank") -> pd.DataFrame:
    """The proportional-hazards test of each covariate of a fitted statsmodels ``PHReg``
    (Grambsch and Therneau's approximation, as lifelines' ``proportional_hazard_test``):
    scaled Schoenfeld residuals ``d * r @ cov(beta)`` (``d`` events) against a transform of event
    time ``g``, ``T_j = (sum (g - mean g) s_j)^2 / (d * var(beta_j) * sum (g - mean g)^2)``, chi-square
    with 1 degree of freedom. ``transform``: ``rank`` (the rank of each event time among the events,
    lifelines' default), ``identity``, ``log`` or ``km`` (1 - Kaplan-Meier). Columns ``covariate``,
    ``test_statistic``, ``p_value``.
    """
    ev = np.asarray(events) == 1
    t = np.asarray(durations, dtype=float)
    names = names or [f"x{j}" for j in range(len(cox.params))]
    resid = np.asarray(cox.schoenfeld_residuals)[ev]
    d = int(ev.sum())
    if d < 3:
        return pd.DataFrame({"covariate": names, "test_statistic": np.nan, "p_value": np.nan})
    scaled = d * resid @ np.asarray(cox.cov_params())
    times = t[ev]
    if transform == "rank":
        g = stats.rankdata(times)
    elif transform == "identity":
        g = times
    elif transform == "log":
        g = np.log(times)
    elif transform == "km":
        sf = SurvfuncRight(t, np.asarray(events))
        g = 1 - np.interp(times, sf.surv_times, sf.surv_prob)  # KM is a step function; times are its jump points
    else:
        raise ValueError(f"transform must be rank, identity, log or km, not {transform!r}")
    g = g - g.mean()
    ok = np.isfinite(scaled).all(axis=1)
    stat = (g[ok] @ scaled[ok]) ** 2 / (d * np.asarray(cox.bse) ** 2 * (g[ok] ** 2).sum())
    return pd.DataFrame({"covariate": names, "test_statistic": stat, "p_value": stats.chi2.sf(stat, 1)})


def separated_columns(X: pd.DataFrame, event: np.ndarray) -> list[str]:
    """0/1 columns whose Cox coefficient runs off to infinity (monotone likelihood): no event among
    the members with the level, or every event among them."""
    n_events = int(event.sum())
    out = []
    for col in X.columns:
        values = X[col].to_numpy()
        if not np.isin(values, (0.0, 1.0)).all():
            continue
        with_level = int(values[event].sum())
        if with_level == 0 or with_level == n_events:
            out.append(str(col))
    return out
