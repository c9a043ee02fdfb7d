"""What a wake-up campaign did: outcomes per contact and arm, and causal estimates.

A contacted member *returned* if a purchase or a visit falls inside the campaign's response
window ``[start_date, start_date + response_days)``; *purchased* if a purchase does. Outcomes
are computed in the engine (Ibis/DuckDB) and come back as one row per contact.

Estimates (each a results object with ``table()``/``summary()``, ``conf_int(alpha)`` where it
applies, and an HTML rendering):

* :func:`estimate_arm_effects` - each arm against the holdout: return-rate and purchase-rate
  differences with Newcombe score intervals, spend per contacted member with robust (HC2)
  intervals; the incremental effect per wave.
* :func:`compare_before_after` - the dissertation's before/after table next to the holdout-based
  estimates, so the naive comparison's bias is visible.
* :func:`estimate_did` - difference-in-differences across waves (OLS with member-clustered SEs).
* :func:`estimate_adjusted_effect` - regression adjustment for pre-campaign covariates (Lin's
  interacted estimator, HC2).
* :func:`estimate_factorial` - gift x channel logistic model with average marginal effects.
* :func:`estimate_heterogeneity` - effects by subgroup with Holm-adjusted p-values;
  :func:`segment_at_start` gives the RFM segment at the start, :func:`rank_targets` turns the
  subgroup effects into whom to target next.
* :func:`plan_next_wave` - sample size per arm for a target lift (statsmodels power).
"""

from __future__ import annotations

import html
import warnings
from dataclasses import dataclass, field
from typing import ClassVar

import ibis
import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint, proportion_effectsize, test_proportions_2indep

from .config import RFM_WINDOW_DAYS
from .dataset import MallData, is_purchase
from .present import display_name, html_table, label
from .results import Result

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
    ck = c.join(k, "campaign_id").select(
        c.campaign_id, c.member_id,
        win_start=k.start_date.cast("timestamp"),
        win_end=(k.start_date + k.response_days.as_interval("D")).cast("timestamp"),
    ).view()  # a fresh relation: joining onto a join's projection would extend the old join chain
    j = ck.join(events, [ck.member_id == events.member_id, events.ts >= ck.win_start, events.ts < ck.win_end])
    return ck, j


def has_contacts(data: MallData) -> bool:
    """Whether the data hold any campaign contact (``campaigns`` and ``contacts`` are optional)."""
    return bool(data.contacts.count().to_pandas())


def compute_campaign_outcomes(data: MallData, campaign_ids: list[str] | None = None,
                              response_days: int | None = None) -> pd.DataFrame:
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
        purchases=jt.count(where=buy), spend=jt.amount.sum(),
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
        base.left_join(tx, ["campaign_id", "member_id"]).drop("campaign_id_right", "member_id_right")
        .left_join(vis, ["campaign_id", "member_id"]).drop("campaign_id_right", "member_id_right")
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


def open_windows(outcomes: pd.DataFrame) -> str | None:
    """One sentence naming the campaigns whose response window had not closed on the analysis
    date (their figures are interim), or ``None`` when every window is closed."""
    if outcomes is None or "window_open" not in outcomes or not outcomes["window_open"].any():
        return None
    rows = outcomes[outcomes["window_open"]].drop_duplicates("campaign_id")
    ends = [f"{r.campaign_id} (window ends {(pd.Timestamp(r.start_date) + pd.Timedelta(days=float(r.response_days))).date()})"
            for r in rows.itertuples()]
    return ("Still running on the analysis date: " + ", ".join(ends)
            + ". Their figures are interim: members can still come back before the window closes.")


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
        returned=("returned", "sum"), purchased=("purchased", "sum"),
        redeemed=("redeemed", lambda x: x.fillna(False).astype(bool).sum() if x.notna().any() else np.nan),
        spend=("spend", "sum"), cost=("cost", lambda x: x.sum() if x.notna().all() else np.nan),  # unknown stays unknown
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


# --- arm effects ---------------------------------------------------------------------

def _rate_diff(x1, n1, x0, n0, alpha):
    lo, hi = confint_proportions_2indep(x1, n1, x0, n0, method="newcomb", compare="diff", alpha=alpha)
    if n1 and n0 and 0 < (x1 + x0) < (n1 + n0):
        with warnings.catch_warnings():  # statsmodels also computes a ratio, undefined when a rate is 0
            warnings.simplefilter("ignore", RuntimeWarning)
            p = test_proportions_2indep(x1, n1, x0, n0, method="score", compare="diff").pvalue
    else:
        p = np.nan
    return x1 / n1 - x0 / n0, lo, hi, p


