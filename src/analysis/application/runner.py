"""Execute the notebooks with papermill and render the report site.

One generic runner: every notebook in ``notebooks/`` receives the data directory and the
analysis date plus its own parameters, is executed in-process through papermill's API (in
parallel when ``jobs > 1``; the notebooks do not depend on each other), and is rendered to
offline HTML with its headline figures in ``<notebook>.metrics.json``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import shutil
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

# nbformat validates with jsonschema, whose IRI format checker imports rfc3987_syntax, which compiles
# a Lark grammar at import: 0.8-2.4 s at the start of every run (python-jsonschema/jsonschema#1428).
# The notebook schema has no IRI formats; the runner's process goes without that checker (the
# command line sets it first: its parameter checks import nbformat before the runner).
sys.modules.setdefault("rfc3987_syntax", None)

import nbformat  # noqa: E402, I001 (after the sys.modules line above)
import pandas as pd
import papermill as pm

from analysis.presentation import i18n
from analysis.presentation.languages import languages, page_name

from analysis.application import kernelfork
from analysis.data.config import MONTHLY_NOTEBOOK, NOTEBOOKS_DIR, REPORTS_DIR
from analysis.application.pairs import check_pairs
from analysis.data.validation import cache_root
from analysis.data.params import ParameterError, load_data_params, parse_as_of
from analysis.presentation.report import collect_metrics
from analysis.presentation.site import build_index, page_language, render_html
from analysis.data.storage import (
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
from analysis.application.parameters import (
    parse_month,
    _PATH_PARAMETERS,
    _default_text,
    check_data_references,
    check_parameters,
    declared_parameters,
    discover_notebooks,
    refuse_runner_parameters,
)
from analysis.application.execution import _ANSI, cell_progress, execute_notebook
from analysis.application.cache import (
    NotebookRun,
    RunResult,
    _current_reports,
    _inputs_key,
    _kept_notebooks,
    longest_first,
    _records_digest,
    _timing,
    _write_history,
)
from analysis.application.provenance import _analysis_date, _fingerprint, _provenance, data_name, resolve_data
from analysis.data.sources import is_source, parse_source
from analysis.data.dataset import hand_copy, last_day, load_dataset, prepare_dataset, prepare_source, stage_meta, typed_tables


def _title(nb_path: Path) -> str:
    nb = nbformat.read(nb_path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return nb_path.stem


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
    if "fit_cache_dir" in declared:  # model fits kept by content, as the staged data: any later run reuses them
        params = params | {"fit_cache_dir": str(cache_root() / "fits")}
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
    source = nbformat.read(nb, as_version=4)
    return {lang: i18n.title(source, nb.stem, lang) or nb.stem for lang in languages()}


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
    fingerprint = next((str(v) for k, v in prov.items() if k.startswith("data fingerprint")), "")
    found = {}
    for record in sorted(Path(out_dir).glob("*/run.json")):
        try:
            stat = record.stat()
            run = _run_record(str(record), stat.st_mtime_ns, stat.st_size)
        except OSError:
            continue
        if run is None:
            continue
        other = str((run.get("parameters") or {}).get("lang") or run.get("lang") or "en")
        if (
            run.get("label") == label
            or other == lang
            or other not in languages()
            or run.get("status") != "ok"
            or str(run.get("fingerprint") or "")[:16] != fingerprint
            or run.get("as_of") != prov.get("analysis date")
        ):
            continue
        if any(e.get("name") == stem and e.get("status") == "ok" for e in run.get("notebooks", [])):
            found[other] = f"../{record.parent.name}/{stem}.html"
    return {other: found.get(other, f"../{page_name('index', other)}") for other in languages() if other != lang}


@functools.lru_cache(maxsize=4096)
def _run_record(path: str, mtime_ns: int, size: int) -> dict | None:
    """A run's ``run.json`` (``None``: unreadable), read once per version of the file: every page of
    a run looks for its other languages among all runs, and a site holds many months."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


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


@dataclass(frozen=True)
class Build:
    """One run folder of the site to build: its label, its notebooks with the parameters each runs
    with, the parameters its ``run.json`` records, and what else that record says (a month's kind).
    ``partial``: add the notebooks to the existing run of the label, keeping its other reports."""

    label: str
    notebooks: tuple[Path, ...]
    params: dict
    recorded: dict
    extra: dict = field(default_factory=dict)
    partial: bool = False


@dataclass(frozen=True)
class Setting:
    """What every build of one command shares: the data and analysis date, where the site and the
    files with member ids go, how pages show code, where messages go, and (once prepared) the
    data's fingerprint, its last day and the kernels' launcher."""

    data_dir: Path
    as_of: str | None
    out_dir: Path
    exports_dir: Path
    show_code: bool
    log: Callable
    fingerprint: str = ""
    last_day: str | None = None
    launcher: list[str] | None = None


