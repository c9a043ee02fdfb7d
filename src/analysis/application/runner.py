"""Execute the notebooks with papermill and render the report site.

One generic runner: every notebook in ``notebooks/`` receives the data directory and the
analysis date plus its own parameters, is executed in-process through papermill's API (in
parallel when ``jobs > 1``; the notebooks do not depend on each other), and is rendered to
offline HTML with its headline figures in ``<notebook>.metrics.json``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

# nbformat validates with jsonschema, whose IRI format checker imports rfc3987_syntax, which compiles
# a Lark grammar at import: 0.8 s at the start of every run (python-jsonschema/jsonschema#1428).
# The notebook schema has no IRI formats; the runner's process goes without that checker.
sys.modules.setdefault("rfc3987_syntax", None)

import nbformat  # noqa: E402, I001 (after the sys.modules line above)
import pandas as pd
import papermill as pm
from jupyter_client.manager import AsyncKernelManager
from papermill.engines import NBClientEngine, papermill_engines
from traitlets import CaselessStrEnum

from analysis.presentation import i18n

from analysis.application import kernelfork
from analysis.data.config import MONTHLY_NOTEBOOK, NOTEBOOKS_DIR, PROJECT_DIR, REPORTS_DIR
from analysis.data.contract import present_files
from analysis.data.dataset import fingerprint_files
from analysis.application.lockfile import lock_hash
from analysis.application.pairs import check_pairs, clean_notebook
from analysis.data.params import DATA_PARAMS_FILE, ParameterError, load_data_params, parameter_value, parse_as_of
from analysis.presentation.report import collect_metrics
from analysis.presentation.site import build_index, page_language, render_html
from analysis.data.storage import (
    STATE_DIR,
    DiskFullError,
    RunLockedError,
    atomic_write_text,
    check_folder,
    check_label,
    clean_staging,
    is_disk_full,
    locked,
    mark_folder,
    replace_dir,
    safe_name,
    state_dir,
)

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
COMMON_PARAMETERS = ("data_dir", "as_of")
PROVENANCE_PACKAGES = (
    "mallwake",
    "pandas",
    "numpy",
    "statsmodels",
    "scikit-learn",
    "ibis-framework",
    "duckdb",
    "pandera",
    "papermill",
    "nbconvert",
    "seaborn",
    "matplotlib",
)


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


def discover_notebooks(notebooks_dir: Path = NOTEBOOKS_DIR, only: list[str] | None = None) -> list[Path]:
    """The notebooks to run, in name order; ``only`` selects by stem or file name."""
    paths = sorted(Path(notebooks_dir).glob("*.ipynb"))
    if only:
        wanted = {Path(o).stem for o in only}
        unknown = wanted - {p.stem for p in paths}
        if unknown:
            names = ", ".join(p.stem for p in paths)
            raise ParameterError(f"unknown notebook(s) {', '.join(sorted(unknown))}; available: {names}")
        paths = [p for p in paths if p.stem in wanted]
    return paths


def declared_parameters(path: Path) -> dict[str, dict]:
    """Parameters a notebook declares in its ``parameters`` cell: name -> type and default."""
    return {
        name: {"type": p["inferred_type_name"], "default": p["default"]} for name, p in pm.inspect_notebook(str(path)).items()
    }


def check_parameters(notebooks: list[Path], params: dict, defaults: dict | None = None) -> dict[Path, dict]:
    """Parameters per notebook, coerced to the declared types; rejects unknown names.

    ``defaults`` (a data folder's ``mallwake.yaml``) fill in what ``params`` does not set, for
    the notebooks that declare them; names no notebook declares are ignored there.
    """
    declared = {nb: declared_parameters(nb) for nb in notebooks}
    known = set().union(*declared.values()) if declared else set()
    unknown = sorted(set(params) - known)
    if unknown:
        raise ParameterError(
            f"unknown parameter(s) {', '.join(unknown)}; the selected notebooks declare: {', '.join(sorted(known))}"
        )
    out = {}
    for nb, decl in declared.items():
        given = {k: parameter_value(k, v, decl[k]["type"], nb.name) for k, v in params.items() if k in decl}
        from_data = {
            k: parameter_value(k, v, decl[k]["type"], f"{nb.name} (from {DATA_PARAMS_FILE})")
            for k, v in (defaults or {}).items()
            if k in decl and k not in given and k not in COMMON_PARAMETERS
        }
        out[nb] = from_data | given
        if "settings_applied" in decl:  # the notebook then leaves its parameters as given (analysis.application.notebook.start)
            out[nb]["settings_applied"] = True
    return out


#: Parameters naming a tier, a campaign, or an arm of a campaign: checked against the data before running.
TIER_PARAMETERS = ("target_tier", "tier_filter", "tier")
CAMPAIGN_PARAMETERS = ("naive_campaign", "before_campaign", "after_campaign", "factorial_campaign")
ARM_PARAMETERS = {"before_arm": "before_campaign", "after_arm": "after_campaign"}


def check_data_references(data_dir: Path, as_of: str | None, per_nb: dict[Path, dict]) -> None:
    """Refuse (:class:`ParameterError`) a parameter that names a tier, campaign or arm the data lack."""
    from analysis.data.dataset import load_dataset

    merged: dict = {}
    for params in per_nb.values():
        merged |= params
    if not any(k in merged for k in (*TIER_PARAMETERS, *CAMPAIGN_PARAMETERS, *ARM_PARAMETERS, "control_arm")):
        return
    data = load_dataset(data_dir, as_of=as_of)
    tiers = set(data.members.select("tier").distinct().to_pandas()["tier"].dropna())
    arms = data.contacts.select("campaign_id", "arm").distinct().to_pandas()
    campaigns = set(data.campaigns.campaign_id.to_pandas())
    problems = []
    for name in TIER_PARAMETERS:
        for value in [v.strip() for v in str(merged.get(name) or "").split(",") if v.strip() and v.strip() != "all"]:
            if value not in tiers:
                problems.append(f"{name}={value!r} is not a tier in the data (tiers: {', '.join(sorted(tiers))})")
    for name in CAMPAIGN_PARAMETERS:
        value = str(merged.get(name) or "").strip()
        if value and value not in campaigns:
            listed = ", ".join(sorted(campaigns)) or "none"
            problems.append(f"{name}={value!r} is not a campaign in the data (campaigns: {listed})")
    for name, campaign_param in ARM_PARAMETERS.items():
        value, cid = str(merged.get(name) or "").strip(), str(merged.get(campaign_param) or "").strip()
        have = set(arms.loc[arms["campaign_id"] == cid, "arm"])
        if value and cid in campaigns and value not in have:
            problems.append(f"{name}={value!r} is not an arm of {cid} (arms: {', '.join(sorted(have))})")
    control = str(merged.get("control_arm") or "").strip()
    if control and len(arms) and control not in set(arms["arm"]):
        problems.append(f"control_arm={control!r} is not an arm of any campaign (arms: {', '.join(sorted(set(arms['arm'])))})")
    if problems:
        raise ParameterError("; ".join(problems))


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """``["a=1", "b=x"]`` -> ``{"a": "1", "b": "x"}``."""
    out = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise ParameterError(f"parameter {pair!r} must look like NAME=VALUE")
        k, v = pair.split("=", 1)
        out[k.strip()] = v
    return out


def _git_commit() -> str:
    try:
        res = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=5
        )
        return (res.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")) if res.returncode == 0 else "n/a"
    except (OSError, subprocess.SubprocessError):
        return "n/a"


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in PROVENANCE_PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def _title(nb_path: Path) -> str:
    nb = nbformat.read(nb_path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return nb_path.stem


class _IPCKernelManager(AsyncKernelManager):
    """Kernels talk over Unix sockets named after their own connection file, not TCP ports:
    TCP port picking races when several kernels start at once (``ZMQError: Address already in use``)."""

    transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

    def _ip_default(self) -> str:
        # a private folder per kernel: socket names cannot collide (a shared "kernel-ipc" prefix would)
        self._ipc_dir = tempfile.mkdtemp(prefix="mallwake-k")
        return os.path.join(self._ipc_dir, "k")

    async def _async_interrupt_kernel(self) -> None:
        # jupyter_client interrupts before every shutdown; after the last cell nothing is running,
        # and the kernel would only print "KeyboardInterrupt caught in kernel" into the run's log
        if not self.shutting_down:
            await super()._async_interrupt_kernel()

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart)
        if not restart and getattr(self, "_ipc_dir", None):
            shutil.rmtree(self._ipc_dir, ignore_errors=True)


class _ForkKernelManager(_IPCKernelManager):
    """A kernel forked from the run's zygote (:mod:`analysis.application.kernelfork`): ``launcher`` is the
    command that replaces ``python -m ipykernel_launcher`` (set on a subclass per run)."""

    launcher: list[str] = []

    def format_kernel_cmd(self, extra_arguments=None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments)
        if self.launcher and cmd[1:3] == ["-m", "ipykernel_launcher"]:
            return [*self.launcher, *cmd[3:]]
        return cmd


def _kernel_manager(launcher: list[str] | None) -> type[AsyncKernelManager]:
    if not launcher:
        return _IPCKernelManager
    return type("_RunKernelManager", (_ForkKernelManager,), {"launcher": list(launcher)})


class _ProgressEngine(NBClientEngine):
    """papermill's nbclient engine that reports each code cell as it starts (``progress(k, n)``:
    cell k of the notebook's n code cells)."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, progress=None, **kwargs):
        if progress is not None:
            code = [i for i, c in enumerate(nb_man.nb.cells) if c.cell_type == "code"]
            position = {cell_index: k for k, cell_index in enumerate(code, start=1)}
            start = nb_man.cell_start

            def cell_start(cell, cell_index=None, **kw):
                if cell_index in position:
                    progress(position[cell_index], len(code))
                return start(cell, cell_index, **kw)

            nb_man.cell_start = cell_start
        return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)


