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

One concern per module (outcomes, effects, beforeafter, adjustment, factorial, targeting,
planning); every name is re-exported here, so ``from analysis.statistics import campaigns`` works as before.
"""

from analysis.statistics.campaigns.adjustment import (  # noqa: F401
    RANK_TOLERANCE,
    AdjustedEffect,
    Dropped,
    compute_precampaign_features,
    estimate_adjusted_effect,
    full_rank_columns,
)
from analysis.statistics.campaigns.beforeafter import BeforeAfter, DiDResult, compare_before_after, estimate_did  # noqa: F401
from analysis.statistics.campaigns.effects import (  # noqa: F401
    ArmEffects,
    _mean_diff_hc2,
    _rate_diff,
    campaign_metrics,
    estimate_arm_effects,
    main_effect,
)
from analysis.statistics.campaigns.factorial import FactorialResult, estimate_factorial  # noqa: F401
from analysis.statistics.campaigns.outcomes import (  # noqa: F401
    DEFAULT_CONTROL,
    _campaigns,
    _check_control,
    _windowed,
    compute_campaign_outcomes,
    has_contacts,
    open_windows,
    rates_with_intervals,
    return_rate_interval,
    summarize_arms,
)
from analysis.statistics.campaigns.planning import plan_next_wave  # noqa: F401
from analysis.statistics.campaigns.targeting import (  # noqa: F401
    COSTS_MORE,
    RECENCY_BAND_EDGES,
    add_bands,
    arm_label,
    band_labels,
    estimate_heterogeneity,
    estimate_heterogeneity_by_arm,
    holm,
    rank_targets,
    segment_at_start,
    shortlist,
)
from analysis.statistics.campaigns.value import COST_UNKNOWN, LOSES, PAYS, UNCLEAR, NetValue, estimate_net_value  # noqa: F401
