"""Validate a data directory against the contract before any analysis runs.

Column rules (parseable dates and numbers, non-negative amounts, tier levels, ...) are
pandera schemas applied to the raw text of each file in batches, so a file of tens of
millions of rows is checked in bounded memory; one SQL query first counts the rows that may
break them, and a file where there are none skips the batches. Rules that span rows or tables (duplicate
keys, references to unknown members or campaigns) are SQL over the same files in DuckDB.
Every broken rule becomes one :class:`Violation` naming the file, column, rule, the number
of offending rows and up to five examples. Files are only ever read.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import json
import os
import re
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import duckdb
import pandas as pd

from analysis import __version__
from analysis.data.config import DEFAULT_TIERS
from analysis.data.contract import FALSE_WORDS, FORMATS, TABLES, TRUE_WORDS, TableSpec, table_files
from analysis.data.duckio import CSV_DIALECT, quiet_progress, quote_ident, quote_literal, relation_sql  # noqa: F401 - the readers of the contract files
from analysis.data.errors import MallwakeError
from analysis.data.params import load_data_params, resolve_tiers
from analysis.data.privacy import pseudonymize
from analysis.data.storage import atomic_write_text


@contextmanager
def _quiet_pyspark():
    """pandera imports ``pyspark.pandas`` when pyspark is installed (the optional Spark extra), on
    import and again when it registers its backends; that warns about the pandas version, and
    the warning would land in every report, so it is filtered."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support", category=FutureWarning)
        yield


def _pandera():
    """pandera, imported on first use: a cached validation (every notebook) does not pay for it."""
    with _quiet_pyspark():
        import pandera.pandas as pa
        from pandera.errors import SchemaErrors
    return pa, SchemaErrors


MAX_EXAMPLES = 5
BATCH_ROWS = 500_000


@dataclass(frozen=True)
class Violation:
    """One broken rule in one file."""

    table: str
    file: str
    column: str | None
    rule: str
    n_rows: int
    examples: tuple[str, ...] = ()

    def message(self) -> str:
        where = f"{self.file}: column '{self.column}'" if self.column else f"{self.file}"
        text = f"{where}: {self.rule}"
        if self.n_rows:
            text += f"; {self.n_rows:,} row(s) break this rule"
        if self.examples:
            text += ", e.g. " + "; ".join(self.examples)
        return text


_MEMBER_EXAMPLE = re.compile(r"member_id=(?:'((?:[^'\\]|\\.)*)'|([^,;\s)]+))")


