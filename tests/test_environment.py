"""environment.yml (conda) lists the same dependencies as pyproject.toml."""

import re
import tomllib

from analysis.config import PROJECT_DIR


def _name(spec: str) -> str:
    return re.split(r"[<>=!\[ ]", spec.strip(), maxsplit=1)[0].lower()


def _bound(spec: str) -> str:
    m = re.search(r">=\s*([0-9.]+)", spec)
    return m.group(1) if m else ""


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + [d for group in project["optional-dependencies"].values() for d in group]
    wanted = {_name(d): _bound(d) for d in deps}
    lines = (PROJECT_DIR / "environment.yml").read_text().splitlines()
    conda = {}
    deps_start = lines.index("dependencies:")
    for line in lines[deps_start:]:
        m = re.match(r"\s+- (\S.*)$", line)
        if m and not m.group(1).startswith(("python", "pip")):
            conda[_name(m.group(1))] = _bound(m.group(1))
    conda.pop("python", None)
    assert conda == wanted
