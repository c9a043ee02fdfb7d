"""Members needed to detect a lift in the next wave (power analysis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

# --- planning ------------------------------------------------------------------------


def plan_next_wave(
    baseline_rate: float, lifts: list[float], alpha: float = 0.05, power: float = 0.8, holdout_share: float = 0.2
) -> pd.DataFrame:
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
