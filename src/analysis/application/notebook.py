"""The set-up of every report notebook, in one call (:func:`start`).

A notebook's first code cell after its parameters is
``data = start(data_dir, as_of, lang, namespace=globals())``: tables displayed escaped (a value
from the data can never be read as HTML), the language, currency and display names of the data
folder's ``mallwake.yaml``, and the data, validated. Nothing happens when ``analysis`` is merely
imported.

**The lab is the runner.** ``mallwake run`` gives each notebook the data folder's settings
(``mallwake.yaml``: the study's roles, tiers, features) as parameters, and says so with
``settings_applied=True``. A notebook opened in JupyterLab gets no parameters, so :func:`start`
applies the same settings to the notebook's own variables, and prints which: the same data give
the same report either way.
"""

from __future__ import annotations

from analysis.data.dataset import load_dataset
from analysis.data.params import load_data_params, parameter_value
from analysis.presentation.display import register_kernel_formatters
from analysis.presentation.formats import configure
from analysis.presentation.languages import language
from analysis.presentation.plots import use_language
from analysis.statistics import memo

#: Keys of mallwake.yaml that are the data's own settings, not notebook parameters.
_DATA_KEYS = ("tiers", "display_names")


def start(data_dir, as_of: str = "", lang: str = "en", currency: str | None = None, namespace: dict | None = None):
    """Set up a notebook and return the data (:class:`~analysis.data.dataset.MallData`) of ``data_dir``
    (a folder or a source) as of ``as_of`` (empty: the last day in the data).

    ``namespace`` (the notebook's ``globals()``): unless the runner already applied them
    (``settings_applied``), the data folder's settings replace the notebook's defaults of the
    parameters they name, as ``mallwake run`` does."""
    register_kernel_formatters()  # in a kernel: every displayed table escaped (no-op elsewhere)
    if namespace is not None and not namespace.get("settings_applied", False):
        applied = apply_data_settings(data_dir, namespace)
        if applied:
            print("from the data folder's mallwake.yaml, as mallwake run: " + ", ".join(f"{k}={v!r}" for k, v in applied.items()))
        lang, currency = namespace.get("lang", lang), namespace.get("currency", currency)
        as_of = namespace.get("as_of", as_of)
    if namespace is not None:  # the runner names where the run keeps its model fits; by hand: computed
        memo.use(namespace.get("fit_cache_dir") or None)
    ctx = configure(data_dir, lang=lang, currency=currency)
    if language(ctx.lang).cjk:  # figures in Chinese need the Chinese font
        use_language(ctx.lang)
    return load_dataset(data_dir, as_of=as_of or None)


def apply_data_settings(data_dir, namespace: dict) -> dict:
    """Set each parameter of ``namespace`` that the data folder's ``mallwake.yaml`` names to its
    value there, converted to the type of the notebook's default; returns what changed."""
    changed = {}
    for name, value in load_data_params(data_dir).items():
        if name in _DATA_KEYS or name not in namespace or name.startswith("_"):
            continue
        current = namespace[name]
        new = parameter_value(name, value, type(current).__name__, "the data folder's mallwake.yaml")
        if new != current:
            namespace[name] = new
            changed[name] = new
    return changed
