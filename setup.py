"""The wheel carries the notebooks: ``notebooks/`` is copied into ``analysis/notebooks`` at build
time, so an installed ``mallwake run`` finds its reports (``config.NOTEBOOKS_DIR``). Everything
else about the package is in ``pyproject.toml``."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

NOTEBOOK_FILES = ("*.ipynb", "*.py", "*.toml", "*.md")


class BuildWithNotebooks(build_py):
    def run(self):
        super().run()
        src = Path(__file__).resolve().parent / "notebooks"
        if not src.is_dir() or self.editable_mode:  # a source checkout reads notebooks/ itself
            return
        dst = Path(self.build_lib) / "analysis" / "notebooks"
        for path in sorted(src.rglob("*")):
            rel = path.relative_to(src)
            if path.is_file() and any(path.match(p) for p in NOTEBOOK_FILES) and ".ipynb_checkpoints" not in rel.parts:
                (dst / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, dst / rel)


setup(cmdclass={"build_py": BuildWithNotebooks})