papermill_engines.register("mallwake", _ProgressEngine)

#: A kernel that fails to start (for any reason) is started again this many times.
KERNEL_START_TRIES = 3
#: Seconds between two progress lines of one notebook ("cell k of n"): quick notebooks say nothing.
PROGRESS_EVERY = 5.0


def cell_progress(name: str, log, every: float = PROGRESS_EVERY):
    """A ``progress(k, n)`` callback that logs ``name: cell k of n`` at most every ``every`` seconds."""
    last = [time.perf_counter()]

    def progress(k: int, n: int) -> None:
        now = time.perf_counter()
        if now - last[0] >= every:
            last[0] = now
            log(f"  ...     {name}: cell {k} of {n}")

    return progress


def execute_notebook(nb: Path, out_nb: Path, params: dict, progress=None, launcher: list[str] | None = None) -> None:
    """Execute ``nb`` with papermill into ``out_nb`` (working directory: the notebook's folder);
    ``progress(k, n)`` is called as code cell k of n starts; ``launcher`` forks the kernel from a
    zygote (:func:`analysis.application.kernelfork.zygote`)."""
    for attempt in range(1, KERNEL_START_TRIES + 1):
        try:
            pm.execute_notebook(
                clean_notebook(nb),  # outputs saved in the lab are not executed or kept
                str(out_nb),
                parameters=params,
                kernel_name="python3",
                cwd=str(Path(nb).resolve().parent),
                progress_bar=False,
                log_output=False,
                request_save_on_cell_execute=False,
                kernel_manager_class=_kernel_manager(launcher),
                engine_name="mallwake",
                progress=progress,
            )
            return
        except (pm.PapermillExecutionError, KeyboardInterrupt):
            raise
        except Exception as err:
            started = out_nb.exists() and any(
                c.get("execution_count") for c in nbformat.read(out_nb, as_version=4).cells if c.cell_type == "code"
            )
            if started or attempt == KERNEL_START_TRIES or is_disk_full(err):
                raise
            time.sleep(0.5 * attempt)


