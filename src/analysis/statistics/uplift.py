"""Whom does a campaign move? Uplift (conditional treatment effect) from a randomized wave, judged
honestly.

A T-learner: one gradient-boosting classifier of the response among the treated, one among the
holdout, on pre-campaign features; a member's predicted uplift is the difference of the two
probabilities. Every member's uplift is predicted by models that did not see that member
(K-fold cross-fitting), so the evaluation is on data not used to fit.

The evaluation is the Qini curve (Radcliffe): target the members in order of predicted uplift; at
each depth the incremental responders are ``R_t - R_c * N_t / N_c`` (responders and members of the
treated and holdout among those targeted). Random targeting is the straight line to the full
list's incremental responders. The *Qini area* is the mean gap between the curve and that line
over all depths, per member of the list; its interval comes from a bootstrap of members (the
scores held fixed). An area whose interval includes 0 means the model does no better than random
targeting, and the report says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar

import numpy as np
import pandas as pd

from analysis.data.errors import NotApplicable
from analysis.statistics.memo import memoized
from analysis.statistics.results import Phrase, Result

#: Members each side needs before an uplift model is fitted (below this, say why not).
MIN_PER_SIDE = 200
N_FOLDS = 5
N_BOOT = 200
GRID = np.linspace(0, 1, 51)


def qini_points(uplift, treated, y) -> tuple[np.ndarray, np.ndarray]:
    """The Qini curve at the end of every group of equal scores: members targeted (``0``, then the
    size of each prefix that ends a tie) and incremental responders there.

    Members with the same score cannot be told apart by the model, so the curve is only defined
    where a tie ends; between two such points it is the straight line, which is the average over
    every order of the tied members (scikit-uplift's ``qini_curve`` takes the same points). The
    order of the rows therefore never matters, and all-equal scores give the random line.
    """
    s = np.asarray(uplift, dtype=float)
    order = np.argsort(-s, kind="stable")
    s = s[order]
    t = np.asarray(treated, dtype=bool)[order]
    y = np.asarray(y, dtype=float)[order]
    ends = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1] if len(s) else np.array([], dtype=int)
    n_t, n_c = np.cumsum(t)[ends], np.cumsum(~t)[ends]
    r_t, r_c = np.cumsum(y * t)[ends], np.cumsum(y * ~t)[ends]
    q = r_t - np.divide(r_c * n_t, n_c, out=np.zeros(len(ends)), where=n_c > 0)
    return np.r_[0, ends + 1].astype(float), np.r_[0.0, q]


def qini_curve(uplift: np.ndarray, treated: np.ndarray, y: np.ndarray, grid: np.ndarray = GRID) -> np.ndarray:
    """Incremental responders when targeting the top ``grid`` share by ``uplift`` (within a tie,
    the average over the orders of the tied members: see :func:`qini_points`)."""
    x, q = qini_points(uplift, treated, y)
    return np.interp(np.asarray(grid, dtype=float) * x[-1], x, q)


def qini_area(uplift, treated, y, grid: np.ndarray | None = None) -> float:
    """Mean gap between the Qini curve and random targeting over the depths, per member: the
    area between the two curves (scikit-uplift's unnormalized ``qini_auc_score``) divided by the
    square of the list size. Ties count as a group, so equal scores give exactly 0."""
    return _area(*qini_points(uplift, treated, y))


def _area(x: np.ndarray, q: np.ndarray) -> float:
    """:func:`qini_area` of the curve's points ``x`` (members targeted) and ``q`` (incremental responders)."""
    n = x[-1]
    if n == 0:
        return 0.0
    gap = q - x / n * q[-1]
    return float(np.sum((gap[1:] + gap[:-1]) / 2 * np.diff(x)) / n**2)


def bootstrap_area(uplift, treated, y, n_boot: int = N_BOOT, seed: int = 0, alpha: float = 0.05) -> tuple[float, float]:
    """Percentile interval of :func:`qini_area` over members resampled within treated and holdout
    (the scores held fixed; ties count as a group in every replicate, as in the estimate).

    The members are put in score order once; a replicate weighs each by how often it was drawn
    and keeps the tie groups it drew from, which are exactly the points :func:`qini_points` finds
    on the resampled rows: the same areas bit for bit, without sorting every replicate (200
    replicates of 60,000 members: see ``benchmarks/RESULTS.md``).
    """
    rng = np.random.default_rng(seed)
    uplift, treated, y = (np.asarray(v) for v in (uplift, treated, y))
    t_all = treated.astype(bool)
    ti, ci = np.flatnonzero(t_all), np.flatnonzero(~t_all)
    order = np.argsort(-np.asarray(uplift, dtype=float), kind="stable")
    s = np.asarray(uplift, dtype=float)[order]
    t, yy = t_all[order], np.asarray(y, dtype=float)[order]
    starts = np.r_[0, np.flatnonzero(np.diff(s) != 0) + 1] if len(s) else np.array([], dtype=int)
    draws = []
    for _ in range(n_boot):
        idx = np.concatenate([rng.choice(ti, len(ti)), rng.choice(ci, len(ci))])
        w = np.bincount(idx, minlength=len(order))[order].astype(float)
        drawn = np.add.reduceat(w, starts) > 0 if len(s) else np.array([], dtype=bool)
        ends = np.r_[starts[1:] - 1, len(s) - 1][drawn]
        n_t, n_c = np.cumsum(w * t)[ends], np.cumsum(w * ~t)[ends]
        r_t, r_c = np.cumsum(w * yy * t)[ends], np.cumsum(w * yy * ~t)[ends]
        q = np.r_[0.0, r_t - np.divide(r_c * n_t, n_c, out=np.zeros(len(ends)), where=n_c > 0)]
        x = np.r_[0.0, n_t + n_c]
        draws.append(_area(x, q))
    lo, hi = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def _one_thread():
    """Campaign lists are small: one OpenMP thread per fit is faster than many (and never
    oversubscribes the cores parallel reports share)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="openmp")


def _model(seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier

    # shallow, slow and leaf-size bound: a holdout of a few hundred members must not be memorised
    return HistGradientBoostingClassifier(
        max_depth=3, learning_rate=0.05, max_iter=150, min_samples_leaf=40, l2_regularization=1.0, random_state=seed
    )


def _design(features: pd.DataFrame) -> pd.DataFrame:
    x = features.copy()
    for c in x.columns:
        if not pd.api.types.is_numeric_dtype(x[c]) or pd.api.types.is_bool_dtype(x[c]):
            x[c] = x[c].astype("category").cat.codes.replace(-1, np.nan).astype(float)
    return x.astype(float)


def _side_predictions(x, y, labels, sides, train, test, seed: int) -> dict:
    """One fold: a response model per side (arm) fitted on its ``train`` rows, predicted on ``test``."""
    out = {}
    for side in sides:
        rows = train[labels[train] == side]
        if len(np.unique(y[rows])) < 2:  # nobody (or everybody) responded on this side: a constant rate
            out[side] = np.full(len(test), y[rows].mean() if len(rows) else 0.0)
        else:
            out[side] = _model(seed).fit(x[rows], y[rows]).predict_proba(x[test])[:, 1]
    return out


@memoized
def cross_fitted_uplift(features: pd.DataFrame, treated, y, folds: int = N_FOLDS, seed: int = 0) -> np.ndarray:
    """Each member's predicted uplift from a T-learner fitted on the other folds."""
    from sklearn.model_selection import StratifiedKFold

    x = _design(features).to_numpy()
    t = np.asarray(treated, dtype=bool)
    y = np.asarray(y, dtype=int)
    out = np.full(len(y), np.nan)
    strata = t.astype(int) * 2 + y  # folds keep the shares of treated/holdout and responders
    if np.bincount(strata, minlength=4)[np.unique(strata)].min() < folds:  # too few responders on one side to spread
        strata = t.astype(int)
    with _one_thread():
        for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, strata):
            p = _side_predictions(x, y, t, (True, False), train, test, seed)
            out[test] = p[True] - p[False]
    return out


@dataclass(frozen=True)
class UpliftResult(Result):
    """Cross-fitted uplift of one treated arm against its holdout, and its Qini evaluation."""

    campaign_id: str
    arm: str
    features: tuple[str, ...]
    scores: pd.DataFrame = field(repr=False)  # member_id, treated, returned, uplift
    curve: pd.DataFrame = field(repr=False)  # depth, model, random
    area: float
    ci_low: float
    ci_high: float
    alpha: float = 0.05
    kinds: ClassVar[dict] = {
        "estimate": "number",
        "ci_low": "number",
        "ci_high": "number",
        "members": "count",
        "holdout": "count",
    }

    @property
    def better_than_random(self) -> bool:
        return bool(self.ci_low > 0)

    def metrics(self) -> dict:
        """The Qini area (incremental returns per member listed beyond random targeting) with its
        interval, and the decision: whether the model's scores choose the next list."""
        return {
            "estimate": self.area,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "members": int(self.scores["treated"].sum()),
            "holdout": int((~self.scores["treated"]).sum()),
            "scores_used": self.better_than_random,
        }

    def table(self) -> pd.DataFrame:
        per = 1000
        return pd.DataFrame(
            [
                {
                    "campaign_id": self.campaign_id,
                    "arm": self.arm,
                    "members": int(self.scores["treated"].sum()),
                    "holdout": int((~self.scores["treated"]).sum()),
                    "estimate": self.area * per,
                    "ci_low": self.ci_low * per,
                    "ci_high": self.ci_high * per,
                }
            ]
        )

    def sentence(self) -> tuple[Phrase, Phrase]:
        """The Qini area per 1,000 members listed with its interval (``uplift.qini``), then the
        decision: use the scores (``uplift.use_scores``) or the simple rule (``uplift.no_better``)."""
        per = 1000
        head = Phrase.of(
            "uplift.qini",
            arm=f"{self.campaign_id} / {self.arm}",
            area=self.area * per,
            level=1 - self.alpha,
            low=self.ci_low * per,
            high=self.ci_high * per,
        )
        return head, Phrase.of("uplift.use_scores" if self.better_than_random else "uplift.no_better")


def _names(columns: str | list[str]) -> list[str]:
    """Feature names given as a list or as one comma-separated text."""
    return [c.strip() for c in columns.split(",") if c.strip()] if isinstance(columns, str) else list(columns)


def _with_features(
    members: pd.DataFrame, features: pd.DataFrame, campaign_id: str, columns: list[str]
) -> tuple[pd.DataFrame, list[str]]:
    """``members`` of a campaign with their pre-campaign ``columns`` (those present), in member
    order; :class:`~analysis.presentation.report.NotApplicable` when none is present."""
    f = features[features["campaign_id"] == campaign_id] if "campaign_id" in features.columns else features
    cols = [c for c in columns if c in f.columns]
    if not cols:
        raise NotApplicable("uplift.no_features", features=", ".join(columns))
    d = members.merge(f[["member_id", *cols]].drop_duplicates("member_id"), on="member_id", how="left")
    return d.sort_values("member_id", kind="stable").reset_index(drop=True), cols


def estimate_uplift(
    outcomes: pd.DataFrame,
    features: pd.DataFrame,
    campaign_id: str,
    arm: str,
    columns: list[str],
    control_arm: str = "holdout",
    alpha: float = 0.05,
    seed: int = 0,
    n_boot: int = N_BOOT,
) -> UpliftResult:
    """Cross-fitted T-learner uplift of ``arm`` against ``control_arm`` in ``campaign_id`` on the
    pre-campaign ``features`` (``campaign_id``, ``member_id`` and ``columns``), with its Qini area.

    Raises :class:`~analysis.presentation.report.NotApplicable` when either side has fewer than
    :data:`MIN_PER_SIDE` members or no feature column is present.
    """
    o = outcomes[(outcomes["campaign_id"] == campaign_id) & outcomes["arm"].isin([arm, control_arm])]
    n_t, n_c = int((o["arm"] == arm).sum()), int((o["arm"] == control_arm).sum())
    if min(n_t, n_c) < MIN_PER_SIDE:
        raise NotApplicable("uplift.small_arm", arm=f"{campaign_id} / {arm}", needed=MIN_PER_SIDE, n_t=n_t, n_c=n_c)
    d, cols = _with_features(o[["member_id", "arm", "returned"]], features, campaign_id, columns)
    treated = (d["arm"] == arm).to_numpy()
    y = d["returned"].astype(int).to_numpy()
    scores = cross_fitted_uplift(d[cols], treated, y, seed=seed)
    area = qini_area(scores, treated, y)
    lo, hi = bootstrap_area(scores, treated, y, n_boot=n_boot, seed=seed, alpha=alpha)
    q = qini_curve(scores, treated, y)
    curve = pd.DataFrame({"depth": GRID, "model": q, "random": GRID * q[-1]})
    table = pd.DataFrame({"member_id": d["member_id"], "treated": treated, "returned": y, "uplift": scores})
    return UpliftResult(campaign_id, arm, tuple(cols), table, curve, area, lo, hi, alpha)


#: The pooled treated arm of :func:`estimate_uplift_by_campaign`.
ANY_CONTACT = "any contact"


def estimate_uplift_by_campaign(
    outcomes: pd.DataFrame, features: pd.DataFrame, columns: str | list[str], control_arm: str = "holdout", alpha: float = 0.05
) -> tuple[list[UpliftResult], list[NotApplicable]]:
    """:func:`estimate_uplift` of being contacted at all (every treated arm pooled) against the
    holdout, for each campaign that has one; returns the results and, for the campaigns where it
    does not apply, the one sentence saying why. ``columns``: names, or one comma-separated text."""
    columns = _names(columns)
    contacted = outcomes.assign(arm=outcomes["arm"].where(outcomes["arm"] == control_arm, ANY_CONTACT))
    results, reasons = [], []
    for cid in sorted(outcomes.loc[outcomes["arm"] == control_arm, "campaign_id"].unique()):
        try:
            results.append(estimate_uplift(contacted, features, cid, ANY_CONTACT, columns, control_arm, alpha))
        except NotApplicable as err:
            reasons.append(err)
    return results, reasons


def summary_table(results: list[UpliftResult]) -> pd.DataFrame:
    """One row per result: the Qini area as the gain per 1,000 members listed, with its interval."""
    return pd.concat([r.table() for r in results], ignore_index=True).rename(columns={"estimate": "gain_per_1000_listed"})


# --- choosing the next list: the best arm per member, under a budget ---------------------------


@memoized
def cross_fitted_arm_uplift(
    features: pd.DataFrame, arms, y, control_arm: str, folds: int = N_FOLDS, seed: int = 0
) -> pd.DataFrame:
    """Each member's predicted uplift of every treated arm over ``control_arm`` (one column per
    arm), from response models per arm fitted on the other folds: no member's prediction comes
    from a model that saw that member."""
    from sklearn.model_selection import StratifiedKFold

    x = _design(features).to_numpy()
    arms = np.asarray(arms, dtype=object)
    y = np.asarray(y, dtype=int)
    sides = [control_arm] + sorted({str(a) for a in arms if a != control_arm})
    pred = {a: np.full(len(y), np.nan) for a in sides}
    with _one_thread():
        for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, arms.astype(str)):
            for side, p in _side_predictions(x, y, arms, sides, train, test, seed).items():
                pred[side][test] = p
    return pd.DataFrame({a: pred[a] - pred[control_arm] for a in sides[1:]})


