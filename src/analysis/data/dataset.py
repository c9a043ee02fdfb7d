"""Load a data directory into typed Ibis tables over DuckDB.

The input files are never changed. On first use a data directory is *staged*: its tables are
copied, with the contract's types applied (ids trimmed, text cast), into one DuckDB database file
in the cache (``$MALLWAKE_CACHE_DIR`` or ``~/.cache/mallwake``), together with ``purchase_days``
(one row per member and day with a purchase). Every notebook of a run then reads that file
(read-only; several processes at once), instead of re-parsing CSVs and re-normalising ids in
every query. The stage is keyed by the files' names and contents (SHA-256), so changed data is
staged again, even when a copy kept the old size and modification time. Aggregation runs out of core in the engine and only member-level (or
smaller) results come back to pandas. Without a writable cache (or with ``stage=False``) the
tables are views over the files, with the same types. The same Ibis expressions run on any
other Ibis backend (Spark, Trino, BigQuery, PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import time
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import ibis
import pandas as pd

from analysis import __version__
from analysis.data.contract import FALSE_WORDS, SQL_TYPES, TABLES, TRUE_WORDS, TableSpec, present_files
from analysis.data.duckio import quote_ident, quote_literal
from analysis.data.engine_validation import validate_tables
from analysis.data.localdb import connect_local
from analysis.data.params import load_data_params, resolve_tiers
from analysis.data.sources import is_source, parse_source, raw_tables, source_fingerprint
from analysis.data.storage import is_disk_full
from analysis.data.validation import (
    CACHE_ENV,
    CSV_DIALECT,
    ValidationReport,
    Violation,
    cache_root,
    cached_pass,
    data_tiers,
    files_key,
    fingerprint_files,
    parquet_zones,
    quiet_progress,
    relation_sql,
    remember_pass,
    undeclared_tiers,
    validate_data_dir,
    with_policy,
)

#: Member attribute columns that identify a person; never shown in reports or used as covariates.
SENSITIVE_COLUMNS = ("phone", "phone_number", "mobile", "plate", "license_plate", "name", "id_card", "email")


def _cast(column: str, kind: str, present: bool, zone: str | None = None, default: str | None = None) -> str:
    sql_type = SQL_TYPES[kind]
    if not present:
        return f"CAST({default or 'NULL'} AS {sql_type}) AS {column}"
    q = quote_ident(column)
    if zone:  # a zone-aware Parquet timestamp: the wall-clock time in its own zone (as validation reads it)
        q = f"timezone('{zone.replace(chr(39), chr(39) * 2)}', {q})"
    if kind == "bool":
        t = ", ".join(f"'{w}'" for w in TRUE_WORDS)
        f = ", ".join(f"'{w}'" for w in FALSE_WORDS)
        txt = f"lower(trim(CAST({q} AS VARCHAR)))"
        value = f"CASE WHEN {txt} IN ({t}) THEN true WHEN {txt} IN ({f}) THEN false END"
        return f"coalesce({value}, {default}) AS {column}" if default else f"{value} AS {column}"
    if kind in ("id", "str", "tier"):
        return f"trim(CAST({q} AS VARCHAR)) AS {column}"
    if kind == "count":
        return f"CAST(CAST({q} AS DOUBLE) AS INTEGER) AS {column}"
    return f"CAST({q} AS {sql_type}) AS {column}"


def _view_sql(spec: TableSpec, path: Path, columns: list[str]) -> str:
    kinds = {**spec.required, **spec.optional}
    zones = parquet_zones(path)
    selects = [_cast(c, k, c in columns, zones.get(c), spec.defaults.get(c)) for c, k in kinds.items()]
    extras = [quote_ident(c) for c in columns if c not in kinds]
    if path.suffix == ".csv":
        # contract columns are read as text (then cast); extra columns keep DuckDB's detected type
        types = ", ".join(f"'{c}': 'VARCHAR'" for c in columns if c in kinds)  # contract names only: plain
        source = f"read_csv({quote_literal(path)}, header=true, {CSV_DIALECT}, types={{{types}}})"
    else:
        source = relation_sql(path)
    return f"SELECT {', '.join(selects + extras)} FROM {source}"


@dataclass
class MallData:
    """A validated data directory as typed Ibis tables.

    Attributes
    ----------
    data_dir, as_of, tiers
        Where the data is, the analysis date, the tier levels (lowest first).
    con
        The Ibis DuckDB backend holding one view per table.
    validation
        The :class:`~analysis.data.validation.ValidationReport` the data passed.
    fingerprint
        SHA-256 of the input files, for provenance.
    """

    data_dir: Path | str
    as_of: dt.date
    tiers: tuple[str, ...]
    con: object
    validation: ValidationReport
    fingerprint: str
    files: dict[str, Path] = field(default_factory=dict)
    member_attributes: tuple[str, ...] = ()
    #: For a source in an engine: the typed tables as Ibis expressions over the source's own
    #: tables (nothing is created in the source). Empty for a data folder: ``con`` holds them.
    tables: dict = field(default_factory=dict)
    #: Where each present contract table is read from: a file's name, or the source's table.
    origins: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if not self.origins and self.files:
            self.origins = {name: Path(p).name for name, p in self.files.items()}

    def table(self, name: str):
        """The typed contract table (or ``purchase_days``) ``name`` as an Ibis table."""
        return self.tables[name] if name in self.tables else self.con.table(name)

    @property
    def members(self):
        return self.table("members")

    @property
    def transactions(self):
        return self.table("transactions")

    @property
    def purchases(self):
        """The transactions that are purchases (not returns): for counting purchases and dates of purchase."""
        t = self.table("transactions")
        return t.filter(is_purchase(t))

    @property
    def visits(self):
        return self.table("visits")

    @property
    def campaigns(self):
        return self.table("campaigns")

    @property
    def contacts(self):
        return self.table("contacts")

    @property
    def purchase_days(self):
        """One row per member and day with a purchase: ``member_id``, ``day``, ``purchases``, ``spend``."""
        return self.table("purchase_days")

    @property
    def in_engine(self) -> bool:
        """Whether the tables live in another engine (a source), not in the local DuckDB."""
        return bool(self.tables)

    @property
    def has_visits(self) -> bool:
        return "visits" in self.origins

    @property
    def covariate_attributes(self) -> tuple[str, ...]:
        """Member attribute columns usable as covariates (identifying columns excluded)."""
        return tuple(c for c in self.member_attributes if c.lower() not in SENSITIVE_COLUMNS)

    def sql(self, query: str) -> pd.DataFrame:
        """Run SQL against the tables (of a data folder) and return a pandas frame."""
        if self.in_engine:
            raise NotImplementedError(
                "on a source the contract's tables are Ibis expressions, not names in the engine: "
                "use data.table(name) (or data.members, data.transactions, ...) instead of SQL"
            )
        return self.con.sql(query).to_pandas()


def load_dataset(
    data_dir: str | Path,
    as_of: dt.date | str | None = None,
    tiers: tuple[str, ...] | None = None,
    stage: bool = True,
) -> MallData:
    """Validate ``data_dir`` and open its tables.

    Parameters
    ----------
    data_dir
        A directory in the data contract (see ``data/README.md``).
    as_of
        Analysis date. Default: the last day with a transaction or visit.
    tiers
        Tier levels, lowest first.
    stage
        Read the tables from the staged copy in the cache (built on first use, see
        :func:`stage_dataset`); ``False`` reads the files directly (same tables, slower queries).

    Raises
    ------
    DataValidationError
        If any rule of the contract is broken; nothing is loaded.
    """
    if is_source(data_dir):
        return open_source(data_dir, as_of, tiers)
    data_dir = Path(data_dir)
    report, staged = prepare_dataset(data_dir, as_of, tiers, stage)  # tiers as given: validation says when it inferred them
    tiers = data_tiers(data_dir, tiers)
    files = present_files(data_dir)
    if staged is not None:
        try:
            con, meta = _attach_stage(staged)
            fingerprint, extras, last = meta["fingerprint"], tuple(meta["member_attributes"]), meta["last_day"]
        except Exception as err:  # damaged since it was checked: read the files instead
            warnings.warn(
                f"staged copy {staged} could not be read ({str(err).splitlines()[0][:160]}): reading the data files directly",
                StageWarning,
                stacklevel=2,
            )
            staged = None
    if staged is None:
        con = connect_local()
        quiet_progress(con.raw_sql)
        extras = _create_tables(con.raw_sql, files, "VIEW")
        con.raw_sql(f"CREATE VIEW purchase_days AS {_purchase_days_sql()}")
        fingerprint, last = fingerprint_files(list(files.values())), _last_day(con.raw_sql)
    as_of = pd.Timestamp(as_of or last or report.as_of).date()
    return MallData(
        data_dir=data_dir,
        as_of=as_of,
        tiers=tuple(tiers),
        con=con,
        validation=report,
        fingerprint=fingerprint,
        files=files,
        member_attributes=extras,
    )


def is_purchase(t):
    """Boolean expression: the transaction row is a purchase (not a return)."""
    return ~t.is_return.fill_null(False) if "is_return" in t.columns else ibis.literal(True)


def purchase_days_expr(t):
    """One row per member and day with a purchase, from the transactions table expression ``t``.

    ``purchases`` counts the purchase rows of the day (returns are not purchases); ``spend`` is
    their amount *net of returns*: each return (``is_return``, amount <= 0) is netted into the
    member's latest purchase day on or before it, so member-level spend (RFM monetary, CLV) is
    net while every row stays a day on which the member bought. A return before any purchase of
    the member has no day to net into and is left out here (period totals still count it).
    """
    _ = ibis._
    buys = t.filter(is_purchase(t))
    days = buys.group_by(["member_id", buys.ts.cast("date").name("day")]).aggregate(
        purchases=_.count().cast("int32"), gross=_.amount.sum()
    )
    rets = t.filter(~is_purchase(t)).select("member_id", rday=_.ts.cast("date"), ramount=_.amount)
    rets = rets.mutate(rid=ibis.row_number())
    pdays = days.select(pmember="member_id", pday="day")
    pairs = rets.join(pdays, [rets.member_id == pdays.pmember, pdays.pday <= rets.rday])
    matched = pairs.group_by(["rid", "member_id", "ramount"]).aggregate(day=_.pday.max())
    refunds = matched.group_by(["member_id", "day"]).aggregate(refund=_.ramount.sum())
    out = days.left_join(refunds, ["member_id", "day"])
    return out.select("member_id", "day", "purchases", spend=out.gross + out.refund.fill_null(0.0))


def _purchase_days_sql() -> str:
    """:func:`purchase_days_expr` compiled for DuckDB over a table named ``transactions``."""
    t = ibis.table({"member_id": "string", "ts": "timestamp", "amount": "float64", "is_return": "boolean"}, name="transactions")
    return ibis.to_sql(purchase_days_expr(t), dialect="duckdb")


def _stage_purchase_days(execute) -> None:
    """The stage's ``purchase_days`` table: :func:`purchase_days_expr` in two steps DuckDB runs
    faster. The purchases of each member and day first (sorted by day); then, only when the data
    hold returns, each return netted into its member's latest purchase day on or before it by an
    as-of join. The same rows as the expression (tested). At a million members 9.8 -> 6.6 s without
    returns (``benchmarks/bench_stage.py``); with 399,561 returns 10.4 s within :data:`STAGE_MEMORY`,
    where the expression's range join ran out of memory (``benchmarks/bench_purchase_days.py``)."""
    execute(
        'CREATE TABLE purchase_days AS SELECT member_id, CAST(ts AS DATE) AS "day", CAST(count(*) AS INTEGER) AS purchases, '
        'sum(amount) AS spend FROM transactions WHERE NOT coalesce(is_return, false) GROUP BY 1, 2 ORDER BY "day"'
    )
    if not execute("SELECT count(*) FROM transactions WHERE coalesce(is_return, false)").fetchone()[0]:
        return
    execute(
        'UPDATE purchase_days AS p SET spend = p.spend + r.refund FROM (SELECT d.member_id, d."day", sum(t.amount) AS refund '
        "FROM (SELECT member_id, CAST(ts AS DATE) AS rday, amount FROM transactions WHERE coalesce(is_return, false)) AS t "
        'ASOF JOIN purchase_days AS d ON t.member_id = d.member_id AND t.rday >= d."day" GROUP BY 1, 2) AS r '
        'WHERE p.member_id = r.member_id AND p."day" = r."day"'
    )