def _mean_diff_hc2(y, treated, alpha):
    X = sm.add_constant(treated.astype(float).to_numpy())
    fit = sm.OLS(y.to_numpy(dtype=float), X).fit(cov_type="HC2")
    lo, hi = fit.conf_int(alpha=alpha)[1]
    return fit.params[1], lo, hi, fit.pvalues[1]


@dataclass(frozen=True)
class ArmEffects(Result):
    """Each treated arm against the control arm of its campaign.

    ``effects`` has one row per campaign, arm and outcome (``return_rate``, ``purchase_rate``,
    ``spend_per_contacted``) with the estimate, its interval at ``alpha`` and a p-value.
    """

    outcomes: pd.DataFrame = field(repr=False)
    control_arm: str
    alpha: float
    effects: pd.DataFrame
    kinds: ClassVar[dict] = {"estimate": "points", "ci_low": "points", "ci_high": "points", "treated_mean": "percent",
                             "control_mean": "percent", "p_value": "p"}

    def conf_int(self, alpha: float | None = None, outcome: str = "return_rate") -> pd.DataFrame:
        """Intervals of ``outcome``'s effects (rows of :meth:`table`), recomputed at another ``alpha``."""
        res = self if alpha is None or alpha == self.alpha else estimate_arm_effects(self.outcomes, self.control_arm, alpha)
        return res.table(outcome)[["campaign_id", "arm", "ci_low", "ci_high"]]

    def table(self, outcome: str = "return_rate") -> pd.DataFrame:
        return self.effects[self.effects["outcome"] == outcome].reset_index(drop=True)

    def summary(self) -> pd.DataFrame:
        return self.effects

    def _repr_html_(self) -> str:
        parts = []
        for outcome, grp in self.effects.groupby("outcome", sort=False):
            diff, level = ("money", "money") if outcome == "spend_per_contacted" else ("points", "percent")
            kinds = {"estimate": diff, "ci_low": diff, "ci_high": diff, "treated_mean": level, "control_mean": level, "p_value": "p"}
            parts.append(f"<h4>{html.escape(label(outcome))}: arm minus {html.escape(display_name(self.control_arm))}, "
                         f"{1 - self.alpha:.0%} interval</h4>"
                         + html_table(grp.drop(columns="outcome"), kinds=kinds))
        return "".join(parts)


def estimate_arm_effects(outcomes: pd.DataFrame, control_arm: str = DEFAULT_CONTROL, alpha: float = 0.05) -> ArmEffects:
    """Incremental effect of each arm over the control arm, per campaign.

    Notes
    -----
    Rates use Newcombe's hybrid score interval for a difference of proportions and a score
    test; spend per contacted member uses OLS on a treatment dummy with HC2 standard errors
    (robust to the heavy right tail of spend). Valid because arms are randomized within a
    campaign.
    """
    rows = []
    for cid, grp in outcomes.groupby("campaign_id", sort=True):
        _check_control(outcomes, control_arm, cid)
        ctrl = grp[grp["arm"] == control_arm]
        for arm, arm_df in grp.groupby("arm", sort=True):
            if arm == control_arm:
                continue
            n1, n0 = len(arm_df), len(ctrl)
            for outcome, col in (("return_rate", "returned"), ("purchase_rate", "purchased")):
                x1, x0 = int(arm_df[col].sum()), int(ctrl[col].sum())
                est, lo, hi, p = _rate_diff(x1, n1, x0, n0, alpha)
                rows.append(dict(campaign_id=cid, arm=arm, outcome=outcome, n_treated=n1, n_control=n0,
                                 treated_mean=x1 / n1, control_mean=x0 / n0, estimate=est, ci_low=lo, ci_high=hi, p_value=p))
            both = pd.concat([arm_df, ctrl])
            est, lo, hi, p = _mean_diff_hc2(both["spend"], both["arm"] == arm, alpha)
            rows.append(dict(campaign_id=cid, arm=arm, outcome="spend_per_contacted", n_treated=n1, n_control=n0,
                             treated_mean=arm_df["spend"].mean(), control_mean=ctrl["spend"].mean(),
                             estimate=est, ci_low=lo, ci_high=hi, p_value=p))
    return ArmEffects(outcomes, control_arm, alpha, pd.DataFrame(rows))


# --- the study's before/after table and difference-in-differences ----------------------

