"""A few seeds of the coverage study (the full 100-seed run is validation/coverage.py)."""

import importlib.util

from analysis.data.config import PROJECT_DIR

spec = importlib.util.spec_from_file_location("coverage_study", PROJECT_DIR / "validation" / "coverage.py")
coverage_study = importlib.util.module_from_spec(spec)
spec.loader.exec_module(coverage_study)


def test_few_seeds_cover_the_truth():
    rows = [r for seed in (101, 102, 103) for r in coverage_study.one_seed(seed, 15_000, 0.05)]
    assert not [r["failed"] for r in rows if r["failed"]]
    judged = [r for r in rows if r["covered"] == r["covered"]]  # NaN for the naive comparison
    # six arms against their holdouts: return rate unadjusted and adjusted, spend per contacted; plus the DiD
    assert len(judged) == 3 * 19
    # 95% intervals: expect about 54 of 57 to cover; fewer than 49 would mean broken intervals
    assert sum(r["covered"] for r in judged) >= 49
    naive = [r for r in rows if r["estimator"].startswith("naive")]
    # planted: season and list composition push the naive comparison below the true change
    assert sum(r["estimate"] < r["truth"] for r in naive) >= 2
