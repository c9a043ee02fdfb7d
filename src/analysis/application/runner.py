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
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

# nbformat validates with jsonschema, whose IRI format checker imports rfc3987_syntax, which compiles
# a Lark grammar at import: 0.8 s at the start of every run (python-jsonschema/jsonschema#1428).
# The notebook schema has no IRI formats; the runner's process goes without that checker.
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
    _read_history,
    _records_digest,
    _timing,
    _write_history,
)
from analysis.application.provenance import _analysis_date, _fingerprint, _provenance, data_name, resolve_data
from analysis.data.sources import is_source, parse_source
from analysis.data.dataset import last_day, load_dataset, prepare_dataset, stage_meta, typed_tables, validate_source


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
    return parse_source(data).label if is_source(data) else Path(data).name


def _prepare(data_dir, as_of, log, strict: bool = False) -> tuple[str, str | None]:
    """Validate and stage the data once for all notebooks (each kernel would otherwise race to
    stage it); return the data fingerprint and the last day of data the stage recorded (without a
    stage: the files' fingerprint and ``None``). A source is validated in its engine, and its
    fingerprint comes from there (:func:`analysis.data.sources.source_fingerprint`)."""
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
    if lang not in languages():
        raise ParameterError(f"--lang must be one of {', '.join(languages())}, got {lang!r}")

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
