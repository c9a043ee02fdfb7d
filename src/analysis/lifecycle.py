"""The member lifecycle: monthly stages and flows, cohorts, time to sleep, sleep risk.

Stages at the end of each month (thresholds are parameters):

* ``new`` - joined during the month;
* ``reactivated`` - bought during the month after being ``sleeping`` or ``lost`` at the end
  of the previous month;
* ``active`` - last purchase at most ``cooling_days`` ago;
* ``cooling`` - last purchase more than ``cooling_days`` but less than ``sleeping_days`` ago;
* ``sleeping`` - at least ``sleeping_days`` but less than ``lost_days`` without a purchase;
* ``lost`` - at least ``lost_days`` without a purchase.

A member who never bought is measured from the join date. The member-month panel is one Ibis
expression (:func:`build_stage_panel_expr`, window functions in the engine); the monthly stage
flows use the same rules on a dense members x months array built from member-month purchase
aggregates (much faster at a million members), never a Python loop over members.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import ibis
import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from sklearn.metrics import roc_auc_score
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.duration.survfunc import SurvfuncRight, survdiff

from .dataset import MallData
from .report import NotApplicable
from .segmentation import age_band
from .results import Result

STAGES = ("new", "active", "cooling", "sleeping", "lost", "reactivated")


def build_stage_panel_expr(data: MallData, start=None, end=None, cooling_days: int = 90, sleeping_days: int = 180,
                           lost_days: int = 365):
    """Ibis expression of the member-month panel: member, tier, month, stage, previous stage,
    days since the last purchase (or joining) at the month's end, and whether they bought in it."""
    _ = ibis._
    days = data.purchase_days
    months = _panel_months(data, start, end)
    month_tbl = ibis.memtable(pd.DataFrame({"month": months.date}))
    month_tbl = month_tbl.mutate(month_end=(_.month.cast("date") + ibis.interval(months=1) - ibis.interval(days=1)).cast("date"))
    m = data.members.select("member_id", "join_date", "tier")
    grid = m.cross_join(month_tbl).filter(_.join_date <= _.month_end)
    monthly = days.group_by(["member_id", _.day.truncate("M").cast("date").name("month")]).aggregate(last_in_month=_.day.max())
    p = grid.left_join(monthly, ["member_id", "month"]).drop("member_id_right", "month_right")
    w = ibis.window(group_by="member_id", order_by="month", preceding=None, following=0)
    p = p.mutate(last_purchase=_.last_in_month.max().over(w))
    p = p.mutate(days_since=(_.month_end.delta(_.last_purchase.fill_null(_.join_date), unit="day")))
    base_stage = (
        ibis.cases(
            (_.days_since <= cooling_days, "active"),
            (_.days_since < sleeping_days, "cooling"),
            (_.days_since < lost_days, "sleeping"),
            else_="lost",
        )
    )
    p = p.mutate(base_stage=base_stage, bought=_.last_in_month.notnull())
    wl = ibis.window(group_by="member_id", order_by="month")
    p = p.mutate(prev_base=_.base_stage.lag().over(wl))
    stage = ibis.cases(
        (_.join_date >= _.month, "new"),
        (_.bought & _.prev_base.isin(["sleeping", "lost"]), "reactivated"),
        else_=_.base_stage,
    )
    p = p.mutate(stage=stage)
    p = p.mutate(prev_stage=_.stage.lag().over(wl))
    return p.select("member_id", "tier", "month", "stage", "prev_stage", "days_since", "bought")


