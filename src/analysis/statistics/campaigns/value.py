"""Does a campaign pay? The net incremental value of each treated arm against its holdout.

Per member, value = ``margin_rate`` x spend in the response window - the member's contact and
gift cost (a holdout member costs nothing). The arm's net incremental value per contacted
member is the difference of the two arms' mean values, with an HC2 interval (the same regression
as the spend effect); the total is that times the members contacted. With ``margin_rate`` = 1 it
is the promotion-test field's *net incremental revenue*. Without a margin, the same number at a
100 % margin is the best case: an arm whose best case is below zero loses money at any margin.
Unknown costs stay unknown: the value is then not computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from analysis.statistics.campaigns.effects import _mean_diff_hc2
from analysis.statistics.campaigns.outcomes import DEFAULT_CONTROL
from analysis.statistics.results import Phrase, Result

#: What the interval of an arm's net value says: it pays, it loses money, or the data cannot tell.
PAYS, LOSES, UNCLEAR, COST_UNKNOWN = "pays", "loses money", "cannot tell", "cost unknown"
#: The code of each verdict in phrases.
VERDICT_CODES = {PAYS: "pays", LOSES: "loses", UNCLEAR: "unclear"}


@dataclass(frozen=True)
class NetValue(Result):
    """Net incremental value of every treated arm (see the module's docstring)."""

    values: pd.DataFrame  # campaign_id, arm, contacted, incremental_spend, cost_per_contacted, estimate, ci_low, ci_high, total, total_ci_low, total_ci_high, verdict
    margin_rate: float | None
    alpha: float = 0.05
    kinds: ClassVar[dict] = {
        "incremental_spend": "money",
        "cost_per_contacted": "money",
        "estimate": "money",
        "se": "money",
        "ci_low": "money",
        "ci_high": "money",
        "total": "money",
        "total_ci_low": "money",
        "total_ci_high": "money",
        "contacted": "count",
    }

    @property
    def best_case(self) -> bool:
        """Whether the values assume a 100 % margin (no ``margin_rate`` given)."""
        return self.margin_rate is None

    def table(self) -> pd.DataFrame:
        return self.values

    def losing(self) -> pd.DataFrame:
        """The arms whose whole interval lies below zero."""
        return self.values[self.values["verdict"] == LOSES]

    def metrics(self) -> dict:
        out: dict = {}
        for r in self.values.itertuples():
            known = r.verdict != COST_UNKNOWN
            out.setdefault(r.campaign_id, {})[r.arm] = {
                "net_incremental_value_per_contacted": {"estimate": r.estimate, "ci_low": r.ci_low, "ci_high": r.ci_high}
                if known
                else None,
                "net_incremental_value_total": {"estimate": r.total, "ci_low": r.total_ci_low, "ci_high": r.total_ci_high}
                if known
                else None,
                "margin_rate": 1.0 if self.best_case else self.margin_rate,
                "best_case": self.best_case,
                "verdict": r.verdict,
            }
        return out

    def sentences(self) -> list[Phrase]:
        """One phrase per arm, arms that lose money first: ``value.<verdict>`` (``value.best.<verdict>``
        when the margin is unknown and every extra spend is counted as profit, the best case), with
        the arm, its net value per contacted member and interval, the total, and what it cost."""
        order = self.values.assign(_o=self.values["verdict"].map({LOSES: 0, UNCLEAR: 1, PAYS: 2, COST_UNKNOWN: 3}))
        out = []
        for r in order.sort_values(["_o", "campaign_id", "arm"], kind="stable").itertuples():
            arm = f"{r.campaign_id} / {r.arm}"
            if r.verdict == COST_UNKNOWN:
                out.append(Phrase.of("value.cost_unknown", arm=arm))
                continue
            code = VERDICT_CODES[r.verdict]
            values = {
                "arm": arm,
                "net": r.estimate,
                "low": r.ci_low,
                "high": r.ci_high,
                "total": r.total,
                "level": 1 - self.alpha,
                "spend": r.incremental_spend,
                "cost": r.cost_per_contacted,
            }
            if self.best_case:
                out.append(Phrase(f"value.best.{code}", values))
            else:
                out.append(Phrase(f"value.{code}", {**values, "margin": self.margin_rate}))
        return out


def estimate_net_value(
    outcomes: pd.DataFrame, control_arm: str = DEFAULT_CONTROL, margin_rate: float | None = None, alpha: float = 0.05
) -> NetValue:
    """:class:`NetValue` of every treated arm of every campaign with a ``control_arm``."""
    m = 1.0 if margin_rate is None else float(margin_rate)
    rows = []
    for cid, grp in outcomes.groupby("campaign_id", sort=True):
        ctrl = grp[grp["arm"] == control_arm]
        if ctrl.empty:
            continue
        for arm, a in grp[grp["arm"] != control_arm].groupby("arm", sort=True):
            n = len(a)
            row = {
                "campaign_id": cid,
                "arm": arm,
                "contacted": n,
                "incremental_spend": float(a["spend"].mean() - ctrl["spend"].mean()),
                "cost_per_contacted": float(a["cost"].mean()) if a["cost"].notna().all() else np.nan,
            }
            if np.isnan(row["cost_per_contacted"]):
                row.update(estimate=np.nan, se=np.nan, ci_low=np.nan, ci_high=np.nan, verdict=COST_UNKNOWN)
            else:
                both = pd.concat([a, ctrl])
                value = m * both["spend"].astype(float) - np.where(both["arm"] == arm, both["cost"].astype(float), 0.0)
                est, lo, hi, _ = _mean_diff_hc2(value.reset_index(drop=True), (both["arm"] == arm).reset_index(drop=True), alpha)
                row.update(
                    estimate=float(est),
                    se=float(hi - lo) / (2 * stats.norm.ppf(1 - alpha / 2)),
                    ci_low=float(lo),
                    ci_high=float(hi),
                    verdict=PAYS if lo > 0 else LOSES if hi < 0 else UNCLEAR,
                )
            row.update(total=row["estimate"] * n, total_ci_low=row["ci_low"] * n, total_ci_high=row["ci_high"] * n)
            rows.append(row)
    cols = [
        "campaign_id",
        "arm",
        "contacted",
        "incremental_spend",
        "cost_per_contacted",
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "total",
        "total_ci_low",
        "total_ci_high",
        "verdict",
    ]
    return NetValue(pd.DataFrame(rows, columns=cols), None if margin_rate is None else m, alpha)