#: Parameters that are folders on the machine that ran the report: not listed in its provenance.
_PATH_PARAMETERS = ("data_dir", "output_dir", "export_dir")


def _default_text(default: str):
    """A default as the notebook writes it (``"abc"``, ``3``, ``True``) as a value."""
    import ast

    try:
        return ast.literal_eval(default)
    except (ValueError, SyntaxError):
        return default


def _execute(
    nb: Path,
    params: dict,
    run_dir: Path,
    show_code: bool,
    label: str,
    prov: dict,
    log,
    export_dir: Path | None = None,
    key: str = "",
    launcher: list[str] | None = None,
    pages: list[tuple[str, str]] | None = None,
    out_dir: Path | None = None,
) -> NotebookRun:
    out_nb = run_dir / nb.name
    declared = declared_parameters(nb)
    if "output_dir" in declared and "output_dir" not in params:
        params = params | {"output_dir": str(run_dir)}  # figures of the run land beside its reports
    if "export_dir" in declared and "export_dir" not in params and export_dir is not None:
        params = params | {"export_dir": str(export_dir)}  # files with member ids: outside the report site
    title = _title(nb)
    titles = _titles(nb)
    started = time.perf_counter()
    log(f"  running {nb.stem} ...")
    try:
        execute_notebook(nb, out_nb, params, progress=cell_progress(nb.stem, log), launcher=launcher)
    except pm.PapermillExecutionError as err:
        seconds = time.perf_counter() - started
        if is_disk_full(err):
            raise
        msg = f"cell {err.exec_count}: {err.ename}: {err.evalue}"
        trace = _ANSI.sub("", "\n".join(err.traceback[-4:]))
        log(f"  FAILED {nb.stem} after {seconds:.1f} s at {msg}\n{trace}")
        return NotebookRun(nb.stem, title, "failed", seconds, ipynb=out_nb.name, error=msg, titles=titles)
    except Exception as err:  # kernel died, timeout, ...
        if is_disk_full(err):
            raise
        seconds = time.perf_counter() - started
        log(f"  FAILED {nb.stem} after {seconds:.1f} s: {type(err).__name__}: {err}")
        return NotebookRun(
            nb.stem,
            title,
            "failed",
            seconds,
            ipynb=out_nb.name if out_nb.exists() else None,
            error=f"{type(err).__name__}: {err}",
            titles=titles,
        )
    seconds = time.perf_counter() - started
    executed = nbformat.read(out_nb, as_version=4)
    timing = _timing(executed, seconds)
    metrics = collect_metrics(executed)
    if metrics.get("title"):  # a message id: the title in every language
        titles = {lang: i18n.tr(str(metrics["title"]), lang=lang) for lang in titles}
    title = titles.get(page_language(executed)) or title
    (run_dir / f"{nb.stem}.metrics.json").write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    # every parameter with the value it ran with: given (command line, mallwake.yaml) or the notebook's default
    given = {k: v for k, v in params.items() if k not in _PATH_PARAMETERS}
    shown = {
        name: given.get(name, _default_text(spec["default"])) for name, spec in declared.items() if name not in _PATH_PARAMETERS
    } | given
    nb_prov = prov | {"notebook": nb.name, "parameters": shown, "execution time": f"{seconds:.1f} s"}
    t_render = time.perf_counter()
    lang = page_language(executed)
    render_html(
        out_nb,
        run_dir / f"{nb.stem}.html",
        show_code=show_code,
        run_label=label,
        provenance=nb_prov,
        title=title,
        show_solutions=params.get("show_solutions") is True,
        pages=pages,
        translations=_translations(out_dir, label, prov, lang, nb.stem) if out_dir is not None else None,
    )
    timing["render"] = round(time.perf_counter() - t_render, 2)
    log(f"  done    {nb.stem} in {seconds:.1f} s")
    return NotebookRun(
        nb.stem,
        title,
        "ok",
        seconds,
        ipynb=out_nb.name,
        html=f"{nb.stem}.html",
        metrics=metrics,
        timing=timing,
        inputs_key=key,
        titles=titles,
    )


