"""The dissertation's four claims, each checked against the data with a verdict by a stated rule.

The claims (from the abstract, "the trilogy" and its before/after table):

1. A sleeping list built from the last purchase alone is inaccurate.
2. Entertainment gifts beat daily-use gifts of the same value.
3. Outbound call + WeChat beats SMS, at a lower cost.
4. The optimised wave worked better than the one before it.

:data:`RULE` is the verdict rule, stated on the page before any number: **supported** when the
interval lies wholly on the side the claim states, **contradicted** when it lies wholly on the
other side, otherwise **not enough evidence**, with the members per arm a study would need to
detect the effect with 80 % power. Each ``claim_*`` function returns a :class:`Claim`, or one
whose ``reason`` says why the claim cannot be tested on these data.

A claim holds numbers and codes only: what the estimate is (``evidence``) and what limits the
verdict (``reason``) are :class:`~analysis.statistics.results.Phrase` codes with their values, the
verdict is a code, and claim 1's measures are codes with numbers. The words, in the report's
language, are written by :mod:`analysis.presentation.claims_text`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from analysis.statistics.campaigns import DEFAULT_CONTROL, _mean_diff_hc2, _rate_diff, compare_before_after, estimate_factorial
from analysis.statistics.results import Phrase, Result
from analysis.statistics.sleeping import unavailable_phrase

#: The verdicts (codes; also the English message ids of their words).
SUPPORTED, CONTRADICTED, UNDECIDED, NOT_TESTABLE = ("supported", "contradicted", "not enough evidence", "not testable here")
POWER = 0.80


@dataclass
class Claim(Result):
    """One claim's evidence: the estimate the verdict rests on, its interval and the verdict."""

    number: int
    evidence: tuple[Phrase, ...] = ()  # what the estimate is
    estimate: float = float("nan")
    ci_low: float = float("nan")
    ci_high: float = float("nan")
    verdict: str = NOT_TESTABLE
    reason: tuple[Phrase, ...] = ()  # why not testable, or what limits the verdict
    percent: bool = True  # the estimate is a share or a rate difference (shown in %)
    needed_per_arm: int | None = None
    #: Claim 1's measures: ``measure`` (a code), ``campaign``, ``value``, ``low``, ``high``, ``kind``.
    details: pd.DataFrame | None = field(default=None, repr=False)

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([self.row()])

    def to_metrics(self) -> dict:
        """The claim's numbers and verdict for ``metrics.json``: codes and numbers, the same in every language."""
        row = self.row()
        return {k: row[k] for k in ("claim", "estimate", "ci_low", "ci_high", "verdict", "needed_per_arm", "reason")}

    def row(self) -> dict:
        """The claim as plain values: numbers, the verdict and the codes of its phrases."""
        num = lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)  # noqa: E731
        return {
            "claim": self.number,
            "evidence": " ".join(p.code for p in self.evidence),
            "estimate": num(self.estimate),
            "ci_low": num(self.ci_low),
            "ci_high": num(self.ci_high),
            "verdict": self.verdict,
            "needed_per_arm": self.needed_per_arm,
            "reason": " ".join(p.code for p in self.reason),
        }


def verdict(ci_low: float, ci_high: float, direction: int = 1) -> str:
    """The rule stated on the claims page: ``direction`` +1 when the claim says "larger than zero", -1 "smaller"."""
    if any(v is None or math.isnan(v) for v in (ci_low, ci_high)):
        return UNDECIDED
    lo, hi = (ci_low, ci_high) if direction > 0 else (-ci_high, -ci_low)
    if lo > 0:
        return SUPPORTED
    if hi < 0:
        return CONTRADICTED
    return UNDECIDED


def members_needed(variance_per_member: float, effect: float, alpha: float = 0.05, power: float = POWER) -> int | None:
    """Members per arm for a two-sided ``alpha`` z-test to detect ``effect`` with ``power``, when the
    estimate's variance is ``variance_per_member / n`` with ``n`` members in every arm (normal
    approximation): ``n = (z_{1-alpha/2} + z_power)^2 * variance_per_member / effect^2``."""
    if not effect or not variance_per_member or math.isnan(effect) or math.isnan(variance_per_member):
        return None
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return int(math.ceil(z**2 * variance_per_member / effect**2))


