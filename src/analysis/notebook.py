"""The set-up of every report notebook, in one call (:func:`start`).

A notebook's first code cell after its parameters is ``data = start(data_dir, as_of, lang)``:
tables displayed escaped (a value from the data can never be read as HTML), the language,
currency and display names of the data folder's ``mallwake.yaml``, and the data, validated.
Nothing happens when ``analysis`` is merely imported.
"""

from __future__ import annotations


def start(data_dir, as_of: str = "", lang: str = "en", currency: str | None = None):
    """Set up a notebook and return the data (:class:`~analysis.dataset.MallData`) of ``data_dir``
    (a folder or a source) as of ``as_of`` (empty: the last day in the data)."""
    from .dataset import load_dataset
    from .display import register_kernel_formatters
    from .present import configure

    register_kernel_formatters()  # in a kernel: every displayed table escaped (no-op elsewhere)
    configure(data_dir, lang=lang, currency=currency)
    return load_dataset(data_dir, as_of=as_of or None)