def _masked(message: str) -> str:
    """``message`` with the member ids of its examples replaced by pseudonyms: a report page shows
    which rows are meant without showing who (the terminal, for the analyst fixing the file, keeps them)."""

    def one(m):
        raw = m.group(1) if m.group(1) is not None else m.group(2)
        return "member=" + str(pseudonymize(pd.Series([raw])).iloc[0])

    return _MEMBER_EXAMPLE.sub(one, message)


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of :func:`validate_data_dir`."""

    data_dir: Path
    as_of: dt.date
    row_counts: dict[str, int]
    violations: tuple[Violation, ...] = field(default_factory=tuple)
    #: Things that are allowed but probably wrong (or converted): shown, never fatal (unless strict).
    warnings: tuple[Violation, ...] = field(default_factory=tuple)
    #: For a source in an engine (``data_dir`` is then its name): where each contract table is read from.
    origins: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.violations

    def table(self) -> pd.DataFrame:
        return self.summary()

    def summary(self) -> pd.DataFrame:
        """One row per table: file, rows and number of broken rules."""
        files = {} if self.origins else table_files(self.data_dir)
        rows = []
        for name in TABLES:
            broken = [v for v in self.violations if v.table == name]
            if self.origins:  # a source: the table it was read from, when it had one
                where = self.origins.get(name) if name in self.row_counts or broken else None
            else:
                where = ", ".join(p.name for p in files[name])
            rows.append(
                {
                    "table": name,
                    "file": where or "(absent)",
                    "rows": self.row_counts.get(name),
                    "broken_rules": len(broken),
                    "status": "ok" if not broken else "invalid",
                }
            )
        return pd.DataFrame(rows)

    def messages(self) -> list[str]:
        return [v.message() for v in self.violations]

    def warning_messages(self) -> list[str]:
        return [v.message() for v in self.warnings]

    def raise_for_errors(self) -> None:
        if not self.ok:
            raise DataValidationError(self)

    def __repr__(self) -> str:  # what a notebook stores as text/plain: the member ids of examples masked too
        lines = [
            f"ValidationReport({self.data_dir}, as of {self.as_of}: "
            + ("all rules pass" if self.ok else f"{len(self.violations)} broken rule(s)")
            + ")"
        ]
        lines += [_masked(m) for m in self.messages()] + [f"warning: {_masked(m)}" for m in self.warning_messages()]
        return "\n".join(lines)


class DataValidationError(MallwakeError, ValueError):
    """Raised when a data directory breaks the contract; carries the full report."""

    def __init__(self, report: ValidationReport):
        self.report = report
        lines = [f"data in {report.data_dir} breaks {len(report.violations)} rule(s):"]
        lines += [f"  - {m}" for m in report.messages()]
        super().__init__("\n".join(lines))


# --- column rules ---------------------------------------------------------------------


def _text(s: pd.Series) -> pd.Series:
    if pd.api.types.is_string_dtype(s) and not pd.api.types.is_object_dtype(s):
        return s.str.strip()  # already text: no conversion (the costly part on millions of rows)
    return s.astype("string").str.strip()


def _present(s: pd.Series) -> pd.Series:
    if not (pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)):
        return s.notna()  # a typed column (number, timestamp) cannot hold blank text
    return s.notna() & (_text(s).fillna("") != "")


def _as_datetime(s: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s):
        return s
    if pd.api.types.is_object_dtype(s) and len(s.dropna()) and isinstance(s.dropna().iloc[0], dt.date):
        return pd.to_datetime(s, errors="coerce")
    text = _text(s)
    iso = text.str.match(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$").fillna(False).astype(bool)
    return pd.to_datetime(text.where(iso), errors="coerce", format="ISO8601")


def _as_number(s: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return s.astype("float64")
    return pd.to_numeric(_text(s), errors="coerce")


def _is_bool(s: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(s):
        return pd.Series(True, index=s.index)
    return _text(s).str.lower().isin(TRUE_WORDS + FALSE_WORDS).fillna(False).astype(bool)


def _blank(s: pd.Series) -> pd.Series:
    return ~_present(s)


_OFFSET = r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})$"


def _has_offset(s: pd.Series) -> pd.Series:
    out = pd.Series(False, index=s.index)
    if not (pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)):
        return out
    text = _text(s)
    # only text longer than 'YYYY-MM-DD HH:MM:SS' or ending in Z can carry an offset: match those alone
    maybe = ((text.str.len() > 19) | text.str.endswith("Z") | text.str.endswith("z")).fillna(False).astype(bool)
    if maybe.any():
        out[maybe] = text[maybe].str.match(_OFFSET).fillna(False).astype(bool)
    return out


def _checks_for(kind: str, required: bool, as_of: dt.date, tiers: tuple[str, ...]) -> list:
    """Pandera checks for one column of the given kind.

    A blank value breaks only the ``required`` rule (one message per bad value): every format
    rule passes blanks.
    """
    pa, _ = _pandera()

    def Check(fn, **kw):  # noqa: N802 - a format rule: pandera's Check, letting blanks through
        def rule(s):
            ok = fn(s)
            return ok if bool(ok.all()) else ok | _blank(s)  # blanks are looked for only among failures

        return pa.Check(rule, **kw)

    checks = []
    if required:
        checks.append(pa.Check(_present, name="required", error="must be present (not empty)", ignore_na=False))
    end = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    if kind in ("date", "timestamp"):
        fmt = "YYYY-MM-DD" if kind == "date" else "YYYY-MM-DD[ HH:MM:SS]"
        checks.append(Check(lambda s: _as_datetime(s).notna() | _has_offset(s), name="date", error=f"must be a date ({fmt})"))
        checks.append(
            Check(
                lambda s: ~_has_offset(s),
                name="offset",
                error="must be the mall's local time without a time-zone offset (drop the 'Z' or '+08:00')",
            )
        )
        checks.append(
            Check(
                lambda s: ~(_as_datetime(s) >= end).fillna(False).astype(bool),
                name="not_after_as_of",
                error=f"must not lie after the analysis date {as_of}",
            )
        )
    elif kind in ("amount", "number"):
        checks.append(Check(lambda s: _as_number(s).notna(), name="number", error="must be a number"))
    elif kind == "count":
        checks.append(
            Check(
                lambda s: (_as_number(s) % 1 == 0).fillna(False).astype(bool),
                name="whole",
                error="must be a whole number",
            )
        )
    elif kind == "bool":
        checks.append(Check(_is_bool, name="bool", error="must be true/false (or 1/0, yes/no)"))
    elif kind == "tier":
        levels = ", ".join(tiers)
        checks.append(
            Check(
                lambda s: _text(s).isin(tiers).fillna(False).astype(bool),
                name="tier",
                error=f"must be one of the tier levels ({levels})",
            )
        )
    return checks


def _schema(spec: TableSpec, columns: list[str], as_of: dt.date, tiers: tuple[str, ...]):
    pa, _ = _pandera()
    cols = {}
    for col in columns:
        kind = spec.kind(col)
        if kind is None:
            continue  # extra columns are member attributes: kept, not checked
        cols[col] = pa.Column(nullable=True, checks=_checks_for(kind, col in spec.required, as_of, tiers))
    if spec.name == "campaigns" and "response_days" in cols:
        cols["response_days"].checks.append(
            pa.Check(lambda s: (_as_number(s) > 0).fillna(False).astype(bool), name="positive", error="must be greater than 0")
        )
    return pa.DataFrameSchema(cols, strict=False, coerce=False)


# --- reading -------------------------------------------------------------------------


def _utf8_violation(spec: TableSpec, path: Path) -> Violation | None:
    """Check that a CSV is UTF-8 (a BOM is fine), naming the first offending lines.

    Blocks are decoded whole (fast) by an incremental decoder, so a character split between two
    blocks, or a line longer than a block, is read right; only a block that fails is decoded
    again line by line, each bad line counted once."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    bad_lines: list[int] = []
    n_bad, line_no, counted = 0, 1, False  # counted: the current line is already a bad line

    def bad() -> None:
        nonlocal n_bad, counted
        if not counted:
            n_bad += 1
            counted = True
            if len(bad_lines) < MAX_EXAMPLES:
                bad_lines.append(line_no)

    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            state = decoder.getstate()
            try:
                decoder.decode(chunk)
                newlines = chunk.count(b"\n")
                line_no += newlines
                counted = counted and not newlines
                continue
            except UnicodeDecodeError:
                decoder.setstate(state)
            parts = chunk.split(b"\n")
            for i, part in enumerate(parts):
                if i:
                    line_no, counted = line_no + 1, False
                try:
                    decoder.decode(part + (b"\n" if i < len(parts) - 1 else b""))
                except UnicodeDecodeError:
                    decoder.reset()
                    bad()
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:  # the file ends inside a character
            bad()
    if not n_bad:
        return None
    return Violation(
        spec.name,
        path.name,
        None,
        "must be UTF-8 text (re-save the file as UTF-8)",
        n_bad,
        tuple(f"line {n}" for n in bad_lines[:MAX_EXAMPLES]),
    )


