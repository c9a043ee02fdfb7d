"""Data that live in an engine: a mall's database or a Spark lake, reached through Ibis.

``mallwake validate`` and ``mallwake run`` accept, instead of a data folder, a *source*:

* an Ibis connection URL, e.g. ``postgres://analyst@crm-db:5432/crm?schema=loyalty`` (any
  backend Ibis connects to by URL: PostgreSQL, MySQL, Trino, DuckDB, ...), or
* a small connection file (``*.yaml``) naming the engine, the tables and the settings::

      engine: postgres                 # or pyspark; or give url: instead
      url: postgres://analyst@crm-db:5432/crm
      schema: loyalty                  # where the tables are (default: the connection's own)
      tables:                          # contract name -> the source's table or view
        members: crm_members
        transactions: sales.pos_lines  # schema.table
      copy: false                      # PostgreSQL: query the tables in place (default: one copy per run)
      # Spark only: the session's master and settings, and tables read from files
      spark: {master: "local[4]", conf: {spark.sql.shuffle.partitions: "8"}}
      # tables: {transactions: {parquet: /lake/pos_lines}}

Secrets never go into a URL or a connection file: a password is read from the environment,
either by the driver itself (``PGPASSWORD``, ``~/.pgpass``) or from ``${NAME}`` placeholders,
which are expanded only when connecting. A URL with a literal password is refused, and
reports show the source without any secret (:attr:`Source.name`).

The folder of a connection file plays the part of a data folder for the settings: its
``mallwake.yaml`` (tiers, campaign roles, display names) and ``preregistrations/``.

A PostgreSQL source is read once per run: its tables are validated and fingerprinted in the
database, then copied, within the same transaction (one snapshot), into a DuckDB file in the cache
(:func:`analysis.data.dataset.prepare_source`), which every notebook of the run reads. With
``copy: false`` (and on every other engine) every query runs in the engine; what comes back is
member-level or smaller (features, outcomes, counts). Validation runs there too (:mod:`analysis.data.engine_validation`), and the fingerprint in a
report's provenance comes from the source: each table's row count and an order-independent
checksum of its rows, computed by the engine (:func:`source_fingerprint`).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from analysis.data.config import DATA_PARAMS_FILE, PACKAGE_DIR, SPARK_ENGINES  # noqa: F401 - SPARK_ENGINES: read from here too
from analysis.data.contract import SQL_TYPES, TABLES, present_files
from analysis.data.duckio import quiet_progress, relation_sql
from analysis.data.errors import MallwakeError, ParameterError
from analysis.data.settings import read_connection_file

#: Engines a connection file may name besides a URL's scheme.
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def is_source(data) -> bool:
    """Whether ``data`` names a source (a URL or a connection file) rather than a data folder."""
    if isinstance(data, Source):
        return True
    text = str(data)
    if "://" in text:
        return True
    path = Path(text)
    return path.suffix.lower() in (".yaml", ".yml") and path.is_file() and path.name != DATA_PARAMS_FILE


def settings_dir(data) -> Path | None:
    """Where a data folder's or a source's settings live (``mallwake.yaml``, ``preregistrations/``):
    the folder itself, a connection file's folder, or ``None`` for a bare URL."""
    if data is None:
        return None
    if is_source(data):
        return parse_source(data).config_dir
    return Path(data)


def settings_path(data, name: str) -> Path | None:
    """``name`` (``mallwake.yaml``, ``preregistrations``, ``truth.json``) in the settings folder of a
    data folder or source (:func:`settings_dir`); ``None`` for a bare URL, which has none."""
    base = settings_dir(data)
    return None if base is None else Path(base) / name


def _expand(text: str, what: str) -> str:
    def value(m):
        name = m.group(1)
        if name not in os.environ:
            raise ParameterError(f"{what}: the environment variable {name} is not set (the source reads ${{{name}}} from it)")
        return os.environ[name]

    return _PLACEHOLDER.sub(value, text)