#: DuckDB's memory while it stages (its default is 80 % of the machine's): a million members' files
#: staged in 28.9 s with a peak of 1.34 GB, against 28.1 s and 4.24 GB without it (benchmarks/RESULTS.md).
STAGE_MEMORY = "1GB"

#: Bump when the staged layout changes (old stages are then rebuilt).
STAGE_LAYOUT = 3


def _create_tables(execute, files: dict[str, Path], kind: str) -> tuple[str, ...]:
    """Create one typed ``kind`` (VIEW or TABLE) per contract table; return the extra member columns."""
    extras: tuple[str, ...] = ()
    for name, spec in TABLES.items():
        if name in files:
            cols = [r[0] for r in execute(f"DESCRIBE SELECT * FROM {relation_sql(files[name])}").fetchall()]
            # in the files' order: sorting transactions and visits by time cost 8.5 s of a million
            # members' 40 s preparation and no report ran faster for it (benchmarks/RESULTS.md)
            execute(f"CREATE {kind} {name} AS {_view_sql(spec, files[name], cols)}")
            if name == "members":
                extras = tuple(c for c in cols if spec.kind(c) is None)
        else:  # optional table absent: an empty one with the contract's columns
            kinds = {**spec.required, **spec.optional}
            selects = ", ".join(f"CAST({spec.defaults.get(c, 'NULL')} AS {SQL_TYPES[k]}) AS {c}" for c, k in kinds.items())
            execute(f"CREATE {kind} {name} AS SELECT {selects} WHERE false")
    return extras


