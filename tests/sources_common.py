"""What the PostgreSQL and Spark source tests share: every notebook on some data, and the comparison
of two runs' metrics (counts exactly, floating-point values within 1e-9)."""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import pytest

from analysis.application.runner import run_months, run_reports
from analysis.data.config import MONTHLY_NOTEBOOK, NOTEBOOKS_DIR, TEACHING_DIR

SETTINGS = ("mallwake.yaml", "preregistrations", "truth.json")
MONTH = "2024-11"


def _diff(a, b, path=""):
    """Where two metrics documents differ: counts exactly, floating-point values beyond 1e-9."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{path}/{k}: missing on one side" for k in set(a) ^ set(b)]
        return out + [d for k in set(a) & set(b) for d in _diff(a[k], b[k], f"{path}/{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} vs {len(b)} items"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _diff(x, y, f"{path}[{i}]")]
    if isinstance(a, float) or isinstance(b, float):
        if (
            isinstance(a, (int, float))
            and isinstance(b, (int, float))
            and not isinstance(a, bool)
            and (math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b)))
        ):
            return []
        return [f"{path}: {a!r} vs {b!r}"]
    return [] if a == b else [f"{path}: {str(a)[:80]!r} vs {str(b)[:80]!r}"]


def run_all(data, out: Path) -> dict[str, dict]:
    """Every notebook on ``data``: the reports, the teaching notebooks and one month; metrics by notebook."""
    log = lambda *_: None  # noqa: E731
    runs = [
        run_reports(data, out_dir=out, label="main", jobs=2, log=log),
        run_reports(data, out_dir=out, label="teaching", notebooks_dir=TEACHING_DIR, jobs=2, log=log),
        *run_months(data, [MONTH], out_dir=out, notebook=MONTHLY_NOTEBOOK, log=log),
    ]
    failed = [(r.label, n.name, n.error) for r in runs for n in r.notebooks if n.status != "ok"]
    assert not failed, failed
    return {p.name: json.loads(p.read_text()) for p in sorted(out.rglob("*.metrics.json"))}


@pytest.fixture(scope="module")
def files_metrics(small_mall, tmp_path_factory) -> dict[str, dict]:
    return run_all(small_mall, tmp_path_factory.mktemp("files") / "reports")


def assert_same_metrics(files: dict, engine: dict, expected: set | None = None) -> None:
    """Every notebook's metrics (or those ``expected``) present in ``engine`` and equal to ``files``."""
    expected = expected or (
        {p.stem for p in NOTEBOOKS_DIR.glob("*.ipynb")} | {p.stem for p in TEACHING_DIR.glob("*.ipynb")} | {"monthly_report"}
    )
    assert {k.removesuffix(".metrics.json") for k in engine} == expected
    diffs = {name: _diff(files[name], engine[name]) for name in files if name in engine}
    assert not any(diffs.values()), {k: v[:5] for k, v in diffs.items() if v}


def settings_beside(folder: Path, mall: Path) -> None:
    for name in SETTINGS:
        src = mall / name
        if src.exists():
            (shutil.copytree if src.is_dir() else shutil.copy)(src, folder / name)


def require_spark() -> None:
    """Skip without pyspark or Java, except where ``MALLWAKE_REQUIRE_SPARK=1`` (CI) makes that a failure."""
    required = os.environ.get("MALLWAKE_REQUIRE_SPARK") == "1"
    try:
        import pyspark  # noqa: F401
    except ImportError:
        if required:
            pytest.fail("pyspark is not installed but MALLWAKE_REQUIRE_SPARK=1")
        pytest.skip("pyspark not installed (make setup EXTRAS=test,spark)")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        if required:
            pytest.fail("Java is not available but MALLWAKE_REQUIRE_SPARK=1")
        pytest.skip("no Java for Spark")
