"""P(alive), expected purchases and lifetime value: BG/NBD and Gamma-Gamma by maximum likelihood.

Both models are compact likelihoods on statsmodels' ``GenericLikelihoodModel``, so a fit
returns a statsmodels results object with estimates, standard errors and ``summary()``.
Parameters are estimated on the log scale (they must be positive); ``params_``/``bse_`` are
reported on the natural scale by the delta method.

References: Fader, Hardie & Lee (2005), "Counting your customers the easy way: an alternative
to the Pareto/NBD model", Marketing Science 24(2); Fader, Hardie & Lee (2005), "RFM and CLV:
using iso-value curves for customer base analysis", JMR 42(4) (Gamma-Gamma spend model).
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass, field
from typing import ClassVar

import ibis
import numpy as np
import pandas as pd
from scipy.special import betaln, digamma, gammaln, hyp2f1
from statsmodels.base.model import GenericLikelihoodModel

from analysis.data.dataset import MallData
from analysis.data.errors import NotApplicable
from analysis.statistics.memo import memoized
from analysis.statistics.results import Phrase, Result

#: Fewest members with a repeat purchase that the repeat-purchase models are fitted on.
MIN_REPEATERS = 10


def compute_rfm_summary(data: MallData, as_of=None, unit_days: float = 7.0, calibration_end=None) -> pd.DataFrame:
    """Per member: ``frequency`` (repeat purchase days), ``recency`` and ``T`` in ``unit_days``
    units, and ``monetary_value`` (mean spend per repeat purchase day), as BG/NBD expects.

    Purchases on the same day count once (their spend is summed). Only purchases up to
    ``calibration_end`` (default ``as_of``) are used; members who never bought are left out.
    """
    _ = ibis._
    end = pd.Timestamp(calibration_end or as_of or data.as_of).normalize()
    days = data.purchase_days
    days = days.filter(days.day <= ibis.literal(end.date()))
    # repeat spend = all spend minus the first day's (arg_min: no window function, one pass)
    summ = (
        days.group_by("member_id")
        .aggregate(
            first=_.day.min(),
            last=_.day.max(),
            purchases=_.count(),
            spend=_.spend.sum(),
            first_spend=_.spend.argmin(_.day),
        )
        .to_pandas()
        .sort_values("member_id", kind="stable")
        .reset_index(drop=True)
    )  # member order: reproducible fits
    # money to a millionth: engines sum in different orders (5966.65 vs 5966.650000000001), and an
    # optimizer started from inputs that differ in the last bit stops at fits that differ by 1e-8
    summ["repeat_spend"] = (summ["spend"] - summ["first_spend"]).round(6)
    first, last = pd.to_datetime(summ["first"]), pd.to_datetime(summ["last"])
    out = pd.DataFrame(
        {
            "member_id": summ["member_id"],
            "frequency": summ["purchases"].astype(int) - 1,
            "recency": (last - first).dt.days / unit_days,
            "T": (end - first).dt.days / unit_days,
        }
    )
    out["monetary_value"] = (summ["repeat_spend"] / out["frequency"].where(out["frequency"] > 0)).to_numpy()
    return out.sort_values("member_id").reset_index(drop=True)


# --- BG/NBD --------------------------------------------------------------------------


def _bgnbd_loglike(log_params, x, tx, T, ux, inv):
    """Per-member BG/NBD log-likelihood. The terms that depend on the repeat count alone are
    computed once per distinct count (``ux``, ``inv`` from ``np.unique(x, return_inverse=True)``)."""
    r, alpha, a, b = np.exp(log_params)
    by_x = gammaln(r + ux) - gammaln(r) + r * np.log(alpha) + betaln(a, b + ux) - betaln(a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        tail = np.where(ux > 0, np.log(a) - np.log(np.maximum(b + ux - 1, 1e-300)), -np.inf)
    rx = r + x
    a3 = -rx * np.log(alpha + T)
    a4 = tail[inv] - rx * np.log(alpha + tx)
    return by_x[inv] + np.logaddexp(a3, a4)


def _bgnbd_score_obs(log_params, x, tx, T, ux, inv):
    """Per-member gradient of :func:`_bgnbd_loglike` with respect to the log parameters (analytic:
    BFGS then needs one likelihood and one gradient per step instead of five likelihoods)."""
    r, alpha, a, b = np.exp(log_params)
    rx = r + x
    with np.errstate(divide="ignore", invalid="ignore"):
        tail = np.where(ux > 0, np.log(a) - np.log(np.maximum(b + ux - 1, 1e-300)), -np.inf)
        inv_b = np.where(ux > 0, 1.0 / np.maximum(b + ux - 1, 1e-300), 0.0)
    log_aT, log_atx = np.log(alpha + T), np.log(alpha + tx)
    a3 = -rx * log_aT
    a4 = tail[inv] - rx * log_atx
    top = np.maximum(a3, a4)
    w3, w4 = np.exp(a3 - top), np.exp(a4 - top)
    w3, w4 = w3 / (w3 + w4), w4 / (w3 + w4)  # weights of the two terms of logaddexp; w4 = 0 when x = 0
    has = (ux > 0).astype(float)[inv]
    d_r = (digamma(r + ux) - digamma(r))[inv] + np.log(alpha) - w3 * log_aT - w4 * log_atx
    d_alpha = r / alpha - w3 * rx / (alpha + T) - w4 * rx / (alpha + tx)
    d_a = (digamma(a + b) - digamma(a + b + ux))[inv] + w4 * has / a
    d_b = (digamma(b + ux) - digamma(a + b + ux) - digamma(b) + digamma(a + b))[inv] - w4 * inv_b[inv]
    return np.column_stack([d_r * r, d_alpha * alpha, d_a * a, d_b * b])


class _BGNBDLikelihood(GenericLikelihoodModel):
    def __init__(self, frequency, recency, T, **kw):
        self.x, self.tx, self.T_ = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        self.ux, self.inv = np.unique(self.x, return_inverse=True)
        super().__init__(endog=self.x, exog=np.ones((len(self.x), 1)), **kw)
        self.nparams = 4
        self.data.xnames = ["log_r", "log_alpha", "log_a", "log_b"]

    def loglikeobs(self, params):
        return _bgnbd_loglike(params, self.x, self.tx, self.T_, self.ux, self.inv)

    def score_obs(self, params):
        return _bgnbd_score_obs(params, self.x, self.tx, self.T_, self.ux, self.inv)

    def score(self, params):
        return self.score_obs(params).sum(axis=0)


class ConvergenceWarning(UserWarning):
    """A model fit did not converge (its result is recorded and shown, not hidden)."""


@dataclass(frozen=True)
class _FittedModel(Result):
    """Parameters (natural scale), their standard errors, log-likelihood and the statsmodels fit.

    ``converged`` and ``optimizer`` record how the best of several starts was reached;
    ``identified`` is false when the data cannot pin the parameters down (a parameter at the
    edge of its range, or standard errors that cannot be computed), with the reason in ``notes``.
    """

    params_: pd.Series
    bse_: pd.Series
    log_likelihood_: float
    n_obs: int
    result: object = field(repr=False)
    converged: bool = True
    optimizer: str = "bfgs"
    identified: bool = True
    notes: tuple[Phrase, ...] = ()

    kinds: ClassVar[dict] = {"estimate": "number", "se": "number", "ci_low": "number", "ci_high": "number"}

    def table(self) -> pd.DataFrame:
        """Each parameter (natural scale) with its standard error and interval, by its symbol
        (index ``parameter``: ``alpha`` is the model's, not a significance level)."""
        table = pd.concat([pd.DataFrame({"estimate": self.params_, "se": self.bse_}), self.conf_int()], axis=1)
        return table.rename_axis("parameter")

    def diagnostics(self) -> tuple[Phrase, ...]:
        """The fit in phrases: optimizer and convergence (``clv.fit``), then what is not identified."""
        return (Phrase.of("clv.fit" if self.converged else "clv.fit_failed", optimizer=self.optimizer), *self.notes)

    def unidentified(self) -> list[str]:
        """The parameters the data cannot pin down: at the edge of the range, without a standard
        error, or with a 95 % interval spanning more than three orders of magnitude."""
        log_se = self.bse_ / self.params_
        return [
            str(n)
            for n, v, se in zip(self.params_.index, np.log(self.params_), log_se)
            if abs(v) > _EDGE or not np.isfinite(se) or _too_wide(se)
        ]

    def conf_int(self, alpha: float | None = None) -> pd.DataFrame:
        """Intervals from the fit on the log scale, transformed back (always positive)."""
        ci = np.exp(self.result.conf_int(alpha=self.level if alpha is None else alpha))
        return pd.DataFrame(ci, index=self.params_.index, columns=["ci_low", "ci_high"])


@dataclass(frozen=True)
class BGNBDModel(_FittedModel):
    """Fitted BG/NBD model. ``params_`` = r, alpha, a, b; ``bse_`` their standard errors."""

    #: The model's name in comparisons, and the parameters of its dropout process.
    name: ClassVar[str] = "BG/NBD"
    dropout: ClassVar[tuple[str, ...]] = ("a", "b")

    def p_alive(self, frequency, recency, T) -> np.ndarray:
        """Probability that a member with this history is still alive (has not dropped out)."""
        r, alpha, a, b = self.params_.to_numpy()
        x, tx, T = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        with np.errstate(divide="ignore", invalid="ignore"):
            odds = np.where(x > 0, a / (b + x - 1) * ((alpha + T) / (alpha + tx)) ** (r + x), 0.0)
        return 1.0 / (1.0 + odds)

    def expected_purchases(self, t, frequency, recency, T) -> np.ndarray:
        """Expected repeat purchases in the next ``t`` time units (conditional on history)."""
        r, alpha, a, b = self.params_.to_numpy()
        x, tx, T = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        t = np.asarray(t, dtype=float)
        hyp = hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
        first = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
        return first * self.p_alive(x, tx, T)

    def expected_purchases_new(self, t) -> np.ndarray:
        """Expected purchases in ``(0, t]`` of a member just acquired (unconditional)."""
        r, alpha, a, b = self.params_.to_numpy()
        t = np.asarray(t, dtype=float)
        return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, t / (alpha + t)))


