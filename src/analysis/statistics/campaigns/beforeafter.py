"""The study's before/after comparison next to the holdout-based difference-in-differences."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf

from analysis.statistics.campaigns.effects import estimate_arm_effects
from analysis.statistics.campaigns.outcomes import DEFAULT_CONTROL, _check_control, summarize_arms
from analysis.statistics.results import Phrase, Result

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
    did: DiDResult
    kinds: ClassVar[dict] = {"incremental_return_rate": "points", "ci_low": "points", "ci_high": "points", "estimate": "points"}

    @property
    def alpha(self) -> float:
        return self.did.alpha

    def table(self) -> pd.DataFrame:
        return self.waves

    def conf_int(self, alpha: float | None = None) -> pd.DataFrame:
        """The interval of the difference-in-differences."""
        return self.did.conf_int(alpha)

    def to_metrics(self) -> dict:
        """The naive difference and the holdout-based one (difference-in-differences) with its interval."""
        return {
            "naive_difference": self.naive_difference,
            "did_estimate": self.did.estimate,
            "did_ci_low": self.did.ci_low,
            "did_ci_high": self.did.ci_high,
        }

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "comparison": [Phrase.of("beforeafter.naive"), Phrase.of("beforeafter.did"), Phrase.of("beforeafter.bias")],
                "estimate": [self.naive_difference, self.causal_difference, self.naive_difference - self.causal_difference],
                "ci_low": [np.nan, self.did.ci_low, np.nan],
                "ci_high": [np.nan, self.did.ci_high, np.nan],
            }
        )


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
        return pd.DataFrame(
            [
                {
                    "effect": "change in the incremental return rate (after minus before)",
                    "estimate": self.estimate,
                    "se": self.se,
                    "ci_low": self.ci_low,
                    "ci_high": self.ci_high,
                    "p_value": self.p_value,
                    "n_obs": self.n_obs,
                    "n_clusters": self.n_clusters,
                }
            ]
        )

    def conf_int(self, alpha: float | None = None) -> pd.DataFrame:
        lo, hi = self.fit.conf_int(alpha=self.alpha if alpha is None else alpha).loc["treated:after"]
        return pd.DataFrame({"ci_low": [float(lo)], "ci_high": [float(hi)]})


def estimate_did(
    outcomes: pd.DataFrame,
    before: str,
    after: str,
    before_arm: str,
    after_arm: str,
    control_arm: str = DEFAULT_CONTROL,
    outcome: str = "returned",
    alpha: float = 0.05,
) -> DiDResult:
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
    sel = ((outcomes["campaign_id"] == before) & outcomes["arm"].isin([before_arm, control_arm])) | (
        (outcomes["campaign_id"] == after) & outcomes["arm"].isin([after_arm, control_arm])
    )
    df = outcomes.loc[sel, ["member_id", "campaign_id", "arm", outcome]].copy()
    df["y"] = df[outcome].astype(float)
    df["treated"] = (df["arm"] != control_arm).astype(float)
    df["after"] = (df["campaign_id"] == after).astype(float)
    groups = pd.factorize(df["member_id"])[0]
    fit = smf.ols("y ~ treated * after", data=df).fit(cov_type="cluster", cov_kwds={"groups": groups})
    lo, hi = fit.conf_int(alpha=alpha).loc["treated:after"]
    return DiDResult(
        float(fit.params["treated:after"]),
        float(fit.bse["treated:after"]),
        float(lo),
        float(hi),
        float(fit.pvalues["treated:after"]),
        alpha,
        int(len(df)),
        int(groups.max() + 1),
        fit,
    )


def compare_before_after(
    outcomes: pd.DataFrame,
    before: str,
    after: str,
    before_arm: str,
    after_arm: str,
    control_arm: str = DEFAULT_CONTROL,
    alpha: float = 0.05,
) -> BeforeAfter:
    """The study's table (count back, return rate, spend on return) before vs after, with causal estimates."""
    arms = summarize_arms(outcomes[outcomes["campaign_id"].isin([before, after])], control_arm).set_index(["campaign_id", "arm"])
    eff = estimate_arm_effects(outcomes[outcomes["campaign_id"].isin([before, after])], control_arm, alpha).table("return_rate")
    eff = eff.set_index(["campaign_id", "arm"])
    rows = []
    for label, cid, arm in (("before", before, before_arm), ("after", after, after_arm)):
        a, e = arms.loc[(cid, arm)], eff.loc[(cid, arm)]
        rows.append(
            {
                "wave": label,
                "campaign_id": cid,
                "arm": arm,
                "contacted": int(a["contacted"]),
                "returned": int(a["returned"]),
                "return_rate": a["return_rate"],
                "spend_on_return": a["spend"],
                "spend_per_returner": a["spend_per_returner"],
                "cost_per_returned": a["cost_per_returned"],
                "holdout_return_rate": arms.loc[(cid, control_arm), "return_rate"],
                "incremental_return_rate": e["estimate"],
                "ci_low": e["ci_low"],
                "ci_high": e["ci_high"],
            }
        )
    table = pd.DataFrame(rows)
    did = estimate_did(outcomes, before, after, before_arm, after_arm, control_arm, alpha=alpha)
    naive = float(table["return_rate"].iloc[1] - table["return_rate"].iloc[0])
    return BeforeAfter(table, naive, did.estimate, did)