@dataclass(frozen=True)
class BeforeAfter(Result):
    """The dissertation's before/after comparison next to holdout-based estimates.

    ``waves`` is the study's table (one row per wave); :meth:`summary` sets the naive difference
    beside the holdout-based one (difference-in-differences, with its interval).
    """

    waves: pd.DataFrame
    naive_difference: float
    causal_difference: float
    did: "DiDResult"
    kinds: ClassVar[dict] = {"incremental_return_rate": "points", "ci_low": "points", "ci_high": "points",
                             "estimate": "points"}

    @property
    def alpha(self) -> float:
        return self.did.alpha

    def table(self) -> pd.DataFrame:
        return self.waves

    def conf_int(self, alpha: float | None = None) -> pd.DataFrame:
        """The interval of the difference-in-differences."""
        return self.did.conf_int(alpha)

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame({
            "comparison": ["naive: after minus before (treated return rates)",
                           "holdout-based: after effect minus before effect (difference-in-differences)",
                           "bias of the naive comparison (season, list composition)"],
            "estimate": [self.naive_difference, self.causal_difference, self.naive_difference - self.causal_difference],
            "ci_low": [np.nan, self.did.ci_low, np.nan],
            "ci_high": [np.nan, self.did.ci_high, np.nan],
        })

    def _repr_html_(self) -> str:
        return html_table(self.waves, kinds=self.kinds) + html_table(self.summary(), kinds=self.kinds)


@dataclass(frozen=True)
class DiDResult(Result):
    """Difference-in-differences: (after treated - after control) - (before treated - before control).

    The statsmodels fit (member-clustered errors) is ``fit``; its printed summary ``fit.summary()``.
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    alpha: float
    n_obs: int
    n_clusters: int
    fit: object = field(repr=False)
    kinds: ClassVar[dict] = {"estimate": "points", "se": "percent", "ci_low": "points", "ci_high": "points", "p_value": "p"}

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([{"effect": "change in the incremental return rate (after minus before)", "estimate": self.estimate,
                              "se": self.se, "ci_low": self.ci_low, "ci_high": self.ci_high, "p_value": self.p_value,
                              "n_obs": self.n_obs, "n_clusters": self.n_clusters}])

    def conf_int(self, alpha: float | None = None) -> pd.DataFrame:
        lo, hi = self.fit.conf_int(alpha=self.alpha if alpha is None else alpha).loc["treated:after"]
        return pd.DataFrame({"ci_low": [float(lo)], "ci_high": [float(hi)]})


def estimate_did(outcomes: pd.DataFrame, before: str, after: str, before_arm: str, after_arm: str,
                 control_arm: str = DEFAULT_CONTROL, outcome: str = "returned", alpha: float = 0.05) -> DiDResult:
    """Difference-in-differences of a 0/1 (or numeric) outcome across two waves.

    Notes
    -----
    A linear model ``y ~ treated * after`` on the two waves' treated and control arms; the
    interaction is the change in the incremental effect. Standard errors are clustered by
    member, since a member can be on both waves' lists. Season and list composition move both
    arms of a wave alike and cancel.
    """
    for cid in (before, after):
        _check_control(outcomes, control_arm, cid)
    sel = (
        ((outcomes["campaign_id"] == before) & outcomes["arm"].isin([before_arm, control_arm]))
        | ((outcomes["campaign_id"] == after) & outcomes["arm"].isin([after_arm, control_arm]))
    )
    df = outcomes.loc[sel, ["member_id", "campaign_id", "arm", outcome]].copy()
    df["y"] = df[outcome].astype(float)
    df["treated"] = (df["arm"] != control_arm).astype(float)
    df["after"] = (df["campaign_id"] == after).astype(float)
    groups = pd.factorize(df["member_id"])[0]
    fit = smf.ols("y ~ treated * after", data=df).fit(cov_type="cluster", cov_kwds={"groups": groups})
    lo, hi = fit.conf_int(alpha=alpha).loc["treated:after"]
    return DiDResult(float(fit.params["treated:after"]), float(fit.bse["treated:after"]), float(lo), float(hi),
                     float(fit.pvalues["treated:after"]), alpha, int(len(df)), int(groups.max() + 1), fit)


def compare_before_after(outcomes: pd.DataFrame, before: str, after: str, before_arm: str, after_arm: str,
                         control_arm: str = DEFAULT_CONTROL, alpha: float = 0.05) -> BeforeAfter:
    """The study's table (count back, return rate, spend on return) before vs after, with causal estimates."""
    arms = summarize_arms(outcomes[outcomes["campaign_id"].isin([before, after])], control_arm).set_index(["campaign_id", "arm"])
    eff = estimate_arm_effects(outcomes[outcomes["campaign_id"].isin([before, after])], control_arm, alpha).table("return_rate")
    eff = eff.set_index(["campaign_id", "arm"])
    rows = []
    for label, cid, arm in (("before", before, before_arm), ("after", after, after_arm)):
        a, e = arms.loc[(cid, arm)], eff.loc[(cid, arm)]
        rows.append({
            "wave": label, "campaign_id": cid, "arm": arm, "contacted": int(a["contacted"]),
            "returned": int(a["returned"]), "return_rate": a["return_rate"], "spend_on_return": a["spend"],
            "spend_per_returner": a["spend_per_returner"], "cost_per_returned": a["cost_per_returned"],
            "holdout_return_rate": arms.loc[(cid, control_arm), "return_rate"],
            "incremental_return_rate": e["estimate"], "ci_low": e["ci_low"], "ci_high": e["ci_high"],
        })
    table = pd.DataFrame(rows)
    did = estimate_did(outcomes, before, after, before_arm, after_arm, control_arm, alpha=alpha)
    naive = float(table["return_rate"].iloc[1] - table["return_rate"].iloc[0])
    return BeforeAfter(table, naive, did.estimate, did)


