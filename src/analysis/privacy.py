"""Keep personal data out of reports: pseudonyms for members, suppression of small cells."""

from __future__ import annotations

import hashlib
import os

import pandas as pd

from .config import MIN_CELL_SIZE

SALT_ENV = "MALLWAKE_SALT"


def pseudonymize(ids: pd.Series, salt: str | None = None) -> pd.Series:
    """Replace member ids by salted pseudonyms (``P-`` and 10 hex digits).

    The salt comes from ``salt``, else the ``MALLWAKE_SALT`` environment variable, else a
    fixed project salt; set your own salt so pseudonyms cannot be matched across malls.
    """
    salt = salt or os.environ.get(SALT_ENV, "mallwake")
    key = salt.encode()

    def one(x: object) -> str:
        return "P-" + hashlib.blake2b(str(x).encode(), key=key[:64], digest_size=5).hexdigest()

    return ids.map(one)


def suppress_small_cells(table: pd.DataFrame, count_column: str, min_size: int = MIN_CELL_SIZE) -> pd.DataFrame:
    """Blank every value of a row whose group has fewer than ``min_size`` members.

    Returns a copy; suppressed rows keep their labels and show ``"<{min_size}"`` as count.
    """
    out = table.copy().astype(object)
    small = table[count_column] < min_size
    value_cols = [c for c in table.columns if pd.api.types.is_numeric_dtype(table[c])]
    out.loc[small, value_cols] = None
    out.loc[small, count_column] = f"<{min_size}"
    return out


def suppress_small_counts(table: pd.DataFrame, min_size: int = MIN_CELL_SIZE) -> pd.DataFrame:
    """Show every count from 1 to ``min_size - 1`` of a count table (e.g. a matrix) as ``"<min_size"``."""
    out = table.astype(object).copy()
    for col in table.columns:
        if pd.api.types.is_numeric_dtype(table[col]):
            small = (table[col] > 0) & (table[col] < min_size)
            out.loc[small, col] = f"<{min_size}"
    return out