#: Starting points of the BG/NBD fit (r, alpha, a, b): the default and spread-out alternatives.
BGNBD_STARTS = ((0.5, 5.0, 0.8, 2.5), (1.0, 1.0, 1.0, 1.0), (0.2, 20.0, 0.3, 8.0), (2.0, 50.0, 2.0, 0.5))
#: Log-scale bounds beyond which a parameter is at the edge of its range (not identified).
_EDGE = 9.0
#: Ratio of a 95 % interval's ends beyond which a parameter is not identified (three orders of magnitude).
_WIDE = 1e3


def _too_wide(log_se: float) -> bool:
    """Whether a 95 % interval with standard error ``log_se`` on the log scale spans more than
    :data:`_WIDE` (three orders of magnitude): the likelihood is nearly flat along the parameter."""
    return bool(2 * 1.959964 * log_se > np.log(_WIDE))


#: Condition number of the log-parameter covariance beyond which the fit is not identified.
_ILL_CONDITIONED = 1e10


class _EdgeStop:
    """A BFGS callback that ends the path once two successive iterates lie beyond :data:`_EDGE` on
    the log scale: the likelihood keeps rising toward a boundary (e.g. the Pareto/NBD's s and beta
    growing together when lifetimes hardly vary between members), so the estimate is at the edge and
    the fit is reported as not identified wherever it stops. Walking on along the ridge, and then
    Nelder-Mead from there, only costs time: on a million members' calibration sample, 750 of the
    Pareto/NBD fit's 1,040 likelihoods (benchmarks/RESULTS.md). One iterate beyond the edge is
    allowed: a path may cross it and come back to an interior optimum."""

    def __init__(self, active: bool = True) -> None:
        self.active = active
        self.beyond = 0
        self.stopped = False

    def __call__(self, xk) -> None:
        if not self.active:
            return
        self.beyond = self.beyond + 1 if np.max(np.abs(np.asarray(xk, dtype=float))) > _EDGE else 0
        if self.beyond >= 2:
            self.stopped = True
            raise StopIteration  # scipy >= 1.11 ends the minimization, keeping this iterate


