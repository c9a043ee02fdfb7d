"""Writes clv_lifetimes.json: MBG/NBD and Pareto/NBD fitted by lifetimes on the CDNOW sample
summary, with P(alive) and expected purchases for a few histories (the reference the models of
analysis.statistics.clv are tested against).

Run with lifetimes installed (it needs pandas < 3, so in a venv of its own):
    uv venv /tmp/ll && uv pip install --python /tmp/ll/bin/python lifetimes 'pandas<3'
    /tmp/ll/bin/python tests/data/reference/make_clv_reference.py
"""

import json
from pathlib import Path

import pandas as pd
from lifetimes import ModifiedBetaGeoFitter, ParetoNBDFitter

here = Path(__file__).parent
s = pd.read_csv(here.parent / "cdnow" / "cdnow_customers_summary.csv")
histories = {"frequency": [0, 2, 5, 1, 10], "recency": [0, 10, 30, 2, 37], "T": [38, 38, 38, 30, 38]}
h = pd.DataFrame(histories)
out = {"histories": histories, "t": 39}
for name, cls in (("MBG/NBD", ModifiedBetaGeoFitter), ("Pareto/NBD", ParetoNBDFitter)):
    m = cls().fit(s["frequency"], s["recency"], s["T"])
    out[name] = {
        "params": {k: float(v) for k, v in m.params_.items()},
        "p_alive": [float(v) for v in m.conditional_probability_alive(h["frequency"], h["recency"], h["T"])],
        "expected_purchases": [
            float(v) for v in m.conditional_expected_number_of_purchases_up_to_time(39, h["frequency"], h["recency"], h["T"])
        ],
    }
(here / "clv_lifetimes.json").write_text(json.dumps(out, indent=1) + "\n")
print(json.dumps(out, indent=1))
