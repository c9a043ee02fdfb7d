"""Write a notebook from a compact list of (kind, source) pairs; outputs are never stored.

Used by ``tools/make_notebooks.py``; keeps notebooks reviewable as plain Python.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


def write_notebook(path: Path, cells: list[tuple[str, str]]) -> None:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for kind, src in cells:
        src = src.strip("\n")
        if kind == "md":
            nb.cells.append(new_markdown_cell(src))
        elif kind == "params":
            nb.cells.append(new_code_cell(src, metadata={"tags": ["parameters"]}))
        elif kind == "hide":
            nb.cells.append(new_code_cell(src, metadata={"tags": ["hide"]}))
        elif kind == "setup":  # imports and data loading: hidden, and timed apart by the runner
            nb.cells.append(new_code_cell(src, metadata={"tags": ["hide", "setup"]}))
        else:
            nb.cells.append(new_code_cell(src))
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{path.stem[:20]}-{i:02d}"
    nbformat.validate(nb)
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
