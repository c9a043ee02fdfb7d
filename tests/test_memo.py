"""Fits computed once per input and code (issue 29: the warm run reuses the lifecycle report's
model fits): the same arrays give the stored result and its warnings, other arrays or other code a
new fit, and ``MALLWAKE_FIT_CACHE=0`` computes every time."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from analysis.statistics import clv, memo
from analysis.statistics.clv import ConvergenceWarning

CALLS: list[int] = []


@memo.memoized
def slow_fit(x, warn: bool = False):
    CALLS.append(1)
    if warn:
        warnings.warn("the fit did not converge", ConvergenceWarning, stacklevel=2)
    return float(np.asarray(x).sum())


@pytest.fixture
def fit_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MALLWAKE_FIT_CACHE", "1")
    memo.use(tmp_path / "fits")
    CALLS.clear()
    yield tmp_path
    memo.use(None)


def test_the_same_input_is_fitted_once_and_another_input_again(fit_cache):
    x = np.arange(1_000, dtype=float)
    assert slow_fit(x) == slow_fit(x.copy()) == x.sum()
    assert len(CALLS) == 1  # the second call read the stored result
    assert slow_fit(x + 1) == (x + 1).sum() and len(CALLS) == 2
    assert any((fit_cache / "fits").rglob("output.pkl"))  # joblib's store, in the folder named


def test_a_reused_fit_gives_its_warnings_again(fit_cache):
    x = np.ones(10)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        slow_fit(x, warn=True)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        slow_fit(x, warn=True)  # reused: the report reads the same as when it was computed
    assert len(CALLS) == 1


def test_turned_off_every_fit_is_computed(fit_cache, monkeypatch):
    monkeypatch.setenv("MALLWAKE_FIT_CACHE", "0")
    x = np.ones(5)
    slow_fit(x)
    slow_fit(x)
    assert len(CALLS) == 2 and not (fit_cache / "fits").exists()


def test_without_a_folder_named_every_fit_is_computed(fit_cache):
    memo.use(None)  # a notebook opened by hand
    slow_fit(np.ones(3))
    slow_fit(np.ones(3))
    assert len(CALLS) == 2


def test_other_code_or_library_versions_are_another_folder(monkeypatch):
    before = memo.code_key()
    monkeypatch.setattr(memo, "version", lambda lib: "0.0-other")
    assert memo.code_key() != before


def test_a_stored_bgnbd_fit_equals_a_computed_one(fit_cache, small_mall):
    from analysis.data.dataset import load_dataset

    summary = clv.compute_rfm_summary(load_dataset(small_mall))
    args = (summary["frequency"], summary["recency"], summary["T"])
    computed = clv.fit_bgnbd.uncached(*args)
    first, again = clv.fit_bgnbd(*args), clv.fit_bgnbd(*args)
    for model in (first, again):
        assert np.array_equal(model.params_.to_numpy(), computed.params_.to_numpy()) and np.array_equal(
            model.bse_.to_numpy(), computed.bse_.to_numpy()
        )
        assert model.converged == computed.converged
    assert len(list((fit_cache / "fits").rglob("output.pkl"))) == 1


@pytest.mark.slow
def test_a_second_run_reuses_the_lifecycle_fits_and_reports_the_same(small_mall, tmp_path, monkeypatch):
    """``mallwake run`` names ``fits/`` in the cache root to the lifecycle report: the first run
    stores its model fits there, a forced second run into another folder reuses them, and its
    metrics are identical."""
    import json

    from analysis.application.runner import run_reports

    monkeypatch.setenv("MALLWAKE_FIT_CACHE", "1")
    monkeypatch.setenv("MALLWAKE_CACHE_DIR", str(tmp_path / "cache"))
    first = run_reports(small_mall, out_dir=tmp_path / "a", only=["05_lifecycle"], label="one", log=lambda *_: None)
    stored = sorted((tmp_path / "cache" / "fits").rglob("output.pkl"))
    assert first.status == "ok" and stored, "the first run stored its fits"
    second = run_reports(small_mall, out_dir=tmp_path / "b", only=["05_lifecycle"], label="one", force=True, log=lambda *_: None)
    assert second.status == "ok"
    assert sorted((tmp_path / "cache" / "fits").rglob("output.pkl")) == stored  # reused, none added

    def metrics(result):  # the figures, not the run's own times
        found = json.loads(next(result.out_dir.glob("05_lifecycle*.metrics.json")).read_text(encoding="utf-8"))
        return {k: v for k, v in found.items() if k not in ("run_time", "elapsed", "execution_time")}

    assert metrics(first) == metrics(second)


def test_only_the_runner_names_the_fit_cache(tmp_path):
    """``fit_cache_dir`` is the runner's: refused from ``-p`` and from ``mallwake.yaml``."""
    from analysis.application.parameters import refuse_runner_parameters
    from analysis.data.errors import ParameterError
    from analysis.data.params import load_data_params

    with pytest.raises(ParameterError, match="fit_cache_dir .* is set by the runner"):
        refuse_runner_parameters({"fit_cache_dir": str(tmp_path)}, {}, tmp_path)
    (tmp_path / "mallwake.yaml").write_text(f"fit_cache_dir: {tmp_path}\n", encoding="utf-8")
    with pytest.raises(ParameterError, match="fit_cache_dir.*is set by the runner"):
        load_data_params(tmp_path)


def test_member_features_are_kept_per_data_content_date_tiers_and_arguments(fit_cache, small_mall):
    """The member features several reports derive from the same data are computed once for them all,
    and computed again for other data, another analysis date, other tier levels or other arguments;
    data without a fingerprint are never kept."""
    import dataclasses

    import pandas as pd

    from analysis.data.dataset import load_dataset
    from analysis.statistics.features import compute_member_features

    data = load_dataset(small_mall)
    stored = lambda: len(list((fit_cache / "fits").rglob("output.pkl")))  # noqa: E731
    first = compute_member_features(data, window_days=180)
    pd.testing.assert_frame_equal(first, compute_member_features.uncached(data, window_days=180))
    pd.testing.assert_frame_equal(compute_member_features(data, window_days=180), first)
    assert stored() == 1
    compute_member_features(data, window_days=90)
    compute_member_features(data, as_of=pd.Timestamp(data.as_of) - pd.Timedelta(days=30), window_days=180)
    compute_member_features(dataclasses.replace(data, tiers=tuple(reversed(data.tiers))), window_days=180)
    compute_member_features(dataclasses.replace(data, fingerprint="f" * 64), window_days=180)
    assert stored() == 5
    compute_member_features(dataclasses.replace(data, fingerprint=""), window_days=180)
    assert stored() == 5
