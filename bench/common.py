"""What every bench/ script needs: loopback ports, a fresh migrated database, and CPU accounting
from /proc, so each script can say how busy the machine was while it measured."""

from __future__ import annotations

import contextlib
import math
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

HOST = "127.0.0.1"  # benchmarks send traffic to loopback only


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc); NaN once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU-seconds all cores of this machine spent busy since boot (Linux /proc/stat)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError):
        return math.nan
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def background_load(seconds: float = 2.0) -> float:
    """Cores busy on this machine while the bench itself is idle: other work skews every figure."""
    before = machine_busy_seconds()
    time.sleep(seconds)
    return (machine_busy_seconds() - before) / seconds


@dataclass
class Database:
    backend: str
    url: str


@contextlib.contextmanager
def fresh_database(
    backend: str, *, workdir: Path, postgres_url: str | None, name: str,
    after_migrate: Callable[[str], None] | None = None,
) -> Iterator[Database]:
    """A migrated civdesk database (an SQLite file in `workdir`, or a new database on the PostgreSQL
    server of `postgres_url`), dropped afterwards."""
    from civdesk.db.migrate import upgrade

    drop: Callable[[], None] | None = None
    if backend == "sqlite":
        url = f"sqlite:///{workdir / f'{name}.db'}"
    else:
        import psycopg

        assert postgres_url
        database = f"{name.replace('-', '_')}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')

        def drop() -> None:
            with psycopg.connect(postgres_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

        url = make_url(postgres_url).set(database=database).render_as_string(hide_password=False)
    try:
        upgrade(url)
        if after_migrate is not None:
            after_migrate(url)
        yield Database(backend, url)
    finally:
        if drop is not None:
            drop()
