"""Notebook pairs: each notebook is a percent-format ``.py`` (the text source) and an ``.ipynb``.

Jupytext keeps the two in sync (``notebooks/jupytext.toml``; JupyterLab saves both). The
runner and the tests refuse a pair whose cells differ, so neither file silently wins: after
editing one side by hand, ``jupytext --to ipynb --update notebooks/NAME.py`` brings the .ipynb up to date.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from analysis.data.params import ParameterError


def _cells(nb) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(c.cell_type, c.source.strip(), tuple(c.get("metadata", {}).get("tags", []))) for c in nb.cells]


def text_source(notebook: Path) -> Path:
    """The ``.py`` source paired with ``notebook``."""
    return Path(notebook).with_suffix(".py")


def pair_problem(notebook: Path) -> str | None:
    """Why the ``.ipynb`` and its ``.py`` pair disagree (``None``: in sync, or no ``.py`` pair).

    Cells are compared by type, source and tags; outputs and other metadata are not part of
    the source. Outputs a notebook was saved with in the lab are no problem: the runner executes
    a clean copy (:func:`clean_notebook`).
    """
    import jupytext

    notebook = Path(notebook)
    source = text_source(notebook)
    nb = nbformat.read(notebook, as_version=4)
    if not source.exists():
        return None
    text = jupytext.read(source)
    ours, theirs = _cells(nb), _cells(text)
    if ours == theirs:
        return None
    first = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
    return (  # commands that work in any folder (with or without a jupytext.toml beside the pair), tested as written
        f"{notebook.name} and {source.name} differ at cell {first + 1} (the .ipynb has {len(ours)} cells, the .py {len(theirs)}); "
        f"run `jupytext --to ipynb --update {source}` after editing the .py, "
        f"or `jupytext --to py:percent {notebook}` after editing the .ipynb"
    )


def check_pairs(notebooks: list[Path]) -> None:
    """Raise :class:`ParameterError` (exit 2) naming every notebook whose pair is out of sync."""
    problems = [p for p in (pair_problem(nb) for nb in notebooks) if p]
    if problems:
        raise ParameterError("notebook sources out of sync: " + "; ".join(problems))


def clean_notebook(notebook: Path):
    """The notebook at ``notebook`` without outputs or execution counts (what the runner executes
    and what its cache key reads: saving a notebook after Run All in the lab changes neither)."""
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
    return nb