@dataclass(frozen=True)
class StageFlows(Result):
    """Stage counts per month and month-to-month transitions."""

    counts: pd.DataFrame  # month x stage
    transitions: pd.DataFrame  # month, from, to, members
    thresholds: dict

    def table(self) -> pd.DataFrame:
        """Members per stage at each month-end."""
        return self.counts

    def transition_matrix(self, month=None, shares: bool = True) -> pd.DataFrame:
        """Transitions into ``month`` (default: the last month); row shares when ``shares``."""
        tr = self.transitions
        month = pd.Timestamp(month) if month is not None else tr["month"].max()
        sub = tr[tr["month"] == month]
        mat = sub.pivot_table(index="from_stage", columns="to_stage", values="members", aggfunc="sum", fill_value=0)
        order = [s for s in STAGES if s != "new"]
        mat = mat.reindex(index=[s for s in STAGES if s in mat.index or s in order], columns=list(STAGES), fill_value=0)
        mat = mat.loc[[s for s in mat.index if mat.loc[s].sum() > 0]]
        return mat.div(mat.sum(axis=1), axis=0) if shares else mat

    def net_flows(self) -> pd.DataFrame:
        """Per month: members who fell asleep (cooling -> sleeping) and who were woken (reactivated)."""
        tr = self.transitions
        asleep = tr[(tr["from_stage"].isin(["active", "cooling", "new", "reactivated"])) & (tr["to_stage"] == "sleeping")]
        woken = tr[tr["to_stage"] == "reactivated"]
        out = pd.DataFrame({
            "fell_asleep": asleep.groupby("month")["members"].sum(),
            "woken": woken.groupby("month")["members"].sum(),
        }).fillna(0).astype(int)
        out["net"] = out["woken"] - out["fell_asleep"]
        return out.reset_index()

    def steady_state(self, month=None) -> pd.Series:
        """Long-run stage shares implied by the month's transition matrix among existing members.

        Notes
        -----
        ``new`` has no inflow without acquisition, so the chain is on the other stages; the
        stationary distribution is the left eigenvector of the row-stochastic matrix.
        """
        mat = self.transition_matrix(month)
        stages = [s for s in mat.index if s != "new" and s in mat.columns]
        P = mat.loc[stages, stages].to_numpy()
        P = P / P.sum(axis=1, keepdims=True)
        vals, vecs = np.linalg.eig(P.T)
        v = np.real(vecs[:, np.argmin(np.abs(vals - 1))])
        v = v / v.sum()
        return pd.Series(v, index=stages, name="steady_state_share")


def _panel_months(data: MallData, start=None, end=None) -> pd.DatetimeIndex:
    """Month starts of the stage panel: from ``start`` (default: the first purchase) to ``end``'s month."""
    end = pd.Timestamp(end or data.as_of)
    start = start or data.purchase_days.day.min().to_pandas() or end
    return pd.date_range(pd.Timestamp(start).to_period("M").to_timestamp(), end.to_period("M").to_timestamp(), freq="MS")


def _stage_arrays(data: MallData, end=None, cooling_days: int = 90, sleeping_days: int = 180, lost_days: int = 365,
                  tier: str | None = None):
    """The member x month stage panel as dense arrays (the same stages as :func:`build_stage_panel_expr`).

    The engine returns only member-month purchase aggregates, with members as integer positions;
    the carry-forward of the last purchase and the stage rules are vectorised over a members x
    months array (int32/int8), which is far cheaper than window functions over the panel.
    Returns ``(months, stage, prev_stage)``: stage codes index :data:`STAGES`, -1 where a member
    is not in the panel (not joined yet) or has no previous month.
    """
    _ = ibis._
    days = data.purchase_days
    months = _panel_months(data, None, end)
    epoch = pd.Timestamp("1970-01-01")
    m = data.members
    if tier:
        m = m.filter(m.tier == tier)
    m = m.select("member_id", "join_date").mutate(pos=ibis.row_number().over(order_by="member_id"))
    joined = m.select("pos", join=_.join_date.epoch_days()).to_pandas().sort_values("pos")
    n, k = len(joined), len(months)
    month_lo = ibis.literal(months[0].date())
    bought = (days.filter(days.day >= month_lo)
              .mutate(k=(_.day.year() - months[0].year) * 12 + _.day.month() - months[0].month)
              .filter(_.k < k)
              .group_by(["member_id", "k"]).aggregate(last=_.day.max().epoch_days())
              .join(m.select("member_id", "pos"), "member_id")
              .select("pos", "k", "last").to_pandas())
    missing = np.iinfo(np.int32).min
    last = np.full((n, k), missing, dtype=np.int32)
    last[bought["pos"].to_numpy(np.int64), bought["k"].to_numpy(np.int64)] = bought["last"].to_numpy(np.int32)
    has_bought = last != missing
    carried = np.maximum.accumulate(last, axis=1)
    join = joined["join"].to_numpy(np.int32)[:, None]
    month_start = ((months - epoch).days.to_numpy(np.int32))[None, :]
    month_end = (((months + pd.offsets.MonthEnd(0)) - epoch).days.to_numpy(np.int32))[None, :]
    in_panel = join <= month_end
    days_since = month_end - np.where(carried != missing, carried, join)
    del carried, last
    code = {s: np.int8(i) for i, s in enumerate(STAGES)}
    base = np.where(days_since <= cooling_days, code["active"],
                    np.where(days_since < sleeping_days, code["cooling"],
                             np.where(days_since < lost_days, code["sleeping"], code["lost"]))).astype(np.int8)
    del days_since

    def lag(a):
        out = np.full_like(a, -1)
        out[:, 1:] = np.where(in_panel[:, :-1], a[:, :-1], -1)
        return out

    prev_base = lag(base)
    stage = np.where(join >= month_start, code["new"],
                     np.where(has_bought & ((prev_base == code["sleeping"]) | (prev_base == code["lost"])), code["reactivated"], base))
    stage = np.where(in_panel, stage, -1).astype(np.int8)
    return months, stage, lag(stage)


