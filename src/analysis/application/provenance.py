"""Where a report came from: the data's fingerprint, the analysis date, the code's commit, the locked
environment and the packages' versions (the provenance block of every page)."""

from __future__ import annotations

import datetime as dt
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from analysis.application.lockfile import lock_hash
from analysis.data.config import PROJECT_DIR
from analysis.data.contract import present_files
from analysis.data.dataset import fingerprint_files
from analysis.data.sources import is_source, parse_source

PROVENANCE_PACKAGES = (
    "mallwake",
    "pandas",
    "numpy",
    "statsmodels",
    "scikit-learn",
    "ibis-framework",
    "duckdb",
    "pandera",
    "papermill",
    "nbconvert",
    "seaborn",
    "matplotlib",
)


def _git_commit() -> str:
    try:
        res = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=5
        )
        return (res.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")) if res.returncode == 0 else "n/a"
    except (OSError, subprocess.SubprocessError):
        return "n/a"


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in PROVENANCE_PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def _fingerprint(data_dir: Path) -> str:
    return fingerprint_files(list(present_files(data_dir).values()))


def _provenance(data_dir, as_of: str | None, label: str, fingerprint: str | None = None, last_day: str | None = None) -> dict:
    where = (
        {
            "data source": data_name(data_dir),
            "data fingerprint (sha256 of the tables' row counts and checksums)": (fingerprint or "")[:16],
        }
        if is_source(data_dir)
        else {
            "data directory": data_name(data_dir),
            "data fingerprint (sha256 of the files' bytes)": (fingerprint or _fingerprint(data_dir))[:16],
        }
    )
    return {
        "run": label,
        **where,
        "analysis date": _analysis_date(as_of, last_day),
        "git commit": _git_commit(),
        "environment (uv.lock sha256)": lock_hash() or "not installed from the lock",
        "generated": dt.datetime.now().isoformat(timespec="seconds"),
        "packages": _versions(),
    }


def _analysis_date(as_of: str | None, last_day: str | None) -> str:
    """The analysis date a run used: the one given, else the last day in the data (when known)."""
    if as_of:
        return str(as_of)
    return f"{str(last_day)[:10]} (the last date in the data)" if last_day else "the last date in the data"


def resolve_data(data) -> Path | str:
    """A data folder as an absolute path (papermill changes the working directory), or a source
    (a URL, or a connection file as an absolute path) as text."""
    if is_source(data):
        source = parse_source(data)
        return str(Path(source.spec).resolve()) if source.config_dir is not None else source.spec
    return Path(data).resolve()


def data_name(data) -> str:
    """What reports call the data: the folder's name, or the source without any secret."""
    return parse_source(data).name if is_source(data) else Path(data).name