def _run_label(build: Build, run: Setting, jobs: int, keys: dict, keep: list[str] | None) -> RunResult:
    """Execute ``build``'s notebooks into ``out_dir/<label>`` through a staging folder (no index).

    Holds the run folder's lock throughout (a second run of the same label is refused). A partial
    build, or one that keeps the reports named in ``keep`` (current: not executed again), adds its
    notebooks to (or replaces theirs in) the existing run of that label, whose other reports are
    kept; the existing run must have been built from the same data. Files with member ids go to
    ``exports_dir/<label>``. Nothing outside these two run folders (and their staging folders) is
    written or deleted.
    """
    label, notebooks, per_nb, log, out_dir = build.label, list(build.notebooks), build.params, run.log, run.out_dir
    check_label(label)
    out_dir.mkdir(parents=True, exist_ok=True)
    with locked(state_dir(out_dir) / "locks" / f"{label}.lock", wait=False, what=f"run folder {out_dir / label}"):
        started = time.perf_counter()
        ok_dir, failed_dir = out_dir / label, out_dir / f"{label}-failed"
        staging = out_dir / f".{label}.partial"
        export_final, export_staging = run.exports_dir / label, run.exports_dir / f".{label}.partial"
        prov = _provenance(run.data_dir, run.as_of, label, run.fingerprint, run.last_day)
        kept = _kept_notebooks(ok_dir, notebooks, run.fingerprint) if build.partial or keep else []
        if not build.partial:  # a full run that re-executes only the notebooks whose inputs changed
            kept = [e for e in kept if e.get("name") in (keep or ())]
        try:
            clean_staging(out_dir, label, "--out")  # a killed run's leftovers: ours, under the lock
            clean_staging(run.exports_dir, label, "--exports")
            mark_folder(run.exports_dir)
            for folder, final in ((staging, ok_dir), (export_staging, export_final)):
                if kept and final.is_dir():
                    shutil.copytree(final, folder)
                else:
                    folder.mkdir(parents=True)
            log(f"mallwake: {len(notebooks)} notebook(s) on {data_name(run.data_dir)} -> {ok_dir}")
            pages = _pages(notebooks, per_nb, kept)
            run_one = lambda nb: _execute(  # noqa: E731
                nb,
                per_nb[nb],
                staging,
                run.show_code,
                label,
                prov,
                log,
                export_staging,
                keys.get(nb, ""),
                run.launcher,
                pages,
                out_dir,
            )
            if jobs > 1 and len(notebooks) > 1:
                kernelfork.limit_threads(jobs)
                order = longest_first(notebooks, out_dir)
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
                "data_dir": str(run.data_dir),
                "data_name": data_name(run.data_dir),
                "as_of": _analysis_date(run.as_of, run.last_day),
                "parameters": {k: v for k, v in build.recorded.items() if k != "data_dir"},
                "finished": dt.datetime.now().isoformat(timespec="seconds"),
                "seconds": seconds,
                "fingerprint": run.fingerprint or "",
                "notebooks": entries,
                "provenance": prov,
                **build.extra,
            }
            atomic_write_text(staging / "run.json", json.dumps(record, indent=2, ensure_ascii=False, default=str) + "\n")
            final = ok_dir if status == "ok" else failed_dir
            replace_dir(staging, final)
            if status == "ok":
                shutil.rmtree(failed_dir, ignore_errors=True)
                replace_dir(export_staging, export_final)
            else:
                shutil.rmtree(export_staging, ignore_errors=True)
            _write_history(out_dir, results)
        except BaseException as err:
            for folder in (staging, export_staging):
                shutil.rmtree(folder, ignore_errors=True)
            if is_disk_full(err):
                raise DiskFullError(
                    f"no space left on the device of {out_dir} (or {run.exports_dir}): run {label} not written; earlier runs are kept"
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


def _setting(data_dir, params: dict | None, as_of: str | None, out_dir, exports_dir, show_code: bool, log):
    """The parameters part every command shares, before anything is read or run: the data reference,
    the output folders (the member-id folder outside the site), the user's parameters (runner-only
    ones refused), the analysis date. Returns the setting, the user's parameters and the data's."""
    data_dir = resolve_data(data_dir)
    out_dir = Path(out_dir).resolve()  # papermill changes the working directory of the process while a notebook runs
    user = dict(params or {})
    data_params = load_data_params(data_dir)
    refuse_runner_parameters(user, data_params, data_dir)
    exports_dir = Path(exports_dir).resolve() if exports_dir is not None else default_exports_dir(out_dir)
    check_exports_dir(exports_dir, out_dir)
    as_of = parse_as_of(as_of or user.pop("as_of", None))
    user["data_dir"] = str(data_dir)
    if as_of:
        user["as_of"] = as_of
    return Setting(data_dir, as_of, out_dir, exports_dir, show_code, _one_at_a_time(log)), user, data_params


def _one_at_a_time(log: Callable) -> Callable:
    """``log`` called by one thread at a time: two notebooks ending together print two lines, not
    one line with both messages and an empty one (``print`` writes the text and the newline apart)."""
    lock = threading.Lock()

    def serialized(*args, **kwargs):
        with lock:
            return log(*args, **kwargs)

    return serialized


def _pipeline(
    builds: list[Build],
    setting: Setting,
    *,
    jobs: int = 1,
    force: bool = False,
    strict: bool = False,
    launcher: list[str] | None = None,
    check: Callable[[Setting], None] | None = None,
) -> list[tuple[RunResult, bool]]:
    """The one pipeline of reports and months: start the kernels' imports, validate and stage the
    data once, ``check`` what needs the data (a month's range), check the data references, key every
    notebook by its inputs, keep the reports whose key did not change (unless ``force``), execute
    the rest (``jobs`` notebooks at a time, within one build or across builds), rewrite the index.
    Returns each build's result and whether anything of it was executed."""
    notebooks = list(dict.fromkeys(nb for b in builds for nb in b.notebooks))
    parallel = jobs > 1 and (len(builds) > 1 or any(len(b.notebooks) > 1 for b in builds))
    if parallel:
        kernelfork.limit_threads(jobs)  # before the zygote: BLAS reads it when numpy is imported
    # the kernels' imports start now, beside validation (benchmarks/RESULTS.md: kernels started ahead),
    # unless the caller started them even earlier (the command line does, before importing this module)
    ahead = contextlib.nullcontext(launcher) if launcher else kernelfork.zygote(kernelfork.notebook_imports(notebooks))
    with ahead as launcher, contextlib.ExitStack() as handed:
        started = time.perf_counter()
        fingerprint, last_day, copy = _prepare(setting.data_dir, setting.as_of, setting.log, strict)
        setting = replace(setting, fingerprint=fingerprint, last_day=last_day, launcher=launcher)
        handed.enter_context(hand_copy(copy))  # the kernels read the run's copy of a source
        if check is not None:
            check(setting)
        for b in builds:
            check_data_references(setting.data_dir, setting.as_of, b.params)
        prepared = round(time.perf_counter() - started, 2)
        records = _records_digest(setting.data_dir)
        work = []
        for b in builds:
            extras = {"show_code": setting.show_code, "exports": str(setting.exports_dir), "preregistrations": records}
            extras["pages"] = [p.stem for p in b.notebooks]  # the previous/next links of its pages
            keys = {nb: _inputs_key(fingerprint, nb, b.params[nb] | extras) for nb in b.notebooks}
            current = {} if force else _current_reports(setting.out_dir / b.label, keys)
            todo = tuple(nb for nb in b.notebooks if nb.stem not in current)
            if not todo:
                _clean_leftovers(setting.out_dir, setting.exports_dir, b.label)
                setting.log(
                    f"mallwake: {b.label} is up to date (same data, notebooks, parameters, code and environment): "
                    f"{len(b.notebooks)} report(s) kept; --force rebuilds"
                )
                work.append((RunResult(b.label, setting.out_dir / b.label, "ok", tuple(current.values()), 0.0), None))
                continue
            if current:
                setting.log(f"mallwake: {len(current)} report(s) of {b.label} up to date and kept: {', '.join(sorted(current))}")
            todo_build = replace(b, notebooks=todo, extra=b.extra | {"prepare_seconds": prepared})
            work.append((todo_build, (keys, None if b.partial else list(current))))
        pending = [(b, how) for b, how in work if how is not None]
        if jobs > 1 and len(pending) > 1:  # builds side by side, one notebook at a time each
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                done = list(pool.map(lambda item: _run_label(item[0], setting, 1, *item[1]), pending))
        else:
            done = [_run_label(b, setting, jobs, *how) for b, how in pending]
        built = iter(done)
        results = [(next(built), True) if how is not None else (item, False) for item, how in work]
    _update_index(setting.out_dir)
    return results


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
    if label is not None:
        check_label(label)
    setting, user, data_params = _setting(data_dir, params, as_of, out_dir, exports_dir, show_code, log)
    notebooks_dir = Path(notebooks_dir).resolve()  # absolute: parallel kernels change the working directory
    notebooks = discover_notebooks(notebooks_dir, only)
    if not notebooks:
        raise ParameterError(f"no notebooks in {notebooks_dir}")
    check_pairs(notebooks)
    per_nb = check_parameters(notebooks, user, data_params)
    if not label:
        label = safe_name(f"{_label_stem(setting.data_dir)}-{setting.as_of or 'latest'}")
        if notebooks_dir != NOTEBOOKS_DIR.resolve():
            label += f"-{safe_name(notebooks_dir.name)}"  # e.g. demo-latest-teaching, beside the main run
        if str(user.get("lang") or "en") != "en":  # beside the English run, not in its place (as months: month-2024-12-zh)
            label += f"-{safe_name(str(user['lang']))}"
    build = Build(label, tuple(notebooks), per_nb, user, partial=bool(only))
    [(result, _built)] = _pipeline([build], setting, jobs=jobs, force=force, strict=strict, launcher=launcher)
    log(f"mallwake: open {setting.out_dir / 'index.html'}")
    return result


def _label_stem(data) -> str:
    return parse_source(data).label if is_source(data) else Path(data).name


def _prepare(data_dir, as_of, log, strict: bool = False) -> tuple[str, str | None, Path | None]:
    """Validate and stage the data once for all notebooks (each kernel would otherwise race to
    stage it); return the data fingerprint, the last day of data the stage recorded (without a
    stage: the files' fingerprint and ``None``) and the copy of a source the kernels read. A source
    is validated in its engine, and its fingerprint comes from there
    (:func:`analysis.data.sources.source_fingerprint`), in the same snapshot as its copy
    (:func:`analysis.data.dataset.prepare_source`)."""
    started = time.perf_counter()
    if is_source(data_dir):
        check, copy = prepare_source(data_dir, as_of, strict=strict, log=log)
        for msg in check.report.warning_messages():
            log(f"mallwake: warning: {msg}")
        rows = ", ".join(f"{k} {v['rows']:,}" for k, v in check.detail.items())
        log(f"mallwake: {data_name(data_dir)} validated in the engine in {time.perf_counter() - started:.1f} s ({rows})")
        last = stage_meta(copy)["last_day"] if copy is not None else last_day(typed_tables(check.raw)[0])
        return check.fingerprint, str(last) if last else None, copy
    report, path = prepare_dataset(data_dir, as_of, log=log, strict=strict)
    for msg in report.warning_messages():
        log(f"mallwake: warning: {msg}")
    log(f"mallwake: data validated and staged in {time.perf_counter() - started:.1f} s")
    if path is None:
        return _fingerprint(data_dir), None, None
    meta = stage_meta(path)
    return meta["fingerprint"], meta.get("last_day"), None


def month_label(month: str, lang: str = "en") -> str:
    return f"month-{month}" + ("" if lang == "en" else f"-{lang}")


def _months_in_data(wanted: list[pd.Timestamp]) -> Callable[[Setting], None]:
    """A :class:`ParameterError` for a month that ends after the analysis date (not complete yet)
    or before the first purchase of the data (nothing to report)."""

    def check(setting: Setting) -> None:
        data = load_dataset(setting.data_dir, as_of=setting.as_of)  # the stage just prepared
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

    return check


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
    strict: bool = False,
    log=print,
    launcher: list[str] | None = None,
) -> list[RunResult]:
    """Build the monthly report of each month in ``months`` (``YYYY-MM``) as its own site section,
    through the same pipeline as the reports (:func:`_pipeline`): one run folder per month.

    A month already built from the same inputs (data, notebook, parameters, code, environment) is
    skipped unless ``force``; months are built ``jobs`` at a time. Months after the analysis date
    or before the data's first purchase are refused. Returns the results of the months built
    (skipped months are not in the list).
    """
    if lang not in languages():
        raise ParameterError(f"--lang must be one of {', '.join(languages())}, got {lang!r}")
    setting, user, data_params = _setting(data_dir, params, as_of, out_dir, exports_dir, show_code, log)
    notebook = Path(notebook).resolve()
    user["lang"] = lang
    try:
        wanted = [parse_month(m) for m in months]
    except ValueError as err:
        raise ParameterError(str(err)) from None
    if not wanted:
        raise ParameterError("no month given: name one (YYYY-MM) or a range (YYYY-MM..YYYY-MM)")
    check_pairs([notebook])
    builds = []
    for m in wanted:
        ym = m.strftime("%Y-%m")
        p = user | {"report_month": ym}
        per_nb = check_parameters([notebook], p, data_params)
        builds.append(Build(month_label(ym, lang), (notebook,), per_nb, p, extra={"kind": "monthly", "month": ym, "lang": lang}))
    results = _pipeline(builds, setting, jobs=jobs, force=force, strict=strict, launcher=launcher, check=_months_in_data(wanted))
    built = [r for r, executed in results if executed]
    log(f"mallwake: {len(built)} month(s) built, {len(results) - len(built)} up to date; open {setting.out_dir / 'index.html'}")
    return built


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use the `mallwake` command")