#: DuckDB reads lines of at most this many bytes (its ``max_line_size``).
MAX_LINE_BYTES = 2_000_000


def csv_problem(path: Path, max_line: int = MAX_LINE_BYTES) -> str | None:
    """Where and why a CSV cannot be read, as a person fixing it needs it: ``line N: ...`` (a NUL
    byte, a field longer than a line may be, a quote never closed, more or fewer fields than the
    header), counting lines as an editor does; ``None`` when every record reads. Called when the
    engine's reader fails (its own message names no line, or line 1)."""
    previous = csv.field_size_limit(max_line)
    try:
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as fh:
            reader = csv.reader(fh, strict=True)
            try:
                header = next(reader, [])
            except csv.Error as err:
                return f"line 1 (the header): {_csv_error_text(err, max_line)}"
            start = reader.line_num + 1
            try:
                for row in reader:
                    if any("\0" in field for field in row):
                        return f"line {start}: {_csv_error_text('NUL', max_line)}"
                    if row and len(row) != len(header):
                        return (
                            f"line {start}: {len(row)} field(s) where the header has {len(header)} "
                            "(a comma inside a value needs quotes, or the line is not data)"
                        )
                    start = reader.line_num + 1
            except csv.Error as err:
                return f"line {start}: {_csv_error_text(err, max_line)}"
    finally:
        csv.field_size_limit(previous)
    return None


def _csv_error_text(err, max_line: int) -> str:
    text = str(err)
    if "NUL" in text:
        return "holds NUL bytes (\\0), which are not text: remove them"
    if "field larger than field limit" in text:
        return f"a value longer than {max_line:,} characters (a quote that is never closed, or a line that is not data)"
    if "unexpected end of data" in text or "EOF" in text:
        return "a quote opened here is never closed"
    return text


def parquet_zones(path: Path) -> dict[str, str]:
    """Time zone of each time-zone-aware timestamp column of a Parquet file (``{}`` for CSV)."""
    if path.suffix != ".parquet":
        return {}
    import pyarrow as pa
    import pyarrow.parquet as pq

    return {f.name: f.type.tz for f in pq.read_schema(path) if pa.types.is_timestamp(f.type) and f.type.tz}


def _csv_record_lines(path: Path, records: set[int]) -> dict[int, int]:
    """The line on which each data record (1-based) of a CSV starts, counting the newlines inside
    quoted fields (so line numbers match what an editor shows)."""
    want, out = sorted(records), {}
    if not want:
        return out
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        start, i = reader.line_num + 1, 0
        for _ in reader:
            i += 1
            if i in records:
                out[i] = start
                if i == want[-1]:
                    break
            start = reader.line_num + 1
    return out


def _plain_csv(path: Path, n_rows: int) -> bool:
    """Whether a CSV has one line per record (no newline inside a quoted field)."""
    lines = 0
    with path.open("rb") as fh:
        last = b""
        while chunk := fh.read(1 << 24):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    lines += last not in (b"\n", b"")
    return lines == n_rows + 1


def _value(val) -> str:
    """An example value as the person typed it: ``'1'``, not ``np.int64(1)``; an empty cell as
    ``''`` (not ``'nan'``)."""
    if val is None or (not isinstance(val, str) and pd.api.types.is_scalar(val) and pd.isna(val)):
        return "''"
    if isinstance(val, float) and val.is_integer():
        val = int(val)
    if isinstance(val, pd.Timestamp):
        val = val.isoformat(sep=" ")
    return repr(str(val))


def _row_rules(spec: TableSpec, df: pd.DataFrame) -> list[tuple[str, str, pd.Series]]:
    """Rules across columns of one row: (column, rule, mask of rows that break it)."""
    out = []
    if spec.name == "transactions" and "amount" in df.columns:
        amount = _as_number(df["amount"])
        ret = (
            _text(df["is_return"]).str.lower().isin(TRUE_WORDS).fillna(False).astype(bool)
            if "is_return" in df.columns
            else pd.Series(False, index=df.index)
        )
        out.append(("amount", "must not be negative (a refund is a row with is_return true)", (amount < 0).fillna(False) & ~ret))
        out.append(
            (
                "amount",
                "must be zero or negative on a return row (is_return true: money given back)",
                (amount > 0).fillna(False) & ret,
            )
        )
    return out