def _bernoulli_var(rates) -> float:
    return float(sum(p * (1 - p) for p in rates))


def _needed(var_weighted: float, estimate: float, direction: int, min_effect: float, alpha: float) -> int | None:
    effect = estimate if estimate * direction > min_effect else min_effect
    return members_needed(var_weighted, effect, alpha)


# --- claim 1 ---------------------------------------------------------------------------------

#: Claim 1's materiality: the naive list is "inaccurate" when at least this share of it is not
#: really asleep or cannot be reached (the default of the claims page's ``min_invalid_share``).
MIN_INVALID_SHARE = 0.05


def claim_sleeping_list(
    sleeping,
    outcomes: pd.DataFrame | None = None,
    campaign_id: str = "",
    control_arm: str = DEFAULT_CONTROL,
    alpha: float = 0.05,
    min_share: float = MIN_INVALID_SHARE,
) -> Claim:
    """Claim 1 from a :class:`~analysis.statistics.sleeping.SleepingList` (and, when given, a campaign run on
    that naive list): the share of the naive list with evidence of presence or that cannot be
    reached (Wilson interval), how much the naive list overstates the sleeping population, and
    how the naive denominator shifts the campaign's return rate.

    The verdict compares the interval with ``min_share`` (claim 1's rule on the page), so the claim can be
    contradicted too. Data that can apply none of the refinements (no visits before the list
    date, no reachability, opt-out or phone numbers) cannot test it."""
    c = Claim(1, evidence=(Phrase.of("claim1.evidence"),))
    n = sleeping.naive_size
    if n == 0:
        c.reason = (Phrase.of("claim1.no_list", date=sleeping.list_date, tier=sleeping.tier, days=sleeping.sleeping_days),)
        return c
    if not sleeping.testable:
        c.reason = (unavailable_phrase(sleeping),)
        return c
    invalid = n - sleeping.refined_size
    lo, hi = proportion_confint(invalid, n, alpha=alpha, method="wilson")
    c.estimate, c.ci_low, c.ci_high = invalid / n, float(lo), float(hi)
    c.verdict = verdict(c.ci_low - min_share, c.ci_high - min_share, +1)
    if sleeping.unavailable:
        c.reason = (unavailable_phrase(sleeping),)
    rows = [
        {"measure": "naive_list", "value": n, "kind": "count"},
        {"measure": "refined_list", "value": sleeping.refined_size, "kind": "count"},
        {"measure": "overstatement", "value": sleeping.overstatement if sleeping.refined_size else np.nan, "kind": "percent"},
    ]
    if outcomes is not None and campaign_id:
        df = outcomes[(outcomes["campaign_id"] == campaign_id) & (outcomes["arm"] != control_arm)].merge(
            sleeping.members[["member_id", "refined"]], on="member_id", how="inner"
        )
        ref, inv = df[df["refined"]], df[~df["refined"]]
        if len(ref) and len(inv):
            whole, rr = df["returned"].mean(), ref["returned"].mean()
            d, dlo, dhi, _ = _rate_diff(int(inv["returned"].sum()), len(inv), int(ref["returned"].sum()), len(ref), alpha)
            share = len(inv) / len(df)
            rows += [
                {"measure": "naive_return_rate", "campaign": campaign_id, "value": whole, "kind": "percent"},
                {"measure": "refined_return_rate", "campaign": campaign_id, "value": rr, "kind": "percent"},
                {
                    "measure": "distortion",
                    "value": share * d,
                    "low": share * dlo,
                    "high": share * dhi,
                    "kind": "points",
                },
            ]
        else:
            c.reason = (Phrase.of("claim1.no_both_sides", campaign=campaign_id),)
    c.details = pd.DataFrame(rows)
    return c


# --- claims 2 and 3: the crossed wave, or arms that differ in one factor ----------------------