def _best_fit(model, starts, names: list[str], gtol: float = 1e-5, first_converged: bool = False, stop_at_edge: bool = False):
    """Fit ``model`` from every start (BFGS, then Nelder-Mead where BFGS did not converge); keep
    the highest likelihood. Only the numerical warnings an optimizer is expected to raise are
    silenced; whether the chosen fit converged is recorded, and warned about when it did not.
    ``stop_at_edge`` ends a path that stays beyond the edge (:class:`_EdgeStop`; for the models
    without an analytic gradient, where each step costs a few likelihoods of every member)."""
    from statsmodels.tools.sm_exceptions import ConvergenceWarning as SMConvergenceWarning
    from statsmodels.tools.sm_exceptions import HessianInversionWarning

    fits = []
    for start in starts:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SMConvergenceWarning)
            warnings.simplefilter("ignore", HessianInversionWarning)
            warnings.simplefilter("ignore", RuntimeWarning)  # overflow in exp/log while exploring far from the optimum
            # a likelihood model without regressors: statsmodels' degrees-of-freedom bookkeeping does not apply
            warnings.filterwarnings("ignore", message="df_model \\+ k_constant", category=UserWarning)
            warnings.filterwarnings("ignore", message="df_resid differs", category=UserWarning)
            edge = _EdgeStop(active=stop_at_edge)
            res = model.fit(start_params=np.log(start), method="bfgs", maxiter=2000, disp=False, gtol=gtol, callback=edge)
            how = "bfgs"
            if edge.stopped:  # scipy counts a stop asked for by the callback as success: it is not convergence
                res.mle_retvals["converged"] = False
                how = "bfgs, stopped at the edge"
            elif not res.mle_retvals.get("converged", False):
                res = model.fit(start_params=res.params, method="nm", maxiter=4000, disp=False)
                how = "bfgs then nelder-mead"
        if np.isfinite(res.llf):
            fits.append((float(res.llf), how, res))
            if first_converged and (res.mle_retvals.get("converged", False) or edge.stopped):
                break  # BFGS, or Nelder-Mead after it, or the edge: the remaining starts are not tried
    if not fits:
        raise NotApplicable("clv.no_finite_fit")
    llf, how, res = max(fits, key=lambda f: f[0])
    converged = bool(res.mle_retvals.get("converged", False))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        bse = np.asarray(res.bse, dtype=float)
    notes = []
    edge = [n for n, v in zip(names, res.params) if abs(v) > _EDGE]
    if edge:
        notes.append(Phrase.of("clv.edge", names=", ".join(edge)))
    if not np.all(np.isfinite(bse)):
        notes.append(Phrase.of("clv.no_se"))
    else:
        # an interval spanning more than three orders of magnitude: the likelihood hardly changes along
        # that parameter (a ridge), so its estimate is wherever the optimizer stopped
        wide = [n for n, v, se in zip(names, res.params, bse) if abs(v) <= _EDGE and _too_wide(se)]
        if wide:
            notes.append(Phrase.of("clv.wide", names=", ".join(wide)))
    if not edge and np.all(np.isfinite(bse)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            cond = np.linalg.cond(np.asarray(res.cov_params(), dtype=float))
        if not np.isfinite(cond) or cond > _ILL_CONDITIONED:
            notes.append(Phrase.of("clv.ill_conditioned", cond=float(cond)))
    if not converged:
        warnings.warn(
            f"{type(model).__name__.strip('_')} fit did not converge ({how}); log-likelihood {llf:.1f}",
            ConvergenceWarning,
            stacklevel=3,
        )
    return res, bse, converged, how, not notes, tuple(notes)


@memoized
def fit_bgnbd(frequency, recency, T, start=None) -> BGNBDModel:
    """Maximum-likelihood BG/NBD fit on repeat frequency, recency and age (same time unit).

    Fitted from several starts (:data:`BGNBD_STARTS`, or ``start`` alone), keeping the best.
    Raises :class:`~analysis.presentation.report.NotApplicable` when too few members made a repeat purchase.
    """
    repeaters = int((np.asarray(frequency, dtype=float) > 0).sum())
    if repeaters < MIN_REPEATERS:
        raise NotApplicable("clv.few_repeaters", n=repeaters, needed=MIN_REPEATERS)
    model = _BGNBDLikelihood(frequency, recency, T)
    names = ["r", "alpha", "a", "b"]
    res, bse, converged, how, identified, notes = _best_fit(model, [start] if start else BGNBD_STARTS, names)
    est = np.exp(res.params)
    return BGNBDModel(
        pd.Series(est, index=names),
        pd.Series(est * bse, index=names),
        float(res.llf),
        int(len(model.endog)),
        res,
        converged,
        how,
        identified,
        notes,
    )


# --- MBG/NBD and Pareto/NBD: the alternatives where BG/NBD's dropout is not identified ---------


def _mbgnbd_loglike(log_params, x, tx, T):
    """Per-member MBG/NBD log-likelihood (Batislam, Denizel & Filiztekin 2007): as BG/NBD, but a
    member may also drop out at time 0, right after the first purchase."""
    r, alpha, a, b = np.exp(log_params)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x + 1) - betaln(a, b)
    a3 = -(r + x) * np.log(alpha + T)
    a4 = np.log(a) - np.log(b + x) - (r + x) * np.log(alpha + tx)
    return a1 + a2 + np.logaddexp(a3, a4)