def _last_day(execute):
    return execute(
        "SELECT max(d) FROM (SELECT max(CAST(ts AS DATE)) AS d FROM transactions "
        "UNION ALL SELECT max(CAST(ts AS DATE)) FROM visits)"
    ).fetchone()[0]


def stage_path(data_dir: str | Path) -> Path | None:
    """Where the staged copy of ``data_dir``'s current files lives (``None``: no files)."""
    data_dir = Path(data_dir)
    key = files_key(data_dir, "stage", STAGE_LAYOUT)
    if key is None:
        return None
    owner = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    return cache_root() / "stage" / f"{owner}-{key[:32]}.duckdb"


def _stage_problem(path: Path, fingerprint: str | None) -> str | None:
    """Why the stage file ``path`` cannot be used (``None``: it is sound and holds ``fingerprint``)."""
    import duckdb

    try:
        with duckdb.connect(str(path), read_only=True) as con:
            tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
            meta = json.loads(con.execute("SELECT meta FROM _stage").fetchone()[0]) if "_stage" in tables else {}
    except (duckdb.Error, OSError, ValueError, KeyError, TypeError) as err:
        return f"it cannot be read ({str(err).strip().splitlines()[0][:160]})"
    missing = {*TABLES, "purchase_days"} - tables
    if missing:
        return f"tables {', '.join(sorted(missing))} are missing"
    if fingerprint and meta.get("fingerprint") != fingerprint:
        return "it holds other data than the files"
    return None


