"""Engines and sessions. The configured URL is sync-style; the async driver is chosen here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def async_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite").render_as_string(hide_password=False)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def ensure_sqlite_directory(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers (websocket replays) run beside the single writer; NORMAL sync is
    # durable across process crashes, which is what "answered 200 only after commit" needs.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


# PostgreSQL connections per process. The delivery worker keeps its own database work below this, so
# it never opens overflow connections (a new PostgreSQL backend costs the server about 8 ms of CPU).
POSTGRES_POOL_SIZE = 20


def create_engine_for(url: str, *, pre_ping: bool = True) -> AsyncEngine:
    """`pre_ping=False` saves a round trip per checkout for callers that retry a statement which met a
    dropped connection (the delivery worker does); `pool_recycle` still retires connections before
    servers or firewalls drop idle ones."""
    ensure_sqlite_directory(url)
    if make_url(url).get_backend_name() == "sqlite":
        # One connection: SQLite has one writer anyway, and a single connection avoids
        # SQLITE_BUSY when a read transaction upgrades to a write under concurrency.
        engine = create_async_engine(async_url(url), pool_size=1, max_overflow=0, pool_timeout=60)
        event.listen(engine.sync_engine, "connect", _tune_sqlite)
        return engine
    # Web processes keep pre-ping: the webhook path retries a dropped connection once, but the agent API
    # does not, and a database restart must not cost an agent a failed request.
    return create_async_engine(
        async_url(url), pool_size=POSTGRES_POOL_SIZE, max_overflow=20, pool_pre_ping=pre_ping, pool_recycle=1800
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
