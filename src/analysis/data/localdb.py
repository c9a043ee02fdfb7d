"""The Ibis connection the reports query the local stage (or the files) through: :class:`LocalBackend`.

Apart from :mod:`analysis.data.duckio` so that validation, which reads files with DuckDB alone,
does not import Ibis's DuckDB backend (0.17 s at the start of ``mallwake validate``).
"""

from __future__ import annotations

import ibis.backends.duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.types as pat


class LocalBackend(ibis.backends.duckdb.Backend):
    """Ibis's DuckDB backend for the local stage, with results turned into pandas by pyarrow's
    column conversion.

    Ibis 12 turns every result column that holds a null into a Python list first (``to_pylist``,
    one object per value; it means to catch columns DuckDB typed from a ``NULL`` literal), then
    back into the schema's dtype: for a million members' features 4 s of the 5.5 s a query took,
    in every report. Here only the columns that need it go that way (nested, dictionary, null-typed
    or entirely null: what ibis's comment is about); numbers, strings, booleans, dates and times go
    through ``Array.to_pandas`` and the same schema conversion. The frames are equal, dtypes
    included (tests/test_private_apis.py compares both ways over every column type the data use).
    """

    def execute(self, expr, /, *, params=None, limit=None, **kwargs):
        import pyarrow_hotfix  # noqa: F401  (as ibis does before it reads Arrow)
        from ibis.backends.duckdb.converter import DuckDBPandasData

        table = self._to_duckdb_relation(expr, params=params, limit=limit, **kwargs).to_arrow_table()
        df = pd.DataFrame({name: _column(col) for name, col in zip(table.column_names, table.columns)})
        return expr.__pandas_result__(DuckDBPandasData.convert_table(df, expr.as_table().schema()))


def _column(col: pa.ChunkedArray):
    """One result column for :meth:`LocalBackend.execute`: pyarrow's conversion where it gives what
    ibis's list route would after the schema's conversion, the list route elsewhere."""
    t = col.type
    if pat.is_nested(t) or pat.is_dictionary(t) or pat.is_null(t) or (len(col) and col.null_count == len(col)):
        return col.to_pylist()
    if col.null_count and not any(
        f(t)
        for f in (
            pat.is_integer,
            pat.is_floating,
            pat.is_boolean,
            pat.is_string,
            pat.is_large_string,
            pat.is_date,
            pat.is_timestamp,
            pat.is_decimal,
        )
    ):
        return col.to_pylist()
    return col.to_pandas()


def connect_local() -> LocalBackend:
    """An in-memory DuckDB connection (:class:`LocalBackend`) for the stage or the files."""
    return LocalBackend().connect()
