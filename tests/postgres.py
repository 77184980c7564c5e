"""A throwaway PostgreSQL server for tests: initdb in a temp dir, loopback only, free port.

PostgreSQL refuses to run as root, so its commands run through ``runuser -u postgres`` when
the tests run as root. A watchdog process stops the server when the test process dies, so a
killed test run never leaves it behind.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def unavailable_reason() -> str | None:
    if _bin_dir() is None:
        return "PostgreSQL is not installed (Debian package 'postgresql'; .ci/run installs it)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: PostgreSQL cannot be started"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -r requirements-dev.txt)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    directory: Path
    port: int
    bin_dir: Path

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)

    @classmethod
    def start(cls) -> PostgresServer:
        bin_dir = _bin_dir()
        assert bin_dir is not None, unavailable_reason()
        directory = Path(tempfile.mkdtemp(prefix="groq-chat-pg-"))
        if os.geteuid() == 0:
            shutil.chown(directory, "postgres", "postgres")
        server = cls(directory, _free_port(), bin_dir)
        data = directory / "data"
        server._run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
        server._run(
            "pg_ctl",
            "-D",
            str(data),
            "-l",
            str(directory / "log"),
            "-w",
            "-t",
            "60",
            "start",
            "-o",
            f"-c listen_addresses=127.0.0.1 -p {server.port} -k {directory} -c fsync=off -c max_connections=100",
        )
        # Stop the server when this (test) process goes away, however it ends.
        stop = f"{bin_dir / 'pg_ctl'} -D {data} -m immediate stop"
        if os.geteuid() == 0:
            stop = f"runuser -u postgres -- {stop}"
        subprocess.Popen(
            ["sh", "-c", f"while kill -0 {os.getpid()} 2>/dev/null; do sleep 1; done; {stop}; rm -rf {directory}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        return server

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}"')
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop ``name``, ending any connection still open to it (a test's leftover pool)."""
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.directory / "data"), "-m", "fast", "-w", "stop")
        finally:
            time.sleep(0.1)
            shutil.rmtree(self.directory, ignore_errors=True)