def _pareto_log_a0(r, alpha, s, beta, x, tx, T, pairs=None):
    """log A0 of the Pareto/NBD likelihood (Fader & Hardie 2005, "A note on deriving the
    Pareto/NBD model"), through the Gauss hypergeometric function on whichever of alpha and beta
    is larger, so its argument stays in [0, 1).

    ``pairs`` (:func:`_distinct_pairs`): the function is evaluated once per distinct (x, t_x) and
    once per distinct (x, T) instead of once per member (about 0.6 of the evaluations on the
    demo: 2F1 is nearly all of the time)."""
    if alpha >= beta:
        hi, lo = alpha, beta
    else:
        hi, lo = beta, alpha
    d = hi - lo

    def log_f(xq, q):  # log 2F1(rsx, t2; rsx + 1; z); by Euler's transformation where the direct series fails (heavy buyers)
        rsx = r + s + xq
        t2 = s + 1.0 if alpha >= beta else r + xq
        z = d / (hi + q)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = np.log(hyp2f1(rsx, t2, rsx + 1.0, z))
        bad = ~np.isfinite(out)
        if np.any(bad):
            zb, tb, rb = (np.broadcast_to(v, out.shape)[bad] for v in (z, t2, rsx))
            out = np.array(out, dtype=float)
            out[bad] = (1.0 - tb) * np.log1p(-zb) + np.log(hyp2f1(1.0, rb + 1.0 - tb, rb + 1.0, zb))
        return out

    if pairs is None:
        f1, f2 = log_f(x, tx), log_f(x, T)
    else:
        (x1, tx1, inv1), (x2, T2, inv2) = pairs
        f1, f2 = log_f(x1, tx1)[inv1], log_f(x2, T2)[inv2]
    rsx = r + s + x
    q1, q2 = hi + tx, hi + T
    # log(p1 q2^rsx - p2 q1^rsx) - rsx log(q1 q2)
    with np.errstate(divide="ignore", invalid="ignore"):
        first = f1 + rsx * np.log(q2)
        second = f2 + rsx * np.log(q1)
        top = np.maximum(first, second)
        diff = np.exp(first - top) - np.exp(second - top)
        return top + np.log(np.maximum(diff, 1e-300)) - rsx * np.log(q1 * q2)


def _distinct_pairs(x, tx, T):
    """The distinct (x, t_x) and (x, T) of the members, each with the position of every member's."""
    out = []
    for t in (tx, T):
        u, inv = np.unique(np.column_stack([x, t]), axis=0, return_inverse=True)
        out.append((u[:, 0], u[:, 1], inv.ravel()))
    return tuple(out)


def _pareto_loglike(log_params, x, tx, T, pairs=None):
    """Per-member Pareto/NBD log-likelihood (Schmittlein, Morrison & Colombo 1987, in Fader &
    Hardie's form): purchases at a Poisson rate while alive, an exponential lifetime."""
    r, alpha, s, beta = np.exp(log_params)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    log_a0 = _pareto_log_a0(r, alpha, s, beta, x, tx, T, pairs)
    return a1 + np.logaddexp(-(r + x) * np.log(alpha + T) - s * np.log(beta + T), np.log(s) - np.log(r + s + x) + log_a0)


class _RepeatLikelihood(GenericLikelihoodModel):
    """A four-parameter repeat-purchase likelihood on frequency, recency and age."""

    loglike_fn = staticmethod(_mbgnbd_loglike)
    names = ("r", "alpha", "a", "b")

    def __init__(self, frequency, recency, T, **kw):
        self.x, self.tx, self.T_ = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        super().__init__(endog=self.x, exog=np.ones((len(self.x), 1)), **kw)
        self.nparams = 4
        self.data.xnames = [f"log_{n}" for n in self.names]

    def loglikeobs(self, params):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            out = self.loglike_fn(params, self.x, self.tx, self.T_)
        return np.where(np.isfinite(out), out, -1e10)


