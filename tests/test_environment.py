"""The locked environment: uv.lock covers every dependency and agrees with pyproject.toml, the
installed packages are the locked ones, and environment.yml pins the same versions."""

import re
from importlib import metadata

import pytest

from analysis.application.lockfile import LOCK_FILE, direct_dependencies, environment_yml, lock_hash, locked_versions
from analysis.data.config import PROJECT_DIR


def test_lock_pins_every_dependency_of_every_extra():
    versions = locked_versions()
    names = {re.sub(r"[-_.]+", "-", n).lower() for n, _ in direct_dependencies()}
    assert names <= set(versions), names - set(versions)
    assert {"test", "spark"} <= {g for _, g in direct_dependencies()}
    assert len(lock_hash()) == 16


def test_the_installed_packages_are_the_locked_versions():
    """`make test` installs from uv.lock: what runs is what the lock says (CI tested it)."""
    versions = locked_versions()
    checked = 0
    for name, _ in direct_dependencies():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # an extra not installed here
        assert installed == versions[re.sub(r"[-_.]+", "-", name).lower()], name
        checked += 1
    assert checked >= 20


def test_environment_yml_is_written_from_the_lock():
    assert (PROJECT_DIR / "environment.yml").read_text() == environment_yml(), (
        "environment.yml is stale: run `make lock` (or python -m analysis.application.lockfile)"
    )
    assert "pandas==" + locked_versions()["pandas"] in environment_yml()


def test_the_lock_matches_pyproject(tmp_path):
    """`uv lock --check` fails when pyproject.toml changed without relocking."""
    import shutil
    import subprocess

    uv = shutil.which("uv") or str(PROJECT_DIR / ".tools" / "bin" / "uv")
    if not (PROJECT_DIR / ".tools" / "bin" / "uv").exists() and not shutil.which("uv"):
        pytest.skip("uv not installed (make installs it in .tools/)")
    res = subprocess.run([uv, "lock", "--check", "--offline"], cwd=PROJECT_DIR, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-1500:]
    assert LOCK_FILE.exists()
