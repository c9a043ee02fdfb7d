"""Self-check cells of the teaching notebooks (``notebooks/teaching/``).

Each ``check_*`` function compares a student's answer with the toolkit's own computation and
returns a :class:`Check` that renders as a green tick or a red cross with a hint. An answer left
as ``None`` is "not answered yet", never an error, so a fresh notebook runs top to bottom.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.data.dataset import MallData
from analysis.data.sources import settings_path
from analysis.presentation.formats import display_name, label
from analysis.presentation.i18n import N_, tr
from analysis.statistics.features import compute_member_features
from analysis.statistics.segmentation import score_quantiles


@dataclass(frozen=True)
class Check:
    exercise: str
    status: str  # "right", "wrong" or "open"
    message: str

    @property
    def ok(self) -> bool:
        return self.status == "right"

    def _repr_html_(self) -> str:
        color, mark = {"right": ("#1a7f37", "&#10004;"), "wrong": ("#c62828", "&#10008;"), "open": ("#888", "&#9711;")}[
            self.status
        ]
        return (
            f'<div style="border-left:4px solid {color};padding:0.3em 0.8em;margin:0.5em 0">'
            f'<b style="color:{color}">{mark} {html.escape(self.exercise)}</b>: {html.escape(self.message)}</div>'
        )

    def __repr__(self) -> str:
        return f"[{self.status}] {self.exercise}: {self.message}"


def _open(exercise: str) -> Check:
    return Check(exercise, "open", tr("not answered yet: replace None with your answer and run the cell again"))


def _number(exercise: str, answer, expected: float, tol: float, hint: str, fmt: str = "{:,.4g}") -> Check:
    if answer is None:
        return _open(exercise)
    try:
        value = float(answer)
    except (TypeError, ValueError):
        return Check(exercise, "wrong", tr("expected a number, got {kind}", kind=type(answer).__name__))
    if np.isclose(
        value, expected, atol=tol, rtol=0, equal_nan=True
    ):  # NaN: not defined on these data (e.g. a median not reached)
        return Check(exercise, "right", tr("{value} is right", value=fmt.format(value)))
    return Check(exercise, "wrong", tr("{value} is not it.", value=fmt.format(value)) + " " + tr(hint))


# --- 1. RFM by hand ------------------------------------------------------------------------


def check_rfm_table(answer: pd.DataFrame | None, data: MallData, as_of, window_days: int = 365) -> Check:
    """Recency, frequency and monetary per member, by hand, against the feature layer."""
    ex = tr("RFM table")
    if answer is None:
        return _open(ex)
    need = {"member_id", "recency_days", "frequency", "monetary"}
    if not isinstance(answer, pd.DataFrame) or not need <= set(answer.columns):
        return Check(ex, "wrong", tr("expected a DataFrame with columns {columns}", columns=sorted(need)))
    ref = compute_member_features(data, as_of, window_days)
    ref = ref[ref["frequency"] > 0].set_index("member_id")
    got = answer.set_index("member_id")
    missing = ref.index.difference(got.index)
    if len(missing):
        return Check(
            ex, "wrong", tr("{n} members who bought in the window are missing (did you filter the dates right?)", n=len(missing))
        )
    got = got.loc[ref.index]
    for col, hint in (
        ("frequency", N_("count purchases with as_of - window < ts <= as_of")),
        ("monetary", N_("sum the amounts in the same window")),
        ("recency_days", N_("days from the last purchase date to as_of, in whole days")),
    ):
        bad = ~np.isclose(got[col].astype(float), ref[col].astype(float), atol=0.01)
        if bad.any():
            return Check(
                ex,
                "wrong",
                tr("{column} differs for {n} of {total} members:", column=col, n=int(bad.sum()), total=len(ref)) + " " + tr(hint),
            )
    return Check(ex, "right", tr("all {n:,} members match the toolkit's feature layer", n=len(ref)))


def check_rfm_scores(answer: pd.Series | None, features: pd.DataFrame, column: str, higher_is_better: bool) -> Check:
    """Quintile scores 1-5 of one column, against :func:`analysis.statistics.segmentation.score_quantiles`."""
    ex = tr("{column} scores", column=label(column))
    if answer is None:
        return _open(ex)
    ref = score_quantiles(features[column], 5, higher_is_better)
    got = pd.Series(answer).reindex(ref.index)
    agree = float((got == ref).mean())
    if agree == 1.0:
        return Check(ex, "right", tr("every score matches"))
    return Check(
        ex,
        "wrong",
        tr(
            "{agree:.0%} of scores match; ties: members with equal values share the lowest score of their group "
            "(rank(method='min')), and score = 1 + floor(5 * (rank - 1) / n)",
            agree=agree,
        ),
    )


# --- 2. survival and the lifecycle ------------------------------------------------------------


def check_km_by_hand(answer, durations, events, t: float) -> Check:
    """Kaplan-Meier survival at ``t`` computed by hand, against statsmodels."""
    from statsmodels.duration.survfunc import SurvfuncRight

    sf = SurvfuncRight(np.asarray(durations, float), np.asarray(events, int))
    times, surv = sf.surv_times, sf.surv_prob
    expected = float(surv[times <= t][-1]) if (times <= t).any() else 1.0
    return _number(
        tr("Kaplan-Meier by hand"),
        answer,
        expected,
        1e-3,
        N_("multiply (1 - events / at risk) over the event times up to t; censored members leave the risk set without an event"),
        fmt="{:.3f}",
    )


def check_median_time_to_sleep(answer, tts: pd.DataFrame, tier: str) -> Check:
    """Median days from the first purchase to falling asleep for one tier (Kaplan-Meier)."""
    from statsmodels.duration.survfunc import SurvfuncRight

    sub = tts[tts["tier"] == tier]
    sf = SurvfuncRight(sub["duration"].to_numpy(float), sub["event"].to_numpy(int))
    below = sf.surv_times[sf.surv_prob <= 0.5]
    expected = float(below[0]) if len(below) else float("nan")
    return _number(
        tr("median time to sleep ({tier})", tier=display_name(tier)),
        answer,
        expected,
        0.5,
        N_(
            "use the censored durations (members not yet asleep count as at risk until they leave), not the "
            "mean of the observed ones"
        ),
        fmt="{:,.0f}",
    )


# --- 3. naive before/after vs a holdout ----------------------------------------------------------


def check_return_rate(answer, outcomes: pd.DataFrame, campaign_id: str, arm: str | None = None) -> Check:
    """Return rate of a campaign (all contacted members, or one arm)."""
    sub = outcomes[outcomes["campaign_id"] == campaign_id]
    if arm is not None:
        sub = sub[sub["arm"] == arm]
    what = tr("return rate of {group}", group=display_name(f"{campaign_id} / {arm}" if arm else campaign_id))
    return _number(
        what, answer, float(sub["returned"].mean()), 5e-4, N_("returned members / contacted members of that group"), fmt="{:.3f}"
    )


def check_incremental(answer, outcomes: pd.DataFrame, campaign_id: str, arm: str, control_arm: str) -> Check:
    """Treated minus holdout return rate within one campaign."""
    sub = outcomes[outcomes["campaign_id"] == campaign_id]
    expected = float(sub.loc[sub["arm"] == arm, "returned"].mean() - sub.loc[sub["arm"] == control_arm, "returned"].mean())
    return _number(
        tr("incremental return rate of {group}", group=display_name(f"{campaign_id} / {arm}")),
        answer,
        expected,
        5e-4,
        N_("compare with the holdout of the same wave, not with the other wave"),
        fmt="{:+.3f}",
    )


def load_truth(data_dir) -> dict | None:
    """The planted effects of a synthetic mall (``truth.json``; for a source, beside its connection
    file), or None for real data."""
    path = settings_path(data_dir, "truth.json")
    return json.loads(path.read_text(encoding="utf-8")) if path is not None and path.exists() else None


def missing_campaigns(data, campaign_ids: list[str]) -> list[str]:
    """The campaigns of ``campaign_ids`` with no contacts in the data (an exercise on them does not apply)."""
    have = set(data.contacts.select("campaign_id").distinct().to_pandas()["campaign_id"])
    return [c for c in campaign_ids if c not in have]


def all_right(checks: list[Check]) -> bool:
    """Whether every exercise so far is answered right: only then does a student's copy show the
    toolkit's results (which print the answers)."""
    return bool(checks) and all(c.ok for c in checks)


def summarize_checks(checks: list[Check]) -> pd.DataFrame:
    """One row per exercise: status and message (for the end of a notebook and its metrics)."""
    return pd.DataFrame([{"exercise": c.exercise, "status": c.status, "message": c.message} for c in checks])