def compute_stage_flows(data: MallData, start=None, end=None, cooling_days: int = 90, sleeping_days: int = 180,
                        lost_days: int = 365, tier: str | None = None) -> StageFlows:
    """Monthly stage counts and transitions.

    The member-month purchase aggregates come from the engine; stages are assigned on a dense
    members x months array (see :func:`build_stage_panel_expr` for the same rules as one Ibis
    expression; a test checks the two agree).

    Notes
    -----
    The data hold no purchases before their first transaction, so a member who joined earlier
    looks lost until proven otherwise. Stages are therefore reported from ``lost_days`` after
    the first transaction on (``start`` overrides), when every stage can be told apart.
    """
    first = pd.Timestamp(data.purchase_days.day.min().to_pandas())
    shown_from = pd.Timestamp(start) if start else (first + pd.Timedelta(days=lost_days)).to_period("M").to_timestamp()
    months, stage, prev = _stage_arrays(data, end, cooling_days, sleeping_days, lost_days, tier)
    shown = np.flatnonzero(months >= shown_from)
    ns = len(STAGES)
    counts, rows = [], []
    for j in shown:
        s, p = stage[:, j], prev[:, j]
        c = np.bincount(s[s >= 0], minlength=ns)
        counts.append(c)
        ok = (p >= 0) & (s >= 0)
        pairs = np.bincount(p[ok].astype(np.int64) * ns + s[ok], minlength=ns * ns).reshape(ns, ns)
        for a, b in zip(*np.nonzero(pairs)):
            rows.append((months[j], STAGES[a], STAGES[b], int(pairs[a, b])))
    counts = pd.DataFrame(np.array(counts, dtype=int).reshape(len(shown), ns), index=pd.DatetimeIndex(months[shown], name="month"),
                          columns=pd.Index(list(STAGES), name="stage"))
    counts = counts.loc[counts.sum(axis=1) > 0]
    tr = pd.DataFrame(rows, columns=["month", "from_stage", "to_stage", "members"])
    tr["month"] = pd.to_datetime(tr["month"])
    return StageFlows(counts.sort_index(), tr.sort_values(["month", "from_stage", "to_stage"]).reset_index(drop=True),
                      {"cooling_days": cooling_days, "sleeping_days": sleeping_days, "lost_days": lost_days})


