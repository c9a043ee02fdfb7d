"""Writing the report site safely: names that are not paths, locks, atomic files, full disks.

A run may be started by cron and by a person at the same moment, on a shared server whose
report folder is copied to an intranet. Everything that writes under ``--out`` (or the exports
folder) goes through these helpers, so a run only ever touches its own run folder.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from analysis.data.errors import EXIT_FAILED, MallwakeError, ParameterError

#: A label is one plain name: letters (any script), digits, ``.``, ``_``, ``-``; no leading dot.
_LABEL = re.compile(r"(?!\.)[\w.\-]{1,100}")  # whole name (fullmatch: "$" would let a final newline through)
#: Suffixes the runner gives its own folders; a label may not end in them.
RESERVED_SUFFIXES = ("-failed", ".partial", ".old")
#: Hidden folder beside the runs that holds the locks and the notebook-time history.
STATE_DIR = ".mallwake"


class UnsafeNameError(MallwakeError, ValueError):
    """A name given by a user (a run label) that could be read as a path or break a URL."""


class RunLockedError(MallwakeError, RuntimeError):
    """Another mallwake process is writing the same run folder."""


class DiskFullError(MallwakeError, OSError):
    """No space left where a run writes; carries a one-line message."""

    exit_code = EXIT_FAILED


def check_label(label: str, what: str = "--label") -> str:
    """Return ``label`` if it is a safe run-folder name, else raise :class:`UnsafeNameError`.

    A label is a name, not a path: no separators, no ``.``/``..``, no characters that need
    quoting in a file name or a URL, at most 100 characters, and not one of the runner's own
    suffixes (``-failed``, ``.partial``, ``.old``).
    """
    if not isinstance(label, str) or not _LABEL.fullmatch(label) or label in (".", ".."):
        raise UnsafeNameError(
            f"{what} {label!r} is not a plain name: use 1-100 letters, digits, '.', '_' or '-' "
            "(no path separators, spaces or leading dot)"
        )
    if label.endswith(RESERVED_SUFFIXES):
        raise UnsafeNameError(f"{what} {label!r} must not end in {', '.join(RESERVED_SUFFIXES)} (the runner uses them)")
    return label


class UnsafeFolderError(ParameterError):
    """A folder given by a user (``--out``, ``--exports``) that mallwake may not write in."""


def check_folder(path: Path, option: str) -> Path:
    """``path`` if mallwake may write in it: a folder that does not exist yet, an empty one, or
    one mallwake made (it holds ``.mallwake/``); else :class:`UnsafeFolderError` naming
    ``option`` and a few of the files in it.
    Reads only: nothing is created here (:func:`mark_folder` marks it when the run writes)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UnsafeFolderError(f"{option} {path} is a file, not a folder")
    if not path.is_dir() or (path / STATE_DIR).is_dir():
        return path
    others = sorted(p.name for p in path.iterdir())
    if others:
        shown = ", ".join(repr(n) for n in others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
        raise UnsafeFolderError(
            f"{option} {path} is not a folder mallwake made and is not empty ({shown}); a run replaces "
            f"folders and pages there: give a new or empty folder (a folder an earlier mallwake made: "
            f"create an empty {STATE_DIR}/ in it to let runs write there)"
        )
    return path


def mark_folder(path: Path) -> Path:
    """Create ``path`` if needed and mark it as mallwake's (its ``.mallwake/`` folder)."""
    state_dir(path)
    return Path(path)


def safe_name(text: str) -> str:
    """``text`` turned into a safe label (unsafe characters become ``-``), for default labels."""
    name = re.sub(r"[^\w.\-]+", "-", str(text)).strip(".-") or "data"
    for suffix in RESERVED_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)] + "_" + suffix.strip(".-")
    return name[:100]


def state_dir(out_dir: Path) -> Path:
    path = Path(out_dir) / STATE_DIR
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def locked(path: Path, *, wait: bool, what: str):
    """Hold an exclusive ``flock`` on ``path`` (created if needed) for the ``with`` block.

    ``wait=False`` raises :class:`RunLockedError` at once when another process holds it, naming
    that process (its pid and start time are written into the lock file). Locks are released by
    the kernel when a process dies, so a killed run never leaves a stale lock.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            raise RunLockedError(f"{what} is being written by {holder}; wait for it to finish or use another --label") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"mallwake pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def atomic_write(path: Path, write, mode: int = 0o644) -> Path:
    """Write ``path`` whole or not at all: ``write(tmp)`` fills a unique temporary file in the
    same folder (its name ends like ``path``, for writers that check the extension), which is
    then given ``mode`` and renamed into place."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a unique temporary file in the same folder, then rename."""
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def is_disk_full(err: BaseException) -> bool:
    """Whether ``err`` (or what caused it) says the disk or quota is full."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "No space left on device" in str(err) or "Disk quota exceeded" in str(err):
            return True
        err = err.__cause__ or err.__context__
    return False


@contextlib.contextmanager
def new_folder(path: Path):
    """Create folder ``path`` (and missing parents) for the ``with`` block; if the block fails,
    remove the folders this created, when they are still empty (nothing else is touched)."""
    path = Path(path)
    made = []
    for folder in [*reversed(path.parents), path]:
        if not folder.exists():
            made.append(folder)
    path.mkdir(parents=True, exist_ok=True)
    try:
        yield path
    except BaseException:
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def clean_staging(out_dir: Path, label: str, option: str = "--out") -> None:
    """Remove the staging folder a killed run of ``label`` left in ``out_dir`` (call under the
    label's lock). A *file* of that name is not ours: :class:`UnsafeFolderError`."""
    for name in (f".{label}.partial", f".{label}.old"):
        leftover = Path(out_dir) / name
        if leftover.is_symlink() or (leftover.exists() and not leftover.is_dir()):
            raise UnsafeFolderError(
                f"{option} {out_dir} holds {name}, which is not a folder mallwake made (a run of {label} "
                "stages its files there): move or remove it"
            )
        if leftover.is_dir():
            shutil.rmtree(leftover)


def replace_dir(src: Path, dst: Path) -> None:
    """Put folder ``src`` in place of ``dst``: the old ``dst`` is set aside first and removed
    only once ``src`` is in place, so a crash never leaves neither."""
    old = dst.with_name(f".{dst.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if dst.exists():
        dst.rename(old)
    src.rename(dst)
    shutil.rmtree(old, ignore_errors=True)
