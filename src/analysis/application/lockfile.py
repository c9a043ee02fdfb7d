"""The locked environment: ``uv.lock`` pins every package; ``environment.yml`` is written from it.

``python -m analysis.application.lockfile`` rewrites ``environment.yml`` (conda) with the versions of
``uv.lock`` for the project's direct dependencies, so a conda user gets the same versions as
``make report``. ``make lock`` upgrades the lock and then runs this. A test checks both agree.
"""

from __future__ import annotations

import hashlib
import platform
import re
import sys
import tomllib
from pathlib import Path

from analysis.data.config import PROJECT_DIR

LOCK_FILE = PROJECT_DIR / "uv.lock"
ENVIRONMENT_FILE = PROJECT_DIR / "environment.yml"
#: Packages conda-forge does not carry: installed by pip inside the conda environment.
PIP_ONLY = ("mplfonts",)
#: The Python of the conda environment (the reference machine's).
CONDA_PYTHON = "3.11.9"


def lock_hash(path: Path = LOCK_FILE) -> str | None:
    """SHA-256 of the lock file (the first 16 hex digits), or ``None`` when there is none."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    except OSError:
        return None


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions(path: Path = LOCK_FILE, python: str | None = None) -> dict[str, str]:
    """Package name (normalized) -> version locked for Linux and ``python`` (a full version such
    as ``"3.11.9"``; default this interpreter's). A package the lock forks by Python version
    (its ``resolution-markers``) gives the version of the fork that applies."""
    from packaging.markers import Marker

    python = python or platform.python_version()
    env = {
        "python_full_version": python,
        "python_version": ".".join(python.split(".")[:2]),
        "sys_platform": "linux",
        "platform_system": "Linux",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
    }
    lock = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    out = {}
    for p in lock["package"]:
        markers = p.get("resolution-markers")
        if "version" in p and (not markers or any(Marker(m).evaluate(env) for m in markers)):
            out[_norm(p["name"])] = p["version"]
    return out


def direct_dependencies(pyproject: Path = PROJECT_DIR / "pyproject.toml") -> list[tuple[str, str]]:
    """(name, group) of the project's direct dependencies: group ``""`` for the default install,
    else the extra's name."""
    project = tomllib.loads(Path(pyproject).read_text(encoding="utf-8"))["project"]
    pairs = [(req, "") for req in project["dependencies"]]
    pairs += [(req, extra) for extra, reqs in project.get("optional-dependencies", {}).items() for req in reqs]
    return [(re.match(r"[A-Za-z0-9_.-]+", req).group(0), group) for req, group in pairs]


def environment_yml(lock: Path = LOCK_FILE, pyproject: Path = PROJECT_DIR / "pyproject.toml") -> str:
    """The text of ``environment.yml``: the direct dependencies at their locked versions."""
    versions = locked_versions(lock, python=CONDA_PYTHON)
    conda, pip = [], []
    for name, group in direct_dependencies(pyproject):
        line = f"{name}=={versions[_norm(name)]}" + (f"  # extra: {group}" if group else "")
        (pip if _norm(name) in PIP_ONLY else conda).append(line)
    lines = [
        "# Conda environment at the versions of uv.lock (written by `python -m analysis.application.lockfile`;",
        "# a test checks they agree). conda env create -f environment.yml && conda activate mallwake",
        "# && pip install -e . --no-deps",
        "name: mallwake",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        f"  - python={CONDA_PYTHON[:4]}",
    ]
    lines += [f"  - {c}" for c in conda] + ["  - pip", "  - pip:  # not on conda-forge"] + [f"      - {p}" for p in pip]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    ENVIRONMENT_FILE.write_text(environment_yml(), encoding="utf-8")
    print(f"wrote {ENVIRONMENT_FILE}", file=sys.stderr)
