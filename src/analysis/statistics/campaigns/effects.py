"""Each treated arm against the holdout of its campaign: rate differences (Newcombe), spend (HC2), p-values."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pandas as pd
from statsmodels.regression.linear_model import OLS
from statsmodels.stats.proportion import confint_proportions_2indep, test_proportions_2indep
from statsmodels.tools.tools import add_constant

from analysis.statistics.campaigns.outcomes import DEFAULT_CONTROL, _check_control
from analysis.statistics.results import Result

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
    X = add_constant(treated.astype(float).to_numpy())
    fit = OLS(y.to_numpy(dtype=float), X).fit(cov_type="HC2")
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
    kinds: ClassVar[dict] = {
        "estimate": "points",
        "ci_low": "points",
        "ci_high": "points",
        "treated_mean": "percent",
        "control_mean": "percent",
        "p_value": "p",
    }

    def conf_int(self, alpha: float | None = None, outcome: str = "return_rate") -> pd.DataFrame:
        """Intervals of ``outcome``'s effects (rows of :meth:`table`), recomputed at another ``alpha``."""
        res = self if alpha is None or alpha == self.alpha else estimate_arm_effects(self.outcomes, self.control_arm, alpha)
        return res.table(outcome)[["campaign_id", "arm", "ci_low", "ci_high"]]

    def table(self, outcome: str = "return_rate") -> pd.DataFrame:
        return self.effects[self.effects["outcome"] == outcome].reset_index(drop=True)

    def summary(self) -> pd.DataFrame:
        return self.effects


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
                rows.append(
                    dict(
                        campaign_id=cid,
                        arm=arm,
                        outcome=outcome,
                        n_treated=n1,
                        n_control=n0,
                        treated_mean=x1 / n1,
                        control_mean=x0 / n0,
                        estimate=est,
                        ci_low=lo,
                        ci_high=hi,
                        p_value=p,
                    )
                )
            both = pd.concat([arm_df, ctrl])
            est, lo, hi, p = _mean_diff_hc2(both["spend"], both["arm"] == arm, alpha)
            rows.append(
                dict(
                    campaign_id=cid,
                    arm=arm,
                    outcome="spend_per_contacted",
                    n_treated=n1,
                    n_control=n0,
                    treated_mean=arm_df["spend"].mean(),
                    control_mean=ctrl["spend"].mean(),
                    estimate=est,
                    ci_low=lo,
                    ci_high=hi,
                    p_value=p,
                )
            )
    return ArmEffects(outcomes, control_arm, alpha, pd.DataFrame(rows))


def campaign_metrics(arms: pd.DataFrame, effects: ArmEffects) -> dict:
    """Headline figures per campaign and arm for ``metrics.json``.

    Per arm: contacted, return rate, purchase rate, spend per contacted member, cost per
    returned member; per treated arm also each incremental effect with its interval.
    """
    out: dict = {}
    for _, a in arms.iterrows():
        entry = {
            "contacted": int(a["contacted"]),
            "return_rate": float(a["return_rate"]),
            "purchase_rate": float(a["purchase_rate"]),
            "spend_per_contacted": float(a["spend_per_contacted"]),
            "cost_per_returned": None if pd.isna(a["cost_per_returned"]) else float(a["cost_per_returned"]),
        }
        eff = effects.effects[(effects.effects["campaign_id"] == a["campaign_id"]) & (effects.effects["arm"] == a["arm"])]
        for _, e in eff.iterrows():
            entry[f"incremental_{e['outcome']}"] = {
                "estimate": float(e["estimate"]),
                "ci_low": float(e["ci_low"]),
                "ci_high": float(e["ci_high"]),
                "p_value": None if pd.isna(e["p_value"]) else float(e["p_value"]),
            }
        out.setdefault(a["campaign_id"], {})[a["arm"]] = entry
    return out


def main_effect(
    effects: ArmEffects | None, campaign_id: str = "", arm: str = "", primary: pd.DataFrame | None = None
) -> dict | None:
    """The effect a campaign report is about, for its headline: the return-rate effect of
    ``campaign_id``/``arm`` when given and present; else of the pre-registered primary outcome
    (``primary``: rows of campaign and arm, the latest campaign's largest arm first); else of the
    treated arm with the largest effect in the latest campaign. Never just the first arm listed.
    ``{"arm" (campaign / arm), "estimate", "ci_low", "ci_high"}`` or ``None`` (no effects)."""
    if effects is None:
        return None
    t = effects.table("return_rate")
    if t.empty:
        return None
    chosen = t[(t["campaign_id"] == campaign_id) & (t["arm"] == arm)]
    if chosen.empty and primary is not None and len(primary):
        keys = set(zip(primary["campaign_id"], primary["arm"]))
        chosen = t[[k in keys for k in zip(t["campaign_id"], t["arm"])]]
    if chosen.empty:
        chosen = t
    starts = effects.outcomes.groupby("campaign_id")["start_date"].first()
    chosen = chosen[chosen["campaign_id"].map(starts) == chosen["campaign_id"].map(starts).max()]  # the latest campaign
    row = chosen.sort_values(["estimate", "arm"], ascending=[False, True], kind="stable").iloc[0]
    return {
        "arm": f"{row['campaign_id']} / {row['arm']}",
        "estimate": float(row["estimate"]),
        "ci_low": float(row["ci_low"]),
        "ci_high": float(row["ci_high"]),
    }