def _titles(nb: Path) -> dict[str, str]:
    """The notebook's title (its first ``# heading``) in each language of the site."""
    from analysis.presentation.site import CHROME

    source = nbformat.read(nb, as_version=4)
    return {lang: i18n.title(source, nb.stem, lang) or nb.stem for lang in CHROME}


def _pages(notebooks: list[Path], per_nb: dict, kept: list[dict]) -> list[tuple[str, str]]:
    """The reports of a run in order, as ``(name, title)`` in the run's language: what each page's
    previous/next links point to."""
    titles = {e["name"]: str(e.get("title") or e["name"]) for e in kept if e.get("status") == "ok"}
    for nb in notebooks:
        lang = str(per_nb.get(nb, {}).get("lang") or "en")
        titles[nb.stem] = i18n.title(nbformat.read(nb, as_version=4), nb.stem, lang) or nb.stem
    return sorted(titles.items())


def _translations(out_dir: Path, label: str, prov: dict, lang: str, stem: str) -> dict[str, str]:
    """``{language: link}`` to this report in the other languages: the same report of a run on the
    same data and analysis date in that language when one is built, else that language's index."""
    from analysis.presentation.site import CHROME

    fingerprint = next((str(v) for k, v in prov.items() if k.startswith("data fingerprint")), "")
    found = {}
    for record in sorted(Path(out_dir).glob("*/run.json")):
        try:
            run = json.loads(record.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        other = str((run.get("parameters") or {}).get("lang") or run.get("lang") or "en")
        if (
            run.get("label") == label
            or other == lang
            or other not in CHROME
            or run.get("status") != "ok"
            or str(run.get("fingerprint") or "")[:16] != fingerprint
            or run.get("as_of") != prov.get("analysis date")
        ):
            continue
        if any(e.get("name") == stem and e.get("status") == "ok" for e in run.get("notebooks", [])):
            found[other] = f"../{record.parent.name}/{stem}.html"
    return {other: found.get(other, f"../{CHROME[other]['index']}") for other in CHROME if other != lang}


def _update_index(out_dir: Path) -> None:
    """Rewrite the site's index and definitions pages; a full disk is one line, not a traceback."""
    try:
        build_index(out_dir)
    except OSError as err:
        if is_disk_full(err):
            raise DiskFullError(
                f"no space left on the device of {out_dir}: the run is written, its index is not updated"
            ) from None
        raise


def _timing(executed, seconds: float) -> dict:
    """Split a notebook's execution time using papermill's per-cell durations."""
    durations = [c.metadata.get("papermill", {}).get("duration") or 0.0 for c in executed.cells if c.cell_type == "code"]
    tagged = [c for c in executed.cells if c.cell_type == "code"]
    setup = sum(d for c, d in zip(tagged, durations) if "setup" in c.metadata.get("tags", []))
    cells = sum(durations)
    return {"kernel": round(max(seconds - cells, 0.0), 2), "setup": round(setup, 2), "analysis": round(cells - setup, 2)}


_HISTORY = "notebook-seconds.json"


def _read_history(out_dir: Path) -> dict[str, float]:
    try:
        return {str(k): float(v) for k, v in json.loads((out_dir / STATE_DIR / _HISTORY).read_text()).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def _write_history(out_dir: Path, results) -> None:
    """Remember each notebook's last execution time (the parallel runner schedules by it)."""
    with locked(state_dir(out_dir) / "history.lock", wait=True, what="the notebook-time history"):
        past = _read_history(out_dir) | {r.name: round(r.seconds, 1) for r in results if r.status == "ok"}
        atomic_write_text(out_dir / STATE_DIR / _HISTORY, json.dumps(past, indent=1, sort_keys=True) + "\n")


def _fingerprint(data_dir: Path) -> str:
    return fingerprint_files(list(present_files(data_dir).values()))


def resolve_data(data) -> Path | str:
    """A data folder as an absolute path (papermill changes the working directory), or a source
    (a URL, or a connection file as an absolute path) as text."""
    from analysis.data.sources import is_source, parse_source

    if is_source(data):
        source = parse_source(data)
        return str(Path(source.spec).resolve()) if source.config_dir is not None else source.spec
    return Path(data).resolve()


def data_name(data) -> str:
    """What reports call the data: the folder's name, or the source without any secret."""
    from analysis.data.sources import is_source, parse_source

    return parse_source(data).name if is_source(data) else Path(data).name


def _provenance(data_dir, as_of: str | None, label: str, fingerprint: str | None = None, last_day: str | None = None) -> dict:
    from analysis.data.sources import is_source

    where = (
        {
            "data source": data_name(data_dir),
            "data fingerprint (sha256 of the tables' row counts and checksums)": (fingerprint or "")[:16],
        }
        if is_source(data_dir)
        else {
            "data directory": data_name(data_dir),
            "data fingerprint (sha256 of the files' bytes)": (fingerprint or _fingerprint(data_dir))[:16],
        }
    )
    return {
        "run": label,
        **where,
        "analysis date": _analysis_date(as_of, last_day),
        "git commit": _git_commit(),
        "environment (uv.lock sha256)": lock_hash() or "not installed from the lock",
        "generated": dt.datetime.now().isoformat(timespec="seconds"),
        "packages": _versions(),
    }


#: Parameters the runner sets and nobody else: where a run's files with member ids go is ``--exports``.
RUNNER_PARAMETERS = ("export_dir", "output_dir", "settings_applied")


def refuse_runner_parameters(user: dict, data_params: dict, data_dir) -> None:
    """:class:`ParameterError` when ``-p`` (``user``) or the data folder's ``mallwake.yaml``
    (``data_params``) sets a parameter only the runner may set (``export_dir``: contact lists
    could then land in the report site)."""
    given = [name for name in RUNNER_PARAMETERS if name in user]
    in_file = [name for name in RUNNER_PARAMETERS if name in data_params]
    if given or in_file:
        where = "-p" if given else f"{Path(data_dir) / 'mallwake.yaml'}"
        names = given or in_file
        why = (
            ": files with member ids go to --exports DIR/<label>/, outside the report site"
            if {"export_dir", "output_dir"} & set(names)
            else ""
        )
        raise ParameterError(f"{', '.join(names)} ({where}) is set by the runner, not by you{why}")


def check_exports_dir(exports_dir: Path, out_dir: Path) -> None:
    """:class:`ParameterError` when ``exports_dir`` is a file, or lies inside the report site
    ``out_dir`` (or holds it): member ids must never be in the folder one shares; and when either
    folder is not one mallwake may write in (:func:`~analysis.data.storage.check_folder`)."""
    exports_dir, out_dir = Path(exports_dir).resolve(), Path(out_dir).resolve()
    if exports_dir.exists() and not exports_dir.is_dir():
        raise ParameterError(f"--exports {exports_dir} is a file, not a folder")
    if exports_dir == out_dir or out_dir in exports_dir.parents:
        raise ParameterError(
            f"--exports {exports_dir} is inside the report site --out {out_dir}: files with member ids must stay "
            "outside the folder you share; choose a folder beside it"
        )
    if exports_dir in out_dir.parents:
        raise ParameterError(
            f"--out {out_dir} is inside --exports {exports_dir}: keep the report site and the files with member "
            "ids in separate folders"
        )
    check_folder(out_dir, "--out")
    check_folder(exports_dir, "--exports")


def default_exports_dir(out_dir: Path) -> Path:
    """Where files with raw member ids go: ``exports/`` beside the report folder, never inside it."""
    return Path(out_dir).resolve().parent / "exports"


def _run_label(
    label: str,
    notebooks: list[Path],
    per_nb: dict,
    data_dir: Path,
    as_of: str | None,
    out_dir: Path,
    user: dict,
    show_code: bool,
    jobs: int,
    log,
    extra: dict | None = None,
    fingerprint: str | None = None,
    merge: bool = False,
    exports_dir: Path | None = None,
    keys: dict | None = None,
    keep: list[dict] | None = None,
    last_day: str | None = None,
    launcher: list[str] | None = None,
) -> RunResult:
    """Execute ``notebooks`` into ``out_dir/<label>`` through a staging folder (no index).

    Holds the run folder's lock throughout (a second run of the same label is refused). With
    ``merge`` the notebooks are added to (or replace theirs in) the existing run of that label,
    whose other reports are kept; the existing run must have been built from the same data.
    Files with member ids go to ``exports_dir/<label>``. Nothing outside these two run folders
    (and their staging folders) is written or deleted.
    """
    check_label(label)
    out_dir.mkdir(parents=True, exist_ok=True)
    with locked(state_dir(out_dir) / "locks" / f"{label}.lock", wait=False, what=f"run folder {out_dir / label}"):
        started = time.perf_counter()
        ok_dir, failed_dir = out_dir / label, out_dir / f"{label}-failed"
        staging = out_dir / f".{label}.partial"
        export_final = exports_dir / label if exports_dir is not None else None
        export_staging = exports_dir / f".{label}.partial" if exports_dir is not None else None
        prov = _provenance(data_dir, as_of, label, fingerprint, last_day)
        kept = _kept_notebooks(ok_dir, notebooks, fingerprint) if merge else []
        if keep is not None:  # a full run that re-executes only the notebooks whose inputs changed
            kept = [e for e in kept if e.get("name") in keep]
        try:
            clean_staging(out_dir, label, "--out")  # a killed run's leftovers: ours, under the lock
            if exports_dir is not None:
                clean_staging(exports_dir, label, "--exports")
                mark_folder(exports_dir)
            for folder, final in ((staging, ok_dir), (export_staging, export_final)):
                if folder is None:
                    continue
                if kept and final.is_dir():
                    shutil.copytree(final, folder)
                else:
                    folder.mkdir(parents=True)
            log(f"mallwake: {len(notebooks)} notebook(s) on {data_name(data_dir)} -> {ok_dir}")
            pages = _pages(notebooks, per_nb, kept)
            run_one = lambda nb: _execute(  # noqa: E731
                nb,
                per_nb[nb],
                staging,
                show_code,
                label,
                prov,
                log,
                export_staging,
                (keys or {}).get(nb, ""),
                launcher,
                pages,
                out_dir,
            )
            if jobs > 1 and len(notebooks) > 1:
                kernelfork.limit_threads(jobs)
                # longest first (by the last run's times): the slow notebooks do not end up last, alone
                past = _read_history(out_dir)
                order = sorted(notebooks, key=lambda nb: -past.get(nb.stem, 0.0))
                with ThreadPoolExecutor(max_workers=jobs) as pool:
                    done = dict(zip(order, pool.map(run_one, order)))
                results = [done[nb] for nb in notebooks]
            else:
                results = [run_one(nb) for nb in notebooks]
            entries = kept + [asdict(r) for r in results]
            status = "ok" if all(e["status"] == "ok" for e in entries) else "failed"
            seconds = time.perf_counter() - started
            record = {
                "label": label,
                "status": status,
                "data_dir": str(data_dir),
                "data_name": data_name(data_dir),
                "as_of": _analysis_date(as_of, last_day),
                "parameters": {k: v for k, v in user.items() if k != "data_dir"},
                "finished": dt.datetime.now().isoformat(timespec="seconds"),
                "seconds": seconds,
                "fingerprint": fingerprint or "",
                "notebooks": entries,
                "provenance": prov,
                **(extra or {}),
            }
            atomic_write_text(staging / "run.json", json.dumps(record, indent=2, ensure_ascii=False, default=str) + "\n")
            final = ok_dir if status == "ok" else failed_dir
            replace_dir(staging, final)
            if status == "ok":
                shutil.rmtree(failed_dir, ignore_errors=True)
                if export_staging is not None:
                    replace_dir(export_staging, export_final)
            elif export_staging is not None:
                shutil.rmtree(export_staging, ignore_errors=True)
            _write_history(out_dir, results)
        except BaseException as err:
            for folder in (staging, export_staging):
                if folder is not None:
                    shutil.rmtree(folder, ignore_errors=True)
            if is_disk_full(err):
                raise DiskFullError(
                    f"no space left on the device of {out_dir} (or {exports_dir}): run {label} not written; earlier runs are kept"
                ) from None
            raise
    log(f"mallwake: run {label} {status} in {seconds:.1f} s")
    return RunResult(label, final, status, tuple(results), seconds)


def _clean_leftovers(out_dir: Path, exports_dir: Path, label: str) -> None:
    """Remove what a killed run of ``label`` left (its staging folders), unless a run of that
    label is going on now (then they are that run's)."""
    with contextlib.suppress(RunLockedError):
        with locked(state_dir(out_dir) / "locks" / f"{label}.lock", wait=False, what=f"run folder {out_dir / label}"):
            clean_staging(out_dir, label, "--out")
            clean_staging(exports_dir, label, "--exports")


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


def run_reports(
    data_dir: Path,
    *,
    as_of: str | None = None,
    out_dir: Path = REPORTS_DIR,
    only: list[str] | None = None,
    params: dict | None = None,
    show_code: bool = False,
    label: str | None = None,
    jobs: int = 1,
    notebooks_dir: Path = NOTEBOOKS_DIR,
    exports_dir: Path | None = None,
    strict: bool = False,
    force: bool = False,
    log=print,
    launcher: list[str] | None = None,
) -> RunResult:
    """Validate the data, execute the notebooks and render one run of the report site.

    A notebook whose inputs did not change since the run of the same label (the data files'
    contents, the notebook, its parameters, the ``analysis`` package's code and the lock file)
    is not executed again: its report is kept (``force`` re-executes every notebook).

    The run is written to ``out_dir/<label>``; if any notebook fails, to
    ``out_dir/<label>-failed`` instead (executed notebooks kept), leaving earlier runs as
    they were. With ``only``, the chosen notebooks are updated inside the existing run of the
    label (its other reports kept). Files with raw member ids go to ``exports_dir/<label>``
    (default ``exports/`` beside ``out_dir``). Raises
    :class:`~analysis.data.validation.DataValidationError` before anything is written when the data
    break the contract, :class:`ParameterError` for bad parameters or dates, and
    :class:`~analysis.data.storage.UnsafeNameError` for a label that is not a plain name.
    """
    data_dir = resolve_data(data_dir)
    out_dir = Path(out_dir).resolve()  # papermill changes the working directory of the process while a notebook runs
    if label is not None:
        check_label(label)
    user = dict(params or {})
    data_params = load_data_params(data_dir)
    refuse_runner_parameters(user, data_params, data_dir)
    check_exports_dir(exports_dir if exports_dir is not None else default_exports_dir(out_dir), out_dir)
    as_of = parse_as_of(as_of or user.pop("as_of", None))
    notebooks_dir = Path(notebooks_dir).resolve()  # absolute: parallel kernels change the working directory
    notebooks = discover_notebooks(notebooks_dir, only)
    if not notebooks:
        raise ParameterError(f"no notebooks in {notebooks_dir}")
    check_pairs(notebooks)
    user["data_dir"] = str(data_dir)
    if as_of:
        user["as_of"] = as_of
    per_nb = check_parameters(notebooks, user, data_params)
    if not label:
        label = safe_name(f"{_label_stem(data_dir)}-{as_of or 'latest'}")
        if Path(notebooks_dir).resolve() != NOTEBOOKS_DIR.resolve():
            label += f"-{safe_name(Path(notebooks_dir).name)}"  # e.g. demo-latest-teaching, beside the main run
        if str(user.get("lang") or "en") != "en":  # beside the English run, not in its place (as months: month-2024-12-zh)
            label += f"-{safe_name(str(user['lang']))}"
    if jobs > 1 and len(notebooks) > 1:
        kernelfork.limit_threads(jobs)  # before the zygote: BLAS reads it when numpy is imported
    # the kernels' imports start now, beside validation (benchmarks/RESULTS.md: kernels started ahead),
    # unless the caller started them even earlier (the command line does, before importing this module)
    ahead = contextlib.nullcontext(launcher) if launcher else kernelfork.zygote(kernelfork.notebook_imports(notebooks))
    with ahead as launcher:
        started = time.perf_counter()
        fingerprint, last_day = _prepare(data_dir, as_of, log, strict)
        check_data_references(data_dir, as_of, per_nb)
        prepare = round(time.perf_counter() - started, 2)
        exports_dir = Path(exports_dir).resolve() if exports_dir is not None else default_exports_dir(out_dir)
        records = _records_digest(data_dir)
        keys = {
            nb: _inputs_key(
                fingerprint,
                nb,
                per_nb[nb]
                | {
                    "show_code": show_code,
                    "exports": str(exports_dir),
                    "preregistrations": records,
                    "pages": [p.stem for p in notebooks],  # the previous/next links of its page
                },
            )
            for nb in notebooks
        }
        current = {} if force else _current_reports(out_dir / label, keys)
        todo = [nb for nb in notebooks if nb.stem not in current]
        if not todo:
            _clean_leftovers(out_dir, exports_dir, label)
            log(
                f"mallwake: {label} is up to date (same data, notebooks, parameters, code and environment): "
                f"{len(notebooks)} report(s) kept; --force rebuilds"
            )
            _update_index(out_dir)
            return RunResult(label, out_dir / label, "ok", tuple(current.values()), 0.0)
        if current:
            log(f"mallwake: {len(current)} report(s) up to date and kept: {', '.join(sorted(current))}")
        result = _run_label(
            label,
            todo,
            per_nb,
            data_dir,
            as_of,
            out_dir,
            user,
            show_code,
            jobs,
            log,
            extra={"prepare_seconds": prepare},
            fingerprint=fingerprint,
            merge=bool(only) or bool(current),
            exports_dir=exports_dir,
            keys=keys,
            keep=None if only else list(current),
            last_day=last_day,
            launcher=launcher,
        )
        _update_index(out_dir)
        log(f"mallwake: open {out_dir / 'index.html'}")
        return result


def _label_stem(data) -> str:
    from analysis.data.sources import is_source, parse_source

    return parse_source(data).label if is_source(data) else Path(data).name


def _prepare(data_dir, as_of, log, strict: bool = False) -> tuple[str, str | None]:
    """Validate and stage the data once for all notebooks (each kernel would otherwise race to
    stage it); return the data fingerprint and the last day of data the stage recorded (without a
    stage: the files' fingerprint and ``None``). A source is validated in its engine, and its
    fingerprint comes from there (:func:`analysis.data.sources.source_fingerprint`)."""
    from analysis.data.dataset import last_day, prepare_dataset, stage_meta, typed_tables, validate_source
    from analysis.data.sources import is_source

    started = time.perf_counter()
    if is_source(data_dir):
        check = validate_source(data_dir, as_of, strict=strict)
        check.report.raise_for_errors()
        for msg in check.report.warning_messages():
            log(f"mallwake: warning: {msg}")
        rows = ", ".join(f"{k} {v['rows']:,}" for k, v in check.detail.items())
        log(f"mallwake: {data_name(data_dir)} validated in the engine in {time.perf_counter() - started:.1f} s ({rows})")
        last = last_day(typed_tables(check.raw)[0])
        return check.fingerprint, str(last) if last else None
    report, path = prepare_dataset(data_dir, as_of, log=log, strict=strict)
    for msg in report.warning_messages():
        log(f"mallwake: warning: {msg}")
    log(f"mallwake: data validated and staged in {time.perf_counter() - started:.1f} s")
    if path is None:
        return _fingerprint(data_dir), None
    meta = stage_meta(path)
    return meta["fingerprint"], meta.get("last_day")


def _analysis_date(as_of: str | None, last_day: str | None) -> str:
    """The analysis date a run used: the one given, else the last day in the data (when known)."""
    if as_of:
        return str(as_of)
    return f"{str(last_day)[:10]} (the last date in the data)" if last_day else "the last date in the data"


_ENV_KEY: list[str] = []


def _environment_key() -> str:
    """The code and environment every report depends on: the ``analysis`` package's source files
    (code and templates) and the lock file. Computed once per process."""
    if not _ENV_KEY:
        from analysis.application.lockfile import lock_hash
        from analysis.data.config import PACKAGE_DIR

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
    from analysis.data.sources import settings_path
    from analysis.statistics.plan import PREREGISTRATION_DIR

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


def month_label(month: str, lang: str = "en") -> str:
    return f"month-{month}" + ("" if lang == "en" else f"-{lang}")


def run_months(
    data_dir: Path,
    months: list[str],
    *,
    as_of: str | None = None,
    out_dir: Path = REPORTS_DIR,
    params: dict | None = None,
    lang: str = "en",
    force: bool = False,
    show_code: bool = False,
    jobs: int = 1,
    notebook: Path = MONTHLY_NOTEBOOK,
    exports_dir: Path | None = None,
    log=print,
    launcher: list[str] | None = None,
) -> list[RunResult]:
    """Build the monthly report of each month in ``months`` (``YYYY-MM``) as its own site section.

    A month already built from the same data files, notebook and parameters is skipped unless
    ``force``; months are built ``jobs`` at a time. Months after the analysis date are refused.
    Returns the results of the months built (skipped months are not in the list).
    """
    from analysis.application.monthly import TEXT, parse_month
    from analysis.data.dataset import load_dataset

    if lang not in TEXT:
        raise ParameterError(f"--lang must be one of {', '.join(sorted(TEXT))}, got {lang!r}")

    data_dir = resolve_data(data_dir)
    out_dir = Path(out_dir).resolve()  # papermill changes the working directory of the process while a notebook runs
    notebook = Path(notebook).resolve()
    user = dict(params or {})
    data_params = load_data_params(data_dir)
    refuse_runner_parameters(user, data_params, data_dir)
    check_exports_dir(exports_dir if exports_dir is not None else default_exports_dir(out_dir), out_dir)
    as_of = parse_as_of(as_of or user.pop("as_of", None))
    user |= {"data_dir": str(data_dir), "lang": lang}
    if as_of:
        user["as_of"] = as_of
    try:
        wanted = [parse_month(m) for m in months]
    except ValueError as err:
        raise ParameterError(str(err)) from None
    check_pairs([notebook])
    check_parameters([notebook], user | {"report_month": months[0]}, data_params)
    data = load_dataset(data_dir, as_of=as_of)  # validates (DataValidationError) and fingerprints the files once
    last_day = pd.Timestamp(data.as_of)
    late = [m.strftime("%Y-%m") for m in wanted if m + pd.offsets.MonthEnd(0) > last_day]
    if late:
        raise ParameterError(f"month(s) {', '.join(late)} end after the analysis date {last_day.date()}: not complete yet")
    first = data.transactions.ts.min().to_pandas()
    early = [
        m.strftime("%Y-%m") for m in wanted if pd.isna(first) or m + pd.offsets.MonthEnd(0) < pd.Timestamp(first).normalize()
    ]
    if early:
        since = "the data hold no purchases" if pd.isna(first) else f"the data start on {pd.Timestamp(first).date()}"
        raise ParameterError(f"month(s) {', '.join(early)} end before {since}: nothing to report")

    todo = []
    for m in wanted:
        ym = m.strftime("%Y-%m")
        p = user | {"report_month": ym}
        label, key = month_label(ym, lang), _inputs_key(data.fingerprint, notebook, p)
        done = out_dir / label / "run.json"
        if not force and done.exists():
            try:
                old = json.loads(done.read_text(encoding="utf-8"))
            except ValueError:
                old = {}
            if old.get("status") == "ok" and old.get("inputs_key") == key:
                log(f"mallwake: {label} is up to date (same data, notebook and parameters): skipped")
                continue
        todo.append((label, ym, p, key))

    exports = Path(exports_dir).resolve() if exports_dir is not None else default_exports_dir(out_dir)

    def one(item, launcher):
        label, ym, p, key = item
        per_nb = check_parameters([notebook], p, data_params)
        return _run_label(
            label,
            [notebook],
            per_nb,
            data_dir,
            as_of,
            out_dir,
            p,
            show_code,
            1,
            log,
            extra={"kind": "monthly", "month": ym, "lang": lang, "inputs_key": key},
            fingerprint=data.fingerprint,
            exports_dir=exports,
            last_day=str(data.as_of),
            launcher=launcher,
        )

    if jobs > 1 and len(todo) > 1:
        kernelfork.limit_threads(jobs)
    results = []
    if todo:
        ahead = contextlib.nullcontext(launcher) if launcher else kernelfork.zygote(kernelfork.notebook_imports([notebook]))
        with ahead as launcher:
            if jobs > 1 and len(todo) > 1:
                with ThreadPoolExecutor(max_workers=jobs) as pool:
                    results = list(pool.map(lambda item: one(item, launcher), todo))
            else:
                results = [one(item, launcher) for item in todo]
    _update_index(out_dir)
    log(f"mallwake: {len(results)} month(s) built, {len(wanted) - len(todo)} up to date; open {out_dir / 'index.html'}")
    return results


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use the `mallwake` command")
