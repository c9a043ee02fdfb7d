"""Student copies of the teaching notebooks: every ``if show_solutions:`` block removed.

``python -m analysis.handout notebooks/teaching handout/`` writes one notebook per input with the
solution code gone (the ``show_solutions`` parameter stays, and does nothing).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

MARKER = "if show_solutions:"


def strip_solutions(source: str) -> str:
    """Drop each ``if show_solutions:`` line and the indented block under it."""
    out, skipping, indent = [], False, 0
    for line in source.splitlines():
        stripped = line.lstrip()
        if skipping:
            if stripped and (len(line) - len(stripped)) <= indent:
                skipping = False
            else:
                continue
        if stripped.startswith(MARKER):
            skipping, indent = True, len(line) - len(stripped)
            continue
        out.append(line)
    return "\n".join(out)


def write_handout(src_dir: Path, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(Path(src_dir).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.source = strip_solutions(cell.source)
        target = out_dir / path.name
        nbformat.write(nb, target)
        written.append(target)
    return written


if __name__ == "__main__":  # pragma: no cover
    if len(sys.argv) != 3:
        sys.exit("usage: python -m analysis.handout NOTEBOOK_DIR OUT_DIR")
    for p in write_handout(Path(sys.argv[1]), Path(sys.argv[2])):
        print("wrote", p)
