"""The crossed gift x channel wave: cell rates and average marginal effects of gift and channel."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy import stats

from analysis.statistics.campaigns.outcomes import DEFAULT_CONTROL
from analysis.statistics.clv import ConvergenceWarning
from analysis.statistics.results import Phrase, Result

# --- factorial gift x channel ------------------------------------------------------------


@dataclass(frozen=True)
class FactorialResult(Result):
    """Logistic model ``returned ~ gift * channel`` (with the holdout as baseline) and its AMEs."""

    campaign_id: str
    alpha: float
    cell_rates: pd.DataFrame
    effects: pd.DataFrame
    fit: object = field(repr=False)
    gift_levels: tuple[str, str] = ("", "")  # (reference, alternative), as the data write them
    channel_levels: tuple[str, str] = ("", "")
    kinds: ClassVar[dict] = {"estimate": "points", "se": "percent", "ci_low": "points", "ci_high": "points", "p_value": "p"}
    #: The rows of :attr:`effects`, as codes.
    CONTRASTS: ClassVar[tuple[str, ...]] = ("gift", "channel", "interaction")

    def table(self) -> pd.DataFrame:
        return self.effects

    def to_metrics(self) -> dict:
        """Each contrast by its code (``gift``, ``channel``, ``interaction``) with the levels it
        compares as the data write them: the same keys in every language."""
        levels = {"gift": self.gift_levels, "channel": self.channel_levels, "interaction": self.channel_levels}
        return {
            code: {
                "reference": levels[code][0],
                "alternative": levels[code][1],
                "estimate": float(row.estimate),
                "ci_low": float(row.ci_low),
                "ci_high": float(row.ci_high),
                "p_value": float(row.p_value),
            }
            for code, row in zip(self.CONTRASTS, self.effects.itertuples())
        }

    def conf_int(self, alpha: float | None = None) -> pd.DataFrame:
        return pd.concat([self.effects[["effect"]], super().conf_int(alpha)], axis=1)


def estimate_factorial(
    outcomes: pd.DataFrame,
    campaign_id: str,
    gift_levels: tuple[str, str],
    channel_levels: tuple[str, str],
    control_arm: str = DEFAULT_CONTROL,
    alpha: float = 0.05,
) -> FactorialResult:
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
        warnings.warn(
            f"in {campaign_id} the cell(s) {names} had no returns (or only returns): the model is at a boundary "
            "and the intervals of the effects are too narrow",
            ConvergenceWarning,
            stacklevel=2,
        )
    share_c1, share_g1 = df["alt_channel"].mean(), df["alt_gift"].mean()
    weights = {  # each contrast as weights on the four cell rates
        "gift": {(1, 0): 1 - share_c1, (0, 0): -(1 - share_c1), (1, 1): share_c1, (0, 1): -share_c1},
        "channel": {(0, 1): 1 - share_g1, (0, 0): -(1 - share_g1), (1, 1): share_g1, (1, 0): -share_g1},
        "interaction": {(1, 1): 1.0, (0, 1): -1.0, (1, 0): -1.0, (0, 0): 1.0},
    }
    est = np.array([sum(w * p[k] for k, w in ws.items()) for ws in weights.values()])
    se = np.sqrt([sum(w**2 * p[k] * (1 - p[k]) / n[k] for k, w in ws.items()) for ws in weights.values()])
    z = stats.norm.ppf(1 - alpha / 2)
    effects = pd.DataFrame(
        {
            "effect": [
                Phrase.of("factorial.gift", alternative=g1, reference=g0),
                Phrase.of("factorial.channel", alternative=c1, reference=c0),
                Phrase.of("factorial.interaction", alternative=c1, reference=c0),
            ],
            "estimate": est,
            "se": se,
            "ci_low": est - z * se,
            "ci_high": est + z * se,
            "p_value": 2 * stats.norm.sf(np.abs(est / se)),
        }
    )
    rates = df.groupby(["gift", "channel"])["y"].agg(contacted="size", return_rate="mean").reset_index()
    ctrl = outcomes[(outcomes["campaign_id"] == campaign_id) & (outcomes["arm"] == control_arm)]
    if len(ctrl):
        rates = pd.concat(
            [
                rates,
                pd.DataFrame(
                    [{"gift": "none", "channel": control_arm, "contacted": len(ctrl), "return_rate": ctrl["returned"].mean()}]
                ),
            ],
            ignore_index=True,
        )
    return FactorialResult(campaign_id, alpha, rates, effects, fit, (g0, g1), (c0, c1))