# --- regression adjustment -----------------------------------------------------------

def compute_precampaign_features(data: MallData, campaign_ids: list[str] | None = None, window_days: int = 365) -> pd.DataFrame:
    """Covariates of each contact as of the campaign start (nothing from the window itself).

    ``recency_days`` (since the last purchase before the start, or since joining),
    ``frequency`` and ``monetary`` (purchases and spend in the ``window_days`` before),
    ``tenure_days``, ``tier`` and the member attribute columns (identifying ones excluded).
    """
    c, k, t, m = data.contacts, data.campaigns, data.purchases, data.members
    if campaign_ids:
        c = c.filter(c.campaign_id.isin(list(campaign_ids)))
    ck = c.join(k, "campaign_id").select(c.campaign_id, c.member_id, start=k.start_date.cast("timestamp")).view()
    j = ck.join(t, [ck.member_id == t.member_id, t.ts < ck.start])
    in_window = j.ts >= j.start - ibis.interval(days=window_days)
    agg = j.group_by(["campaign_id", "member_id"]).aggregate(
        last_purchase=j.ts.max(),
        frequency=in_window.ifelse(1, 0).sum(),
        monetary=in_window.ifelse(j.amount, 0.0).sum(),
    )
    attrs = list(data.covariate_attributes)
    mem = m.select("member_id", "join_date", "tier", "birth_year", "gender", *attrs)
    df = (ck.left_join(agg, ["campaign_id", "member_id"]).drop("campaign_id_right", "member_id_right")
          .left_join(mem, "member_id").drop("member_id_right").to_pandas())
    start = pd.to_datetime(df["start"])
    since = pd.to_datetime(df["last_purchase"]).fillna(pd.to_datetime(df["join_date"]))
    df["recency_days"] = (start - since).dt.days.clip(lower=0)
    df["frequency"] = df["frequency"].fillna(0).astype(int)
    df["monetary"] = df["monetary"].fillna(0.0)
    df["tenure_days"] = (start - pd.to_datetime(df["join_date"])).dt.days
    df["age"] = start.dt.year - df["birth_year"]
    return df.drop(columns=["start", "last_purchase", "join_date"])


@dataclass(frozen=True)
class AdjustedEffect(Result):
    """Regression-adjusted effect of one arm against control within one campaign.

    ``covariates`` are the covariates the fit used; ``dropped`` says which were left out and why
    (constant, or collinear with those before them), so the table never lists a covariate the
    design could not hold.
    """

    campaign_id: str
    arm: str
    covariates: tuple[str, ...]
    unadjusted: float
    estimate: float
    se: float
    alpha: float
    fit: object = field(repr=False)
    dropped: tuple[str, ...] = ()

    kinds: ClassVar[dict] = {"unadjusted": "points", "estimate": "points", "se": "percent", "ci_low": "points",
                             "ci_high": "points"}

    def conf_int(self, alpha: float | None = None) -> pd.DataFrame:
        lo, hi = self.fit.conf_int(alpha=self.alpha if alpha is None else alpha).loc["treated"]
        return pd.DataFrame({"ci_low": [float(lo)], "ci_high": [float(hi)]})

    def table(self) -> pd.DataFrame:
        ci = self.conf_int().iloc[0]
        return pd.DataFrame([{"campaign_id": self.campaign_id, "arm": self.arm, "unadjusted": self.unadjusted,
                              "estimate": self.estimate, "se": self.se, "ci_low": ci["ci_low"], "ci_high": ci["ci_high"],
                              "covariates": ", ".join(self.covariates) or "none",
                              "dropped": "; ".join(self.dropped) or "none"}])


#: Singular values below this share of the largest count as zero: a column that is a linear
#: combination of others up to rounding (say 1e-10 relative) is collinear, not informative.
RANK_TOLERANCE = 1e-8