@dataclass(frozen=True)
class ListChoice(Result):
    """Whom to contact next and with which arm: members ranked by the value of their best arm,
    the expected incremental returns, cost and gross margin as the list grows, and the list a
    budget buys. Unknown costs or margin stay unknown (``NaN``), never zero."""

    members: pd.DataFrame = field(repr=False)  # member_id, arm, uplift, cost, value, in rank order; chosen
    curve: pd.DataFrame  # list_size, expected_incremental_returns, cost, expected_incremental_margin
    budget: float | None
    margin_per_return: float | None
    ranked_by: str
    spend_per_return: float | None = None
    campaign_id: str | None = None  # the past campaign the uplift was learnt from (plan_next_list)
    kinds: ClassVar[dict] = {
        "list_size": "count",
        "expected_incremental_returns": "number",
        "cost": "money",
        "expected_incremental_margin": "money",
        "share_of_list": "percent",
    }

    @property
    def chosen(self) -> pd.DataFrame:
        return self.members[self.members["chosen"]]

    def to_metrics(self) -> dict:
        """The list for ``metrics.json``: where it was learnt, how it is ranked (a code of
        :data:`RANKINGS`), how many members it holds and the incremental returns expected of them."""
        return {
            "campaign": self.campaign_id,
            "ranked_by": self.ranked_by,
            "members": int(len(self.chosen)),
            "expected_incremental_returns": float(self.chosen["uplift"].sum()),
        }

    def table(self) -> pd.DataFrame:
        return self.curve

    def by_arm(self) -> pd.DataFrame:
        """Members of the chosen list per arm, with their expected incremental returns and cost."""
        c = self.chosen
        return (
            c.groupby("arm")
            .agg(
                members=("member_id", "size"),
                expected_incremental_returns=("uplift", "sum"),
                cost=("cost", lambda v: v.sum(min_count=len(v))),
            )
            .reset_index()
        )

    def sentence(self) -> tuple[Phrase, ...]:
        """The list in phrases: why it is empty (``uplift.list_empty``), what it holds and costs
        (``uplift.list``), then what it was chosen without: a budget, costs, the margin."""
        c = self.chosen
        cost = c["cost"].sum(min_count=len(c)) if len(c) else 0.0
        out = [
            Phrase.of(
                "uplift.list",
                rule=Phrase.of(f"uplift.ranked_by.{self.ranked_by}"),
                n=len(c),
                returns=float(c["uplift"].sum()),
                cost=cost,
            )
        ]
        if self.budget is None:
            out.append(
                Phrase.of(
                    "uplift.no_budget.margin"
                    if self.ranked_by == RANKINGS[0]
                    else "uplift.no_budget.spend"
                    if self.curve["cost"].notna().all()
                    else "uplift.no_budget.returns"
                )
            )
        elif self.curve["cost"].isna().all():  # costs not known for every arm (see choose_list)
            out.append(Phrase.of("uplift.budget_not_applied"))
        if self.margin_per_return is None:
            out.append(Phrase.of("uplift.margin_unknown"))
        if len(c) == 0 and len(self.members):
            out.insert(0, Phrase.of("uplift.list_empty", why=self.why_empty()))
        return tuple(out)

    def why_empty(self) -> Phrase:
        """Why no member is on the list (``uplift.empty.<reason>``)."""
        costs_known = bool(self.members["cost"].notna().all())
        if self.members["pays"].any():  # some would pay: the budget stopped them
            return Phrase.of("uplift.empty.budget")
        if self.ranked_by == RANKINGS[0]:
            return Phrase.of("uplift.empty.margin")
        if costs_known and self.spend_per_return is None:
            return Phrase.of("uplift.empty.nobody_came")
        if costs_known:
            return Phrase.of("uplift.empty.spend")
        return Phrase.of("uplift.empty.no_uplift")


