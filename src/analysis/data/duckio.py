"""DuckDB reading the contract's files: the table function of a file, the CSV dialect, no progress bar.

Shared by validation (which reads every file) and the sources (which stage files into a database).
"""

from __future__ import annotations

from pathlib import Path

import duckdb


def quiet_progress(execute) -> None:
    """Turn DuckDB's progress bar off (it would print into reports and terminal logs)."""
    try:
        execute("SET enable_progress_bar = false")
    except duckdb.Error:
        pass  # inside Jupyter without ipywidgets DuckDB refuses the setting but shows no bar


#: The contract's CSV dialect, given rather than sniffed: a broken line then fails the read
#: instead of turning the whole file into one column.
CSV_DIALECT = "delim=',', quote='\"', escape='\"'"


def quote_ident(name: str) -> str:
    """``name`` as a quoted SQL identifier (embedded quotes doubled): never read as SQL."""
    return '"' + str(name).replace('"', '""') + '"'


def quote_literal(value) -> str:
    """``value`` as a quoted SQL string literal (embedded quotes doubled): never read as SQL."""
    return "'" + str(value).replace("'", "''") + "'"


def relation_sql(path: Path) -> str:
    """DuckDB table function reading one contract file; CSVs are read as text."""
    if path.suffix == ".csv":
        return f"read_csv({quote_literal(path)}, all_varchar=true, header=true, {CSV_DIALECT})"
    return f"read_parquet({quote_literal(path)})"