def _split(url: str, where: str = "the source"):
    """``urlsplit(url)``, or :class:`ParameterError` naming the source for a malformed URL."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a bad port raises only when read
        return parts
    except ValueError as err:
        raise ParameterError(f"{where}: not a valid URL ({err}); write it as engine://user@host:port/database") from None


def mask_secrets(text: str, url: str | None) -> str:
    """``text`` with every value the URL's ``${NAME}`` placeholders expand to replaced by ``***``
    (a driver's error message may quote the URL it was given, password included)."""
    for name in set(_PLACEHOLDER.findall(url or "")):
        value = os.environ.get(name)
        if value:
            text = text.replace(value, "***")
    return text


def _public_url(url: str) -> str:
    """``url`` without its password and query secrets (placeholders kept as written)."""
    parts = _split(url)
    netloc = parts.netloc
    if "@" in netloc:
        user, host = netloc.rsplit("@", 1)
        netloc = f"{user.split(':', 1)[0]}@{host}"
    query = "&".join(
        f"{k}={v}"
        for k, v in parse_qsl(parts.query)
        if "pass" not in k.lower() and "secret" not in k.lower() and "token" not in k.lower() and "key" not in k.lower()
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _check_no_secret(url: str, where: str) -> None:
    parts = _split(url, where)
    if "@" in parts.netloc:
        user = parts.netloc.rsplit("@", 1)[0]
        if ":" in user and not _PLACEHOLDER.fullmatch(user.split(":", 1)[1]):
            raise ParameterError(
                f"{where}: the URL holds a password; give it through the environment instead "
                "(PGPASSWORD or ~/.pgpass for PostgreSQL, or write ${NAME} in its place and set NAME)"
            )
    for k, v in parse_qsl(parts.query):
        if any(s in k.lower() for s in ("pass", "secret", "token")) and not _PLACEHOLDER.fullmatch(v):
            raise ParameterError(f"{where}: the URL holds a secret ({k}=...); write ${{NAME}} in its place and set NAME")


@dataclass(frozen=True)
class Source:
    """A source of the contract's tables in an engine (see the module notes)."""

    spec: str
    engine: str
    url: str | None = None
    schema: str | None = None
    tables: dict = field(default_factory=dict)
    spark: dict = field(default_factory=dict)
    config_dir: Path | None = None
    #: Copy the tables once per run into the local engine (``None``: the engine's default, see :attr:`copies`).
    copy: bool | None = None

    @property
    def copies(self) -> bool:
        """Whether a run reads a copy of the tables (PostgreSQL by default) rather than querying them in place."""
        return self.copy if self.copy is not None else self.engine in COPY_ENGINES

    @property
    def identity(self) -> str:
        """What names the same tables of the same database (no secret): the key of their copies."""
        tables = sorted((k, str(v)) for k, v in self.tables.items())
        text = f"{self.engine}|{_public_url(self.url or self.spec)}|{self.schema}|{tables}"
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def name(self) -> str:
        """The source as reports show it: no password, no secret."""
        if self.config_dir is not None:
            return Path(self.spec).name
        return _public_url(self.url or self.spec)

    @property
    def label(self) -> str:
        """A short name for the run's folder: the database's (or the connection file's) name."""
        if self.config_dir is not None:
            return Path(self.spec).stem
        path = urlsplit(self.url or "").path.strip("/")
        return (path.rsplit("/", 1)[-1] or self.engine) if path else self.engine

    def table_ref(self, name: str) -> tuple[str, str | None] | dict:
        """Where contract table ``name`` is: ``(table, schema)``, or a mapping such as ``{parquet: path}``."""
        ref = self.tables.get(name, name)
        if isinstance(ref, dict):
            return ref
        ref = str(ref)
        if "." in ref:
            schema, table = ref.rsplit(".", 1)
            return table, schema
        return ref, self.schema

    def where(self, name: str) -> str:
        """The source table of contract table ``name`` as messages name it."""
        ref = self.table_ref(name)
        if isinstance(ref, dict):
            return ", ".join(f"{k} {v}" for k, v in ref.items())
        table, schema = ref
        return f"{schema}.{table}" if schema else table

    def connect(self):
        """An Ibis backend connected to the source (secrets read from the environment now)."""
        import ibis

        if self.engine in SPARK_ENGINES:
            return ibis.pyspark.connect(spark_session(self.spark))
        url = _expand(self.url or "", self.name)
        _check_file_database(self, url)
        try:
            return ibis.connect(url)
        except ModuleNotFoundError as err:
            extra = "postgres" if self.engine.startswith("postgres") else self.engine
            raise ParameterError(
                f"{self.name}: the driver for {self.engine} is not installed ({err.name}); "
                f"install mallwake[{extra}] (make setup EXTRAS=test,{extra})"
            ) from None
        except Exception as err:  # the driver's own error: unreachable host, bad credentials, no database
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise SourceError(f"{self.name}: cannot connect ({mask_secrets(first, self.url)})") from None


#: Engines whose tables a run copies once by default (a server's tables, read once in one snapshot).
COPY_ENGINES = ("postgres", "postgresql")

#: Engines whose URL names a database file, which connecting would create if it were missing.
FILE_ENGINES = ("duckdb", "sqlite")


def _check_file_database(source: Source, url: str) -> None:
    """:class:`SourceError` when ``url`` names a database file that does not exist: connecting
    would create an empty one (named, perhaps, after a secret), and reading a source never
    creates anything there."""
    if source.engine not in FILE_ENGINES:
        return
    path = urlsplit(url).netloc + urlsplit(url).path  # duckdb:///abs/path -> /abs/path; duckdb://rel.ddb -> rel.ddb
    if not path or path in (":memory:", "/:memory:") or path.startswith(":"):
        return
    if not Path(path).is_file():
        raise SourceError(
            f"{source.name}: no {source.engine} database file at {mask_secrets(path, source.url)} "
            "(mallwake never creates one: give the path of an existing database)"
        )


class SourceError(MallwakeError, ConnectionError):
    """The source could not be reached or read (not a broken rule of the data)."""


def spark_session(settings: dict | None = None):
    """The local (or configured) Spark session of a source: ``master`` and ``conf`` from its file."""
    from pyspark.sql import SparkSession

    # pyspark warns on every conversion to pandas that it does not yet support pandas 3; the
    # conversions mallwake makes work (the tests compare them with DuckDB's), and the warning
    # would land in every report
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support", category=FutureWarning)

    settings = settings or {}
    master = str(settings.get("master") or "local[*]")
    if master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # a local session needs no network name
    builder = SparkSession.builder.master(master).appName("mallwake")
    log4j = PACKAGE_DIR / "templates" / "spark-log4j2.properties"
    conf = {
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": "4",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{log4j}",
        **{str(k): str(v) for k, v in (settings.get("conf") or {}).items()},
    }
    for k, v in conf.items():
        builder = builder.config(k, v)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def parse_source(data) -> Source:
    """The :class:`Source` that ``data`` (a URL or a connection file) names; :class:`ParameterError` if malformed."""
    if isinstance(data, Source):
        return data
    text = str(data)  # read every time (cheap): an edited connection file is never served from a memo
    if "://" in text:
        _check_no_secret(text, "the source URL")
        parts = urlsplit(text)
        schema = dict(parse_qsl(parts.query)).get("schema")
        src = Source(spec=text, engine=parts.scheme.split("+")[0].lower(), url=text, schema=schema)
    else:
        src = _read_connection_file(Path(text))
    return src


def _read_connection_file(path: Path) -> Source:
    conn = read_connection_file(path)  # the schema: keys, types, tables the contract has
    if conn["url"] is not None:
        _check_no_secret(conn["url"], str(path))
    return Source(
        spec=str(path),
        engine=conn["engine"],
        url=conn["url"],
        schema=conn["schema"],
        tables=conn["tables"],
        spark=conn["spark"],
        config_dir=path.resolve().parent,
        copy=conn["copy"],
    )


# --- opening the contract's tables on the engine --------------------------------------------


def raw_tables(source: Source, con) -> dict:
    """The source's table for each contract table it has: name -> Ibis table (absent tables left out)."""
    out = {}
    for name in TABLES:
        ref = source.table_ref(name)
        if isinstance(ref, dict):
            ((fmt, path),) = ref.items()
            out[name] = con.read_parquet(path) if fmt == "parquet" else con.read_csv(path, header=True)
            continue
        table, schema = ref
        if table in _list_tables(con, schema):
            out[name] = con.table(table, database=schema) if schema else con.table(table)
    return out


def _list_tables(con, schema: str | None) -> set[str]:
    try:
        return set(con.list_tables(database=schema) if schema else con.list_tables())
    except Exception as err:  # an unknown schema
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise SourceError(f"cannot list the tables of {schema or 'the source'} ({first})") from None


def source_fingerprint(source: Source, con, tables: dict) -> tuple[str, dict]:
    """SHA-256 over each table's row count and content checksum, computed in the engine.

    The checksum is the sum over rows of the engine's hash of the row's values (all columns,
    cast to text): independent of row order, changed by any changed, added or removed row. Returns
    the fingerprint and ``{table: {"rows": n, "checksum": c}}`` for the run's record.
    """
    detail = {}
    for name in sorted(tables):
        rows, checksum = _table_checksum(con, tables[name])
        detail[name] = {"rows": int(rows), "checksum": str(checksum)}
    h = hashlib.sha256(f"{source.engine}|".encode())
    for name, d in detail.items():
        h.update(f"{name}:{d['rows']}:{d['checksum']}|".encode())
    return h.hexdigest(), detail


def _table_checksum(con, t) -> tuple[int, int]:
    import ibis

    cols = sorted(t.columns)
    text = ibis.literal("|").join([t[c].cast("string").fill_null("\u2400") for c in cols]) if cols else ibis.literal("")
    # the engine's own hash of the row's text, reduced modulo a prime (so that the sum fits in 64 bits for
    # 10^9 rows) and summed: the same rows, in any order, give the same sum
    res = t.aggregate(n=t.count(), s=(text.hash().cast("int64") % 1_000_000_007).sum()).to_pandas().iloc[0]
    return int(res["n"]), int(res["s"] or 0)


def sql_type(kind: str) -> str:
    """The PostgreSQL column type of a contract kind (for loading a data folder into a database)."""
    return {"VARCHAR": "text", "DOUBLE": "double precision"}.get(SQL_TYPES[kind], SQL_TYPES[kind].lower())


def copy_to_postgres(data_dir: Path, conninfo: str, schema: str = "public", names: dict | None = None) -> dict[str, int]:
    """Load a data folder's tables into PostgreSQL tables of the contract's types (``COPY``).

    For trying mallwake on a database, for the tests and for the benchmark. ``names`` maps a
    contract table to the table name to create (default: the same name). Existing tables of
    those names are replaced. Returns the rows loaded per table.
    """
    import duckdb
    import psycopg
    import pyarrow.csv as pacsv
    from psycopg import sql

    loaded = {}
    with psycopg.connect(conninfo, autocommit=True) as pg, duckdb.connect() as dk:
        quiet_progress(dk.execute)
        pg.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        for name, path in present_files(Path(data_dir)).items():
            spec = TABLES[name]
            cols = [r[0] for r in dk.execute(f"DESCRIBE SELECT * FROM {relation_sql(path)}").fetchall()]
            types = [sql_type(spec.kind(c)) if spec.kind(c) else "text" for c in cols]
            target = sql.Identifier(schema, (names or {}).get(name, name))
            pg.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(target))
            pg.execute(
                sql.SQL("CREATE TABLE {} ({})").format(
                    target,
                    sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in zip(cols, types)),
                )
            )
            copy = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv, HEADER true)").format(
                target, sql.SQL(", ").join(sql.Identifier(c) for c in cols)
            )
            with pg.cursor().copy(copy) as out:
                first = True
                for batch in dk.execute(f"SELECT * FROM {relation_sql(path)}").to_arrow_reader(200_000):
                    buf = io.BytesIO()
                    pacsv.write_csv(batch, buf, pacsv.WriteOptions(include_header=first))
                    first = False
                    out.write(buf.getvalue())
                if first:  # no rows: the header alone
                    out.write((",".join(cols) + "\n").encode())
            loaded[name] = pg.execute(sql.SQL("SELECT count(*) FROM {}").format(target)).fetchone()[0]
    return loaded
