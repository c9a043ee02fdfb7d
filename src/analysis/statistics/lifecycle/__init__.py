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

One concern per module (stages, cohorts, survival, risk); every name is re-exported here, so
``from analysis.statistics import lifecycle`` works as before.
"""

from analysis.statistics.lifecycle.cohorts import compute_cohort_retention, partial_last_month  # noqa: F401
from analysis.statistics.lifecycle.risk import (  # noqa: F401
    RISK_FEATURES,
    SleepRiskModel,
    _add_risk_features,
    _can_fall_asleep,
    _could_fall_asleep,
    fit_sleep_risk,
    score_sleep_risk,
    sleep_risk_frame,
)
from analysis.statistics.lifecycle.stages import (  # noqa: F401
    STAGES,
    StageFlows,
    _panel_months,
    _stage_arrays,
    build_stage_panel_expr,
    compute_stage_flows,
)
from analysis.statistics.lifecycle.survival import SurvivalResult, _pointwise_band, compute_time_to_sleep, fit_survival  # noqa: F401
