"""Student copies of the teaching notebooks: every cell tagged ``solution`` removed.

``mallwake handout OUT_DIR [--data DIR]`` writes one notebook per teaching notebook without its
solution cells, and a copy of the data (default: the demo data) into ``OUT_DIR/data``, with each
notebook's ``data_dir`` set to it: the folder runs wherever it is copied (a student's laptop, a
shared drive), outside the repository. The exercise cells (``answer = None``) and the
self-checks stay, and the ``show_solutions`` parameter then does nothing. Hand students these
copies; the notebooks in ``notebooks/teaching/`` are the instructor's.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import nbformat

from analysis.data.storage import check_folder, mark_folder
from analysis.presentation.site import SOLUTION_TAG


def strip_solutions(nb):
    """The notebook without its ``solution`` cells and without the pairing metadata."""
    nb.cells = [c for c in nb.cells if SOLUTION_TAG not in c.get("metadata", {}).get("tags", [])]
    nb.metadata.pop("jupytext", None)  # a student copy is a plain notebook, not one side of a pair
    return nb


#: The handout's copy of the data, beside its notebooks.
HANDOUT_DATA = "data"


def point_at(nb, data_dir: str):
    """The notebook with the default of its ``data_dir`` parameter set to ``data_dir``."""
    for cell in nb.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            cell.source = re.sub(
                r'^(data_dir(?:: *str)? *= *)"[^"\n]*"',
                lambda m: m.group(1) + repr(data_dir).replace("'", '"'),
                cell.source,
                count=1,
                flags=re.M,
            )
    return nb


def write_handout(src_dir: Path, out_dir: Path, data_dir: Path | None = None) -> list[Path]:
    """Write the student copy of every notebook of ``src_dir`` into ``out_dir``, and a copy of
    ``data_dir`` (a data folder) into ``out_dir/data`` that the copies read; return the files.

    ``out_dir`` must be new, empty, or a folder mallwake made (an earlier handout)."""
    src_dir, out_dir = Path(src_dir).resolve(), Path(out_dir).resolve()
    if out_dir == src_dir:
        raise ValueError("the handout folder must not be the notebooks' own folder")
    check_folder(out_dir, "the handout folder")
    if (
        data_dir is not None
        and not (Path(data_dir) / "members.csv").exists()
        and not (Path(data_dir) / "members.parquet").exists()
    ):
        raise ValueError(f"--data {data_dir} is not a data folder (no members.csv or members.parquet)")
    mark_folder(out_dir)
    written = []
    if data_dir is not None:
        target = out_dir / HANDOUT_DATA
        shutil.rmtree(target, ignore_errors=True)  # an earlier handout's copy, in a folder mallwake made
        shutil.copytree(Path(data_dir), target, ignore=shutil.ignore_patterns("truth_*.parquet"))
        written.append(target)
    for path in sorted(src_dir.glob("*.ipynb")):
        target = out_dir / path.name
        nb = strip_solutions(nbformat.read(path, as_version=4))
        if data_dir is not None:
            point_at(nb, HANDOUT_DATA)
        nbformat.write(nb, target)
        written.append(target)
    return written


if __name__ == "__main__":  # pragma: no cover
    if len(sys.argv) != 3:
        sys.exit("usage: python -m analysis.application.handout NOTEBOOK_DIR OUT_DIR")
    for p in write_handout(Path(sys.argv[1]), Path(sys.argv[2])):
        print("wrote", p)
