"""Model fits computed once per input: a warm run reuses them.

A model fit (the BG/NBD, MBG/NBD, Pareto/NBD and Gamma-Gamma likelihoods of the lifecycle report,
the clusters of the segmentation report, the cross-fitted uplift models of the campaign report) is a
pure function of its inputs (arrays, a seed) and of the code that fits it, and the slowest step of
its report. :func:`memoized`
keeps each fit's result in joblib's on-disk cache (``Memory``) in the folder :func:`use` names, in
a subfolder named by a hash of the statistics code and the versions of NumPy, SciPy, statsmodels
and pandas: a change to any of them starts a new subfolder, so a result is reused only for the same
inputs and the same code. The warnings a fit gave (a fit that did not converge) are kept with it and
given again when it is reused, so a report reads the same whether its fits were computed or reused.

A per-member table several reports derive from the same data (the member features) is kept the
same way by :func:`memoized_on_data`, keyed by the data's content (its fingerprint), analysis date,
tier levels and member attributes, and the function's arguments.

``mallwake run`` and ``mallwake month`` name the folder (``fits/`` in the cache root,
``$MALLWAKE_CACHE_DIR`` or ``~/.cache/mallwake``, beside the staged data, which is also kept by
content) through the notebook's set-up; a notebook opened by hand computes every fit.
``MALLWAKE_FIT_CACHE=0`` turns the cache off for a run.
"""

from __future__ import annotations

import functools
import hashlib
import os
import warnings
from importlib.metadata import version
from pathlib import Path

#: ``0`` (or ``off``, ``no``, ``false``): every fit is computed.
FIT_CACHE_ENV = "MALLWAKE_FIT_CACHE"

#: The folder of this kernel's fit cache (:func:`use`); ``None``: every fit is computed.
_location: list[Path] = []


def use(folder) -> None:
    """Keep this kernel's fits in ``folder`` (``None`` or empty: compute every fit)."""
    _location[:] = [Path(folder)] if folder else []


def code_key() -> str:
    """A hash of the statistics and data packages' sources (how a result is computed, and how the
    tables it reads are typed and derived) and of the numerical libraries' versions."""
    h = hashlib.sha256()
    package = Path(__file__).resolve().parent.parent
    for root in (package / "statistics", package / "data"):
        for path in sorted(root.rglob("*.py")):
            h.update(path.relative_to(package).as_posix().encode())
            h.update(path.read_bytes())
    for lib in ("numpy", "scipy", "statsmodels", "pandas"):
        h.update(f"{lib}=={version(lib)}".encode())
    return h.hexdigest()[:16]


@functools.cache
def _memory(location: str):
    import joblib  # loaded with the first fit, not with the package

    return joblib.Memory(location, verbose=0)


def _enabled() -> bool:
    return bool(_location) and os.environ.get(FIT_CACHE_ENV, "1").strip().lower() not in ("0", "off", "no", "false")


def _with_warnings(fn):
    """``fn`` returning ``(result, warnings it gave)``: a reused result gives them again."""

    @functools.wraps(fn)
    def recorded(*args, **kwargs):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = fn(*args, **kwargs)
        return result, [(str(w.message), w.category) for w in caught]

    recorded.__qualname__ = fn.__qualname__  # joblib files a function's results by its name and code
    return recorded


def memoized(fn):
    """``fn`` with its results kept on disk per input (see the module's docstring)."""
    recorded = _with_warnings(fn)

    @functools.wraps(fn)
    def cached(*args, **kwargs):
        if not _enabled():
            return fn(*args, **kwargs)
        location = _location[0] / _code_key()
        result, said = _memory(str(location)).cache(recorded)(*args, **kwargs)
        for message, category in said:
            warnings.warn(message, category, stacklevel=2)
        return result

    cached.uncached = fn
    return cached


def data_key(data) -> tuple | None:
    """What a result computed from ``data`` (a :class:`~analysis.data.dataset.MallData`) depends on
    besides its arguments: the content of its tables (the fingerprint), the analysis date, the tier
    levels and the member attributes it reads; ``None`` (not kept) without a fingerprint."""
    if not getattr(data, "fingerprint", ""):
        return None
    return (str(data.fingerprint), str(data.as_of), tuple(map(str, data.tiers)), tuple(map(str, data.member_attributes)))


def memoized_on_data(fn):
    """``fn(data, *args, **kwargs)`` with its results kept on disk per data content (:func:`data_key`)
    and arguments, beside the fits: a per-member table that several reports of a run derive from
    the same data (the member features) is computed once for them all. Off and on as the fits."""

    def keyed(key, args, kwargs, data=None):
        return fn(data, *args, **kwargs)

    keyed.__qualname__ = fn.__qualname__  # joblib files a function's results by its name and code
    keyed.__module__ = fn.__module__
    recorded = _with_warnings(keyed)

    @functools.wraps(fn)
    def cached(data, *args, **kwargs):
        key = data_key(data)
        if not _enabled() or key is None:
            return fn(data, *args, **kwargs)
        location = _location[0] / _code_key()
        result, said = _memory(str(location)).cache(recorded, ignore=["data"])(key, args, kwargs, data=data)
        for message, category in said:
            warnings.warn(message, category, stacklevel=2)
        return result

    cached.uncached = fn
    return cached


@functools.cache
def _code_key() -> str:
    return code_key()
