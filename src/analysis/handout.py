"""Student copies of the teaching notebooks: every cell tagged ``solution`` removed.

``mallwake handout OUT_DIR`` (or ``python -m analysis.handout notebooks/teaching OUT_DIR``) writes
one notebook per teaching notebook without its solution cells; the exercise cells (``answer =
None``) and the self-checks stay, and the ``show_solutions`` parameter then does nothing. Hand
students these copies; the notebooks in ``notebooks/teaching/`` are the instructor's.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

from .site import SOLUTION_TAG


def strip_solutions(nb):
    """The notebook without its ``solution`` cells and without the pairing metadata."""
    nb.cells = [c for c in nb.cells if SOLUTION_TAG not in c.get("metadata", {}).get("tags", [])]
    nb.metadata.pop("jupytext", None)  # a student copy is a plain notebook, not one side of a pair
    return nb


def write_handout(src_dir: Path, out_dir: Path) -> list[Path]:
    """Write the student copy of every notebook of ``src_dir`` into ``out_dir``; return the files."""
    src_dir, out_dir = Path(src_dir).resolve(), Path(out_dir).resolve()
    if out_dir == src_dir:
        raise ValueError("the handout folder must not be the notebooks' own folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(src_dir.glob("*.ipynb")):
        target = out_dir / path.name
        nbformat.write(strip_solutions(nbformat.read(path, as_version=4)), target)
        written.append(target)
    return written


if __name__ == "__main__":  # pragma: no cover
    if len(sys.argv) != 3:
        sys.exit("usage: python -m analysis.handout NOTEBOOK_DIR OUT_DIR")
    for p in write_handout(Path(sys.argv[1]), Path(sys.argv[2])):
        print("wrote", p)
