"""Checking what users type before any work: parameter errors and analysis dates.

Kept free of heavy imports so that ``mallwake validate`` starts fast.
"""

from __future__ import annotations

import datetime as dt
import re


class ParameterError(ValueError):
    """A parameter the notebooks do not declare, a value of the wrong type, or a bad date."""


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
