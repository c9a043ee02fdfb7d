"""Checking what users type before any work: parameter errors and analysis dates.

Kept free of heavy imports so that ``mallwake validate`` starts fast.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from functools import lru_cache
from pathlib import Path

from analysis.data.config import DATA_PARAMS_FILE, DEFAULT_TIERS
from analysis.data.contract import FALSE_WORDS, TRUE_WORDS
from analysis.data.errors import ParameterError
from analysis.data.settings import check_data_settings, parse_settings, read_settings_bytes
from analysis.data.sources import settings_path


def parse_as_of(value) -> str | None:
    """``value`` as an ISO date string ``YYYY-MM-DD`` (``None``/empty: none given), else :class:`ParameterError`."""
    if value is None or str(value).strip() in ("", "latest"):
        return None
    text = str(value).strip()
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError(text)
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise ParameterError(f"analysis date {text!r} is not a date: give it as YYYY-MM-DD, e.g. 2024-12-31") from None


def parameter_value(name: str, value, type_name: str, where: str):
    """``value`` (text typed after ``-p``, or a YAML value from ``mallwake.yaml``) as a parameter
    declared with type ``type_name`` (``int``, ``float``, ``bool``, ``str``, ``list``); a YAML list
    or number for a text parameter becomes its text. :class:`ParameterError` naming ``where``."""
    if isinstance(value, list) and type_name == "str":
        value = ",".join(str(v) for v in value)
    elif isinstance(value, (int, float, bool, dt.date)) and type_name == "str":
        value = value.isoformat() if isinstance(value, dt.date) else str(value)
    if not isinstance(value, str):
        return value
    try:
        if type_name == "int":
            return int(value)
        if type_name == "float":
            return float(value)
        if type_name == "bool":
            low = value.strip().lower()
            if low in TRUE_WORDS:
                return True
            if low in FALSE_WORDS:
                return False
            raise ValueError(value)
        if type_name.startswith("list"):
            return [v.strip() for v in value.split(",") if v.strip()]
    except ValueError:
        raise ParameterError(f"parameter {name}={value!r}: {where} expects a value of type {type_name}") from None
    return value


#: A data folder's own parameters: defaults for every notebook that declares them (the study's
#: roles for the demo; a mall's tiers, thresholds and campaign roles), read by the runner.


def load_data_params(data_dir) -> dict:
    """The mapping in ``<data_dir>/mallwake.yaml`` (``{}`` when there is none).

    Keys are notebook parameter names (``target_tier``, ``before_campaign``, ...) plus ``tiers``
    (the tier levels, lowest first), ``display_names`` and ``currency``, checked against
    :func:`analysis.data.settings.data_settings_model`. Raises :class:`ParameterError` naming the
    file and key when it breaks that schema.
    """
    path = settings_path(data_dir, DATA_PARAMS_FILE)  # in a data folder, or beside a source's connection file
    if path is None or not path.exists():
        return {}
    # parsed and checked once per content (a kernel's set-up asks several times); a copy each time
    return copy.deepcopy(_checked_params(str(path), read_settings_bytes(path, DATA_PARAMS_FILE)))


@lru_cache(maxsize=32)
def _checked_params(path: str, data: bytes) -> dict:
    loaded = parse_settings(data, path, DATA_PARAMS_FILE)
    if loaded is None:
        return {}
    if not isinstance(loaded, dict) or not all(isinstance(k, str) for k in loaded):
        raise ParameterError(f"{path}: must be a mapping of parameter names to values")
    return check_data_settings(Path(path), loaded)


def resolve_tiers(data_dir, tiers=None, present=None) -> tuple[str, ...]:
    """The tier levels, lowest first: ``tiers`` if given, else the data folder's ``mallwake.yaml``,
    else the default levels when the data use only those, else the levels in the data
    (``present``), in alphabetical order (order them in ``mallwake.yaml``)."""
    if tiers:
        return tuple(tiers)
    declared = load_data_params(data_dir).get("tiers")
    if declared:
        return tuple(str(t).strip() for t in declared)
    found = sorted({str(t).strip() for t in (present or []) if t is not None and str(t).strip()})
    if not found or set(found) <= set(DEFAULT_TIERS):
        return DEFAULT_TIERS
    return tuple(found)
