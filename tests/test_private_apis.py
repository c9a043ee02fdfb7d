"""The private APIs of other libraries that mallwake overrides, pinned (issue 27).

Where a library has no public way to do what a report needs, the code uses its private API with a
comment saying why; each use is pinned here, so an upgrade that renames or changes it fails this
test by name instead of silently dropping what it did (an unescaped table, a figure without its
text alternative, a kernel's leftover socket folder).
"""

from __future__ import annotations

import inspect
from collections import defaultdict

import pandas as pd


def test_pandas_styler_keeps_its_formatters_where_escape_styler_wraps_them():
    """pandas' ``Styler(escape=...)`` escapes only formats given explicitly and never the headers;
    ``present.escape_styler`` wraps the formatter tables instead. If they move, nothing is escaped."""
    from analysis.presentation.present import _FUNCS, escape_styler

    styler = pd.DataFrame({"<b>col</b>": ["<script>x</script>"]}, index=["<i>row</i>"]).style
    for name in _FUNCS:
        assert isinstance(getattr(styler, name, None), defaultdict), f"pandas.io.formats.style.Styler.{name} moved"
    page = escape_styler(styler).to_html()
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;b&gt;col&lt;/b&gt;" in page


def test_matplotlib_inline_builds_figure_metadata_in_the_function_display_wraps():
    """Inline figures get their text alternative and smallest text size through
    ``matplotlib_inline.backend_inline._fetch_figure_metadata`` (no public hook exists)."""
    from matplotlib_inline import backend_inline

    fetch = backend_inline._fetch_figure_metadata
    assert list(inspect.signature(fetch).parameters) == ["fig"]
    assert "_fetch_figure_metadata(" in inspect.getsource(backend_inline.show)  # still what show() calls


def test_jupyter_client_kernel_manager_hooks_the_runner_overrides():
    """``execution._IPCKernelManager`` overrides jupyter_client's async interrupt and clean-up
    hooks (no interrupt after the last cell; the kernel's socket folder removed)."""
    from jupyter_client.manager import AsyncKernelManager

    from analysis.application.execution import _IPCKernelManager

    for hook in ("_async_interrupt_kernel", "_async_cleanup_resources", "_ip_default", "format_kernel_cmd"):
        assert hook in vars(AsyncKernelManager) or any(hook in vars(c) for c in AsyncKernelManager.__mro__), hook
        assert hook in vars(_IPCKernelManager) or hook == "format_kernel_cmd", hook
    assert "restart" in inspect.signature(AsyncKernelManager._async_cleanup_resources).parameters


def test_jupyter_client_readiness_and_shutdown_hooks_the_runner_overrides():
    """``execution._ReadyClient.wait_for_ready`` replaces jupyter_client's (nbclient calls it by that
    name) and uses the client's private ``_handle_kernel_info_reply`` and ``_async_is_alive``; the
    manager's ``_async_finish_shutdown`` is what a shutdown awaits, with a poll interval to shorten."""
    from jupyter_client.asynchronous import AsyncKernelClient
    from jupyter_client.manager import AsyncKernelManager
    from nbclient.client import NotebookClient

    from analysis.application.execution import _IPCKernelManager, _ReadyClient

    assert "wait_for_ready(" in inspect.getsource(NotebookClient.async_start_new_kernel_client)
    for name in ("_handle_kernel_info_reply", "_async_is_alive", "_async_wait_for_ready"):
        assert hasattr(AsyncKernelClient, name), name
    assert _IPCKernelManager().client_factory is _ReadyClient
    assert list(inspect.signature(AsyncKernelManager._async_finish_shutdown).parameters) == [
        "self",
        "waittime",
        "pollinterval",
        "restart",
    ]
    assert "self._async_finish_shutdown(" in inspect.getsource(AsyncKernelManager._async_shutdown_kernel)


def test_the_local_duckdb_backend_gives_the_frames_ibis_gives_faster():
    """``localdb.LocalBackend.execute`` converts result columns with pyarrow where ibis 12 goes
    through Python lists (every column holding a null); the frames must stay equal, dtypes
    included, for every column type the data use (and for what ibis's list route is for: a column
    DuckDB typed from a NULL literal, entirely null). It reuses ibis's ``_to_duckdb_relation``,
    ``DuckDBPandasData.convert_table`` and ``__pandas_result__``: an upgrade that changes them fails here."""
    import ibis

    from analysis.data.localdb import connect_local

    sql = """SELECT i AS id,
        CASE WHEN i % 3 = 0 THEN NULL ELSE i END AS n_int,
        CASE WHEN i % 3 = 0 THEN NULL ELSE i::INTEGER END AS n_int32,
        CASE WHEN i % 4 = 0 THEN NULL ELSE i * 1.5::DOUBLE END AS n_float,
        CASE WHEN i % 4 = 0 THEN NULL ELSE i * 1.5 END AS n_decimal,
        CASE WHEN i % 5 = 0 THEN NULL ELSE 'm' || i END AS n_str,
        CASE WHEN i % 6 = 0 THEN NULL ELSE DATE '2024-01-01' + CAST(i % 900 AS INTEGER) END AS n_date,
        CASE WHEN i % 7 = 0 THEN NULL ELSE TIMESTAMP '2024-01-01 10:00' + INTERVAL (i) MINUTE END AS n_ts,
        CASE WHEN i % 7 = 0 THEN NULL ELSE TIMESTAMPTZ '2024-01-01 10:00:00+00' + INTERVAL (i) MINUTE END AS n_tstz,
        CASE WHEN i % 8 = 0 THEN NULL ELSE i % 2 = 0 END AS n_bool,
        i % 2 = 0 AS flag, i * 0.25 AS x, 'k' || (i % 3) AS s,
        NULL AS all_null, CAST(NULL AS VARCHAR) AS null_str, CAST(NULL AS BIGINT) AS null_int,
        [i, i + 1] AS nested
        FROM range(5000) t(i)"""
    theirs, ours = ibis.duckdb.connect(), connect_local()
    a, b = theirs.sql(sql).to_pandas(), ours.sql(sql).to_pandas()
    pd.testing.assert_frame_equal(a, b)
    assert type(ours).execute is not type(theirs).execute
    for expr in (ours.sql(sql).n_int.sum(), ours.sql(sql).n_str, ours.sql(sql).limit(0)):  # a scalar, a column, no rows
        other = theirs.sql(sql)
        same = {"Scalar": other.n_int.sum(), "Column": other.n_str, "Table": other.limit(0)}
        kind = "Scalar" if "Scalar" in type(expr).__name__ else "Column" if "Column" in type(expr).__name__ else "Table"
        got, want = expr.to_pandas() if kind != "Scalar" else expr.execute(), same[kind].execute()
        if kind == "Scalar":
            assert got == want
        elif kind == "Column":
            pd.testing.assert_series_equal(got, want)
        else:
            pd.testing.assert_frame_equal(got, want)