def full_rank_columns(design: pd.DataFrame, keep_first: int = 0) -> list[str]:
    """Columns of ``design``, in order, each kept only if it is not a linear combination of the
    columns kept before it (numerical rank of the standardized columns, :data:`RANK_TOLERANCE`).

    The first ``keep_first`` columns are always kept (for example the constant and the
    treatment indicator, which must be in the model).
    """
    cols = list(design.columns)
    X = design.to_numpy(dtype=float)
    scale = np.where(X.std(axis=0) > 0, X.std(axis=0), np.abs(X).max(axis=0))
    Z = X / np.where(scale > 0, scale, 1.0)
    tol = RANK_TOLERANCE * np.linalg.norm(Z, 2) if Z.size else 0.0
    kept: list[int] = list(range(keep_first))
    rank = np.linalg.matrix_rank(Z[:, kept], tol=tol) if kept else 0
    for j in range(keep_first, len(cols)):
        r = np.linalg.matrix_rank(Z[:, kept + [j]], tol=tol)
        if r > rank:
            kept.append(j)
            rank = r
    return [cols[j] for j in kept]


def estimate_adjusted_effect(outcomes: pd.DataFrame, features: pd.DataFrame, campaign_id: str, arm: str,
                             covariates: list[str], control_arm: str = DEFAULT_CONTROL, outcome: str = "returned",
                             alpha: float = 0.05) -> AdjustedEffect:
    """Lin's regression adjustment: ``y ~ treated * (centered covariates)`` with HC2 errors.

    Numeric covariates are log1p-transformed when skewed (counts, spend, days); categorical
    ones become dummies. Works with member attributes only (no purchase history needed).

    Notes
    -----
    The design is checked before fitting: constant columns, and columns that are linear
    combinations of earlier ones (for example ``recency_days`` equal to ``tenure_days`` when no
    one bought before the campaign), are dropped, with the reason recorded in ``dropped``.
    Leaving them in makes the HC2 leverages of a pseudo-inverse fit wrong (the standard error
    came out 4.7 times too small on such a design).
    """
    _check_control(outcomes, control_arm, campaign_id)
    df = outcomes[(outcomes["campaign_id"] == campaign_id) & outcomes["arm"].isin([arm, control_arm])]
    df = df[["campaign_id", "member_id", "arm", outcome]].merge(features, on=["campaign_id", "member_id"], how="left")
    y = df[outcome].astype(float).to_numpy()
    treated = (df["arm"] == arm).astype(float).to_numpy()
    parts, owner = [], {}
    for cov in covariates:
        if cov not in df.columns:
            raise KeyError(f"covariate {cov!r} not available; choose from {sorted(set(features.columns) - {'campaign_id', 'member_id'})}")
        col = df[cov]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            x = col.astype(float)
            x = x.fillna(x.median())
            if cov in ("recency_days", "frequency", "monetary", "tenure_days"):
                x = np.log1p(x.clip(lower=0))
            part = pd.DataFrame({cov: x})
        else:
            part = pd.get_dummies(col.astype("string").fillna("missing"), prefix=cov, drop_first=True, dtype=float)
        owner |= {c: cov for c in part.columns}
        parts.append(part)
    X = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=df.index)
    dropped = [f"{cov} (constant)" for cov in covariates if cov in df.columns
               and not any(X[c].std() > 0 for c, o in owner.items() if o == cov)]
    X = X.loc[:, X.std() > 0]
    Xc = X - X.mean()
    base = pd.concat([pd.Series(1.0, index=df.index, name="const"), pd.Series(treated, index=df.index, name="treated"), Xc], axis=1)
    main = full_rank_columns(base, keep_first=2)
    collinear = sorted({owner[c] for c in Xc.columns if c not in main} - {d.split(" ")[0] for d in dropped})
    dropped += [f"{cov} (collinear with the covariates before it)" for cov in collinear if
                not any(owner.get(c) == cov for c in main)]
    Xk = Xc[[c for c in main if c in Xc.columns]]
    design = pd.concat([base[main], Xk.mul(treated, axis=0).add_prefix("treated_x_")], axis=1)
    design = design[full_rank_columns(design, keep_first=len(main))]  # an interaction can be collinear within one arm
    fit = sm.OLS(y, design).fit(cov_type="HC2")
    unadj = y[treated == 1].mean() - y[treated == 0].mean()
    used = tuple(cov for cov in covariates if any(owner.get(c) == cov for c in Xk.columns))
    return AdjustedEffect(campaign_id, arm, used, float(unadj), float(fit.params["treated"]),
                          float(fit.bse["treated"]), alpha, fit, tuple(dropped))


# --- factorial gift x channel ------------------------------------------------------------

@dataclass(frozen=True)
class FactorialResult(Result):
    """Logistic model ``returned ~ gift * channel`` (with the holdout as baseline) and its AMEs."""

    campaign_id: str
    alpha: float
    cell_rates: pd.DataFrame
    effects: pd.DataFrame
    fit: object = field(repr=False)
    kinds: ClassVar[dict] = {"estimate": "points", "se": "percent", "ci_low": "points", "ci_high": "points", "p_value": "p"}

    def table(self) -> pd.DataFrame:
        return self.effects

    def conf_int(self, alpha: float | None = None) -> pd.DataFrame:
        return pd.concat([self.effects[["effect"]], super().conf_int(alpha)], axis=1)