#: Characters Python's ``str.strip()`` (and so the column rules' ``_text``) removes: a value of
#: these alone is blank. The same set as Arrow's ``utf8_trim_whitespace`` (checked in the tests).
_BLANK_RE = "^[" + "".join(f"\\x{{{c:x}}}" for c in range(0x110000) if chr(c).isspace()) + "]*$"
#: Text the pandas rules surely accept (ASCII only: Python's ``\\d`` also takes other scripts' digits).
_TEXT_OK = {
    "date": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
    "timestamp": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?)?$",
    "amount": r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,3})?$",
    "count": r"^[+-]?[0-9]{1,15}(\.0*)?$",
    "bool": r"^[A-Za-z0-9]{1,5}$",
}
_TEXT_OK["number"] = _TEXT_OK["amount"]
_NUMERIC = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE"}
_TIMESTAMPS = {"TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S"}


def _may_break(col: str, kind: str, ty: str, required: bool, end: str, tiers: tuple[str, ...]) -> list[str] | None:
    """SQL conditions true for every row of column ``col`` (kind ``kind``, DuckDB type ``ty``) that
    may break one of its rules; ``None`` when the rules cannot be decided in SQL."""
    c = quote_ident(col)
    if ty == "VARCHAR":
        blank = f"({c} IS NULL OR regexp_matches({c}, {quote_literal(_BLANK_RE)}))"
        rules = [blank] if required else []
        if kind in ("id", "str"):
            return rules
        if kind == "tier":
            levels = ", ".join(quote_literal(t) for t in tiers) or "NULL"
            return [*rules, f"NOT {blank} AND {c} NOT IN ({levels})"]
        if kind not in _TEXT_OK:
            return None
        ok = f"regexp_matches({c}, {quote_literal(_TEXT_OK[kind])})"
        if kind == "bool":
            words = ", ".join(quote_literal(w) for w in (*TRUE_WORDS, *FALSE_WORDS))
            ok += f" AND lower({c}) IN ({words})"
        elif kind in ("date", "timestamp"):  # a real calendar day, inside pandas' range, not after the analysis date
            when = f"TRY_CAST({c} AS TIMESTAMP)"
            ok += f" AND {when} >= TIMESTAMP '1678-01-01' AND {when} < TIMESTAMP '{end}'"
        return [*rules, f"NOT {blank} AND NOT coalesce({ok}, false)"]
    if ty in _NUMERIC and kind in ("id", "str", "amount", "number", "count"):
        floating = ty in ("FLOAT", "DOUBLE")
        rules = [f"{c} IS NULL" + (f" OR isnan({c})" if floating else "")] if required else []
        if kind == "count" and floating:
            rules.append(f"{c} IS NOT NULL AND (NOT isfinite({c}) OR {c} <> floor({c}))")
        return rules
    if ty in _TIMESTAMPS and kind in ("date", "timestamp"):
        return ([f"{c} IS NULL"] if required else []) + [f"{c} >= TIMESTAMP '{end}'"]
    if ty == "DATE" and kind in ("date", "timestamp"):
        return ([f"{c} IS NULL"] if required else []) + [f"{c} >= DATE '{end}'"]
    if ty == "BOOLEAN" and kind in ("bool", "str"):
        return [f"{c} IS NULL"] if required else []
    return None


def _signed(col: str, ty: str, op: str) -> str:
    """SQL true where ``col`` surely is a number with ``col op 0`` (``op``: ``>``, ``>=``, ``<=``);
    a blank or missing value counts as true (the ``required`` and format rules judge those)."""
    c = quote_ident(col)
    if ty in _NUMERIC:
        return (
            f"({c} IS NULL OR isnan({c}) OR {c} {op} 0)"
            if ty in ("FLOAT", "DOUBLE") and op != ">"
            else f"({c} IS NULL OR {c} {op} 0)"
        )
    blank = f"{c} IS NULL OR regexp_matches({c}, {quote_literal(_BLANK_RE)})"
    return f"({blank} OR coalesce(regexp_matches({c}, {quote_literal(_TEXT_OK['amount'])}) AND TRY_CAST({c} AS DOUBLE) {op} 0, false))"


def _screen_sql(spec: TableSpec, path: Path, types: dict[str, str], as_of: dt.date, tiers: tuple[str, ...]) -> str | None:
    """One aggregate query counting, per rule, the rows that *may* break it; ``None`` when some
    rule of the table cannot be decided in SQL the way the pandas rules decide it.

    Every condition errs towards "may break" (text with spaces around a date, a NaN amount on a
    return, a date before 1678): a non-zero count only sends the table through the pandera rules,
    which find the rows, their lines and the examples, so the messages are pandera's either way.
    A clean typed Parquet file of 20 million rows takes about 2 s here against about 8 s of
    pandera batches (``benchmarks/RESULTS.md``).
    """
    if parquet_zones(path):
        return None  # wall-clock conversion in each column's zone: pandera's
    end = (pd.Timestamp(as_of) + pd.Timedelta(days=1)).strftime("%Y-%m-%d")
    counts = ["count(*)"]
    for col, ty in types.items():
        kind = spec.kind(col)
        if kind is None:
            continue  # a member attribute: no rule
        rules = _may_break(col, kind, ty, col in spec.required, end, tiers)
        if rules is None:
            return None
        if spec.name == "campaigns" and col == "response_days":  # and greater than 0
            rules.append(f"{_signed(col, ty, '>')} IS NOT TRUE AND {quote_ident(col)} IS NOT NULL")
        counts += [f"count(*) FILTER (WHERE {r})" for r in rules]
    if spec.name == "transactions" and "amount" in types:
        ty = types.get("is_return")
        if ty == "BOOLEAN":
            surely = possibly = "coalesce(is_return, false)"
        elif ty == "VARCHAR":
            words, true = quote_literal(_TEXT_OK["bool"]), ", ".join(quote_literal(w) for w in TRUE_WORDS)
            surely = f"coalesce(regexp_matches(is_return, {words}) AND lower(is_return) IN ({true}), false)"
            possibly = f"NOT (is_return IS NULL OR (regexp_matches(is_return, {words}) AND lower(is_return) NOT IN ({true})))"
        elif ty is None:
            surely = possibly = "false"
        else:
            return None
        counts.append(f"count(*) FILTER (WHERE {_signed('amount', types['amount'], '>=')} IS NOT TRUE AND NOT {surely})")
        counts.append(f"count(*) FILTER (WHERE {_signed('amount', types['amount'], '<=')} IS NOT TRUE AND {possibly})")
    return f"SELECT {', '.join(counts)} FROM {relation_sql(path)}"