class _MBGNBDLikelihood(_RepeatLikelihood):
    loglike_fn = staticmethod(_mbgnbd_loglike)


class _ParetoNBDLikelihood(_RepeatLikelihood):
    names = ("r", "alpha", "s", "beta")

    def __init__(self, frequency, recency, T, **kw):
        super().__init__(frequency, recency, T, **kw)
        self.pairs = _distinct_pairs(self.x, self.tx, self.T_)

    def loglike_fn(self, params, x, tx, T):
        return _pareto_loglike(params, x, tx, T, self.pairs if x is self.x else None)


@dataclass(frozen=True)
class MBGNBDModel(_FittedModel):
    """Fitted MBG/NBD model. ``params_`` = r, alpha, a, b."""

    name: ClassVar[str] = "MBG/NBD"
    dropout: ClassVar[tuple[str, ...]] = ("a", "b")

    def p_alive(self, frequency, recency, T) -> np.ndarray:
        r, alpha, a, b = self.params_.to_numpy()
        x, tx, T = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        return 1.0 / (1.0 + a / (b + x) * ((alpha + T) / (alpha + tx)) ** (r + x))

    def expected_purchases(self, t, frequency, recency, T) -> np.ndarray:
        r, alpha, a, b = self.params_.to_numpy()
        x, tx, T = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        t = np.asarray(t, dtype=float)
        hyp = hyp2f1(r + x, b + x + 1, a + b + x, t / (alpha + T + t))
        first = (a + b + x) / (a - 1) * (1 - hyp * ((alpha + T) / (alpha + t + T)) ** (r + x))
        return first / (1 + a / (b + x) * ((alpha + T) / (alpha + tx)) ** (r + x))


#: log A0 of recent (parameters, members) of a Pareto/NBD model (:meth:`ParetoNBDModel._log_a0`).
_LOG_A0: dict = {}


@dataclass(frozen=True)
class ParetoNBDModel(_FittedModel):
    """Fitted Pareto/NBD model. ``params_`` = r, alpha (purchase rate), s, beta (lifetime)."""

    name: ClassVar[str] = "Pareto/NBD"
    dropout: ClassVar[tuple[str, ...]] = ("s", "beta")

    def _log_a0(self, params, x, tx, T) -> np.ndarray:
        """log A0 of these members at ``params`` (r, alpha, s, beta), kept for the last few: a CLV
        over a 12-month horizon asks for the same members' likelihood 13 times, and 2F1 is nearly
        all of its time. Evaluated once per distinct (x, t_x) and (x, T): the same values as member
        by member."""
        key = (tuple(params), *(hashlib.blake2b(v.tobytes(), digest_size=16).digest() for v in (x, tx, T)))
        found = _LOG_A0.get(key)
        if found is None:
            found = _pareto_log_a0(*params, x, tx, T, _distinct_pairs(x, tx, T))
            found.setflags(write=False)
            _LOG_A0[key] = found
            while len(_LOG_A0) > 4:
                _LOG_A0.pop(next(iter(_LOG_A0)))
        return found

    def _loglike(self, x, tx, T):
        # the parameters as the fit's likelihood sees them (exp of their logs: the same last bit)
        r, alpha, s, beta = params = np.exp(np.log(self.params_.to_numpy()))
        a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        log_a0 = self._log_a0(params, x, tx, T)
        return a1 + np.logaddexp(-(r + x) * np.log(alpha + T) - s * np.log(beta + T), np.log(s) - np.log(r + s + x) + log_a0)

    def p_alive(self, frequency, recency, T) -> np.ndarray:
        r, alpha, s, beta = params = self.params_.to_numpy()
        x, tx, T = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        log_a0 = self._log_a0(params, x, tx, T)
        with np.errstate(over="ignore"):
            return 1.0 / (
                1.0 + np.exp(np.log(s) - np.log(r + s + x) + (r + x) * np.log(alpha + T) + s * np.log(beta + T) + log_a0)
            )

    def expected_purchases(self, t, frequency, recency, T) -> np.ndarray:
        r, alpha, s, beta = self.params_.to_numpy()
        x, tx, T = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        t = np.asarray(t, dtype=float)
        ll = self._loglike(x, tx, T)
        first = (
            gammaln(r + x)
            - gammaln(r)
            + r * np.log(alpha)
            + s * np.log(beta)
            - (r + x) * np.log(alpha + T)
            - s * np.log(beta + T)
        )
        second = np.log(r + x) + np.log(beta + T) - np.log(alpha + T)
        third = (
            np.log((1 - ((beta + T) / (beta + T + t)) ** (s - 1)) / (s - 1))
            if abs(s - 1) > 1e-9
            else np.log(np.log((beta + T + t) / (beta + T)))
        )
        return np.exp(first + second + third - ll)


#: Starting points of the MBG/NBD and Pareto/NBD fits.
MBGNBD_STARTS = ((0.5, 5.0, 0.8, 2.5), (1.0, 1.0, 1.0, 1.0), (0.2, 20.0, 0.3, 8.0))
PARETO_STARTS = ((0.5, 10.0, 0.5, 10.0), (1.0, 1.0, 1.0, 1.0), (0.2, 20.0, 2.0, 50.0))


#: Members beyond which MBG/NBD and Pareto/NBD are fitted on a sample (no analytic gradient: each
#: likelihood is a pass over every member, a few hundred per fit); 20,000 members pin four parameters
#: down far more tightly than the models' own misfit.
MAX_FIT = 20_000