def _contrast_arms(outcomes: pd.DataFrame, factor: str, levels: tuple[str, str], control_arm: str):
    """(campaign, reference arm, alternative arm) of the largest campaign holding two arms that
    differ only in ``factor`` (``gift`` or ``channel``), or ``None``."""
    other = "channel" if factor == "gift" else "gift"
    treated = outcomes[outcomes["arm"] != control_arm]
    arms = (
        treated.groupby(["campaign_id", "arm"])
        .agg(n=("member_id", "size"), gift=("gift", "first"), channel=("channel", "first"))
        .reset_index()
    )
    best = None
    for cid, g in arms.groupby("campaign_id"):
        ref, alt = g[g[factor] == levels[0]], g[g[factor] == levels[1]]
        for _, r in ref.iterrows():
            for _, a in alt[alt[other] == r[other]].iterrows():
                if best is None or r["n"] + a["n"] > best[3]:
                    best = (cid, r["arm"], a["arm"], r["n"] + a["n"])
    return best[:3] if best else None


def _factor_claim(
    number: int,
    outcomes: pd.DataFrame | None,
    factor: str,
    factorial_campaign: str,
    gift_levels: tuple[str, str],
    channel_levels: tuple[str, str],
    control_arm: str,
    alpha: float,
    min_effect: float,
) -> tuple[Claim, pd.DataFrame | None, str]:
    """The return-rate effect of the alternative gift (or channel) over the reference, and the
    treated members it compares (``frame``) with the column ``alt`` (1: alternative level)."""
    levels = gift_levels if factor == "gift" else channel_levels
    c = Claim(number, evidence=(Phrase.of("claims.factor_effect", alternative=levels[1], reference=levels[0], factor=factor),))
    if outcomes is None or outcomes.empty:
        c.reason = (Phrase.of("campaigns.none"),)
        return c, None, ""
    if factorial_campaign and factorial_campaign in set(outcomes["campaign_id"]):
        try:
            fac = estimate_factorial(outcomes, factorial_campaign, gift_levels, channel_levels, control_arm, alpha)
        except ValueError as err:
            c.reason = (Phrase.of("claims.factorial_error", error=str(err)),)
            return c, None, ""
        row = fac.effects.iloc[0 if factor == "gift" else 1]
        c.estimate, c.ci_low, c.ci_high = float(row["estimate"]), float(row["ci_low"]), float(row["ci_high"])
        c.evidence += (Phrase.of("claims.in_factorial", campaign=factorial_campaign),)
        df = outcomes[
            (outcomes["campaign_id"] == factorial_campaign)
            & (outcomes["arm"] != control_arm)
            & outcomes["gift"].isin(gift_levels)
            & outcomes["channel"].isin(channel_levels)
        ].copy()
        rates = df.groupby(["gift", "channel"])["returned"].mean()
        var = 0.25 * _bernoulli_var(rates)  # each main effect averages two differences of four arms
        where = factorial_campaign
    else:
        pair = _contrast_arms(outcomes, factor, levels, control_arm)
        if pair is None:
            c.reason = (
                Phrase.of(
                    "claims.no_contrast",
                    gifts=tuple(gift_levels),
                    channels=tuple(channel_levels),
                    factor=factor,
                    reference=levels[0],
                    alternative=levels[1],
                ),
            )
            return c, None, ""
        cid, ref, alt = pair
        df = outcomes[(outcomes["campaign_id"] == cid) & outcomes["arm"].isin([ref, alt])].copy()
        t, r = df[df["arm"] == alt], df[df["arm"] == ref]
        est, lo, hi, _ = _rate_diff(int(t["returned"].sum()), len(t), int(r["returned"].sum()), len(r), alpha)
        c.estimate, c.ci_low, c.ci_high = est, lo, hi
        c.evidence += (Phrase.of("claims.in_arms", campaign=cid, alternative=alt, reference=ref),)
        var = _bernoulli_var([t["returned"].mean(), r["returned"].mean()])
        where = cid
    df["alt"] = (df[factor] == levels[1]).astype(int)
    c.verdict = verdict(c.ci_low, c.ci_high, +1)
    if c.verdict != SUPPORTED:
        c.needed_per_arm = _needed(var, c.estimate, +1, min_effect, alpha)
    return c, df, where


