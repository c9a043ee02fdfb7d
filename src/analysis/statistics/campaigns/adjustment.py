"""Regression adjustment with pre-campaign covariates (Lin's interacted OLS, HC2), with a rank guard."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import ibis
import numpy as np
import pandas as pd
from statsmodels.regression.linear_model import OLS

from analysis.data.dataset import MallData
from analysis.statistics.campaigns.outcomes import DEFAULT_CONTROL, _check_control
from analysis.statistics.results import Phrase, Result

# --- regression adjustment -----------------------------------------------------------


def compute_precampaign_features(data: MallData, campaign_ids: list[str] | None = None, window_days: int = 365) -> pd.DataFrame:
    """Covariates of each contact as of the campaign start (nothing from the window itself).

    ``recency_days`` (since the last purchase before the start, or since joining),
    ``frequency`` and ``monetary`` (purchases and spend in the ``window_days`` before),
    ``tenure_days``, ``tier`` and the member attribute columns (identifying ones excluded).
    """
    c, k, t, m = data.contacts, data.campaigns, data.purchases, data.members
    if campaign_ids:
        c = c.filter(c.campaign_id.isin(list(campaign_ids)))
    ck = c.join(k, "campaign_id").select(c.campaign_id, c.member_id, start=k.start_date.cast("timestamp")).view()
    j = ck.join(t, [ck.member_id == t.member_id, t.ts < ck.start])
    in_window = j.ts >= j.start - ibis.interval(days=window_days)
    agg = j.group_by(["campaign_id", "member_id"]).aggregate(
        last_purchase=j.ts.max(),
        frequency=in_window.ifelse(1, 0).sum(),
        monetary=in_window.ifelse(j.amount, 0.0).sum(),
    )
    attrs = list(data.covariate_attributes)
    mem = m.select("member_id", "join_date", "tier", "birth_year", "gender", *attrs)
    df = (
        ck.left_join(agg, ["campaign_id", "member_id"])
        .drop("campaign_id_right", "member_id_right")
        .left_join(mem, "member_id")
        .drop("member_id_right")
        .to_pandas()
    )
    # the same numbers on every run: rows in a fixed order (an engine returns them in any order, and
    # a regression on reordered rows differs in the last bits), sums rounded below a cent (a parallel
    # sum of doubles depends on the order the engine adds them in)
    df = df.sort_values(["campaign_id", "member_id"], kind="stable").reset_index(drop=True)
    start = pd.to_datetime(df["start"])
    since = pd.to_datetime(df["last_purchase"]).fillna(pd.to_datetime(df["join_date"]))
    df["recency_days"] = (start - since).dt.days.clip(lower=0)
    df["frequency"] = df["frequency"].fillna(0).astype(int)
    df["monetary"] = df["monetary"].fillna(0.0).astype(float).round(6)
    df["tenure_days"] = (start - pd.to_datetime(df["join_date"])).dt.days
    df["age"] = start.dt.year - df["birth_year"]
    return df.drop(columns=["start", "last_purchase", "join_date"])


@dataclass(frozen=True)
class Dropped:
    """Why the fit left something out: a neutral ``code`` and its values, never words.

    ``constant`` (``covariate``), ``collinear`` (``covariate``: a combination of those before it)
    and ``exact_fit`` (``n`` members fitted exactly by a level no one else has). The words, in
    the report's language, come from its :attr:`phrase`, at display time.
    """

    code: str
    covariate: str | None = None
    n: int | None = None

    def to_metrics(self) -> dict:
        return {k: v for k, v in (("code", self.code), ("covariate", self.covariate), ("n", self.n)) if v is not None}

    @property
    def phrase(self) -> Phrase:
        """What was left out and why, as a phrase (``adjustment.<code>``) the presentation layer writes."""
        return Phrase(f"adjustment.{self.code}", {"covariate": self.covariate, "n": self.n})


@dataclass(frozen=True)
class AdjustedEffect(Result):
    """Regression-adjusted effect of one arm against control within one campaign.

    ``covariates`` are the covariates the fit used; ``dropped`` says which were left out and why
    (constant, or collinear with those before them), so the table never lists a covariate the
    design could not hold.
    """

    campaign_id: str
    arm: str
    covariates: tuple[str, ...]
    unadjusted: float
    estimate: float
    se: float
    alpha: float
    fit: object = field(repr=False)
    dropped: tuple[Dropped, ...] = ()

    kinds: ClassVar[dict] = {
        "unadjusted": "points",
        "estimate": "points",
        "se": "percent",
        "ci_low": "points",
        "ci_high": "points",
    }

    def conf_int(self, alpha: float | None = None) -> pd.DataFrame:
        lo, hi = self.fit.conf_int(alpha=self.alpha if alpha is None else alpha).loc["treated"]
        return pd.DataFrame({"ci_low": [float(lo)], "ci_high": [float(hi)]})

    def to_metrics(self) -> dict:
        """The numbers and codes of ``metrics.json`` (the same in every language)."""
        ci = self.conf_int().iloc[0]
        return {
            "estimate": self.estimate,
            "se": self.se,
            "ci_low": float(ci["ci_low"]),
            "ci_high": float(ci["ci_high"]),
            "covariates": list(self.covariates),
            "dropped": [d.to_metrics() for d in self.dropped],
        }

    def table(self) -> pd.DataFrame:
        ci = self.conf_int().iloc[0]
        return pd.DataFrame(
            [
                {
                    "campaign_id": self.campaign_id,
                    "arm": self.arm,
                    "unadjusted": self.unadjusted,
                    "estimate": self.estimate,
                    "se": self.se,
                    "ci_low": ci["ci_low"],
                    "ci_high": ci["ci_high"],
                    "covariates": ", ".join(self.covariates) or "none",
                    "dropped": tuple(d.phrase for d in self.dropped),
                }
            ]
        )


#: Singular values below this share of the largest count as zero: a column that is a linear
#: combination of others up to rounding (say 1e-10 relative) is collinear, not informative.
RANK_TOLERANCE = 1e-8


def full_rank_columns(design: pd.DataFrame, keep_first: int = 0) -> list[str]:
    """Columns of ``design``, in order, each kept only if it is not a linear combination of the
    columns kept before it (numerical rank of the standardized columns, :data:`RANK_TOLERANCE`).

    The first ``keep_first`` columns are always kept (for example the constant and the
    treatment indicator, which must be in the model).
    """
    cols = list(design.columns)
    X = design.to_numpy(dtype=float)
    sd, top = X.std(axis=0), np.abs(X).max(axis=0) if X.size else np.zeros(X.shape[1])
    # a constant column (up to rounding: a centred dummy left with one level has sd 1e-18, not 0) is
    # scaled by its size, not by its sd, which would blow it up to 1e15 and the tolerance with it
    scale = np.where(sd > 1e-10 * top, sd, top)
    Z = X / np.where(scale > 0, scale, 1.0)
    tol = RANK_TOLERANCE * np.linalg.norm(Z, 2) if Z.size else 0.0
    kept: list[int] = list(range(keep_first))
    rank = np.linalg.matrix_rank(Z[:, kept], tol=tol) if kept else 0
    for j in range(keep_first, len(cols)):
        r = np.linalg.matrix_rank(Z[:, kept + [j]], tol=tol)
        if r > rank:
            kept.append(j)
            rank = r
    return [cols[j] for j in kept]


#: A row whose leverage is this close to 1 is fitted exactly by a parameter of its own.
EXACT_LEVERAGE = 1e-8


def _without_exact_fits(design: pd.DataFrame, y: np.ndarray, keep_first: int) -> tuple[pd.DataFrame, np.ndarray, int]:
    """``design`` and ``y`` without the rows of leverage 1, and the columns only they needed.

    A row with leverage 1 (for example the only member of a tier, in the control arm only) is
    fitted exactly by a column of its own: its residual is 0 and HC2 divides it by ``1 - h = 0``,
    so the standard error is undefined (inf, or arbitrary when rounding leaves ``h`` at
    ``1 - 1e-16``: two engines summing in different orders then disagree). Leaving such rows and
    their columns out leaves every other coefficient, the treatment effect among them, unchanged
    (they carry no information on it) and makes HC2 well defined. Returns the count left out.
    """
    X = design.to_numpy(dtype=float)
    h = np.einsum("ij,ji->i", X, np.linalg.pinv(X))
    exact = h > 1 - EXACT_LEVERAGE
    if not exact.any():
        return design, y, 0
    kept = design.loc[~exact]
    kept = kept[full_rank_columns(kept, keep_first=min(keep_first, 2))]
    return kept, y[~exact], int(exact.sum())


def estimate_adjusted_effect(
    outcomes: pd.DataFrame,
    features: pd.DataFrame,
    campaign_id: str,
    arm: str,
    covariates: list[str],
    control_arm: str = DEFAULT_CONTROL,
    outcome: str = "returned",
    alpha: float = 0.05,
) -> AdjustedEffect:
    """Lin's regression adjustment: ``y ~ treated * (centered covariates)`` with HC2 errors.

    Numeric covariates are log1p-transformed when skewed (counts, spend, days); categorical
    ones become dummies. Works with member attributes only (no purchase history needed).

    Notes
    -----
    The design is checked before fitting: constant columns, and columns that are linear
    combinations of earlier ones (for example ``recency_days`` equal to ``tenure_days`` when no
    one bought before the campaign), are dropped, with the reason recorded in ``dropped``.
    Leaving them in makes the HC2 leverages of a pseudo-inverse fit wrong (the standard error
    came out 4.7 times too small on such a design).
    """
    _check_control(outcomes, control_arm, campaign_id)
    df = outcomes[(outcomes["campaign_id"] == campaign_id) & outcomes["arm"].isin([arm, control_arm])]
    df = df[["campaign_id", "member_id", "arm", outcome]].merge(features, on=["campaign_id", "member_id"], how="left")
    y = df[outcome].astype(float).to_numpy()
    treated = (df["arm"] == arm).astype(float).to_numpy()
    parts, owner = [], {}
    for cov in covariates:
        if cov not in df.columns:
            raise KeyError(
                f"covariate {cov!r} not available; choose from {sorted(set(features.columns) - {'campaign_id', 'member_id'})}"
            )
        col = df[cov]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            x = col.astype(float)
            x = x.fillna(x.median())
            if cov in ("recency_days", "frequency", "monetary", "tenure_days"):
                x = np.log1p(x.clip(lower=0))
            part = pd.DataFrame({cov: x})
        else:
            part = pd.get_dummies(col.astype("string").fillna("missing"), prefix=cov, drop_first=True, dtype=float)
        owner |= {c: cov for c in part.columns}
        parts.append(part)
    X = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=df.index)
    constant = [cov for cov in covariates if cov in df.columns and not any(X[c].std() > 0 for c, o in owner.items() if o == cov)]
    dropped = [Dropped("constant", covariate=cov) for cov in constant]
    X = X.loc[:, X.std() > 0]
    Xc = X - X.mean()
    base = pd.concat(
        [pd.Series(1.0, index=df.index, name="const"), pd.Series(treated, index=df.index, name="treated"), Xc], axis=1
    )
    main = full_rank_columns(base, keep_first=2)
    collinear = sorted({owner[c] for c in Xc.columns if c not in main} - set(constant))
    dropped += [Dropped("collinear", covariate=cov) for cov in collinear if not any(owner.get(c) == cov for c in main)]
    Xk = Xc[[c for c in main if c in Xc.columns]]
    design = pd.concat([base[main], Xk.mul(treated, axis=0).add_prefix("treated_x_")], axis=1)
    design = design[full_rank_columns(design, keep_first=len(main))]  # an interaction can be collinear within one arm
    design, y_fit, exact = _without_exact_fits(design, y, len(main))
    if exact:
        dropped.append(Dropped("exact_fit", n=int(exact)))
    fit = OLS(y_fit, design).fit(cov_type="HC2")
    unadj = y[treated == 1].mean() - y[treated == 0].mean()
    used = tuple(cov for cov in covariates if any(owner.get(c) == cov for c in Xk.columns))
    return AdjustedEffect(
        campaign_id, arm, used, float(unadj), float(fit.params["treated"]), float(fit.bse["treated"]), alpha, fit, tuple(dropped)
    )