def _sample_rows(n: int, max_fit: int | None = None, seed: int = 0) -> np.ndarray:
    """Row positions to fit on: all, or ``max_fit`` (default :data:`MAX_FIT`) drawn with ``seed`` (the
    rows are in member order, so the same data give the same sample)."""
    max_fit = MAX_FIT if max_fit is None else max_fit
    if n <= max_fit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_fit, replace=False))


def _fit_repeat(cls, likelihood, frequency, recency, T, starts):
    rows = _sample_rows(len(np.asarray(frequency)))
    frequency, recency, T = (np.asarray(v, dtype=float)[rows] for v in (frequency, recency, T))
    repeaters = int((np.asarray(frequency, dtype=float) > 0).sum())
    if repeaters < MIN_REPEATERS:
        raise NotApplicable("clv.few_repeaters", n=repeaters, needed=MIN_REPEATERS)
    model = likelihood(frequency, recency, T)
    names = list(likelihood.names)
    # without an analytic gradient each start costs a few hundred likelihoods: the starts are tried in
    # order until a fit converges from one (BFGS, or Nelder-Mead after it; the others are the fallback)
    res, bse, converged, how, identified, notes = _best_fit(model, starts, names, first_converged=True, stop_at_edge=True)
    est = np.exp(res.params)
    return cls(
        pd.Series(est, index=names),
        pd.Series(est * bse, index=names),
        float(res.llf),
        int(len(model.endog)),
        res,
        converged,
        how,
        identified,
        notes,
    )


@memoized
def fit_mbgnbd(frequency, recency, T) -> MBGNBDModel:
    """Maximum-likelihood MBG/NBD fit (starts in turn until one converges; on at most
    :data:`MAX_FIT` members, in member order)."""
    return _fit_repeat(MBGNBDModel, _MBGNBDLikelihood, frequency, recency, T, MBGNBD_STARTS)


@memoized
def fit_pareto_nbd(frequency, recency, T) -> ParetoNBDModel:
    """Maximum-likelihood Pareto/NBD fit (starts in turn until one converges; on at most
    :data:`MAX_FIT` members, in member order)."""
    return _fit_repeat(ParetoNBDModel, _ParetoNBDLikelihood, frequency, recency, T, PARETO_STARTS)


#: The repeat-purchase models compared, in the order a tie is broken (the simplest first).
REPEAT_MODELS = {"BG/NBD": fit_bgnbd, "MBG/NBD": fit_mbgnbd, "Pareto/NBD": fit_pareto_nbd}


@dataclass(frozen=True)
class ModelChoice(Result):
    """The repeat-purchase models fitted on a calibration period and judged on the holdout that
    follows: per model whether the data identify it, its calibration log-likelihood and its
    holdout error (mean absolute error per member of the repeat purchases predicted for the
    holdout, and the total predicted against the total seen; the log-likelihood per member). All
    three are fitted on the same members: every member of the calibration, or the seeded sample of
    :data:`MAX_FIT` of them; the holdout error is measured on every member. The chosen model is the identified
    one with the smallest holdout error (``None``: none is identified)."""

    comparison: pd.DataFrame
    chosen: str | None
    calibration_end: object
    #: each model as fitted on the calibration period (the calibration check reuses the chosen one)
    models: dict = field(default_factory=dict, repr=False)
    #: the holdout's end (``None``: the data's last day) and the time unit the models were fitted in
    holdout_end: object = None
    unit_days: float = 7.0
    kinds: ClassVar[dict] = {
        "log_likelihood_per_member": "number",
        "holdout_mae": "number",
        "predicted_total": "number",
        "actual_total": "number",
        "members": "count",
    }

    def table(self) -> pd.DataFrame:
        return self.comparison

    def metrics(self) -> dict:
        return {
            "chosen": self.chosen,
            "calibration_end": str(pd.Timestamp(self.calibration_end).date()),
            "models": {
                r.model: {
                    "identified": bool(r.identified),
                    "log_likelihood_per_member": r.log_likelihood_per_member,
                    "holdout_mae": r.holdout_mae,
                }
                for r in self.comparison.itertuples()
            },
        }

    def sentence(self) -> Phrase:
        """Which model was chosen and on what evidence (``clv.chosen``), or that none is identified."""
        if self.chosen is None:
            return Phrase.of("clv.none_identified")
        row = self.comparison.set_index("model").loc[self.chosen]
        fitted = self.models[self.chosen].n_obs if self.chosen in self.models else int(row["members"])
        common = {"end": pd.Timestamp(self.calibration_end).date(), "model": self.chosen, "mae": float(row["holdout_mae"])}
        if fitted < int(row["members"]):  # the fits on the seeded sample (MAX_FIT), the errors on everyone
            return Phrase.of("clv.chosen_sampled", fitted=int(fitted), members=int(row["members"]), **common)
        return Phrase.of("clv.chosen", **common)