def _group_table(df: pd.DataFrame, factor: str) -> pd.DataFrame:
    """Contacted, return rate, spend and cost per contacted member for each level of ``factor``."""
    rows = []
    for level, g in df.groupby(factor, sort=True):
        rows.append(
            {
                factor: level,
                "contacted": len(g),
                "return_rate": g["returned"].mean(),
                "spend_per_contacted": g["spend"].mean(),
                "cost_per_contacted": g["cost"].mean() if g["cost"].notna().all() else np.nan,
            }
        )
    return pd.DataFrame(rows)


def claim_gift(
    outcomes: pd.DataFrame | None,
    factorial_campaign: str = "",
    gift_levels=("daily", "entertainment"),
    channel_levels=("sms", "call_wechat"),
    control_arm: str = DEFAULT_CONTROL,
    alpha: float = 0.05,
    min_effect: float = 0.02,
) -> Claim:
    """Claim 2: the gift effect on the return rate (verdict), with spend per contacted member by gift."""
    c, df, _ = _factor_claim(
        2, outcomes, "gift", factorial_campaign, tuple(gift_levels), tuple(channel_levels), control_arm, alpha, min_effect
    )
    if df is not None:
        table = _group_table(df, "gift")
        est, lo, hi, _ = _mean_diff_hc2(df["spend"], df["alt"] == 1, alpha)
        c.details = table.drop(columns="cost_per_contacted")
        c.reason = (Phrase.of("claim2.spend", estimate=est, gift=gift_levels[1], low=lo, high=hi),)
    return c


def _cost_per_incremental(df: pd.DataFrame, ctrl_rate: float) -> float:
    inc = df["returned"].mean() - ctrl_rate
    return df["cost"].mean() / inc if inc > 0 else np.inf


def claim_channel(
    outcomes: pd.DataFrame | None,
    factorial_campaign: str = "",
    gift_levels=("daily", "entertainment"),
    channel_levels=("sms", "call_wechat"),
    control_arm: str = DEFAULT_CONTROL,
    alpha: float = 0.05,
    min_effect: float = 0.02,
    n_boot: int = 2000,
    seed: int = 7,
) -> Claim:
    """Claim 3: the channel effect on the return rate, and the cost per incremental returned
    member by channel with a bootstrap interval (members resampled within each arm and the
    holdout). The claim is supported when both parts are; contradicted when either is."""
    c, df, cid = _factor_claim(
        3, outcomes, "channel", factorial_campaign, tuple(gift_levels), tuple(channel_levels), control_arm, alpha, min_effect
    )
    if df is None:
        return c
    ctrl = outcomes[(outcomes["campaign_id"] == cid) & (outcomes["arm"] == control_arm)]
    table = _group_table(df, "channel")
    if ctrl.empty or df["cost"].isna().any():
        why = (
            Phrase.of("claim3.no_costs")
            if df["cost"].isna().any()
            else Phrase.of("claim3.no_control", campaign=cid, arm=control_arm)
        )
        c.details = table
        c.reason = (Phrase.of("claim3.cost_not_testable", why=why),)
        return c
    rng = np.random.default_rng(seed)
    groups = {lvl: df[df["channel"] == lvl] for lvl in channel_levels}
    by_arm = {
        lvl: [g.loc[g["arm"] == a, ["returned", "cost"]].to_numpy(float) for a in g["arm"].unique()] for lvl, g in groups.items()
    }
    ctrl_y = ctrl["returned"].to_numpy(float)
    point = {lvl: _cost_per_incremental(groups[lvl], ctrl_y.mean()) for lvl in channel_levels}
    draws = np.empty((n_boot, 2))
    for b in range(n_boot):
        cr = ctrl_y[rng.integers(0, len(ctrl_y), len(ctrl_y))].mean()
        for j, lvl in enumerate(channel_levels):
            parts = [arr[rng.integers(0, len(arr), len(arr))] for arr in by_arm[lvl]]
            both = np.concatenate(parts)
            inc = both[:, 0].mean() - cr
            draws[b, j] = both[:, 1].mean() / inc if inc > 0 else np.inf
    with np.errstate(invalid="ignore"):  # inf - inf: both undefined, the difference is too
        diff = draws[:, 1] - draws[:, 0]  # alternative minus reference: negative = cheaper per incremental return
        lo, hi = np.quantile(np.where(np.isnan(diff), np.inf, diff), [alpha / 2, 1 - alpha / 2], method="lower")
        ci = {lvl: np.quantile(draws[:, j], [alpha / 2, 1 - alpha / 2], method="lower") for j, lvl in enumerate(channel_levels)}
    table["cost_per_incremental_return"] = [point[lvl] for lvl in table["channel"]]
    table["ci_low"] = [ci[lvl][0] for lvl in table["channel"]]
    table["ci_high"] = [ci[lvl][1] for lvl in table["channel"]]
    c.details = table.replace([np.inf, -np.inf], np.nan)  # no incremental return: the cost per one is undefined
    cost_verdict = verdict(float(lo), float(hi), -1)
    rate_verdict = c.verdict
    if CONTRADICTED in (rate_verdict, cost_verdict):
        c.verdict = CONTRADICTED
    elif rate_verdict == cost_verdict == SUPPORTED:
        c.verdict = SUPPORTED
    else:
        c.verdict = UNDECIDED
    direction = "lower" if cost_verdict == SUPPORTED else "higher" if cost_verdict == CONTRADICTED else "not clearly different"
    c.reason = (
        Phrase.of(
            "claim3.cost",
            alternative=channel_levels[1],
            reference=channel_levels[0],
            difference=point[channel_levels[1]] - point[channel_levels[0]],
            low=float(lo),
            high=float(hi),
            direction=direction,
            rate_verdict=rate_verdict,
            cost_verdict=cost_verdict,
        ),
    )
    return c


