"""What a report depends on (its inputs key: data, notebook, parameters, code, locked environment),
which reports of a run are still current, and how long each notebook took last time."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from analysis.application.lockfile import lock_hash
from analysis.application.pairs import clean_notebook
from analysis.data.config import PACKAGE_DIR, PREREGISTRATION_DIR
from analysis.data.dataset import fingerprint_files
from analysis.data.params import ParameterError
from analysis.data.sources import settings_path
from analysis.data.storage import (
    STATE_DIR,
    atomic_write_text,
    locked,
    state_dir,
)
from analysis.data.validation import cache_root


@dataclass(frozen=True)
class NotebookRun:
    name: str
    title: str
    status: str
    seconds: float
    ipynb: str | None = None
    html: str | None = None
    metrics: dict = field(default_factory=dict)
    error: str | None = None
    #: where the time went: kernel start and shutdown, the set-up cell (imports, loading the data), the analysis
    #: cells, and rendering to HTML (``seconds`` = the first three; rendering comes after)
    timing: dict = field(default_factory=dict)
    #: what the report depends on (data, notebook, parameters, code, locked environment): equal keys, same report
    inputs_key: str = ""
    #: the report's title in each language of the site (the index lists it in its own)
    titles: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RunResult:
    label: str
    out_dir: Path
    status: str
    notebooks: tuple[NotebookRun, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _timing(executed, seconds: float) -> dict:
    """Split a notebook's execution time using papermill's per-cell durations."""
    durations = [c.metadata.get("papermill", {}).get("duration") or 0.0 for c in executed.cells if c.cell_type == "code"]
    tagged = [c for c in executed.cells if c.cell_type == "code"]
    setup = sum(d for c, d in zip(tagged, durations) if "setup" in c.metadata.get("tags", []))
    cells = sum(durations)
    return {"kernel": round(max(seconds - cells, 0.0), 2), "setup": round(setup, 2), "analysis": round(cells - setup, 2)}


_HISTORY = "notebook-seconds.json"


def _history_file(folder: Path) -> dict[str, float]:
    try:
        return {str(k): float(v) for k, v in json.loads((folder / _HISTORY).read_text()).items()}
    except (OSError, ValueError, AttributeError, TypeError):
        return {}


#: The bundled reports' times in a first run of a million generated members with nothing cached
#: (benchmarks/RESULTS.md, 2026-12-05; the model fits dominate): the order of a run on a machine
#: that has never run them (a first run took 273 s in alphabetical order, the slowest report last
#: and alone for 110 s).
REFERENCE_SECONDS = {
    "05_lifecycle": 145.0,
    "03_campaign_effects": 78.0,
    "04_segmentation": 75.0,
    "02_sleeping_members": 11.0,
    "01_data_overview": 10.0,
    "00_study_claims": 8.0,
}


def _read_history(out_dir: Path) -> dict[str, float]:
    """Each notebook's last execution time in this output folder; in a folder without any, the
    last times on this machine (the cache root keeps them), so a first run into a fresh folder
    also starts the slow notebooks first; on a machine without any, the bundled reports'
    :data:`REFERENCE_SECONDS`."""
    return _history_file(out_dir / STATE_DIR) or _history_file(cache_root()) or dict(REFERENCE_SECONDS)


def _write_history(out_dir: Path, results) -> None:
    """Remember each notebook's last execution time (the parallel runner schedules by it), in the
    output folder and in the cache root (the machine's fallback; not written if unwritable)."""
    times = {r.name: round(r.seconds, 1) for r in results if r.status == "ok"}
    with locked(state_dir(out_dir) / "history.lock", wait=True, what="the notebook-time history"):
        past = _history_file(out_dir / STATE_DIR) | times
        atomic_write_text(out_dir / STATE_DIR / _HISTORY, json.dumps(past, indent=1, sort_keys=True) + "\n")
    machine = cache_root()
    try:
        with locked(machine / "history.lock", wait=True, what="the notebook-time history"):
            past = _history_file(machine) | times
            atomic_write_text(machine / _HISTORY, json.dumps(past, indent=1, sort_keys=True) + "\n")
    except OSError:
        pass  # a read-only cache root: the order is only an optimization


def longest_first(notebooks, out_dir: Path) -> list:
    """The notebooks in the order a parallel run starts them: longest first by their last times
    (the slow ones do not end up last, alone); unknown ones after, in their own order."""
    past = _read_history(out_dir)
    return sorted(notebooks, key=lambda nb: -past.get(Path(nb).stem, 0.0))


def _current_reports(run_dir: Path, keys: dict[Path, str]) -> dict[str, NotebookRun]:
    """The reports of an existing ok run whose inputs key equals the one of this run (and whose
    files are all still there): name -> its entry."""
    try:
        old = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if old.get("status") != "ok":
        return {}
    wanted = {nb.stem: key for nb, key in keys.items()}
    fields = set(NotebookRun.__dataclass_fields__)
    out = {}
    for e in old.get("notebooks", []):
        name = e.get("name")
        if (
            name in wanted
            and e.get("status") == "ok"
            and e.get("inputs_key") == wanted[name]
            and all((run_dir / f).exists() for f in (e.get("html"), e.get("ipynb")) if f)
        ):
            out[name] = NotebookRun(**{k: v for k, v in e.items() if k in fields})
    return out


def _kept_notebooks(run_dir: Path, notebooks: list[Path], fingerprint: str | None) -> list[dict]:
    """The entries of an existing run that a partial re-run (``--only``) keeps; refuses to mix data."""
    try:
        old = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    was = old.get("fingerprint") or ""
    if fingerprint and was and was != fingerprint:
        raise ParameterError(
            f"run {run_dir.name} was built from other data (fingerprint {was[:12]} vs {fingerprint[:12]} now): "
            "re-run every notebook, or give --label a new name"
        )
    rerun = {nb.stem for nb in notebooks}
    return [e for e in old.get("notebooks", []) if e.get("name") not in rerun]


_ENV_KEY: list[str] = []


def _environment_key() -> str:
    """The code and environment every report depends on: the ``analysis`` package's source files
    (code and templates) and the lock file. Computed once per process."""
    if not _ENV_KEY:
        h = hashlib.sha256()
        for path in sorted(p for p in PACKAGE_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            h.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
            h.update(path.read_bytes())
        h.update((lock_hash() or "no lock").encode())
        _ENV_KEY.append(h.hexdigest())
    return _ENV_KEY[0]


def _records_digest(data_dir: Path) -> str:
    """The campaigns' pre-registration records beside the data (the campaign report reads them): a
    changed record is a changed input."""
    folder = settings_path(data_dir, PREREGISTRATION_DIR)
    return fingerprint_files(sorted(folder.glob("*.json"))) if folder is not None and folder.is_dir() else ""


def _inputs_key(fingerprint: str, notebook: Path, params: dict) -> str:
    """What a report depends on: the data files (their fingerprint), the notebook, the parameters, the code
    and the locked environment (:func:`_environment_key`)."""
    h = hashlib.sha256()
    h.update(fingerprint.encode())
    h.update(nbformat.writes(clean_notebook(notebook)).encode())  # the cells, not outputs saved in the lab
    h.update(_environment_key().encode())
    h.update(json.dumps({k: v for k, v in params.items() if k != "output_dir"}, sort_keys=True, default=str).encode())
    return h.hexdigest()