def estimate_factorial(outcomes: pd.DataFrame, campaign_id: str, gift_levels: tuple[str, str], channel_levels: tuple[str, str],
                       control_arm: str = DEFAULT_CONTROL, alpha: float = 0.05) -> FactorialResult:
    """Gift and channel effects in a crossed campaign, as average marginal effects.

    ``gift_levels`` and ``channel_levels`` are (reference, alternative), e.g. ("daily",
    "entertainment") and ("sms", "call_wechat"). The gift effect is the change in the
    predicted return probability when every treated member gets the alternative gift instead of
    the reference, averaged over the channel mix; likewise the channel effect; the interaction
    is the difference of the gift effect between channels. Standard errors by the delta method.
    """
    df = outcomes[(outcomes["campaign_id"] == campaign_id) & (outcomes["arm"] != control_arm)].copy()
    g0, g1 = gift_levels
    c0, c1 = channel_levels
    df = df[df["gift"].isin(gift_levels) & df["channel"].isin(channel_levels)]
    if df.empty or df.groupby(["gift", "channel"]).ngroups < 4:
        raise ValueError(f"campaign {campaign_id} does not cross gifts {gift_levels} with channels {channel_levels}")
    df["alt_gift"] = (df["gift"] == g1).astype(float)
    df["alt_channel"] = (df["channel"] == c1).astype(float)
    df["y"] = df["returned"].astype(float)
    from statsmodels.tools.sm_exceptions import ConvergenceWarning as SMConvergenceWarning

    from .clv import ConvergenceWarning

    # The model is saturated (four cells, four parameters): its fitted probabilities are the cells'
    # return rates, and the delta-method variance of each is p (1 - p) / n. The effects are computed
    # from the cells directly (the same numbers as through the logit's coefficients when it converges,
    # and finite when a cell has no returns, where the logit's coefficients run off to infinity).
    cells = df.groupby(["alt_gift", "alt_channel"])["y"].agg(["mean", "size"])
    p = {(int(g), int(c)): r["mean"] for (g, c), r in cells.iterrows()}
    n = {(int(g), int(c)): r["size"] for (g, c), r in cells.iterrows()}
    boundary = [k for k, v in p.items() if v in (0.0, 1.0)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SMConvergenceWarning)  # a boundary cell: said below in words
        warnings.simplefilter("ignore", RuntimeWarning)
        fit = smf.logit("y ~ alt_gift * alt_channel", data=df).fit(disp=False, maxiter=200)
    if boundary:
        names = ", ".join(f"{g1 if g else g0} x {c1 if c else c0}" for g, c in boundary)
        warnings.warn(f"in {campaign_id} the cell(s) {names} had no returns (or only returns): the model is at a boundary "
                      "and the intervals of the effects are too narrow", ConvergenceWarning, stacklevel=2)
    share_c1, share_g1 = df["alt_channel"].mean(), df["alt_gift"].mean()
    weights = {  # each contrast as weights on the four cell rates
        "gift": {(1, 0): 1 - share_c1, (0, 0): -(1 - share_c1), (1, 1): share_c1, (0, 1): -share_c1},
        "channel": {(0, 1): 1 - share_g1, (0, 0): -(1 - share_g1), (1, 1): share_g1, (1, 0): -share_g1},
        "interaction": {(1, 1): 1.0, (0, 1): -1.0, (1, 0): -1.0, (0, 0): 1.0},
    }
    est = np.array([sum(w * p[k] for k, w in ws.items()) for ws in weights.values()])
    se = np.sqrt([sum(w**2 * p[k] * (1 - p[k]) / n[k] for k, w in ws.items()) for ws in weights.values()])
    z = stats.norm.ppf(1 - alpha / 2)
    effects = pd.DataFrame({
        "effect": [f"gift: {g1} vs {g0}", f"channel: {c1} vs {c0}", "interaction (gift effect with c1 minus with c0)"],
        "estimate": est, "se": se, "ci_low": est - z * se, "ci_high": est + z * se,
        "p_value": 2 * stats.norm.sf(np.abs(est / se)),
    })
    rates = df.groupby(["gift", "channel"])["y"].agg(contacted="size", return_rate="mean").reset_index()
    ctrl = outcomes[(outcomes["campaign_id"] == campaign_id) & (outcomes["arm"] == control_arm)]
    if len(ctrl):
        rates = pd.concat([rates, pd.DataFrame([{"gift": "none", "channel": control_arm, "contacted": len(ctrl),
                                                  "return_rate": ctrl["returned"].mean()}])], ignore_index=True)
    return FactorialResult(campaign_id, alpha, rates, effects, fit)


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


