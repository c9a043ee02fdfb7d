"""Writes ph_data.csv and ph_lifelines.json: a survival data set with one covariate whose effect
changes with time, and lifelines' proportional_hazard_test on it (the reference the PH check of
analysis.statistics.lifecycle is tested against).

Run with lifelines installed (it needs pandas < 3, so in a venv of its own):
    uv venv /tmp/ll && uv pip install --python /tmp/ll/bin/python lifelines 'pandas<3'
    /tmp/ll/bin/python tests/data/reference/make_ph_reference.py
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd

here = Path(__file__).parent
rng = np.random.default_rng(2026)
n = 600
x1 = rng.normal(size=n)
x2 = rng.integers(0, 2, n).astype(float)
# x1 has a constant effect; x2's effect fades with time (two pieces of the hazard)
t_early = rng.exponential(1 / (0.10 * np.exp(0.5 * x1 + 1.0 * x2)))
t_late = 5 + rng.exponential(1 / (0.10 * np.exp(0.5 * x1 - 0.5 * x2)), n)
t = np.where(t_early < 5, t_early, t_late)
c = rng.uniform(2, 30, n)
df = pd.DataFrame({"duration": np.round(np.minimum(t, c), 6), "event": (t <= c).astype(int), "x1": x1.round(6), "x2": x2})
assert not df.loc[df["event"] == 1, "duration"].duplicated().any()  # no tied event times
df.to_csv(here / "ph_data.csv", index=False)

from lifelines import CoxPHFitter  # noqa: E402
from lifelines.statistics import proportional_hazard_test  # noqa: E402

cph = CoxPHFitter().fit(df, "duration", "event")
out = {"params": cph.params_.to_dict()}
for transform in ("rank", "identity", "log", "km"):
    r = proportional_hazard_test(cph, df, time_transform=transform)
    out[transform] = {
        name: {"test_statistic": float(s), "p_value": float(p)} for name, s, p in zip(r.name, r.test_statistic, r.p_value)
    }
(here / "ph_lifelines.json").write_text(json.dumps(out, indent=1) + "\n")
print(json.dumps(out, indent=1))