#: How members are ranked, from what is known (see :func:`choose_list`).
RANKINGS = ("margin", "returns_per_cost", "returns")


def choose_list(
    uplift: pd.DataFrame,
    cost: dict,
    margin_per_return: float | None = None,
    budget: float | None = None,
    spend_per_return: float | None = None,
) -> ListChoice:
    """The best arm of each member and the order to contact them in.

    ``uplift``: ``member_id`` and one column per treated arm (expected incremental return
    probability); ``cost``: the expected cost of contacting a member with each arm (``NaN``:
    unknown); ``margin_per_return``: the gross margin an incremental return brings (``None``:
    unknown); ``spend_per_return``: the spend it brings. The value of an arm for a member is its
    margin net of cost when both are known, else its incremental returns per unit of cost when the
    costs are known, else its incremental returns. Members are taken in order of their best value
    while the ``budget`` lasts, and only where the money says so (the rule of the targeting table
    too): with a margin, where the best arm's expected margin exceeds its cost; without one, where
    its expected incremental spend covers its cost (the best case, a 100 % margin); without
    costs, where it is expected to bring any return at all.
    """
    arms = [c for c in uplift.columns if c != "member_id"]
    costs = np.array([np.nan if cost.get(a) is None else float(cost[a]) for a in arms])
    u = uplift[arms].to_numpy(float)
    costs_known = bool(np.isfinite(costs).all())
    margin_known = margin_per_return is not None and np.isfinite(margin_per_return)
    spend_known = spend_per_return is not None and np.isfinite(spend_per_return)
    if costs_known and margin_known:
        value, ranked_by = u * margin_per_return - costs, RANKINGS[0]
    elif costs_known and (costs > 0).all():
        value, ranked_by = u / costs, RANKINGS[1]
    else:
        value, ranked_by = u, RANKINGS[2]
    best = np.nanargmax(np.where(np.isnan(value), -np.inf, value), axis=1) if len(arms) else np.zeros(len(u), dtype=int)
    rows = np.arange(len(u))
    frame = pd.DataFrame(
        {
            "member_id": uplift["member_id"].to_numpy(),
            "arm": np.array(arms, dtype=object)[best],
            "uplift": u[rows, best],
            "cost": costs[best],
            "value": value[rows, best],
        }
    )
    frame = frame.sort_values(["value", "member_id"], ascending=[False, True], kind="stable").reset_index(drop=True)
    spent = frame["cost"].cumsum()
    if ranked_by == RANKINGS[0]:
        pays = frame["value"] > 0  # a member whose best arm loses money is not contacted
    elif costs_known:  # no margin: the extra spend must at least cover the cost (or nothing is known to)
        pays = frame["uplift"] * spend_per_return > frame["cost"] if spend_known else pd.Series(False, index=frame.index)
    else:
        pays = frame["uplift"] > 0
    frame["pays"] = pays.to_numpy()
    chosen = frame["pays"].to_numpy()
    if budget is not None and costs_known:  # a budget in money cannot be spent on unknown costs
        chosen = chosen & (spent <= budget).to_numpy()
    frame["chosen"] = chosen
    size = np.arange(1, len(frame) + 1)
    returns = frame["uplift"].cumsum().to_numpy()
    total_cost = spent.to_numpy() if costs_known else np.full(len(frame), np.nan)
    margin = returns * margin_per_return - total_cost if margin_known else np.full(len(frame), np.nan)
    steps = np.unique(np.clip(np.round(np.linspace(0.1, 1.0, 10) * len(frame)).astype(int), 1, max(len(frame), 1))) - 1
    steps = steps[steps < len(frame)]
    curve = pd.DataFrame(
        {
            "list_size": size[steps],
            "share_of_list": size[steps] / max(len(frame), 1),
            "expected_incremental_returns": returns[steps],
            "cost": total_cost[steps],
            "expected_incremental_margin": margin[steps],
        }
    )
    return ListChoice(
        frame, curve, budget, margin_per_return if margin_known else None, ranked_by, spend_per_return if spend_known else None
    )