def estimate_heterogeneity(outcomes: pd.DataFrame, features: pd.DataFrame, campaign_id: str, arm: str, by: str,
                           control_arm: str = DEFAULT_CONTROL, alpha: float = 0.05, min_size: int = 10) -> pd.DataFrame:
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
        rows.append({by: level, "n_treated": len(t), "n_control": len(c), "estimate": est, "ci_low": lo, "ci_high": hi, "p_value": p})
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
    from .segmentation import age_band

    out = features.copy()
    out["recency_band"] = pd.cut(out["recency_days"], [-np.inf, *RECENCY_BAND_EDGES, np.inf], labels=band_labels(RECENCY_BAND_EDGES))
    out["age_band"] = age_band(out["age"])
    return out


def arm_label(campaign_id: str, arm: str) -> str:
    """How a campaign's arm is named in tables that list several campaigns: ``"W2 / call"``."""
    return f"{campaign_id} / {arm}"


def estimate_heterogeneity_by_arm(outcomes: pd.DataFrame, features: pd.DataFrame, data: MallData, treated,
                                  variables: list[str], control_arm: str = DEFAULT_CONTROL,
                                  alpha: float = 0.05) -> tuple[dict, list[str]]:
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
    tables = {(arm_label(cid, arm), by): estimate_heterogeneity(outcomes, banded, cid, arm, by, control_arm, alpha)
              for cid, arm in treated for by in variables if by not in missing}
    return tables, missing


def segment_at_start(data: MallData, campaign_id: str, window_days: int = RFM_WINDOW_DAYS) -> pd.DataFrame:
    """RFM segment of every member the day before ``campaign_id`` started.

    Scores are relative to all members who had joined by then (not only the contacted ones), so
    the segment means what it means in the segmentation report. Columns ``campaign_id``,
    ``member_id``, ``rfm_segment``.
    """
    from .features import compute_member_features
    from .segmentation import compute_rfm_scores

    k = data.campaigns
    start = pd.Timestamp(k.filter(k.campaign_id == campaign_id).start_date.to_pandas().iloc[0])
    rfm = compute_rfm_scores(compute_member_features(data, as_of=start - pd.Timedelta(days=1), window_days=window_days, categories=False))
    return pd.DataFrame({"campaign_id": campaign_id, "member_id": rfm["member_id"], "rfm_segment": rfm["segment"]})


def rank_targets(heterogeneity: dict, cost_per_contact, alpha: float = 0.05) -> pd.DataFrame:
    """Which members to target next: every subgroup of every heterogeneity table, ranked.

    For each subgroup: the effect on the return rate with its interval, and the cost per
    incremental returned member (``cost_per_contact / effect``; undefined when the effect is not
    positive or the cost unknown). Subgroups that hold exactly the same members under two
    variables (for example a recency band that equals an RFM segment) are listed once, naming
    both. The Holm correction runs over the whole ranked table (``p_holm``), because the table
    is read as one list: ``advice`` is ``"target"`` when that p-value is below ``alpha`` and the
    effect is positive, ``"skip"`` when the whole interval lies below zero, otherwise
    ``"no evidence"``. Sorted by advice, then by cost per incremental return.

    Keys of ``heterogeneity`` are variable names, or ``(arm label, variable)`` pairs to rank the
    subgroups of several treated arms in one table (an ``arm`` column is then added, and
    ``cost_per_contact`` may map each arm label to its cost per contacted member).
    """
    rows, seen = [], {}
    for key, tab in heterogeneity.items():
        group, var = key if isinstance(key, tuple) else (None, key)
        cost = cost_per_contact.get(group, np.nan) if isinstance(cost_per_contact, dict) else cost_per_contact
        for _, r in tab.iterrows():
            same = (group, int(r["n_treated"]), int(r["n_control"]), round(float(r["estimate"]), 12), round(float(r["ci_low"]), 12))
            if same in seen:  # the same members under another variable
                rows[seen[same]]["level"] += f" (= {var} {r[var]})"
                continue
            seen[same] = len(rows)
            est = float(r["estimate"])
            rows.append({"arm": group, "variable": var, "level": str(r[var]), "n_treated": int(r["n_treated"]), "estimate": est,
                         "ci_low": float(r["ci_low"]), "ci_high": float(r["ci_high"]), "p_value": float(r["p_value"]),
                         "cost_per_incremental_return": cost / est if est > 0 else np.nan})
    out = pd.DataFrame(rows, columns=["arm", "variable", "level", "n_treated", "estimate", "ci_low", "ci_high", "p_value",
                                      "cost_per_incremental_return"])
    if not any(isinstance(k, tuple) for k in heterogeneity):
        out = out.drop(columns="arm")
    out["p_holm"] = np.nan
    ok = out["p_value"].notna()
    if ok.any():
        out.loc[ok, "p_holm"] = holm(out.loc[ok, "p_value"])
    out["advice"] = np.where((out["p_holm"] < alpha) & (out["estimate"] > 0), "target",
                             np.where(out["ci_high"] < 0, "skip", "no evidence"))
    out = out.drop(columns="p_value")
    order = out["advice"].map({"target": 0, "no evidence": 1, "skip": 2})
    return out.assign(_o=order).sort_values(["_o", "cost_per_incremental_return"], na_position="last").drop(columns="_o").reset_index(drop=True)


