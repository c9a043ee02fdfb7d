"""Keep personal data out of reports: pseudonyms for members, suppression of small cells."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

import pandas as pd

from analysis.data.config import MIN_CELL_SIZE
from analysis.data.errors import MallwakeError

SALT_ENV = "MALLWAKE_SALT"
SECRET_FILE_ENV = "MALLWAKE_SECRET_FILE"
#: Hex digits of a pseudonym: 80 bits, so two of ten million members collide with odds ~4e-11.
PSEUDONYM_HEX = 20


class PrivacyError(MallwakeError, ValueError):
    """The pseudonym key is unusable (for example an empty ``MALLWAKE_SALT``)."""


def secret_path() -> Path:
    """Where the random pseudonym key lives: ``$MALLWAKE_SECRET_FILE`` or
    ``$XDG_CONFIG_HOME/mallwake/secret`` (default ``~/.config/mallwake/secret``)."""
    if os.environ.get(SECRET_FILE_ENV):
        return Path(os.environ[SECRET_FILE_ENV])
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "mallwake" / "secret"


def _stored_secret() -> bytes:
    """The machine's random key, created on first use (owner-only permissions, never overwritten)."""
    path = secret_path()
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
        try:
            os.link(tmp, path)  # atomic and never replaces a key another process created first
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    key = path.read_text().strip()
    if len(key) < 32:
        raise PrivacyError(f"the pseudonym key in {path} is too short (under 32 characters): delete it to get a new one")
    return key.encode()


def pseudonym_key(salt: str | None = None) -> bytes:
    """The secret key of pseudonyms: ``salt``, else ``$MALLWAKE_SALT``, else the stored random key."""
    if salt is None and SALT_ENV in os.environ:
        salt = os.environ[SALT_ENV]
        if not salt.strip():
            raise PrivacyError(f"{SALT_ENV} is set but empty: set a long random secret or unset it to use {secret_path()}")
    if salt is not None:
        if len(salt) < 16:
            raise PrivacyError("a pseudonym key must have at least 16 characters (a long random secret)")
        return salt.encode()
    return _stored_secret()


def pseudonymize(ids: pd.Series, salt: str | None = None) -> pd.Series:
    """Replace member ids by keyed pseudonyms (``P-`` and 20 hex digits of HMAC-SHA256).

    The key is secret (see :func:`pseudonym_key`): without it a pseudonym cannot be traced back
    to a member id, even by trying every possible id. The same key gives the same pseudonyms,
    so reports of one mall can be joined; a different key (another mall, another machine)
    gives unrelated ones.
    """
    key = pseudonym_key(salt)

    def one(x: object) -> str:
        return "P-" + hmac.new(key, str(x).encode(), hashlib.sha256).hexdigest()[:PSEUDONYM_HEX]

    return ids.map(one)


def mask_ids(frame: pd.DataFrame, column: str = "member_id") -> pd.DataFrame:
    """A copy of ``frame`` with ``column`` replaced by pseudonyms, for showing rows in a report."""
    if column not in frame.columns:
        return frame
    return frame.assign(**{column: pseudonymize(frame[column])})


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


def suppress_small_counts(
    table: pd.DataFrame, min_size: int = MIN_CELL_SIZE, derived: dict[str, tuple[str, ...]] | None = None
) -> pd.DataFrame:
    """Show every count from 1 to ``min_size - 1`` of a count table (e.g. a matrix) as ``"<min_size"``.

    ``derived`` names columns computed from others (``{"change": ("previous", "now")}``): such a
    column is not a count of members itself; it is hidden exactly when one of its sources is (else
    it would give the hidden count away), whatever its own size.
    """
    derived = derived or {}
    out = table.astype(object).copy()
    hidden = {}
    for col in table.columns:
        if col in derived or not pd.api.types.is_numeric_dtype(table[col]):
            continue
        hidden[col] = (table[col] > 0) & (table[col] < min_size)
        out.loc[hidden[col], col] = f"<{min_size}"
    for col, sources in derived.items():
        if col in table.columns:
            mask = pd.Series(False, index=table.index)
            for src in sources:
                mask |= hidden.get(src, False)
            out.loc[mask, col] = "–"
    return out
