"""Engines and sessions. The configured URL is sync-style; the async driver is chosen here."""

from __future__ import annotations

import contextlib
import select
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from civdesk.db import sqlite_inline, writes


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


# PostgreSQL connections per process. Webhooks come in bursts (Telegram keeps up to 40 connections per bot
# open), and each checkout beyond the pool opens a new backend that is closed again at checkin: a new backend
# costs the server about 8 ms of CPU and starts with nothing prepared. With 20, bench/ingest.py's 32 senders
# made a server open some 140 connections in one run; with 40 it served a fifth more webhooks per second.
# The delivery worker keeps its own database work to a quarter of this (app.py), so it never needs overflow.
POSTGRES_POOL_SIZE = 40


def _drop_if_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Pool checkout: a connection the server closed while it sat in the pool (a restart, an admin's
    pg_terminate_backend, an idle timeout) is replaced before anyone uses it. Instead of pool_pre_ping's
    SELECT 1, a round trip on every checkout, it looks at the socket: an idle PostgreSQL connection is
    sent nothing, so a socket with something to read (the server's farewell or EOF) is a closed one.
    Raising DisconnectionError makes the pool open a fresh connection and check out again."""
    driver = dbapi_connection.driver_connection
    if driver.closed or driver.broken:
        raise DisconnectionError("connection closed")
    try:
        poller = select.poll()
        poller.register(driver.pgconn.socket, select.POLLIN)
    except Exception as exc:  # psycopg raises when libpq no longer has a socket
        raise DisconnectionError("connection has no socket") from exc
    if poller.poll(0):
        raise DisconnectionError("the server closed the connection")


def create_engine_for(url: str) -> AsyncEngine:
    ensure_sqlite_directory(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        # One connection: SQLite has one writer anyway, and a single connection avoids
        # SQLITE_BUSY when a read transaction upgrades to a write under concurrency. It runs on the
        # event loop's thread (sqlite_inline), without a thread hand-off per call.
        inline: dict[str, Any] = {}
        if parsed.database and parsed.database != ":memory:":
            inline["async_creator"] = sqlite_inline.creator(parsed.database)
        engine = create_async_engine(async_url(url), pool_size=1, max_overflow=0, pool_timeout=60, **inline)
        event.listen(engine.sync_engine, "connect", _tune_sqlite)
        return engine
    # pool_recycle retires connections before servers or firewalls drop idle ones; _drop_if_closed
    # catches the ones dropped sooner. A drop between checkout and the first statement is left to
    # callers that retry (webhooks and the delivery worker do).
    engine = create_async_engine(async_url(url), pool_size=POSTGRES_POOL_SIZE, max_overflow=20, pool_recycle=1800)
    event.listen(engine.sync_engine, "checkout", _drop_if_closed)
    writes.install(engine)
    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@contextlib.asynccontextmanager
async def reading(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session for reads that change nothing, ended with COMMIT rather than the ROLLBACK that closing an
    open session sends. On a ROLLBACK psycopg forgets every statement it prepared on that connection (and
    sends DEALLOCATE ALL), so the next transactions on it parse and plan each statement anew until it is
    prepared again: a PostgreSQL routing decision that followed such a rollback took about 1 ms longer.
    An exception still rolls back."""
    async with sessionmaker() as session:
        yield session
        await session.commit()


_CONNECTION = "civdesk_connection"


async def connection_of(session: AsyncSession) -> AsyncConnection:
    """`session.connection()`, remembered for the rest of the session's transaction: SQLAlchemy's own call
    hops through a greenlet every time (some 13 µs of CPU), and a routing decision asks six times."""
    transaction = session.sync_session.get_transaction()
    known = session.info.get(_CONNECTION)
    if transaction is not None and known is not None and known[0] is transaction:
        return known[1]  # type: ignore[no-any-return]
    conn = await session.connection()
    session.info[_CONNECTION] = (session.sync_session.get_transaction(), conn)
    return conn
