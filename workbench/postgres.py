"""A real PostgreSQL server in a temporary folder, from Debian's binaries, for tests and benchmarks.

``initdb`` and ``postgres`` refuse to run as root: as root they run as the ``postgres`` system
user (``runuser``), in a folder it owns. The server listens on a Unix socket in that folder only.
:func:`find_binaries` says why it cannot start where the binaries or that user are missing, so
the tests skip with the reason.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
from itertools import count
from pathlib import Path

BIN_ROOT = Path("/usr/lib/postgresql")
START_S = 30.0


def find_binaries() -> tuple[Path | None, str]:
    """(the folder of initdb and pg_ctl, "") or (None, why not)."""
    if not BIN_ROOT.is_dir():
        return None, f"PostgreSQL's server binaries are not installed ({BIN_ROOT} is absent)"
    versions = sorted(BIN_ROOT.iterdir(), key=lambda p: p.name)
    found = [v / "bin" for v in versions if (v / "bin" / "initdb").is_file()]
    if not found:
        return None, f"no initdb under {BIN_ROOT}"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return None, "running as root without a postgres user to run the server as"
        if shutil.which("runuser") is None:
            return None, "running as root without runuser to drop to the postgres user"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return None, "the psycopg driver is not installed"
    return found[-1], ""


class PostgresServer:
    """One server for a test session; :meth:`new_database` gives each test its own database."""

    def __init__(self, bin_dir: Path, folder: Path) -> None:
        self.bin_dir, self.folder = bin_dir, folder
        self.data, self.socket = folder / "data", folder / "sock"
        self._names = count()

    def _run(self, *args: str) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=START_S)

    def start(self) -> PostgresServer:
        """initdb, then start the server; raises CalledProcessError with its output if not."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.socket.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            for path in (self.folder, self.socket):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8")
        options = f"-c listen_addresses='' -k {self.socket} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-w", "-l",
                  str(self.folder / "server.log"), "start")  # fmt: skip
        return self

    def stop(self) -> None:
        """Stop the server (fast shutdown)."""
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pass

    def new_database(self) -> str:
        """A fresh, empty database; its SQLAlchemy URL (psycopg over the Unix socket)."""
        import psycopg

        name = f"ground_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self._dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@/{name}?host={self.socket}"

    def _dsn(self, database: str) -> str:
        return f"host={self.socket} user=postgres dbname={database}"

    def wait_ready(self) -> None:
        """Until the server accepts connections."""
        import psycopg

        deadline = time.monotonic() + START_S
        while True:
            try:
                with psycopg.connect(self._dsn("postgres")):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