# --- claim 4 ---------------------------------------------------------------------------------


def claim_before_after(
    outcomes: pd.DataFrame | None,
    before_campaign: str = "",
    after_campaign: str = "",
    before_arm: str = "",
    after_arm: str = "",
    control_arm: str = DEFAULT_CONTROL,
    alpha: float = 0.05,
    min_effect: float = 0.02,
) -> Claim:
    """Claim 4: the study's own before/after table next to the holdout-based comparison; the
    verdict rests on the change in the incremental return rate (difference-in-differences)."""
    c = Claim(4, evidence=(Phrase.of("claim4.evidence"),))
    if outcomes is None or outcomes.empty:
        c.reason = (Phrase.of("campaigns.none"),)
        return c
    if not (before_campaign and after_campaign and before_arm and after_arm):
        c.reason = (Phrase.of("claim4.no_waves"),)
        return c
    have = set(map(tuple, outcomes[["campaign_id", "arm"]].drop_duplicates().to_numpy()))
    missing = [
        (cid, arm)
        for cid, arm in (
            (before_campaign, before_arm),
            (after_campaign, after_arm),
            (before_campaign, control_arm),
            (after_campaign, control_arm),
        )
        if (cid, arm) not in have
    ]
    if missing:
        c.reason = (Phrase.of("claim4.missing_arms", missing=tuple(missing), control=control_arm),)
        return c
    study = compare_before_after(outcomes, before_campaign, after_campaign, before_arm, after_arm, control_arm, alpha)
    c.estimate, c.ci_low, c.ci_high = study.did.estimate, study.did.ci_low, study.did.ci_high
    c.verdict = verdict(c.ci_low, c.ci_high, +1)
    if c.verdict != SUPPORTED:
        rates = [
            outcomes.loc[(outcomes["campaign_id"] == cid) & (outcomes["arm"] == arm), "returned"].mean()
            for cid in (before_campaign, after_campaign)
            for arm in ((before_arm if cid == before_campaign else after_arm), control_arm)
        ]
        c.needed_per_arm = _needed(_bernoulli_var(rates), c.estimate, +1, min_effect, alpha)
    c.details = study.waves
    c.reason = (Phrase.of("claim4.naive", naive=study.naive_difference, holdout=study.naive_difference - study.did.estimate),)
    return c
