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