def column_types(con, path: Path) -> dict[str, str]:
    """DuckDB's type of each column of the contract file ``path``, in file order (text for CSV)."""
    return {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {relation_sql(path)}").fetchall()}


def _clean_rows(con, spec: TableSpec, path: Path, types: dict[str, str], as_of: dt.date, tiers: tuple[str, ...]) -> int | None:
    """The table's row count when one query shows no row can break a column or row rule, else ``None``
    (``types``: :func:`column_types` of the file)."""
    sql = _screen_sql(spec, path, types, as_of, tiers)
    if sql is None:
        return None
    n, *suspect = con.execute(sql).fetchone()
    return None if any(suspect) else int(n)


def _column_violations(con, spec, path, types, as_of, tiers) -> tuple[list[Violation], int]:
    """The column and row rules' violations in one file (column ``types`` as :func:`column_types`
    gives them), and its row count: one query when it shows no row can break a rule, else pandera
    over the file in batches."""
    clean = _clean_rows(con, spec, path, types, as_of, tiers)
    if clean is not None:
        return [], clean
    return _pandera_violations(con, spec, path, list(types), as_of, tiers)


def _pandera_violations(con, spec, path, columns, as_of, tiers) -> tuple[list[Violation], int]:
    _, SchemaErrors = _pandera()
    schema = _schema(spec, columns, as_of, tiers)
    zones = {c: z for c, z in parquet_zones(path).items() if spec.kind(c) in ("date", "timestamp")}
    found: dict[tuple[str, str], list] = {}
    offset = 0

    def note(col, rule, rows, values):
        entry = found.setdefault((col, rule), [0, []])
        entry[0] += len(rows)
        for idx, val in zip(rows, values):
            if len(entry[1]) < MAX_EXAMPLES and idx is not None:
                entry[1].append((offset + int(idx) + 1, val))

    result = con.execute(f"SELECT * FROM {relation_sql(path)}")
    reader = result.to_arrow_reader(BATCH_ROWS) if hasattr(result, "to_arrow_reader") else result.fetch_record_batch(BATCH_ROWS)
    for batch in reader:
        df = batch.to_pandas()
        for col, zone in zones.items():  # the documented rule: wall-clock time in the column's own zone
            df[col] = pd.to_datetime(df[col], utc=True).dt.tz_convert(zone).dt.tz_localize(None)
        try:
            with _quiet_pyspark():
                schema.validate(df, lazy=True)
        except SchemaErrors as err:
            fc = err.failure_cases
            fc = fc[fc["check"].notna() & fc["column"].notna()]
            for (col, check), grp in fc.groupby(["column", "check"], sort=False):
                note(col, check, list(grp["index"]), list(grp["failure_case"]))
        for col, rule, mask in _row_rules(spec, df):
            if mask.any():
                rows = list(df.index[mask])
                note(col, rule, rows, list(df.loc[mask, col]))
        offset += len(df)
    records = {r for _, ex in found.values() for r, _ in ex}
    if path.suffix == ".csv":
        lines = {r: r + 1 for r in records} if not records or _plain_csv(path, offset) else _csv_record_lines(path, records)
        where = lambda r: f"line {lines.get(r, r + 1)}"  # noqa: E731
    else:
        where = lambda r: f"row {r}"  # noqa: E731
    violations = [
        Violation(spec.name, path.name, col, rule, n, tuple(f"{where(r)}: {_value(v)}" for r, v in ex))
        for (col, rule), (n, ex) in found.items()
    ]
    return violations, offset


def _zone_warnings(spec: TableSpec, path: Path) -> list[Violation]:
    return [
        Violation(
            spec.name,
            path.name,
            col,
            f"timestamps carry the time zone {zone}: read as wall-clock time in {zone} "
            "(export the mall's local time if that is not it)",
            0,
        )
        for col, zone in parquet_zones(path).items()
        if spec.kind(col) in ("date", "timestamp")
    ]


def _sql_violations(
    con, spec: TableSpec, path: Path, columns: list[str], views: dict[str, Path], text_columns: dict[str, set[str]] | None = None
) -> list[Violation]:
    """Rules across rows and tables: unique keys and references, on ids trimmed of surrounding
    spaces (the same rule as loading: ``' A1 '`` is member ``A1``).

    ``text_columns`` names the text columns of each table; only those are trimmed (a number
    has no spaces), and references are first matched as they are, so the trimming touches only
    the few values that did not match.
    """
    out = []
    text = (text_columns or {}).get(spec.name, set(columns))

    def norm(col: str, alias: str = "") -> str:
        q = f"{alias}{quote_ident(col)}"
        return f"trim(CAST({q} AS VARCHAR))" if col in text else q

    key = [c for c in spec.key if c in columns]
    if key and len(key) == len(spec.key):
        cols = ", ".join(f"{norm(c)} AS {quote_ident(c)}" for c in key)
        names = ", ".join(quote_ident(c) for c in key)
        dup = con.execute(
            f"SELECT {cols}, count(*) AS n FROM {relation_sql(path)} GROUP BY ALL HAVING count(*) > 1 ORDER BY n DESC, {names}"
        ).df()
        if len(dup):
            ex = tuple(
                ", ".join(f"{c}={_value(r[c])}" for c in key) + f" ({r['n']} times)" for _, r in dup.head(MAX_EXAMPLES).iterrows()
            )
            out.append(Violation(spec.name, path.name, ", ".join(key), "must be unique (duplicate key)", int(dup["n"].sum()), ex))
    for col, target in spec.refs.items():
        ref_table, ref_col = target.split(".")
        if col not in columns or ref_table not in views:
            continue
        ref = relation_sql(views[ref_table])
        raw_miss = (
            f"SELECT CAST(t.{col} AS VARCHAR) AS v FROM {relation_sql(path)} t WHERE t.{col} IS NOT NULL AND "
            f"CAST(t.{col} AS VARCHAR) NOT IN (SELECT CAST({ref_col} AS VARCHAR) FROM {ref} WHERE {ref_col} IS NOT NULL)"
        )
        sql = (
            f"SELECT trim(v) AS v FROM ({raw_miss}) WHERE trim(v) NOT IN "
            f"(SELECT trim(CAST({ref_col} AS VARCHAR)) FROM {ref} WHERE {ref_col} IS NOT NULL)"
        )
        n = con.execute(f"SELECT count(*) FROM ({sql})").fetchone()[0]
        if n:
            ex = [r[0] for r in con.execute(f"SELECT DISTINCT v FROM ({sql}) ORDER BY v LIMIT {MAX_EXAMPLES}").fetchall()]
            out.append(
                Violation(
                    spec.name,
                    path.name,
                    col,
                    f"must refer to a known {ref_table[:-1]} in {views[ref_table].name}",
                    n,
                    tuple(_value(e) for e in ex),
                )
            )
    return out


def _duplicate_rows(con, spec: TableSpec, path: Path, columns: list[str]) -> Violation | None:
    """Exact copies of a transaction row when there is no ``txn_id`` to tell purchases apart."""
    if spec.name != "transactions" or "txn_id" in columns:
        return None
    rel = relation_sql(path)
    copies = f"(SELECT *, count(*) AS _n FROM {rel} GROUP BY ALL HAVING count(*) > 1)"
    n, extra_spend = con.execute(
        f"SELECT coalesce(sum(_n - 1), 0), coalesce(sum((_n - 1) * TRY_CAST(amount AS DOUBLE)), 0) FROM {copies}"
    ).fetchone()
    if not n:
        return None
    total = con.execute(f"SELECT sum(TRY_CAST(amount AS DOUBLE)) FROM {rel}").fetchone()[0] or 0
    ex = con.execute(f"SELECT member_id, ts, amount, _n FROM {copies} ORDER BY _n DESC, 1, 2 LIMIT {MAX_EXAMPLES}").fetchall()
    share = f" ({extra_spend / total:.1%} of the spend)" if total else ""
    return Violation(
        spec.name,
        path.name,
        None,
        f"rows that are exact copies of another row, with no txn_id to tell purchases apart: a doubled export adds "
        f"{extra_spend:,.2f}{share}; remove the copies, or add txn_id if they are real repeat purchases",
        int(n),
        tuple(f"member_id={_value(m)}, ts={_value(t)}, amount={_value(a)} ({k} times)" for m, t, a, k in ex),
    )


def _header(path: Path) -> list[str]:
    """Column names as written in the file (duplicates kept, unlike a reader's renamed ones)."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)

    with path.open(encoding="utf-8-sig", newline="") as fh:
        return next(csv.reader(fh), [])


def _near_misses(data_dir: Path, table: str) -> list[str]:
    """Files that look like ``table`` but are not read (``Members.CSV``, ``members.xlsx``, ...)."""
    accepted = {f"{table}{ext}" for ext in FORMATS}
    return sorted(
        p.name for p in data_dir.iterdir() if p.is_file() and p.name not in accepted and p.name.lower().split(".")[0] == table
    )


CACHE_ENV = "MALLWAKE_CACHE_DIR"


_DIGESTS: dict[tuple, str] = {}


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (about 1.7 GB/s here, so 0.5 GB costs about 0.3 s).

    Memoised within the process by inode, size, modification *and* change time: ``cp -p`` and
    ``rsync -a`` can restore a modification time but never the change time, so a replaced file
    is always hashed again.
    """
    st = path.stat()
    memo = (str(path.resolve()), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    if memo not in _DIGESTS:
        with path.open("rb") as fh:
            _DIGESTS[memo] = hashlib.file_digest(fh, "sha256").hexdigest()
    return _DIGESTS[memo]


def fingerprint_files(paths: list[Path]) -> str:
    """SHA-256 over the names and the bytes' digests of the given files (order-independent)."""
    h = hashlib.sha256()
    for p in sorted(paths, key=lambda p: p.name):
        h.update(f"{p.name}:{file_digest(p)}|".encode())
    return h.hexdigest()


def files_key(data_dir: Path, *salt) -> str | None:
    """Key of a data directory's current contract files: their names and *contents*, the
    package version and ``salt`` (``None`` when the directory holds no contract file)."""
    data_dir = Path(data_dir)
    files = [p for paths in table_files(data_dir).values() for p in paths] if data_dir.is_dir() else []
    if not files:
        return None
    h = hashlib.sha256(f"{__version__}|{'|'.join(map(str, salt))}|".encode())
    h.update(fingerprint_files(files).encode())
    h.update("|".join(sorted(p.name for p in data_dir.iterdir())).encode())  # other files change the messages
    return h.hexdigest()


def _cache_key(data_dir: Path, as_of: dt.date, tiers: tuple[str, ...]) -> str | None:
    """Key of a passed validation: the files' contents (:func:`files_key`), the analysis date and tiers."""
    return files_key(data_dir, as_of, tiers)


def cache_root() -> Path:
    """Where mallwake keeps what it can rebuild: ``$MALLWAKE_CACHE_DIR`` or ``~/.cache/mallwake``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "mallwake")


def _cache_dir() -> Path:
    return cache_root() / "validation"


def _present_tiers(data_dir: Path) -> list[str]:
    """The tier values in the members file (for the default tier levels); ``[]`` if unreadable."""
    path = table_files(data_dir)["members"][:1] if Path(data_dir).is_dir() else []
    if not path or path[0].stat().st_size == 0:
        return []
    try:
        with duckdb.connect() as con:
            return [
                r[0]
                for r in con.execute(
                    f"SELECT DISTINCT trim(CAST(tier AS VARCHAR)) FROM {relation_sql(path[0])} WHERE tier IS NOT NULL"
                ).fetchall()
            ]
    except duckdb.Error:
        return []


def data_tiers(data_dir: str | Path, tiers: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The tier levels of a data folder, lowest first (see :func:`analysis.data.params.resolve_tiers`)."""
    if tiers or load_data_params(data_dir).get("tiers"):
        return resolve_tiers(data_dir, tiers)
    return resolve_tiers(data_dir, None, _present_tiers(Path(data_dir)))


def validate_data_dir(
    data_dir: str | Path,
    as_of: dt.date | str | None = None,
    tiers: tuple[str, ...] | None = None,
    use_cache: bool = True,
    strict: bool = False,
) -> ValidationReport:
    """Check every table in ``data_dir`` against the contract (cached when it passed).

    Parameters
    ----------
    data_dir
        Directory holding ``members``, ``transactions``, ``campaigns``, ``contacts`` and
        optionally ``visits``, each as ``.csv`` or ``.parquet``.
    as_of
        Analysis date; nothing may happen after it. Default: today.
    tiers
        Allowed tier levels, lowest first. Default: the data folder's ``mallwake.yaml``, else
        the default levels, else the levels found in the data (see :func:`data_tiers`).
    use_cache
        Reuse a passed validation of the same files (same names and contents), rules and
        version. The cache lives outside the data directory
        (``$MALLWAKE_CACHE_DIR`` or ``~/.cache/mallwake``); failures are never cached.
    strict
        Treat warnings (exact duplicate transactions, converted time zones, files that look
        like a table but are not read) as broken rules.

    Returns
    -------
    ValidationReport
        ``ok`` is true when every rule holds; ``violations`` lists what is broken and
        ``warnings`` what is allowed but worth a look.
    """
    data_dir = Path(data_dir)
    as_of_date = pd.Timestamp(as_of or dt.date.today()).date()

    try:
        declared = bool(tiers) or bool(load_data_params(data_dir).get("tiers"))
        tiers = data_tiers(data_dir, tiers)
    except ValueError as err:  # a broken mallwake.yaml
        return ValidationReport(data_dir, as_of_date, {}, (Violation("-", "mallwake.yaml", None, str(err), 0),))
    key = _cache_key(data_dir, as_of_date, tuple(tiers)) if use_cache else None
    inferred = undeclared_tiers(declared, tiers, "members", f"{data_dir.name}/mallwake.yaml")
    report = cached_pass(key, data_dir, as_of_date) if key else None
    if report is None:
        report = _validate(data_dir, as_of_date, tuple(tiers))
        if key:
            remember_pass(key, report)
    return with_policy(report, inferred, strict)


def undeclared_tiers(declared: bool, tiers, where: str, settings: str) -> Violation | None:
    """The warning that the tier levels were taken from the data (``None`` when declared or the defaults)."""
    if declared or tuple(tiers) == DEFAULT_TIERS:
        return None
    return Violation(
        "members",
        where,
        "tier",
        f"tier levels not declared: the levels in the data are used, "
        f"ordered alphabetically ({', '.join(tiers)}); list them lowest first as 'tiers' in "
        f"{settings} to fix their order and catch misspelt tiers",
        0,
    )


def cached_pass(key: str, name, as_of: dt.date, origins: dict | None = None) -> ValidationReport | None:
    """The passed validation cached under ``key`` (its row counts and warnings), else ``None``."""
    path = _cache_dir() / f"{key}.json"
    if not path.is_file():
        return None
    try:
        cached = json.loads(path.read_text())
        warned = tuple(Violation(**{**w, "examples": tuple(w["examples"])}) for w in cached["warnings"])
        return ValidationReport(name, as_of, cached["row_counts"], (), warned, origins=origins or {})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remember_pass(key: str, report: ValidationReport) -> None:
    """Cache a passed validation under ``key`` (failures are never cached)."""
    if not report.ok:
        return
    try:
        _cache_dir().mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            _cache_dir() / f"{key}.json",
            json.dumps({"row_counts": report.row_counts, "warnings": [asdict(w) for w in report.warnings]}),
        )
    except OSError:
        pass  # a read-only or full cache is fine: validation just runs again next time


def with_policy(report: ValidationReport, inferred: Violation | None, strict: bool) -> ValidationReport:
    """``report`` with the inferred-tiers warning added, and with every warning made a broken rule when ``strict``."""
    if inferred is not None and inferred not in report.warnings:
        report = replace(report, warnings=report.warnings + (inferred,))
    if strict and report.warnings:
        report = replace(report, violations=report.violations + report.warnings, warnings=())
    return report


def _validate(data_dir: Path, as_of: dt.date, tiers: tuple[str, ...]) -> ValidationReport:
    violations: list[Violation] = []
    warned: list[Violation] = []
    row_counts: dict[str, int] = {}
    if not data_dir.is_dir():
        v = Violation("-", str(data_dir), None, "data directory does not exist", 0)
        return ValidationReport(data_dir, as_of, row_counts, (v,))

    files = table_files(data_dir)
    usable: dict[str, Path] = {}
    for name, spec in TABLES.items():
        found = files[name]
        near = _near_misses(data_dir, name)
        if not found:
            if spec.required_table:
                rule = "required table is missing"
                if near:
                    rule += (
                        f"; found {', '.join(near)}, which is not read: give the table as {name}.csv (UTF-8) or "
                        f"{name}.parquet, with this lower-case name (save Excel sheets as CSV UTF-8)"
                    )
                violations.append(Violation(name, f"{name}.csv or {name}.parquet", None, rule, 0))
            elif near:
                warned.append(
                    Violation(
                        name,
                        ", ".join(near),
                        None,
                        f"not read: an optional table is read only as {name}.csv or {name}.parquet",
                        0,
                    )
                )
            continue
        if len(found) > 1:
            violations.append(
                Violation(name, " and ".join(p.name for p in found), None, "give each table as CSV or Parquet, not both", 0)
            )
            continue
        path = found[0]
        if near:
            warned.append(Violation(name, ", ".join(near), None, f"not read (the table is read from {path.name})", 0))
        if path.stat().st_size == 0:
            violations.append(
                Violation(name, path.name, None, "file is empty (0 bytes): export the table with its header row", 0)
            )
            continue
        if path.suffix == ".csv":
            bad = _utf8_violation(spec, path)
            if bad:
                violations.append(bad)
                continue
        usable[name] = path

    if "contacts" in usable and not files["campaigns"]:
        violations.append(
            Violation(
                "contacts",
                usable["contacts"].name,
                "campaign_id",
                "contacts need the campaigns they belong to: campaigns.csv or campaigns.parquet is missing",
                0,
            )
        )
    con = duckdb.connect()
    quiet_progress(con.execute)
    columns_of: dict[str, list[str]] = {}
    text_columns: dict[str, set[str]] = {}
    for name, path in list(usable.items()):
        spec = TABLES[name]
        try:
            header = _header(path)
            types = column_types(con, path)
            columns = list(types)
            text_columns[name] = {c for c, t in types.items() if t == "VARCHAR"}
        except (duckdb.Error, OSError, ValueError) as err:
            first = (csv_problem(path) if path.suffix == ".csv" else None) or str(err).strip().splitlines()[0]
            violations.append(Violation(name, path.name, None, f"could not be read as {path.suffix[1:].upper()} ({first})", 0))
            usable.pop(name)
            continue
        twice = sorted({c for c in header if header.count(c) > 1})
        if twice:
            violations.append(
                Violation(
                    name,
                    path.name,
                    ", ".join(twice),
                    "column names must be unique (a column appears twice)",
                    0,
                    (f"columns found: {', '.join(header)}",),
                )
            )
            usable.pop(name)
            continue
        missing = [c for c in spec.required if c not in columns]
        for col in missing:
            violations.append(
                Violation(name, path.name, col, "required column is missing", 0, (f"columns found: {', '.join(columns)}",))
            )
        if missing:
            usable.pop(name)
            continue
        columns_of[name] = columns
        found, n = _column_violations(con, spec, path, types, as_of, tiers)
        row_counts[name] = n
        violations.extend(found)
        warned.extend(_zone_warnings(spec, path))
        if n == 0 and not spec.may_be_empty:
            violations.append(Violation(name, path.name, None, "table is empty (no data rows)", 0))
    for name, path in usable.items():
        violations.extend(_sql_violations(con, TABLES[name], path, columns_of[name], usable, text_columns))
        dup = _duplicate_rows(con, TABLES[name], path, columns_of[name]) if not violations else None
        if dup is not None:
            warned.append(dup)
    con.close()
    return ValidationReport(data_dir, as_of, row_counts, tuple(violations), tuple(warned))