def _remove_stage(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".wal")):
        p.unlink(missing_ok=True)


def prepare_dataset(
    data_dir: str | Path, as_of=None, tiers: tuple[str, ...] | None = None, stage: bool = True, log=None, strict: bool = False
) -> tuple[ValidationReport, Path | None]:
    """Validate ``data_dir`` and stage it, side by side the first time.

    Validation is mostly single-threaded pandas (pandera) and staging is DuckDB, so on a new
    data version they run at the same time. A stage of data that fail validation is deleted
    and :class:`~analysis.data.validation.DataValidationError` is raised, naming the broken rules
    (not whatever error the staging hit first). A damaged stage file (truncated, corrupted, or
    holding other data) is removed with a message naming it and built again. Returns the passed
    report and the stage (``None`` without a writable cache, on a full cache, or with ``stage=False``).
    """
    data_dir = Path(data_dir)
    path = stage_path(data_dir) if stage else None
    if path is not None and path.is_file():
        problem = _stage_problem(path, fingerprint_files(list(present_files(data_dir).values())))
        if problem:
            _notice(f"staged copy {path} is not usable ({problem}): removed, staging again", log)
            _remove_stage(path)
    if path is None or path.is_file():
        report = validate_data_dir(data_dir, as_of=as_of, tiers=tiers, strict=strict)
        report.raise_for_errors()
        return report, path
    with ThreadPoolExecutor(max_workers=1) as pool:
        staging = pool.submit(stage_dataset, data_dir, log)
        try:
            report = validate_data_dir(data_dir, as_of=as_of, tiers=tiers, strict=strict)
        finally:
            error = staging.exception()
    if not report.ok:
        if error is None and staging.result() is not None:
            _remove_stage(staging.result())
        report.raise_for_errors()
    if error is not None:
        raise error
    return report, staging.result()


class StageWarning(UserWarning):
    """The staged copy could not be used or written; the files are read directly instead."""


def _notice(message: str, log=None) -> None:
    """Say a staging problem both ways: as a :class:`StageWarning` and in the runner's log."""
    warnings.warn(message, StageWarning, stacklevel=3)
    if log is not None:
        log(f"mallwake: {message}")


def stage_meta(path: Path) -> dict:
    """What a stage records: the input files' ``fingerprint``, ``member_attributes``, ``last_day``."""
    import duckdb

    with duckdb.connect(str(path), read_only=True) as con:
        return json.loads(con.execute("SELECT meta FROM _stage").fetchone()[0])


def _clean_leftovers(folder: Path) -> None:
    """Remove the temporary files of stagings that were killed (their process no longer runs)."""
    for tmp in folder.glob("*.partial-*"):
        pid = tmp.name.rsplit("-", 1)[-1].split(".")[0]
        try:
            os.kill(int(pid), 0)
            continue  # still staging
        except (ValueError, ProcessLookupError):
            if tmp.is_dir():  # DuckDB's spill folder of a killed staging (``<stage>.partial-PID.tmp``)
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)
        except PermissionError:
            continue  # another user's running process


def stage_dataset(data_dir: str | Path, log=None) -> Path | None:
    """Copy a validated data directory into a DuckDB database file in the cache, once.

    Returns the file (reused while the input files are unchanged), or ``None`` when the cache
    is not writable or fills up (the caller then reads the files directly). Older stages of the
    same directory and leftovers of killed stagings are removed. Writing goes to a temporary
    file that is renamed when complete, so a reader never sees a half-written stage and
    concurrent stagers do not collide.
    """
    data_dir = Path(data_dir)
    path = stage_path(data_dir)
    if path is None:
        return None
    files = present_files(data_dir)

    def fill(con) -> dict:
        extras = _create_tables(con.execute, files, "TABLE")
        return {
            "fingerprint": fingerprint_files(list(files.values())),
            "member_attributes": list(extras),
            "data_dir": str(data_dir.resolve()),
        }

    return _write_stage(path, fill, f"{path.name.split('-')[0]}-*.duckdb", log)


