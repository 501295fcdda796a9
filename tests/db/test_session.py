"""Pooled PostgreSQL connections are checked on checkout by their socket, not by a SELECT 1; read-only
sessions end with COMMIT, which keeps the statements psycopg prepared."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from civdesk.agency import service as agency_service
from civdesk.db.session import async_url, create_engine_for, create_sessionmaker, reading


async def test_a_pooled_connection_the_server_closed_is_replaced_before_use(database_url: str) -> None:
    """The server ends an idle pooled connection (a restart, an admin's pg_terminate_backend): the next
    session gets a fresh one and its first statement succeeds, with no round trip spent on a ping."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no server to drop connections")
    engine = create_engine_for(database_url)
    sessionmaker = create_sessionmaker(engine)
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    try:
        async with sessionmaker() as session:
            backend_pid = (await session.execute(select(func.pg_backend_pid()))).scalar_one()
        # The admin's own connection, not one from the pool (which would be the idle one itself).
        admin_url = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (backend_pid,))
        await asyncio.sleep(0.3)  # the server's goodbye reaches the idle socket
        event.listen(engine.sync_engine, "before_cursor_execute", record)
        async with sessionmaker() as session:
            assert (await session.execute(select(func.pg_backend_pid()))).scalar_one() != backend_pid
        assert len(sent) == 1, sent  # the statement itself: no SELECT 1 before it
    finally:
        await engine.dispose()


_PREPARED = select(func.count()).select_from(text("pg_prepared_statements"))


async def _prepared_after(sessionmaker: Any, end: str) -> int:
    """How many statements the connection still has prepared after a read-only session ended by `end`."""
    async with sessionmaker() as session:
        for _ in range(6):  # psycopg prepares a statement once it has run five times
            await session.execute(select(func.pg_backend_pid()))
        await session.commit()
    if end == "reading":
        async with reading(sessionmaker) as session:
            await session.execute(select(func.now()))
    else:
        async with sessionmaker() as session:  # closed with its transaction open: ROLLBACK
            await session.execute(select(func.now()))
    async with sessionmaker() as session:
        count: int = (await session.execute(_PREPARED)).scalar_one()
        await session.commit()
    return count


async def test_a_read_only_session_keeps_the_connections_prepared_statements(database_url: str) -> None:
    """psycopg forgets what it prepared on a connection when the connection rolls back; `reading` ends
    with COMMIT, so the next transaction's statements are still prepared on the server."""
    if not database_url.startswith("postgresql"):
        pytest.skip("prepared statements are psycopg's (PostgreSQL)")
    engine = create_async_engine(async_url(database_url), pool_size=1, max_overflow=0)  # one connection
    try:
        assert await _prepared_after(create_sessionmaker(engine), "reading") >= 1
        assert await _prepared_after(create_sessionmaker(engine), "rollback") == 0  # what `reading` avoids
    finally:
        await engine.dispose()


async def test_a_read_only_session_that_raises_rolls_back(database_url: str) -> None:
    engine = create_engine_for(database_url)
    sessionmaker = create_sessionmaker(engine)
    try:
        with pytest.raises(RuntimeError):
            async with reading(sessionmaker) as session:
                await agency_service.create(session=session, slug="never-kept", name="Відомство")
                await session.flush()
                raise RuntimeError("the read failed")
        async with reading(sessionmaker) as session:
            assert await agency_service.get_by_slug(session=session, slug="never-kept") is None
    finally:
        await engine.dispose()