def calibration_split(data: MallData, calibration_end, as_of=None, unit_days: float = 7.0) -> tuple[pd.DataFrame, float]:
    """The RFM summary up to ``calibration_end`` with each member's purchase days in the holdout
    that follows, up to ``as_of`` (``actual``), and the holdout's length in ``unit_days``."""
    cal_end = pd.Timestamp(calibration_end)
    end = pd.Timestamp(as_of or data.as_of)
    first = data.purchase_days.day.min().to_pandas()
    if first is None or pd.isna(first) or pd.Timestamp(first) >= cal_end - pd.Timedelta(days=30):
        raise NotApplicable(
            "clv.short_calibration",
            end=cal_end.date(),
            first=None if first is None or pd.isna(first) else pd.Timestamp(first).date(),
        )
    cal = compute_rfm_summary(data, calibration_end=cal_end, unit_days=unit_days)
    days = data.purchase_days
    _ = ibis._
    hold = (
        days.filter((days.day > ibis.literal(cal_end.date())) & (days.day <= ibis.literal(end.date())))
        .group_by("member_id")
        .aggregate(actual=_.count())
        .to_pandas()
    )
    return cal.merge(hold, on="member_id", how="left").fillna({"actual": 0}), (end - cal_end).days / unit_days


def _calibration_fit(name: str, cal: pd.DataFrame):
    """Repeat model ``name`` fitted on a calibration summary: every candidate on the same members, all
    or the seeded sample of :data:`MAX_FIT` that MBG/NBD and Pareto/NBD are always fitted on (BG/NBD
    on a million members' calibration took 10.7 s, on the sample 0.2 s; benchmarks/RESULTS.md).
    Predictions and errors are then computed for every member."""
    fit_on = cal.iloc[_sample_rows(len(cal))]
    return REPEAT_MODELS[name](fit_on["frequency"], fit_on["recency"], fit_on["T"])


def choose_repeat_model(data: MallData, calibration_end, as_of=None, unit_days: float = 7.0) -> ModelChoice:
    """Fit BG/NBD, MBG/NBD and Pareto/NBD on purchases up to ``calibration_end`` and choose among
    the identified ones by their error on the holdout up to ``as_of`` (see :class:`ModelChoice`)."""
    cal_end = pd.Timestamp(calibration_end)
    cal, horizon = calibration_split(data, calibration_end, as_of, unit_days)
    rows, models = [], {}
    for name in REPEAT_MODELS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = models[name] = _calibration_fit(name, cal)
        with np.errstate(all="ignore"):
            predicted = np.asarray(model.expected_purchases(horizon, cal["frequency"], cal["recency"], cal["T"]), dtype=float)
        ok = model.identified and model.converged and bool(np.isfinite(predicted).all())
        # per member: the fits may be on a sample (MAX_FIT)
        rows.append(
            {
                "model": name,
                "identified": ok,
                "log_likelihood_per_member": model.log_likelihood_ / model.n_obs,
                "holdout_mae": float(np.mean(np.abs(predicted - cal["actual"]))) if np.isfinite(predicted).all() else np.nan,
                "predicted_total": float(np.nansum(predicted)),
                "actual_total": float(cal["actual"].sum()),
                "members": len(cal),
            }
        )
    table = pd.DataFrame(rows)
    candidates = table[table["identified"]]
    chosen = None if candidates.empty else str(candidates.sort_values("holdout_mae", kind="stable").iloc[0]["model"])
    return ModelChoice(table, chosen, cal_end, models, as_of, unit_days)


# --- Gamma-Gamma ---------------------------------------------------------------------


class _GammaGammaLikelihood(GenericLikelihoodModel):
    def __init__(self, frequency, monetary_value, **kw):
        self.x, self.m = np.asarray(frequency, dtype=float), np.asarray(monetary_value, dtype=float)
        # constant across evaluations: log spend, log count, and the distinct counts
        self.log_m, self.log_x, self.mx = np.log(self.m), np.log(self.x), self.m * self.x
        self.ux, self.inv = np.unique(self.x, return_inverse=True)
        super().__init__(endog=self.m, exog=np.ones((len(self.x), 1)), **kw)
        self.nparams = 3
        self.data.xnames = ["log_p", "log_q", "log_v"]

    def loglikeobs(self, params):
        p, q, v = np.exp(params)
        by_x = gammaln(p * self.ux + q) - gammaln(p * self.ux) - gammaln(q) + q * np.log(v)
        px = p * self.x
        return by_x[self.inv] + (px - 1) * self.log_m + px * self.log_x - (px + q) * np.log(v + self.mx)

    def score_obs(self, params):
        """The gradient of :meth:`loglikeobs` in the log parameters (digamma terms per distinct
        frequency): BFGS then needs one pass per step instead of a numerical gradient's several
        (the fit on a million members' repeaters took 7.9 s; benchmarks/RESULTS.md)."""
        p, q, v = np.exp(params)
        dig = digamma(p * self.ux + q)
        d_p_by_x = self.ux * (dig - digamma(p * self.ux))
        d_q_by_x = dig - digamma(q)
        log_vm = np.log(v + self.mx)
        d_p = d_p_by_x[self.inv] + self.x * (self.log_m + self.log_x - log_vm)
        d_q = d_q_by_x[self.inv] + np.log(v) - log_vm
        d_v = q / v - (p * self.x + q) / (v + self.mx)
        return np.column_stack([d_p * p, d_q * q, d_v * v])

    def score(self, params):
        return self.score_obs(params).sum(axis=0)


@dataclass(frozen=True)
class GammaGammaModel(_FittedModel):
    """Fitted Gamma-Gamma spend model. ``params_`` = p, q, v (gamma)."""

    def expected_spend(self, frequency, monetary_value) -> np.ndarray:
        """Expected spend per purchase, shrinking each member's mean toward the population's."""
        p, q, v = self.params_.to_numpy()
        x = np.asarray(frequency, dtype=float)
        m = np.nan_to_num(np.asarray(monetary_value, dtype=float))
        pop = p * v / (q - 1)
        return np.where(x > 0, (v + m * x) * p / (p * x + q - 1), pop)