def compute_cohort_retention(data: MallData, max_months: int = 24, tier: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Share of each join-month cohort buying k months after joining, and spend per member.

    Returns (retention shares, spend per cohort member), rows join month, columns k = 0..max_months.
    Cohorts that joined before the first transaction month are left out (their early months
    are not in the data).
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
    sizes["cohort"] = pd.to_datetime(sizes["cohort"])
    act = act.merge(sizes, on="cohort")
    ret = act.pivot_table(index="cohort", columns="k", values="buyers") .div(sizes.set_index("cohort")["size"], axis=0)
    spend = act.pivot_table(index="cohort", columns="k", values="spend").div(sizes.set_index("cohort")["size"], axis=0)
    ret.index = ret.index.strftime("%Y-%m")
    spend.index = spend.index.strftime("%Y-%m")
    return ret, spend


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
    last = days.group_by("member_id").aggregate(last_day=_.day.max(),
                                                early_spend=(_.day.delta(_.join_date, unit="day") < early_days).ifelse(_.amount, 0.0).sum())
    df = m.left_join(first_sleep, "member_id").drop("member_id_right").left_join(last, "member_id").drop("member_id_right").to_pandas()
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

    def table(self) -> pd.DataFrame:
        return self.hazard_ratios

    def logrank_sentence(self) -> str:
        """The log-rank result in words (one group: there is nothing to compare)."""
        if pd.isna(self.logrank_p):
            return f"One {self.by.replace('_', ' ')} only: there are no groups to compare, so no log-rank test."
        p = "< 0.001" if self.logrank_p < 0.001 else f"= {self.logrank_p:.3f}"
        return f"Log-rank test across {self.by.replace('_', ' ')}s: chi-square {self.logrank_chi2:,.1f}, p {p}."

    def ph_violations(self, alpha: float = 0.05) -> list[str]:
        """Covariates whose proportional-hazards check rejects the assumption at ``alpha``."""
        if self.ph_check is None or not len(self.ph_check):
            return []
        bad = self.ph_check[self.ph_check["p_value"] < alpha]
        return [str(c) for c in bad.iloc[:, 0]]

    def ph_note(self, alpha: float = 0.05) -> str | None:
        """What the hazard ratios may claim when the PH check rejects the assumption (``None``: it does not)."""
        bad = self.ph_violations(alpha)
        if not bad:
            return None
        return (f"The proportional-hazards check rejects the assumption for {', '.join(bad)} (p < {alpha}): their hazard "
                "ratios above are averages over time, not constant effects. Read the Kaplan-Meier curves for how the "
                "difference changes with time; for inference, stratify the Cox model by these covariates or give them "
                "a time-varying effect.")

    def median_days(self) -> pd.Series:
        c = self.curves
        return c[c["survival"] <= 0.5].groupby("group")["time"].min().rename("median_days_to_sleep")


def fit_survival(tts: pd.DataFrame, by: str = "tier", covariates=("tier", "join_year", "age_band", "log_early_spend"),
                 alpha: float = 0.05, max_fit: int = 20_000, seed: int = 0) -> SurvivalResult:
    """Kaplan-Meier by ``by`` with pointwise bands, log-rank test, Cox PH with hazard ratios.

    The PH assumption is checked per covariate by the correlation of scaled Schoenfeld
    residuals with the rank of event time (a small p-value flags a time-varying effect).
    """
    if len(tts) == 0 or not tts["event"].any():
        raise NotApplicable("time to sleep is measured on members who joined while the data record purchases, and "
                            + ("there are none." if len(tts) == 0 else "none of them has fallen asleep yet."))
    df = tts.copy()
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
    if X.shape[1] == 0:  # no covariate varies: curves only
        return SurvivalResult(by, curves, float(chi2), float(p), None,
                              pd.DataFrame(columns=["covariate", "hazard_ratio", "ci_low", "ci_high", "p_value"]),
                              pd.DataFrame(columns=["covariate", "rho_with_time", "p_value"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # exp overflow while the optimizer explores; the fit is checked below
        cox = PHReg(sample["duration"].to_numpy(), X.to_numpy(), status=sample["event"].to_numpy(), ties="efron").fit()
    ci = np.exp(cox.conf_int(alpha=alpha))
    hr = pd.DataFrame({"covariate": X.columns, "hazard_ratio": np.exp(cox.params), "ci_low": ci[:, 0], "ci_high": ci[:, 1],
                       "p_value": cox.pvalues})
    sch = cox.schoenfeld_residuals
    ev = sample["event"].to_numpy() == 1
    times = sample["duration"].to_numpy()[ev]
    checks = []
    for j, name in enumerate(X.columns):
        res = sch[ev, j]
        ok = np.isfinite(res)
        r, pv = stats.spearmanr(stats.rankdata(times[ok]), res[ok]) if ok.sum() > 10 else (np.nan, np.nan)
        checks.append({"covariate": name, "rho_with_time": r, "p_value": pv})
    return SurvivalResult(by, curves, float(chi2), float(p), cox, hr, pd.DataFrame(checks))


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
    return (f["recency_days"] < sleeping_days) & (f["recency_days"] >= sleeping_days - horizon_days) & (f["lifetime_purchases"] > 0)


def sleep_risk_frame(data: MallData, date, horizon_days: int = 90, sleeping_days: int = 180, window_days: int = 365) -> pd.DataFrame:
    """Features at ``date`` of members who can fall asleep within ``horizon_days`` (awake, last
    purchase at least ``sleeping_days - horizon_days`` ago) and whether they did."""
    from .features import compute_member_features

    date = pd.Timestamp(date)
    f = compute_member_features(data, date, window_days, categories=False,
                                last_purchase_between=_could_fall_asleep(date, horizon_days, sleeping_days))
    f = f[_can_fall_asleep(f, horizon_days, sleeping_days)].copy()
    # the outcome needs only the last purchase up to date + horizon (one aggregation, not a
    # second full feature table)
    later_day = (date + pd.Timedelta(days=horizon_days)).normalize()
    days = data.purchase_days
    last = days.filter(days.day <= ibis.literal(later_day.date())).group_by("member_id").aggregate(
        last_purchase_later=days.day.max()).to_pandas()
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
        raise NotApplicable(f"the sleep-risk model is trained on {train_date.date()} and needs {sleeping_days} days of purchases "
                            f"before that date; the data start on {'-' if first is None or pd.isna(first) else pd.Timestamp(first).date()}.")
    train = sleep_risk_frame(data, train_date, horizon_days, sleeping_days)
    test = sleep_risk_frame(data, test_date, horizon_days, sleeping_days)
    for name, frame in (("training", train), ("test", test)):
        if len(frame) < 20 or frame["asleep_later"].nunique() < 2:
            raise NotApplicable(f"the sleep-risk model needs members who fell asleep and members who did not in its {name} "
                                f"window; the data have {len(frame):,} members there, "
                                f"{int(frame['asleep_later'].sum()) if len(frame) else 0:,} of whom fell asleep.")
    cols = [c for c in RISK_FEATURES if train[c].std() > 0]  # e.g. no visits table: visit_share is all zero
    Xtr = sm.add_constant(train[cols])
    fit = sm.Logit(train["asleep_later"], Xtr).fit(disp=False)
    p = fit.predict(sm.add_constant(test[cols], has_constant="add"))
    auc = float(roc_auc_score(test["asleep_later"], p)) if test["asleep_later"].nunique() == 2 else float("nan")
    test = test.assign(risk=p)
    test["decile"] = pd.qcut(test["risk"].rank(method="first"), 10, labels=False) + 1
    cal = test.groupby("decile").agg(members=("member_id", "size"), predicted=("risk", "mean"), observed=("asleep_later", "mean")).reset_index()
    # drivers: odds ratio per standard deviation of each feature
    sd = train[cols].std()
    ci = fit.conf_int()
    drivers = pd.DataFrame({"feature": cols, "odds_ratio_per_sd": np.exp(fit.params[cols] * sd),
                            "ci_low": np.exp(ci.loc[cols, 0] * sd), "ci_high": np.exp(ci.loc[cols, 1] * sd),
                            "p_value": fit.pvalues[cols]}).reset_index(drop=True)
    return SleepRiskModel(train_date, test_date, horizon_days, auc, cal, drivers, fit, tuple(cols))


def score_sleep_risk(model: SleepRiskModel, data: MallData, date=None, sleeping_days: int = 180) -> pd.DataFrame:
    """Risk of falling asleep within the model's horizon for members who can, at ``date``."""
    from .features import compute_member_features

    date = pd.Timestamp(date or data.as_of)
    f = compute_member_features(data, date, 365, categories=False,
                                last_purchase_between=_could_fall_asleep(date, model.horizon_days, sleeping_days))
    f = f[_can_fall_asleep(f, model.horizon_days, sleeping_days)].copy()
    f = _add_risk_features(f)
    f["risk"] = model.fit.predict(sm.add_constant(f[list(model.columns)], has_constant="add"))
    return f[["member_id", "tier", "recency_days", "frequency", "monetary", "risk"]].sort_values("risk", ascending=False).reset_index(drop=True)
