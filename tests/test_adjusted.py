"""Regression adjustment (Lin, HC2) on a rank-deficient design, against an independent computation."""

import numpy as np
import pandas as pd
import pytest

from analysis.presentation.present import cell_words
from analysis.statistics import campaigns as cp


def _hc2(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OLS with HC2 standard errors, written out (no statsmodels)."""
    bread = np.linalg.inv(X.T @ X)
    beta = bread @ X.T @ y
    e = y - X @ beta
    h = np.einsum("ij,jk,ik->i", X, bread, X)
    meat = X.T @ (X * (e**2 / (1 - h))[:, None])
    return beta, np.sqrt(np.diag(bread @ meat @ bread))


@pytest.fixture
def design():
    rng = np.random.default_rng(7)
    n = 600
    a = rng.normal(size=n)
    c = rng.normal(size=n)
    t = rng.permutation(np.repeat([1, 0], n // 2))
    y = (rng.uniform(size=n) < 0.2 + 0.08 * t + 0.1 * (a > 0)).astype(float)
    ids = [f"M{i}" for i in range(n)]
    outcomes = pd.DataFrame({"campaign_id": "C", "member_id": ids, "arm": np.where(t == 1, "call", "holdout"), "returned": y})
    features = pd.DataFrame(
        {
            "campaign_id": "C",
            "member_id": ids,
            "a": a,
            "a_copy": a,
            "k": 5.0,
            "b": 2 * a + 3,
            "c": c,
            "near": 2 * a + 3 + rng.normal(size=n) * 1e-10,
        }
    )  # collinear up to rounding
    return outcomes, features, a, c, t, y


def test_constant_and_collinear_covariates_are_dropped_and_named(design):
    outcomes, features, a, c, t, y = design
    res = cp.estimate_adjusted_effect(outcomes, features, "C", "call", ["a", "a_copy", "k", "b", "near", "c"])
    assert res.covariates == ("a", "c")
    assert cp.Dropped("constant", covariate="k") in res.dropped  # a code with its values, not a sentence
    assert {d.covariate for d in res.dropped} == {"a_copy", "k", "b", "near"}
    assert {d.code for d in res.dropped} == {"constant", "collinear"}
    assert {"code": "constant", "covariate": "k"} in res.to_metrics()["dropped"]
    table = res.table()  # the words come at display time
    dropped = cell_words(table.loc[0, "dropped"])  # the table holds the codes; the report shows their words
    assert table.loc[0, "covariates"] == "a, c" and "A copy (collinear" in dropped and "k (constant)" in dropped


def test_hc2_error_equals_an_independent_computation(design):
    outcomes, features, a, c, t, y = design
    res = cp.estimate_adjusted_effect(outcomes, features, "C", "call", ["a", "a_copy", "k", "b", "near", "c"])
    ac, cc = a - a.mean(), c - c.mean()
    X = np.column_stack([np.ones_like(a), t, ac, cc, t * ac, t * cc])
    beta, se = _hc2(X, y)
    assert res.estimate == pytest.approx(beta[1], abs=1e-10)
    assert res.se == pytest.approx(se[1], rel=1e-8)
    # and the duplicated/constant/collinear columns change nothing against the clean design
    clean = cp.estimate_adjusted_effect(outcomes, features, "C", "call", ["a", "c"])
    assert (clean.estimate, clean.se) == pytest.approx((res.estimate, res.se), rel=1e-10)


def test_no_usable_covariate_gives_the_unadjusted_difference_with_hc2(design):
    outcomes, features, a, c, t, y = design
    res = cp.estimate_adjusted_effect(outcomes, features, "C", "call", ["k"])
    assert res.covariates == () and res.estimate == pytest.approx(res.unadjusted, abs=1e-12)
    _, se = _hc2(np.column_stack([np.ones_like(a), t]), y)
    assert res.se == pytest.approx(se[1], rel=1e-8)


def test_a_member_fitted_exactly_by_its_own_level_is_left_out_and_hc2_stays_defined(design):
    """One control member alone in a tier gets leverage 1: HC2 divided 0 by 0 (inf, or an arbitrary
    number when rounding left h at 1 - 1e-16, so PostgreSQL and DuckDB disagreed). The member and
    its column are left out: the estimate is unchanged and the error is the one without them."""
    outcomes, features, a, c, t, y = design
    tier = np.where(np.arange(len(a)) % 2 == 0, "gold", "silver")
    lone = int(np.flatnonzero(t == 0)[0])
    tier[lone] = "platinum"
    features = features.assign(tier=tier)
    res = cp.estimate_adjusted_effect(outcomes, features, "C", "call", ["a", "tier"])
    assert np.isfinite(res.se) and res.se > 0
    assert any(d.code == "exact_fit" and d.n == 1 for d in res.dropped)
    assert "leverage 1" in cell_words(res.table().loc[0, "dropped"])
    keep = np.arange(len(a)) != lone
    silver = (tier == "silver").astype(float)
    ac, sc = (a - a.mean())[keep], (silver - silver.mean())[keep]  # centred on everyone compared (Lin)
    X = np.column_stack([np.ones(keep.sum()), t[keep], ac, sc, t[keep] * ac, t[keep] * sc])
    beta, se = _hc2(X, y[keep])
    assert res.se == pytest.approx(se[1], rel=1e-8)
    assert res.estimate == pytest.approx(beta[1], abs=1e-10)
    # a rounding-level change of one covariate (another engine's order of summation) changes nothing
    nudged = cp.estimate_adjusted_effect(outcomes, features.assign(a=features["a"] * (1 + 1e-15)), "C", "call", ["a", "tier"])
    assert (nudged.estimate, nudged.se) == pytest.approx((res.estimate, res.se), rel=1e-9)