@memoized
def fit_gamma_gamma(frequency, monetary_value, start=(2.0, 3.0, 50.0)) -> GammaGammaModel:
    """Maximum-likelihood Gamma-Gamma fit on members with at least one repeat purchase."""
    x = np.asarray(frequency, dtype=float)
    m = np.asarray(monetary_value, dtype=float)
    keep = (x > 0) & (m > 0)
    if keep.sum() < MIN_REPEATERS:
        raise NotApplicable("clv.few_spenders", n=int(keep.sum()), needed=MIN_REPEATERS)
    model = _GammaGammaLikelihood(x[keep], m[keep])
    start = np.array(start, dtype=float)
    start[2] = max(start[2], float(np.median(m[keep])))
    names = ["p", "q", "v"]
    starts = [tuple(start), (1.0, 1.0, float(np.median(m[keep]))), (5.0, 10.0, 5.0 * float(np.median(m[keep])))]
    res, bse, converged, how, identified, notes = _best_fit(model, starts, names)
    est = np.exp(res.params)
    return GammaGammaModel(
        pd.Series(est, index=names),
        pd.Series(est * bse, index=names),
        float(res.llf),
        int(len(model.endog)),
        res,
        converged,
        how,
        identified,
        notes,
    )


def compute_clv(
    bgnbd: BGNBDModel | MBGNBDModel | ParetoNBDModel,
    gg: GammaGammaModel,
    summary: pd.DataFrame,
    horizon_months: int = 12,
    monthly_discount: float = 0.01,
    margin: float = 0.3,
    unit_days: float = 7.0,
) -> pd.DataFrame:
    """Discounted customer lifetime value over ``horizon_months`` (margin on spend), from any of
    the repeat-purchase models (``bgnbd``: BG/NBD, MBG/NBD or Pareto/NBD) and Gamma-Gamma.

    CLV = sum over months m of (expected purchases in month m) x (expected spend per purchase)
    x margin / (1 + monthly_discount)^m.
    """
    if set(bgnbd.dropout) & set(bgnbd.unidentified()):
        raise NotApplicable("clv.dropout_unidentified", model=bgnbd.name, names=", ".join(bgnbd.dropout), notes=bgnbd.notes)
    for name, fitted in ((bgnbd.name, bgnbd), ("Gamma-Gamma", gg)):
        if not fitted.identified:
            raise NotApplicable("clv.unidentified", model=name, notes=fitted.notes)
    per_month = 30.4375 / unit_days
    x, tx, T = summary["frequency"], summary["recency"], summary["T"]
    spend = gg.expected_spend(x, summary["monetary_value"])
    clv = np.zeros(len(summary))
    prev = np.zeros(len(summary))
    for m in range(1, horizon_months + 1):
        cum = bgnbd.expected_purchases(m * per_month, x, tx, T)
        clv += (cum - prev) * spend * margin / (1 + monthly_discount) ** m
        prev = cum
    out = summary[["member_id"]].copy()
    out["p_alive"] = bgnbd.p_alive(x, tx, T)
    out["expected_purchases"] = prev
    out["expected_spend"] = spend
    out["clv"] = clv
    return out


def clv_by_group(values: pd.DataFrame, by: str = "tier", order=None) -> pd.DataFrame:
    """Members, mean, median and 75th percentile of CLV per group (groups in ``order``)."""
    g = values.groupby(by)["clv"]
    out = pd.DataFrame({"members": g.size(), "mean_clv": g.mean(), "median_clv": g.median(), "p75_clv": g.quantile(0.75)})
    if order is not None:
        out = out.reindex([o for o in order if o in out.index])
    return out.rename_axis(by).reset_index()


def calibration_holdout(
    data: MallData,
    calibration_end,
    as_of=None,
    unit_days: float = 7.0,
    max_bin: int = 7,
    model: str = "BG/NBD",
    choice: ModelChoice | None = None,
) -> tuple[pd.DataFrame, BGNBDModel]:
    """Fit ``model`` (a name of :data:`REPEAT_MODELS`) on purchases up to ``calibration_end``;
    compare predicted and actual repeat purchases in the holdout period, by calibration
    frequency (bins 0..``max_bin``+). A :func:`choose_repeat_model` ``choice`` on the same
    calibration period lends its fit of ``model`` (the same data give the same fit: not fitted twice)."""
    cal, horizon = calibration_split(data, calibration_end, as_of, unit_days)
    same = choice is not None and (pd.Timestamp(choice.calibration_end), choice.holdout_end, choice.unit_days) == (
        pd.Timestamp(calibration_end),
        as_of,
        unit_days,
    )
    fitted = choice.models.get(model) if same else None
    model = fitted if fitted is not None else _calibration_fit(model, cal)
    cal["predicted"] = model.expected_purchases(horizon, cal["frequency"], cal["recency"], cal["T"])
    cal["bin"] = cal["frequency"].clip(upper=max_bin)
    table = (
        cal.groupby("bin")
        .agg(members=("member_id", "size"), actual=("actual", "mean"), predicted=("predicted", "mean"))
        .reset_index()
    )
    table["bin"] = table["bin"].astype(str)
    table.loc[table.index[-1], "bin"] = f"{max_bin}+" if cal["frequency"].max() >= max_bin else table.loc[table.index[-1], "bin"]
    table["error"] = table["predicted"] - table["actual"]
    return table, model
