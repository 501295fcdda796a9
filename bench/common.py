"""What every bench/ script needs: loopback ports, a fresh migrated database, child processes, and CPU
accounting from /proc, so each script can say how busy the machine was while it measured."""

from __future__ import annotations

import contextlib
import math
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

HOST = "127.0.0.1"  # benchmarks send traffic to loopback only
REPO = Path(__file__).resolve().parent.parent


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


class Proc:
    """A child process with its output in a log file; stopped with `stop_signal`, killed if it hangs."""

    def __init__(self, name: str, command: list[str], *, env: dict[str, str], log_path: Path,
                 port: int = 0, stop_signal: int = signal.SIGTERM) -> None:
        self.name = name
        self.command = command
        self.env = env
        self.log_path = log_path
        self.port = port
        self.stop_signal = stop_signal
        self.process: subprocess.Popen[bytes] | None = None
        self.cpu_at_stop = math.nan

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.command, env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not answer /healthz within {timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(0.1)

    def check_alive(self) -> None:
        if self.process is None or self.process.poll() is not None:
            code = self.process.returncode if self.process else None
            raise RuntimeError(f"{self.name} exited ({code}):\n{self.log_tail()}")

    def cpu_seconds(self) -> float:
        if self.process is None:
            return math.nan
        if self.process.poll() is not None:
            return self.cpu_at_stop
        return process_cpu_seconds(self.process.pid)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.cpu_at_stop = process_cpu_seconds(self.process.pid)
        self.process.send_signal(self.stop_signal)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


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