# --- planning ------------------------------------------------------------------------

def plan_next_wave(baseline_rate: float, lifts: list[float], alpha: float = 0.05, power: float = 0.8,
                   holdout_share: float = 0.2) -> pd.DataFrame:
    """Members needed to detect each absolute lift over ``baseline_rate`` (two-sided test).

    ``holdout_share`` is the share of the list kept as control; the table gives treated,
    holdout and total list size (Cohen's h with the normal approximation).
    """
    ratio = holdout_share / (1 - holdout_share)
    rows = []
    for lift in lifts:
        h = abs(proportion_effectsize(min(baseline_rate + lift, 0.9999), baseline_rate))
        n_t = NormalIndPower().solve_power(effect_size=h, alpha=alpha, power=power, ratio=ratio, alternative="two-sided")
        n_t = int(np.ceil(n_t))
        n_c = int(np.ceil(n_t * ratio))
        rows.append({"baseline_rate": baseline_rate, "lift": lift, "treated": n_t, "holdout": n_c, "list_size": n_t + n_c})
    return pd.DataFrame(rows)


def return_rate_interval(returned: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson interval of a single return rate."""
    lo, hi = proportion_confint(returned, n, alpha=alpha, method="wilson")
    return float(lo), float(hi)


def campaign_metrics(arms: pd.DataFrame, effects: ArmEffects) -> dict:
    """Headline figures per campaign and arm for ``metrics.json``.

    Per arm: contacted, return rate, purchase rate, spend per contacted member, cost per
    returned member; per treated arm also each incremental effect with its interval.
    """
    out: dict = {}
    for _, a in arms.iterrows():
        entry = {
            "contacted": int(a["contacted"]), "return_rate": float(a["return_rate"]),
            "purchase_rate": float(a["purchase_rate"]), "spend_per_contacted": float(a["spend_per_contacted"]),
            "cost_per_returned": None if pd.isna(a["cost_per_returned"]) else float(a["cost_per_returned"]),
        }
        eff = effects.effects[(effects.effects["campaign_id"] == a["campaign_id"]) & (effects.effects["arm"] == a["arm"])]
        for _, e in eff.iterrows():
            entry[f"incremental_{e['outcome']}"] = {"estimate": float(e["estimate"]), "ci_low": float(e["ci_low"]),
                                                     "ci_high": float(e["ci_high"]), "p_value": None if pd.isna(e["p_value"]) else float(e["p_value"])}
        out.setdefault(a["campaign_id"], {})[a["arm"]] = entry
    return out


def rates_with_intervals(arms: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Return rate per campaign and arm with its Wilson interval (for plots)."""
    out = arms[["campaign_id", "arm", "contacted", "returned", "return_rate"]].copy()
    bounds = [return_rate_interval(int(r), int(n), alpha) for r, n in zip(out["returned"], out["contacted"])]
    out["ci_low"], out["ci_high"] = zip(*bounds) if bounds else ([], [])
    out["label"] = out["campaign_id"] + " / " + out["arm"]
    return out


def main_effect(effects: ArmEffects | None, campaign_id: str = "", arm: str = "") -> dict | None:
    """The effect a campaign report is about, for its headline: the return-rate effect of
    ``campaign_id``/``arm`` when given and present, else of the treated arm with the most
    contacted members. ``{"label", "estimate", "ci_low", "ci_high"}`` or ``None`` (no effects)."""
    if effects is None:
        return None
    t = effects.table("return_rate")
    if t.empty:
        return None
    chosen = t[(t["campaign_id"] == campaign_id) & (t["arm"] == arm)]
    row = (chosen if len(chosen) else t.sort_values("n_treated", ascending=False, kind="stable")).iloc[0]
    return {"label": f"incremental return rate, {row['campaign_id']} / {row['arm']}", "estimate": float(row["estimate"]),
            "ci_low": float(row["ci_low"]), "ci_high": float(row["ci_high"])}