def plan_next_list(
    outcomes: pd.DataFrame,
    features: pd.DataFrame,
    campaign_id: str,
    columns: str | list[str],
    control_arm: str = "holdout",
    margin_rate: float | None = None,
    budget: float | None = None,
    seed: int = 0,
    by_model: bool = True,
) -> ListChoice:
    """:func:`choose_list` on a past randomized campaign's members: each member's cross-fitted uplift
    of every treated arm, each arm's cost per contacted member as the campaign recorded it (unknown
    when it recorded none), and the margin of an incremental return as ``margin_rate`` times the
    mean spend of the campaign's returned members (unknown without ``margin_rate``). With
    ``by_model=False`` (the model did no better than random), every member gets each arm's average
    effect instead: the best arm is then the same for all, and whom to take first is not decided
    by the model."""
    columns = _names(columns)
    o = outcomes[outcomes["campaign_id"] == campaign_id]
    counts = o["arm"].value_counts()
    if (
        control_arm not in counts
        or counts.get(control_arm, 0) < MIN_PER_SIDE
        or (counts.drop(control_arm, errors="ignore") < MIN_PER_SIDE).any()
    ):
        raise NotApplicable("uplift.small_arms_for_list", needed=MIN_PER_SIDE, campaign=campaign_id)
    d, cols = _with_features(o[["member_id", "arm", "returned", "cost", "spend"]], features, campaign_id, columns)
    if by_model:
        scores = cross_fitted_arm_uplift(
            d[cols], d["arm"].to_numpy(), d["returned"].astype(int).to_numpy(), control_arm, seed=seed
        )
    else:
        rates = d.groupby("arm")["returned"].mean()
        scores = pd.DataFrame(
            {a: np.full(len(d), rates[a] - rates[control_arm]) for a in sorted(rates.index) if a != control_arm}
        )
    scores.insert(0, "member_id", d["member_id"].to_numpy())
    cost = {a: (g["cost"].mean() if g["cost"].notna().all() else np.nan) for a, g in d[d["arm"] != control_arm].groupby("arm")}
    back = d.loc[d["returned"].astype(bool) & (d["arm"] != control_arm), "spend"]
    spend = float(back.mean()) if len(back) else None
    margin = float(margin_rate) * spend if margin_rate is not None and spend is not None else None
    return replace(choose_list(scores, cost, margin, budget, spend), campaign_id=campaign_id)


def plan_from_latest(
    outcomes: pd.DataFrame,
    features: pd.DataFrame,
    columns: str | list[str],
    results: list[UpliftResult],
    control_arm: str = "holdout",
    margin_rate: float | None = None,
    budget: float | None = None,
) -> tuple[ListChoice, str, bool]:
    """:func:`plan_next_list` on the latest campaign it applies to (by start date): its members
    ranked by the uplift model when the campaign's Qini interval (in ``results``) clears zero,
    else by the arms' average effects. Returns the choice, the campaign and whether the model ranked."""
    starts = outcomes.groupby("campaign_id")["start_date"].first().sort_values(ascending=False)
    reasons = []
    for cid in starts.index:
        fit = next((r for r in results if r.campaign_id == cid), None)
        by_model = bool(fit is not None and fit.better_than_random)
        try:
            return (
                plan_next_list(outcomes, features, cid, columns, control_arm, margin_rate, budget, by_model=by_model),
                cid,
                by_model,
            )
        except NotApplicable as err:
            reasons.append(err)
    raise reasons[0] if reasons else NotApplicable("campaigns.none")
