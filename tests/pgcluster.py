"""A throw-away PostgreSQL cluster on a local port, for the tests and the benchmark.

Uses the server programs on the PATH or Debian's ``/usr/lib/postgresql/<version>/bin`` (the
``postgresql`` package that ``.ci/run`` installs). The cluster lives in a temporary folder,
listens on 127.0.0.1 only, trusts local connections, and is stopped and removed at the end.
PostgreSQL refuses to run as root: as root, the server runs as the ``postgres`` user (Debian's
package creates it), or ``nobody``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path


def server_bin() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl`` (``None``: PostgreSQL is not installed)."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(folder) / "initdb").is_file():
            return Path(folder)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def cluster(user: str = "mallwake", database: str = "mall"):
    """Start a cluster; yield its connection URL (``postgresql://user@127.0.0.1:port/database``)."""
    bindir = server_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL server programs (initdb, pg_ctl) not found")
    root = Path(tempfile.mkdtemp(prefix="mallwake-pg-"))
    data, port = root / "data", _free_port()
    run_as: list[str] = []
    if os.geteuid() == 0:
        owner = "postgres" if _has_user("postgres") else "nobody"
        shutil.chown(root, owner)
        os.chmod(root, 0o700)
        run_as = ["runuser", "-u", owner, "--"]
    env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}

    def run(*cmd):
        subprocess.run([*run_as, *map(str, cmd)], check=True, capture_output=True, env=env, cwd=root)

    try:
        run(bindir / "initdb", "-D", data, "-U", user, "--auth=trust", "-E", "UTF8", "--no-sync")
        opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        run(bindir / "pg_ctl", "-D", data, "-o", opts, "-l", root / "log", "-w", "-t", "60", "start")
        url = f"postgresql://{user}@127.0.0.1:{port}/{database}"
        for attempt in range(50):
            try:
                _create_database(user, port, database)
                break
            except Exception:
                if attempt == 49:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        try:
            run(bindir / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
        except (subprocess.CalledProcessError, FileNotFoundError):
            pass
        shutil.rmtree(root, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def _create_database(user: str, port: int, database: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(f"postgresql://{user}@127.0.0.1:{port}/postgres", autocommit=True) as con:
        con.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