def _write_stage(path: Path, fill, siblings: str, log=None) -> Path | None:
    """Write the stage file ``path`` once: ``fill(con)`` creates the contract's tables and returns
    the stage's record; ``purchase_days``, the last day and the record are added here. Older stages
    matching ``siblings`` are removed. ``None`` when the cache is not writable or fills up."""
    import duckdb

    if path.is_file():
        return path
    tmp = path.with_name(f"{path.stem}.partial-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _clean_leftovers(path.parent)
        tmp.unlink(missing_ok=True)
        con = duckdb.connect(str(tmp))
    except (OSError, duckdb.Error):
        return None  # a read-only cache: read the files directly
    try:
        quiet_progress(con.execute)
        con.execute(f"SET memory_limit = '{STAGE_MEMORY}'")  # sorts beyond it spill to the stage's temporary folder
        meta = fill(con)
        _stage_purchase_days(con.execute)
        last = _last_day(con.execute)
        meta = {**meta, "last_day": str(last) if last else None}
        con.execute("CREATE TABLE _stage AS SELECT ? AS meta", [json.dumps(meta)])
        con.close()
        for old in path.parent.glob(siblings):
            if old != path:
                _remove_stage(old)
        os.replace(tmp, path)
    except BaseException as err:
        con.close()
        _remove_stage(tmp)
        if is_disk_full(err):
            _notice(f"the cache {path.parent} is full: reading the data directly (slower); free space or set {CACHE_ENV}", log)
            return None
        raise
    return path


def _attach_stage(path: Path):
    """A local backend reading the stage file ``path`` (read-only) under the contract's names, and its record."""
    con = connect_local()
    quiet_progress(con.raw_sql)
    con.raw_sql(f"ATTACH {quote_literal(path)} AS staged (READ_ONLY)")
    for name in (*TABLES, "purchase_days"):
        con.raw_sql(f"CREATE VIEW {name} AS SELECT * FROM staged.main.{name}")
    return con, json.loads(con.raw_sql("SELECT meta FROM staged.main._stage").fetchone()[0])


# --- any Ibis backend -------------------------------------------------------------------------

#: Ibis type of each column kind (the same types as :data:`~analysis.data.contract.SQL_TYPES`).
IBIS_TYPES = {
    "id": "string",
    "str": "string",
    "tier": "string",
    "date": "date",
    "timestamp": "timestamp",
    "amount": "float64",
    "number": "float64",
    "count": "int32",
    "bool": "boolean",
}


def _ibis_cast(table, column: str, kind: str, present: bool, default: str | None = None):
    if not present:
        if default is not None:
            return ibis.literal(default == "true" if kind == "bool" else default).cast(IBIS_TYPES[kind]).name(column)
        return ibis.null().cast(IBIS_TYPES[kind]).name(column)
    col = table[column]
    if kind == "bool":
        txt = col.cast("string").strip().lower()
        return (
            ibis.cases(
                (txt.isin(list(TRUE_WORDS)), True), (txt.isin(list(FALSE_WORDS)), False), else_=ibis.null().cast("boolean")
            )
            .cast("boolean")
            .name(column)
        )
    if kind in ("id", "str", "tier"):
        return col.cast("string").strip().name(column)
    if kind == "count":
        return col.cast("float64").cast("int32").name(column)
    return col.cast(IBIS_TYPES[kind]).name(column)


def add_purchase_days(con) -> None:
    """Create the ``purchase_days`` view (one row per member and day with a purchase) from the
    ``transactions`` table of any Ibis backend ``con``."""
    con.create_view("purchase_days", purchase_days_expr(con.table("transactions")), overwrite=True)


def open_on_backend(
    con,
    data_dir: str | Path,
    as_of: dt.date | str | None = None,
    tiers: tuple[str, ...] | None = None,
    csv_options: dict | None = None,
) -> MallData:
    """Validate ``data_dir`` (locally) and register its tables on another Ibis backend ``con``.

    The same typed tables as :func:`load_dataset`, built with Ibis expressions instead of DuckDB
    SQL, so every function of the package that works on :class:`MallData` runs on that engine
    (for example ``ibis.pyspark.connect(spark_session)``). The files must be readable by the
    engine (``read_parquet``/``read_csv`` of the backend); for a warehouse whose tables already
    exist, create views named ``members``, ``transactions``, ``visits``, ``campaigns`` and
    ``contacts`` with the contract's columns instead and build :class:`MallData` on them.
    ``csv_options`` are passed to the backend's ``read_csv`` (their names differ by engine).
    """
    data_dir = Path(data_dir)
    report = validate_data_dir(data_dir, as_of=as_of, tiers=tiers)
    report.raise_for_errors()
    tiers = data_tiers(data_dir, tiers)
    files = present_files(data_dir)
    extras: tuple[str, ...] = ()
    for name, spec in TABLES.items():
        kinds = {**spec.required, **spec.optional}
        if name in files:
            path = files[name]
            raw = con.read_parquet(str(path)) if path.suffix == ".parquet" else con.read_csv(str(path), **(csv_options or {}))
            cols = list(raw.columns)
            expr = raw.select(
                *[_ibis_cast(raw, c, k, c in cols, spec.defaults.get(c)) for c, k in kinds.items()],
                *[c for c in cols if c not in kinds],
            )
            if name == "members":
                extras = tuple(c for c in cols if spec.kind(c) is None)
        else:
            empty = pd.DataFrame({c: pd.Series(dtype="object") for c in kinds})
            expr = ibis.memtable(empty).select(*[ibis.null().cast(IBIS_TYPES[k]).name(c) for c, k in kinds.items()]).limit(0)
        con.create_view(name, expr, overwrite=True)
    add_purchase_days(con)
    as_of = as_of or last_day(con) or report.as_of
    return MallData(
        data_dir=data_dir,
        as_of=pd.Timestamp(as_of).date(),
        tiers=tuple(tiers),
        con=con,
        validation=report,
        fingerprint=fingerprint_files(list(files.values())),
        files=files,
        member_attributes=extras,
    )


# --- a source in an engine (a database, Spark) -----------------------------------------------


def typed_tables(raw: dict) -> tuple[dict, tuple[str, ...]]:
    """The contract's typed tables as Ibis expressions over a source's ``raw`` tables (name ->
    table; absent optional tables become empty ones), plus ``purchase_days``; and the extra
    member columns. Nothing is created in the source."""
    out, extras = {}, ()
    anchor = raw["members"]
    for name, spec in TABLES.items():
        kinds = {**spec.required, **spec.optional}
        if name in raw:
            t = raw[name]
            cols = list(t.columns)
            out[name] = t.select(
                *[_ibis_cast(t, c, k, c in cols, spec.defaults.get(c)) for c, k in kinds.items()],
                *[c for c in cols if c not in kinds],
            )
            if name == "members":
                extras = tuple(c for c in cols if spec.kind(c) is None)
        else:  # an optional table the source does not have: no rows, the contract's columns
            out[name] = anchor.filter(ibis.literal(False)).select(
                *[ibis.null().cast(IBIS_TYPES[k]).name(c) for c, k in kinds.items()]
            )
    out["purchase_days"] = purchase_days_expr(out["transactions"])
    return out, extras


def session_table(con, expr, what: str):
    """``expr`` computed once into a temporary table of the engine session (dropped when it ends),
    so the queries that read it do not recompute it; the expression itself where the engine has no
    temporary tables (Spark) or the session may not create one (no TEMP privilege). Nothing is
    written to the source's own schemas."""
    name = f"mallwake_{what}_{uuid.uuid4().hex[:12]}"
    try:
        table = con.create_table(name, expr, temp=True)
    except NotImplementedError:
        return expr
    except Exception as err:  # e.g. PostgreSQL: permission denied to create temporary tables
        warnings.warn(
            f"could not keep {what} in a temporary table ({str(err).strip().splitlines()[0][:160]}): "
            "it is computed in every query that reads it (slower)",
            StageWarning,
            stacklevel=2,
        )
        return expr
    try:
        done = con.raw_sql(f"ANALYZE {quote_ident(name)}")  # the planner's row estimates for the joins that read it
        if con.name != "duckdb":  # a DB-API cursor (PostgreSQL); DuckDB returns its connection itself
            getattr(done, "close", lambda: None)()
    except Exception:  # engines without ANALYZE
        pass
    return table


def source_tiers(source, raw: dict, tiers: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The tier levels of a source: given, else its settings' ``mallwake.yaml``, else those in its members table."""
    if tiers or load_data_params(source).get("tiers"):
        return resolve_tiers(source, tiers)
    present: list = []
    if "members" in raw and "tier" in raw["members"].columns:
        m = raw["members"]
        present = list(m.select(t=m.tier.cast("string").strip()).filter(ibis._.t.notnull()).distinct().to_pandas()["t"])
    return resolve_tiers(source, None, present)


class SourceCheck(NamedTuple):
    """What :func:`validate_source` found: the report, the connection, the source's raw tables,
    the tier levels, the fingerprint, and each table's row count and checksum."""

    report: ValidationReport
    con: object
    raw: dict
    tiers: tuple[str, ...]
    fingerprint: str
    detail: dict


def _validation_key(fingerprint: str, as_of: dt.date, tiers, wheres: dict) -> str:
    return hashlib.sha256(
        f"{__version__}|engine|{fingerprint}|{as_of}|{tuple(tiers)}|{sorted(wheres.items())}".encode()
    ).hexdigest()


def _declared_tiers(source, tiers) -> bool:
    return bool(tiers) or bool(load_data_params(source).get("tiers"))


def _tier_policy(source, report: ValidationReport, declared: bool, tiers, strict: bool) -> ValidationReport:
    where = source.where("members")
    return with_policy(report, undeclared_tiers(declared, tiers, where, "a mallwake.yaml beside the connection file"), strict)


def validate_source(
    data, as_of: dt.date | str | None = None, tiers: tuple[str, ...] | None = None, strict: bool = False, con=None
) -> SourceCheck:
    """Validate a source in its engine (cached by the source's fingerprint, like files by their contents).

    Connection problems raise :class:`~analysis.data.sources.SourceError`.
    """
    source = parse_source(data)
    as_of_date = pd.Timestamp(as_of or dt.date.today()).date()
    con = con or source.connect()
    raw = raw_tables(source, con)
    wheres = {n: source.where(n) for n in TABLES}
    try:
        declared = _declared_tiers(source, tiers)
        tiers = tuple(source_tiers(source, raw, tiers))
    except ValueError as err:  # a broken mallwake.yaml beside the connection file
        report = ValidationReport(
            source.name, as_of_date, {}, (Violation("-", "mallwake.yaml", None, str(err), 0),), origins=wheres
        )
        return SourceCheck(report, con, raw, (), "", {})
    fingerprint, detail = source_fingerprint(source, con, raw)
    key = _validation_key(fingerprint, as_of_date, tiers, wheres)
    report = cached_pass(key, source.name, as_of_date, wheres)
    if report is None:
        report = validate_tables(source.name, raw, wheres, as_of_date, tiers)
        remember_pass(key, report)
    return SourceCheck(_tier_policy(source, report, declared, tiers, strict), con, raw, tiers, fingerprint, detail)


# --- a database source read once per run: validated, fingerprinted and copied in one snapshot ----

#: How a run hands the kernels of its notebooks the copy of a source it validated (a stage file).
SOURCE_COPY_ENV = "MALLWAKE_SOURCE_COPY"


@contextmanager
def _snapshot(con):
    """Everything read through ``con`` inside sees one state of the database: a REPEATABLE READ
    transaction on PostgreSQL (Ibis's own transactions become savepoints in it); nothing elsewhere."""
    raw = getattr(con, "con", None)
    if getattr(con, "name", "") != "postgres" or not hasattr(raw, "isolation_level"):
        yield
        return
    import psycopg

    before = raw.isolation_level
    raw.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    try:
        with raw.transaction():
            yield
    finally:
        raw.isolation_level = before


def prepare_source(
    data, as_of: dt.date | str | None = None, tiers: tuple[str, ...] | None = None, strict: bool = False, log=None
) -> tuple[SourceCheck, Path | None]:
    """Validate a source in its engine and, when it :attr:`~analysis.data.sources.Source.copies`, copy its
    typed tables into a stage file in the cache, all in one snapshot of the database: the copy holds
    exactly the rows the fingerprint and the validation saw, whatever changes in the database
    meanwhile. A copy of the same fingerprint is reused. Returns the check and the copy (``None``:
    the source is queried in place, or the cache is not writable or full)."""
    source = parse_source(data)
    con = source.connect()
    with _snapshot(con):
        check = validate_source(source, as_of, tiers, strict, con=con)
        check.report.raise_for_errors()
        path = copy_source(source, check, log) if source.copies else None
    return check, path


def source_copy_path(source, fingerprint: str) -> Path:
    """Where the copy of ``source``'s tables with ``fingerprint`` lives in the cache."""
    return cache_root() / "stage" / f"src{source.identity[:15]}-{fingerprint[:32]}.duckdb"


def copy_source(source, check: SourceCheck, log=None) -> Path | None:
    """The stage file holding ``check``'s tables, copied now if no sound copy of its fingerprint exists
    (read through the caller's connection: in :func:`prepare_source`, inside its snapshot)."""
    path = source_copy_path(source, check.fingerprint)
    if path.is_file():
        problem = _stage_problem(path, check.fingerprint)
        if problem is None:
            return path
        _notice(f"copy {path} is not usable ({problem}): removed, copying again", log)
        _remove_stage(path)
    typed, extras = typed_tables(check.raw)
    started = time.perf_counter()

    def fill(duck) -> dict:
        csv = path.with_name(f"{path.stem}.partial-{os.getpid()}.csv")
        try:
            for name in TABLES:
                _copy_table(check.con, name, typed[name], duck, csv)
        finally:
            csv.unlink(missing_ok=True)
        return {
            "fingerprint": check.fingerprint,
            "member_attributes": list(extras),
            "data_dir": source.name,
            "source": source.identity,
            "tiers": list(check.tiers),
            "origins": {n: source.where(n) for n in check.raw},
        }

    made = _write_stage(path, fill, f"src{source.identity[:15]}-*.duckdb", log)
    if made is not None and log is not None:
        log(f"mallwake: {source.name} copied for this run in {time.perf_counter() - started:.1f} s")
    return made


def _copy_table(con, name: str, expr, duck, csv: Path) -> None:
    """Copy the typed table ``expr`` of the source's backend ``con`` into the DuckDB connection ``duck``
    as ``name`` (in the engine's order, as files keep theirs). PostgreSQL streams it as CSV (``COPY ... TO STDOUT``,
    its fastest way out) through the file ``csv``; other engines as Arrow batches."""
    from ibis.backends.sql.datatypes import DuckDBType

    def plain(t) -> bool:
        """Copied as it is; anything else (decimals, zoned times, JSON, arrays: only extra member
        columns can be) is copied as text."""
        kinds = (t.is_integer(), t.is_floating(), t.is_boolean(), t.is_string(), t.is_date())
        return any(kinds) or (t.is_timestamp() and t.timezone is None)

    expr = expr.select(*[expr[c] if plain(t) else expr[c].cast("string").name(c) for c, t in expr.schema().items()])
    types = {c: DuckDBType.to_string(t) for c, t in expr.schema().items()}
    target = quote_ident(name)
    if con.name == "postgres":
        sql = con.compile(expr)
        raw = con.con
        with raw.transaction(), raw.cursor() as cur:  # a savepoint inside the snapshot
            cur.execute("SET LOCAL DateStyle = 'ISO, YMD'")
            cur.execute("SET LOCAL extra_float_digits = 3")  # every float exactly
            with csv.open("wb") as f, cur.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)") as copy:
                for block in copy:
                    f.write(block)
        columns = "{" + ", ".join(f"{quote_literal(c)}: {quote_literal(t)}" for c, t in types.items()) + "}"
        duck.execute(
            f"CREATE TABLE {target} AS SELECT * FROM read_csv({quote_literal(str(csv))}, header=false, auto_detect=false, "
            f"columns={columns}, delim=',', quote='\"', escape='\"', allow_quoted_nulls=false)"
        )
        csv.unlink(missing_ok=True)
        return
    reader = con.to_pyarrow_batches(expr)
    view = f"_copy_{uuid.uuid4().hex[:8]}"
    duck.register(view, reader)
    try:
        duck.execute(f"CREATE TABLE {target} AS SELECT * FROM {view}")
    finally:
        duck.unregister(view)


def _handed_copy(source) -> tuple[Path, dict] | None:
    """The copy of ``source`` the run handed this process (:data:`SOURCE_COPY_ENV`) and its record, if it is one of ``source``."""
    text = os.environ.get(SOURCE_COPY_ENV)
    if not text:
        return None
    try:
        meta = stage_meta(Path(text))
    except Exception:  # removed or damaged since: validate and copy again
        return None
    return (Path(text), meta) if meta.get("source") == source.identity else None


@contextmanager
def hand_copy(path: Path | None):
    """Within the block, processes started from here (the notebooks' kernels) read the copy ``path``
    of the run's source instead of validating and fingerprinting the source again."""
    if path is None:
        yield
        return
    before = os.environ.get(SOURCE_COPY_ENV)
    os.environ[SOURCE_COPY_ENV] = str(path)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(SOURCE_COPY_ENV, None)
        else:
            os.environ[SOURCE_COPY_ENV] = before


def open_source(data, as_of: dt.date | str | None = None, tiers: tuple[str, ...] | None = None, strict: bool = False) -> MallData:
    """Validate a source (a database URL or a connection file, see :mod:`analysis.data.sources`) in its
    engine and open its tables, typed as the contract says: the run's copy of them (PostgreSQL; see
    :func:`prepare_source`), else Ibis expressions on that engine.

    Every function of the package that works on :class:`MallData` then runs its queries there.
    """
    source = parse_source(data)
    handed = _handed_copy(source) if source.copies else None
    if handed is not None:  # the run validated this copy: its cached validation, without the source
        copy, meta = handed
        wheres = {n: source.where(n) for n in TABLES}
        use = tuple(tiers) if tiers else tuple(meta["tiers"])
        as_of_date = pd.Timestamp(as_of or dt.date.today()).date()
        report = cached_pass(_validation_key(meta["fingerprint"], as_of_date, use, wheres), source.name, as_of_date, wheres)
        if report is not None:
            return _copied_data(
                source, copy, _tier_policy(source, report, _declared_tiers(source, tiers), use, strict), use, as_of
            )
    check, copy = prepare_source(source, as_of, tiers, strict)
    if copy is not None:
        return _copied_data(source, copy, check.report, check.tiers, as_of)
    tables, extras = typed_tables(check.raw)
    tables["purchase_days"] = session_table(check.con, tables["purchase_days"], "purchase_days")
    return MallData(
        data_dir=source.spec,
        as_of=pd.Timestamp(as_of or last_day(tables) or check.report.as_of).date(),
        tiers=check.tiers,
        con=check.con,
        validation=check.report,
        fingerprint=check.fingerprint,
        member_attributes=extras,
        tables=tables,
        origins={n: source.where(n) for n in check.raw},
    )


def _copied_data(source, path: Path, report: ValidationReport, tiers, as_of) -> MallData:
    report.raise_for_errors()
    con, meta = _attach_stage(path)
    return MallData(
        data_dir=source.spec,
        as_of=pd.Timestamp(as_of or meta["last_day"] or report.as_of).date(),
        tiers=tuple(tiers),
        con=con,
        validation=report,
        fingerprint=meta["fingerprint"],
        member_attributes=tuple(meta["member_attributes"]),
        origins=dict(meta["origins"]),
    )


def last_day(tables) -> dt.date | None:
    """The last day with a transaction or visit (``tables``: name -> typed Ibis table, or a backend)."""
    get = tables.__getitem__ if isinstance(tables, dict) else tables.table
    last = [
        x
        for x in (get("transactions").ts.max().to_pandas(), get("visits").ts.max().to_pandas())
        if x is not None and not pd.isna(x)
    ]
    return max(pd.Timestamp(x) for x in last).date() if last else None
